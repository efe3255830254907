"""Risk: the level FORMAT.md defines, and a transparent 0..1 score beside it.

The score adds named, documented factors so a reviewer can see why an event ranks where it does;
`explain_score` returns them.  The learned anomaly score is a separate number (anomaly_score).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from billing_audit.domain.models import AuditEvent, EventType, RiskLevel
from billing_audit.domain.policy import AuditPolicy

# Findings that are at least MEDIUM whatever their money impact.
_AT_LEAST_MEDIUM = frozenset({EventType.WEEK_ENDING_MOVED, EventType.CLOSED_ROW_DELETED, EventType.BACKDATED_ROW_ADDED})


def risk_level_for(event_type: EventType, impact: float | None, policy: AuditPolicy) -> RiskLevel:
    size = abs(impact) if impact is not None else 0.0
    if size >= policy.high_impact:
        level = RiskLevel.HIGH
    elif size >= policy.medium_impact:
        level = RiskLevel.MEDIUM
    else:
        level = RiskLevel.LOW
    if event_type in _AT_LEAST_MEDIUM and level is RiskLevel.LOW:
        level = RiskLevel.MEDIUM
    return level


@dataclass(frozen=True)
class RosterEntry:
    """The product's own view of a person (FORMAT.md `users`)."""

    email: str
    role: str | None = None
    access_level: int | None = None
    active: bool = True


_LEVEL_BASE = {RiskLevel.LOW: 0.2, RiskLevel.MEDIUM: 0.45, RiskLevel.HIGH: 0.7}
_TYPE_WEIGHT = {
    EventType.POST_CLOSE_CHANGE: 0.1,
    EventType.CLOSED_ROW_DELETED: 0.1,
    EventType.BACKDATED_ROW_ADDED: 0.08,
    EventType.WEEK_ENDING_MOVED: 0.08,
    EventType.LOCKED_ROW_CHANGE: 0.05,
    EventType.IMPLAUSIBLE_DATE: 0.03,
    EventType.PRICE_MISMATCH: 0.03,
}
UNKNOWN_EDITOR = 0.1
INACTIVE_EDITOR = 0.1
OFF_HOURS = 0.05
BUSINESS_HOURS = range(6, 20)


def explain_score(
    event: AuditEvent, policy: AuditPolicy, zone: ZoneInfo, roster: Mapping[str, RosterEntry]
) -> dict[str, float]:
    """The named factors of an event's risk score."""
    if not event.violation or event.risk_level is None:
        return {}
    factors = {"level": _LEVEL_BASE[event.risk_level], "type": _TYPE_WEIGHT.get(event.type, 0.0)}
    impact = abs(event.financial_impact or 0.0)
    if impact > 0 and policy.high_impact > 0:
        # Grows with the impact's size relative to the HIGH threshold, flattening beyond it.
        factors["impact"] = round(0.1 * min(1.0, math.log1p(impact) / math.log1p(policy.high_impact * 10)), 4)
    editor = (event.changed_by or "").lower()
    person = roster.get(editor)
    if editor and person is None:
        factors["unknown_editor"] = UNKNOWN_EDITOR
    elif person is not None and not person.active:
        factors["inactive_editor"] = INACTIVE_EDITOR
    if _off_hours(event.changed_at, zone):
        factors["off_hours"] = OFF_HOURS
    return factors


def risk_score(event: AuditEvent, policy: AuditPolicy, zone: ZoneInfo, roster: Mapping[str, RosterEntry]) -> float:
    return round(min(1.0, sum(explain_score(event, policy, zone, roster).values())), 4)


def _off_hours(moment: datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return local.weekday() >= 5 or local.hour not in BUSINESS_HOURS
