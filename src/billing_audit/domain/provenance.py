"""Where a change came from, as Smartsheet's Event Reporting tells it (off unless configured).

Event Reporting (a premium add-on) serves sheet events with the user, the `source` (WEB_APP,
MOBILE_IOS, API_INTEGRATED_APP, ...) and, since the 2026-06-08 changelog, the source IP address.
`attach_sources` gives each audit event the source and IP of the matching sheet save: the same
person, the same sheet, the nearest time within `match_seconds`.  The risk rules then flag a save
from a source, or an address, outside the configured allow-lists (`domain/risk.py`).
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billing_audit.domain.models import AuditEvent

# The Event Reporting actions that are saves of a sheet's cells or rows.
SAVE_ACTIONS = frozenset({"UPDATE", "CREATE_ROW", "UPDATE_ROW", "DELETE_ROW", "MOVE_ROW", "COPY_ROW"})


class EventReportingPolicy(BaseModel):
    """Configuration `event_reporting`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    # A save's Event Reporting event counts as the audit event's when it is this close in time.
    match_seconds: int = Field(300, ge=1, le=86_400)
    # Allow-lists: empty means any.  A save whose source is not in `allowed_sources`, or whose IP
    # is outside every range of `allowed_cidrs`, fires the `outside_allowed_source` risk factor.
    allowed_sources: tuple[str, ...] = ()
    allowed_cidrs: tuple[str, ...] = ()

    @field_validator("allowed_sources", mode="before")
    @classmethod
    def _sources(cls, value: object) -> object:
        items = tuple(value) if isinstance(value, list | tuple) else value
        return tuple(str(item).upper() for item in items) if isinstance(items, tuple) else items

    @field_validator("allowed_cidrs", mode="before")
    @classmethod
    def _cidrs(cls, value: object) -> object:
        items = tuple(value) if isinstance(value, list | tuple) else value
        if isinstance(items, tuple):
            for item in items:
                try:
                    ipaddress.ip_network(str(item), strict=False)
                except ValueError as exc:
                    raise ValueError(f"not an IP range: {item!r} ({exc})") from None
        return items

    def outside(self, source: str | None, ip_address: str | None) -> list[str]:
        """Why a save is outside the allow-lists (empty when it is inside, or nothing is known)."""
        reasons: list[str] = []
        if self.allowed_sources and source and source.upper() not in self.allowed_sources:
            reasons.append(f"source {source}")
        if self.allowed_cidrs and ip_address:
            try:
                address = ipaddress.ip_address(ip_address)
            except ValueError:
                reasons.append(f"IP {ip_address} (not an address)")
            else:
                networks = [ipaddress.ip_network(c, strict=False) for c in self.allowed_cidrs]
                if not any(address in network for network in networks):
                    reasons.append(f"IP {ip_address}")
        return reasons


@dataclass(frozen=True)
class SheetSave:
    """One sheet save as Event Reporting reported it, its user resolved to an email."""

    sheet_id: int
    email: str
    at: datetime
    source: str | None
    ip_address: str | None


def attach_sources(events: Sequence[AuditEvent], saves: Iterable[SheetSave], match_seconds: float) -> list[AuditEvent]:
    """Each event with `source` and `ip_address` from the nearest save by the same person on the
    same sheet within `match_seconds` (events without a match are returned unchanged)."""
    by_key: dict[tuple[int, str], list[SheetSave]] = defaultdict(list)
    for save in saves:
        by_key[(save.sheet_id, save.email.lower())].append(save)
    for found in by_key.values():
        found.sort(key=lambda save: save.at)
    out: list[AuditEvent] = []
    for event in events:
        candidates = by_key.get((event.sheet_id, (event.changed_by or "").lower())) if event.changed_by else None
        match = _nearest(candidates, event.changed_at, match_seconds) if candidates else None
        if match is None:
            out.append(event)
        else:
            out.append(event.model_copy(update={"source": match.source, "ip_address": match.ip_address}))
    return out


def _nearest(saves: Sequence[SheetSave], at: datetime, match_seconds: float) -> SheetSave | None:
    index = bisect_left([save.at for save in saves], at)
    best: SheetSave | None = None
    for candidate in saves[max(0, index - 1) : index + 1]:
        gap = abs((candidate.at - at).total_seconds())
        if gap <= match_seconds and (best is None or gap < abs((best.at - at).total_seconds())):
            best = candidate
    return best


def sheet_saves(
    reported: Iterable[tuple[str, str, str | None, datetime, int | None, str | None, str | None]],
    emails: Mapping[int, str],
) -> list[SheetSave]:
    """Sheet saves among reported events given as (object_type, action, object_id, at, user_id,
    source, ip): SHEET events whose action is a save and whose user the users list names."""
    saves = []
    for object_type, action, object_id, at, user_id, source, ip in reported:
        if object_type != "SHEET" or action not in SAVE_ACTIONS or user_id is None or user_id not in emails:
            continue
        try:
            sheet_id = int(object_id or "")
        except ValueError:
            continue
        saves.append(SheetSave(sheet_id=sheet_id, email=emails[user_id], at=at, source=source, ip_address=ip))
    return saves
