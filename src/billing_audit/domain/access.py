"""The access review: who can reach each audited sheet, against who should (pure, no I/O).

Inputs are facts already read: each sheet's grants (direct shares, shares through groups and
through the sheet's workspace, expanded to people), Smartsheet's users list (status, last login),
the roster from configuration (role, access level, last permission review), the approvals found
in Status histories and the billed-value changes stored as events.  `review_access` turns them into
findings, one per person, sheet and reason, each with the evidence an auditor needs to act.

Approvals are the moves of a row into an approving status, found by `approvals_in` in the same
Status history the audit replays; they are kept beside the audit events, not as events.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from billing_audit.domain.models import AuditEvent, RowTimeline
from billing_audit.domain.risk import RosterEntry
from billing_audit.domain.values import CellValue, counted, is_blank, utc_iso

# The roster's access_level 1-5 is the highest share level a person should hold (FORMAT.md).
ROSTER_LEVELS = ("VIEWER", "EDITOR", "EDITOR_SHARE", "ADMIN", "OWNER")
# Smartsheet's share levels ranked the same way.  A COMMENTER cannot change a cell, so it ranks
# with VIEWER.
SHARE_RANK = {"VIEWER": 1, "COMMENTER": 1, "EDITOR": 2, "EDITOR_SHARE": 3, "ADMIN": 4, "OWNER": 5}
EDITOR_RANK = SHARE_RANK["EDITOR"]


def share_rank(level: str) -> int:
    """1-5 for a Smartsheet access level; an unknown level counts as the highest (it is unexplained)."""
    return SHARE_RANK.get(level.upper(), 5)


class AccessReviewPolicy(BaseModel):
    """Configuration `access_review`: how the monthly review judges access."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inactive_days: int = Field(60, ge=1)  # no login for more than this many days is inactive
    review_days: int = Field(90, ge=1)  # a permission review older than this (or none) is overdue
    approving_statuses: tuple[str, ...] = ("Approved", "Invoiced")  # a move into one is an approval
    # Segregation of duties and approvals look this far back from the review (a monthly review
    # with a margin, so nothing falls between two runs).
    lookback_days: int = Field(35, ge=1)

    @field_validator("approving_statuses", mode="before")
    @classmethod
    def _list_to_tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value


class Approval(BaseModel):
    """One move of a row into an approving status: who, when, which row."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    sheet_id: int
    sheet_name: str
    row_id: int
    work_request: str | None = None
    status: str
    previous_status: CellValue = None
    at: datetime
    by: str | None = None

    def to_record(self) -> dict[str, Any]:
        record = self.model_dump(mode="json")
        record["at"] = utc_iso(self.at)
        return record


def approval_id_for(sheet_id: int, row_id: int, at: datetime, status: str, occurrence: int = 0) -> str:
    material = f"approval|{sheet_id}|{row_id}|{utc_iso(at)}|{status}|{occurrence}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def approvals_in(
    timeline: RowTimeline,
    status_column: str,
    approving: Sequence[str],
    since: datetime,
    work_request_column: str | None = None,
) -> list[Approval]:
    """The moves into an approving status in this row's Status history after `since`.

    The status before the first entry after `since` is the row's status then: from history where
    it was read (entries up to `since`), else the value the product last saw (`start`).  A row
    added since starts with no status, so creating it already approved is an approval by its creator.
    """
    if status_column not in timeline.history_columns:
        return []
    entries = sorted((e for e in timeline.history if e.column == status_column), key=lambda e: e.at)
    added = timeline.created is not None and timeline.created.at > since
    previous: CellValue = None if added else timeline.start.get(status_column)
    begin = timeline.created.at if added and timeline.created is not None else since
    if not added:
        for entry in entries:
            if entry.at > since:
                break
            previous = entry.value
    wanted = set(approving)
    work_request = None
    if work_request_column is not None:
        value = timeline.current.get(work_request_column, timeline.start.get(work_request_column))
        work_request = None if is_blank(value) else str(value)
    found: list[Approval] = []
    seen: dict[tuple[datetime, str], int] = defaultdict(int)
    for entry in entries:
        if entry.at < begin or (not added and entry.at <= since):
            continue
        status = entry.value
        if isinstance(status, str) and status in wanted and previous not in wanted:
            occurrence = seen[(entry.at, status)]
            seen[(entry.at, status)] += 1
            found.append(
                Approval(
                    approval_id=approval_id_for(timeline.sheet_id, timeline.row_id, entry.at, status, occurrence),
                    sheet_id=timeline.sheet_id,
                    sheet_name=timeline.sheet_name,
                    row_id=timeline.row_id,
                    work_request=work_request,
                    status=status,
                    previous_status=previous,
                    at=entry.at,
                    by=entry.by,
                )
            )
        previous = status
    return found


@dataclass(frozen=True)
class Grant:
    """One way a person reaches a sheet: `via` is `sheet`, `group <name>`, `workspace` or
    `workspace group <name>`."""

    email: str
    access_level: str
    via: str


@dataclass(frozen=True)
class SheetAccess:
    sheet_id: int
    sheet_name: str
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class AccountUser:
    """A person as Smartsheet's users list has them (plus last login from Event Reporting, when on)."""

    email: str
    active: bool = True
    last_login: datetime | None = None
    status: str | None = None


class AccessReason(StrEnum):
    INACTIVE_USER = "inactive_user"  # deactivated in Smartsheet or in the roster, yet holding access
    NO_RECENT_LOGIN = "no_recent_login"  # no login for more than inactive_days (or none on record)
    REVIEW_OVERDUE = "permission_review_overdue"
    NOT_IN_ROSTER = "editor_not_in_roster"
    ABOVE_ROSTER = "access_above_roster"
    SEGREGATION_OF_DUTIES = "segregation_of_duties"


class AccessFinding(BaseModel):
    model_config = ConfigDict(frozen=True)

    person: str
    sheet_id: int
    sheet_name: str
    reason: AccessReason
    detail: str
    evidence: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.person.lower(), self.sheet_id, self.reason.value)


class AccessReviewResult(BaseModel):
    """What one review found, and what it looked at."""

    reviewed_at: datetime
    sheets: list[dict[str, Any]] = Field(default_factory=list)  # id, name, people with access
    people: int = 0
    approvals: int = 0
    findings: list[AccessFinding] = Field(default_factory=list)
    last_login_source: str = "users list"

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for finding in self.findings:
            counts[finding.reason.value] += 1
        return dict(sorted(counts.items()))

    def to_record(self) -> dict[str, Any]:
        return {
            "reviewed_at": utc_iso(self.reviewed_at),
            "sheets": self.sheets,
            "people_with_access": self.people,
            "approvals": self.approvals,
            "last_login_source": self.last_login_source,
            "counts": self.counts(),
            "findings": [finding.model_dump(mode="json") for finding in self.findings],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> AccessReviewResult:
        return cls(
            reviewed_at=record["reviewed_at"],
            sheets=list(record.get("sheets") or []),
            people=int(record.get("people_with_access") or 0),
            approvals=int(record.get("approvals") or 0),
            findings=[AccessFinding.model_validate(item) for item in record.get("findings") or []],
            last_login_source=str(record.get("last_login_source") or "users list"),
        )


@dataclass(frozen=True)
class Effective:
    level: str
    grants: tuple[Grant, ...]


def effective_access(grants: Iterable[Grant]) -> dict[str, Effective]:
    """Each person's highest level over all the ways they reach the sheet, with every way listed."""
    by_person: dict[str, list[Grant]] = defaultdict(list)
    for grant in grants:
        by_person[grant.email.lower()].append(grant)
    return {
        person: Effective(level=max(items, key=lambda g: share_rank(g.access_level)).access_level, grants=tuple(items))
        for person, items in by_person.items()
    }


def _grant_evidence(effective: Effective) -> list[dict[str, str]]:
    return [{"access_level": g.access_level, "via": g.via} for g in effective.grants]


def review_access(
    *,
    sheets: Sequence[SheetAccess],
    users: Mapping[str, AccountUser],
    roster: Mapping[str, RosterEntry],
    approvals: Sequence[Approval],
    changes: Sequence[AuditEvent],
    billed_columns: Sequence[str],
    policy: AccessReviewPolicy,
    now: datetime,
    zone: ZoneInfo,
    last_login_source: str = "users list",
) -> AccessReviewResult:
    """Every finding, one per person, sheet and reason, in a stable order (sheet, person, reason).

    `users` and `roster` are keyed by lower-case email; `changes` are stored audit events (only
    those of `billed_columns` with an editor count as changing billed values).
    """
    today = now.astimezone(zone).date()
    findings: list[AccessFinding] = []
    people: set[str] = set()
    described: list[dict[str, Any]] = []
    for sheet in sheets:
        access = effective_access(sheet.grants)
        people.update(access)
        described.append({"sheet_id": sheet.sheet_id, "sheet_name": sheet.sheet_name, "people": len(access)})
        for person, effective in sorted(access.items()):
            findings.extend(_person_findings(sheet, person, effective, users, roster, policy, now, today))
    findings.extend(segregation_findings(approvals, changes, billed_columns))
    findings.sort(key=lambda f: (f.sheet_id, f.person.lower(), f.reason.value))
    return AccessReviewResult(
        reviewed_at=now,
        sheets=described,
        people=len(people),
        approvals=len(approvals),
        findings=findings,
        last_login_source=last_login_source,
    )


def _person_findings(
    sheet: SheetAccess,
    person: str,
    effective: Effective,
    users: Mapping[str, AccountUser],
    roster: Mapping[str, RosterEntry],
    policy: AccessReviewPolicy,
    now: datetime,
    today: date,
) -> list[AccessFinding]:
    account, entry = users.get(person), roster.get(person)
    email = (account.email if account else None) or (entry.email if entry else None) or person
    grants = _grant_evidence(effective)
    base = {"access_level": effective.level, "grants": grants}
    out: list[AccessFinding] = []

    def add(reason: AccessReason, detail: str, **evidence: Any) -> None:
        out.append(
            AccessFinding(
                person=email,
                sheet_id=sheet.sheet_id,
                sheet_name=sheet.sheet_name,
                reason=reason,
                detail=detail,
                evidence={**base, **evidence},
            )
        )

    inactive_in = [
        where
        for where, off in (("Smartsheet", account and not account.active), ("roster", entry and not entry.active))
        if off
    ]
    if inactive_in:
        add(
            AccessReason.INACTIVE_USER,
            f"inactive in {' and '.join(inactive_in)} but still holds {effective.level}",
            status=account.status if account else None,
            roster_active=entry.active if entry else None,
        )
    elif account is not None:
        # A deactivated account's last login says nothing new: one finding for it is enough.
        if account.last_login is None:
            add(AccessReason.NO_RECENT_LOGIN, f"no login on record, holds {effective.level}", last_login=None)
        else:
            idle = (now - account.last_login).days
            if now - account.last_login > timedelta(days=policy.inactive_days):
                add(
                    AccessReason.NO_RECENT_LOGIN,
                    f"no login for {idle} days (over {policy.inactive_days}), holds {effective.level}",
                    last_login=utc_iso(account.last_login),
                    days_since_login=idle,
                )
    if entry is None:
        if share_rank(effective.level) >= EDITOR_RANK:
            add(
                AccessReason.NOT_IN_ROSTER,
                f"holds {effective.level} but is not in the roster",
                in_users_list=account is not None,
            )
        return out
    reviewed = entry.last_permission_review
    if reviewed is None:
        add(AccessReason.REVIEW_OVERDUE, "permission never reviewed", last_permission_review=None)
    elif (today - reviewed).days > policy.review_days:
        add(
            AccessReason.REVIEW_OVERDUE,
            f"permission last reviewed {reviewed.isoformat()}, {(today - reviewed).days} days ago "
            f"(over {policy.review_days})",
            last_permission_review=reviewed.isoformat(),
            days_since_review=(today - reviewed).days,
        )
    if entry.access_level is not None:
        allowed = ROSTER_LEVELS[entry.access_level - 1]  # 1 to 5: the configuration holds it there
        if share_rank(effective.level) > entry.access_level:
            add(
                AccessReason.ABOVE_ROSTER,
                f"holds {effective.level}, the roster grants up to {allowed} (level {entry.access_level})",
                roster_access_level=entry.access_level,
                roster_allows=allowed,
                role=entry.role,
            )
    return out


def segregation_findings(
    approvals: Sequence[Approval], changes: Sequence[AuditEvent], billed_columns: Sequence[str]
) -> list[AccessFinding]:
    """A person who changed a row's billed values and approved that same row (either order)."""
    billed = set(billed_columns)
    changed: dict[tuple[int, int, str], list[AuditEvent]] = defaultdict(list)
    for event in changes:
        if event.column in billed and event.changed_by:
            changed[(event.sheet_id, event.row_id, event.changed_by.lower())].append(event)
    by_person_sheet: dict[tuple[str, int], list[tuple[Approval, list[AuditEvent]]]] = defaultdict(list)
    names: dict[int, str] = {}
    for approval in approvals:
        if not approval.by:
            continue
        edits = changed.get((approval.sheet_id, approval.row_id, approval.by.lower()))
        if edits:
            by_person_sheet[(approval.by, approval.sheet_id)].append((approval, edits))
            names[approval.sheet_id] = approval.sheet_name
    findings = []
    for (person, sheet_id), pairs in sorted(by_person_sheet.items(), key=lambda item: (item[0][1], item[0][0])):
        rows = sorted({approval.row_id for approval, _ in pairs})
        evidence_rows = [
            {
                "row_id": approval.row_id,
                "work_request": approval.work_request,
                "approved": {"status": approval.status, "at": utc_iso(approval.at)},
                "changes": [
                    {
                        "event_id": e.event_id,
                        "column": e.column,
                        "old_value": e.old_value,
                        "new_value": e.new_value,
                        "at": utc_iso(e.changed_at),
                        "type": e.type.value,
                    }
                    for e in sorted(edits, key=lambda e: e.changed_at)
                ],
            }
            for approval, edits in sorted(pairs, key=lambda pair: (pair[0].row_id, pair[0].at))
        ]
        findings.append(
            AccessFinding(
                person=person,
                sheet_id=sheet_id,
                sheet_name=names[sheet_id],
                reason=AccessReason.SEGREGATION_OF_DUTIES,
                detail=f"changed billed values of {counted(len(rows), 'row')} and approved "
                + ("the same row" if len(rows) == 1 else "the same rows"),
                evidence={"rows": evidence_rows},
            )
        )
    return findings


REASON_TITLES = {
    AccessReason.INACTIVE_USER: "Inactive users with access",
    AccessReason.NO_RECENT_LOGIN: "No recent login",
    AccessReason.REVIEW_OVERDUE: "Permission review overdue",
    AccessReason.NOT_IN_ROSTER: "Editors missing from the roster",
    AccessReason.ABOVE_ROSTER: "Access above the roster",
    AccessReason.SEGREGATION_OF_DUTIES: "Changed and approved the same rows",
}
DIGEST_LINES_PER_REASON = 10


def access_review_digest(result: AccessReviewResult, zone: ZoneInfo) -> tuple[str, str]:
    """One digest of a review (subject, text): counts by reason, then the findings of each reason
    (the first ten; the stored result and the report have all)."""
    local = result.reviewed_at.astimezone(zone)
    people = len({finding.person.lower() for finding in result.findings})
    found = f"{counted(len(result.findings), 'finding')}, {counted(people, 'person', 'people')}"
    subject = f"Access review {local:%Y-%m-%d}: {found}"
    lines = [
        f"Access review of {counted(len(result.sheets), 'sheet')} at {local:%Y-%m-%d %H:%M %Z}: "
        f"{counted(result.people, 'person', 'people')} with access, {counted(result.approvals, 'approval')} weighed; "
        f"last logins from the {result.last_login_source}.",
    ]
    for reason in AccessReason:
        chosen = [finding for finding in result.findings if finding.reason is reason]
        if not chosen:
            continue
        lines.append("")
        lines.append(f"{REASON_TITLES[reason]} ({len(chosen)}):")
        for finding in chosen[:DIGEST_LINES_PER_REASON]:
            lines.append(f"- {finding.person} on {finding.sheet_name}: {finding.detail}")
        if len(chosen) > DIGEST_LINES_PER_REASON:
            lines.append(f"- and {len(chosen) - DIGEST_LINES_PER_REASON} more")
    return subject, "\n".join(lines)
