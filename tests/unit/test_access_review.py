"""The access review's rules (domain/access.py): each finding from the facts that imply it, and nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from billing_audit.domain.access import (
    AccessReason,
    AccessReviewPolicy,
    AccessReviewResult,
    AccountUser,
    Grant,
    SheetAccess,
    access_review_digest,
    approvals_in,
    effective_access,
    review_access,
)
from billing_audit.domain.models import AuditEvent, CellEntry, DetectedVia, EventType, RowCreation, RowTimeline
from billing_audit.domain.risk import RosterEntry

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
ZONE = ZoneInfo("America/Chicago")
SINCE = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)


def at(day: int, hour: int = 15) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def timeline(history: list[CellEntry], start_status: str | None = "In Progress", created: RowCreation | None = None):
    return RowTimeline(
        sheet_id=1,
        sheet_name="Crew 1",
        row_id=10,
        start={} if created else {"Status": start_status, "Work Request #": "WR-10"},
        current={"Work Request #": "WR-10"},
        history_columns=frozenset({"Status", "Quantity"}),
        history=history,
        created=created,
    )


def status(value: str, when: datetime, by: str) -> CellEntry:
    return CellEntry(column="Status", value=value, at=when, by=by)


def test_approvals_are_moves_into_an_approving_status_after_since() -> None:
    history = [
        status("In Progress", at(3), "ana@x.com"),  # before since: the status then
        status("Completed", at(10), "bob@x.com"),
        status("Approved", at(11), "ana@x.com"),  # a move into Approved
        status("Invoiced", at(12), "cy@x.com"),  # Approved -> Invoiced: still approved, not a new move
        status("In Progress", at(13), "bob@x.com"),
        status("Invoiced", at(14), "bob@x.com"),  # back in: a second approval
    ]
    found = approvals_in(timeline(history), "Status", ("Approved", "Invoiced"), SINCE, "Work Request #")
    assert [(a.status, a.by, a.at, a.previous_status) for a in found] == [
        ("Approved", "ana@x.com", at(11), "Completed"),
        ("Invoiced", "bob@x.com", at(14), "In Progress"),
    ]
    assert found[0].work_request == "WR-10" and found[0].approval_id != found[1].approval_id
    # Read again: the same ids (a replayed row keeps one approval each).
    again = approvals_in(timeline(history), "Status", ("Approved", "Invoiced"), SINCE, "Work Request #")
    assert [a.approval_id for a in again] == [a.approval_id for a in found]


def test_an_already_approved_row_is_no_new_approval_and_a_row_created_approved_is() -> None:
    assert (
        approvals_in(
            timeline([status("Invoiced", at(11), "a@x.com")], "Approved"), "Status", ("Approved", "Invoiced"), SINCE
        )
        == []
    )
    created = RowCreation(at=at(12), by="new@x.com")
    found = approvals_in(
        timeline([status("Approved", at(12), "new@x.com")], created=created), "Status", ("Approved",), SINCE
    )
    assert [(a.by, a.previous_status) for a in found] == [("new@x.com", None)]
    # No Status history read: nothing can be said.
    plain = timeline([status("Approved", at(12), "a@x.com")]).model_copy(
        update={"history_columns": frozenset({"Quantity"})}
    )
    assert approvals_in(plain, "Status", ("Approved",), SINCE) == []


def test_effective_access_is_the_highest_grant_with_every_way_listed() -> None:
    grants = [
        Grant("Bob@x.com", "EDITOR", "sheet"),
        Grant("bob@x.com", "EDITOR_SHARE", "group Leads"),
        Grant("bob@x.com", "VIEWER", "workspace"),
    ]
    access = effective_access(grants)
    assert access["bob@x.com"].level == "EDITOR_SHARE" and len(access["bob@x.com"].grants) == 3


def change(person: str, row: int, column: str = "Quantity", when: datetime | None = None) -> AuditEvent:
    return AuditEvent(
        event_id=f"{person}-{row}-{column}",
        sheet_id=1,
        sheet_name="Crew 1",
        row_id=row,
        column=column,
        old_value=1,
        new_value=2,
        changed_at=when or at(16),
        changed_by=person,
        type=EventType.CHANGE,
        violation=False,
        detected_at=NOW,
        detected_via=DetectedVia.SCAN,
    )


def test_review_flags_exactly_what_the_facts_imply() -> None:
    roster = {
        "ana@x.com": RosterEntry("ana@x.com", "admin", 4, True, date(2026, 10, 1)),
        "bob@x.com": RosterEntry("bob@x.com", "foreman", 2, True, date(2026, 9, 15)),
        "carl@x.com": RosterEntry("carl@x.com", "foreman", 2, True, date(2026, 11, 1)),
        "dana@x.com": RosterEntry("dana@x.com", "auditor", 1, False, date(2026, 10, 15)),
        "erin@x.com": RosterEntry("erin@x.com", "clerk", 3, True, date(2026, 5, 1)),
        "ivy@x.com": RosterEntry("ivy@x.com", "viewer", 1, True, date(2026, 11, 2)),
    }
    users = {
        "ana@x.com": AccountUser("ana@x.com", True, at(19)),
        "bob@x.com": AccountUser("bob@x.com", True, at(18)),
        "carl@x.com": AccountUser("carl@x.com", True, datetime(2026, 8, 1, tzinfo=UTC)),
        "dana@x.com": AccountUser("dana@x.com", False, datetime(2026, 6, 1, tzinfo=UTC), "DEACTIVATED"),
        "erin@x.com": AccountUser("erin@x.com", True, at(19)),
        "ivy@x.com": AccountUser("ivy@x.com", True, at(19)),
    }
    sheet = SheetAccess(
        1,
        "Crew 1",
        (
            Grant("ana@x.com", "ADMIN", "sheet"),
            Grant("bob@x.com", "EDITOR", "sheet"),
            Grant("bob@x.com", "EDITOR_SHARE", "group Leads"),
            Grant("carl@x.com", "EDITOR", "workspace"),
            Grant("dana@x.com", "VIEWER", "workspace"),
            Grant("erin@x.com", "EDITOR", "sheet"),
            Grant("ivy@x.com", "COMMENTER", "sheet"),
            Grant("zed@out.com", "VIEWER", "sheet"),  # unknown, but only a viewer
            Grant("frank@out.com", "EDITOR", "sheet"),  # unknown editor
        ),
    )
    approvals = approvals_in(
        timeline([status("Approved", at(17), "bob@x.com")]), "Status", ("Approved",), SINCE
    ) + approvals_in(
        timeline([status("Approved", at(17), "ana@x.com")]).model_copy(update={"row_id": 11}),
        "Status",
        ("Approved",),
        SINCE,
    )
    changes = [change("bob@x.com", 10), change("bob@x.com", 11), change("ana@x.com", 10, column="Foreman")]
    result = review_access(
        sheets=[sheet],
        users=users,
        roster=roster,
        approvals=approvals,
        changes=changes,
        billed_columns=["Quantity", "Redlined Total Price"],
        policy=AccessReviewPolicy(),
        now=NOW,
        zone=ZONE,
    )
    assert {(f.person, f.reason) for f in result.findings} == {
        ("bob@x.com", AccessReason.ABOVE_ROSTER),
        ("bob@x.com", AccessReason.SEGREGATION_OF_DUTIES),
        ("carl@x.com", AccessReason.NO_RECENT_LOGIN),
        ("dana@x.com", AccessReason.INACTIVE_USER),
        ("erin@x.com", AccessReason.REVIEW_OVERDUE),
        ("frank@out.com", AccessReason.NOT_IN_ROSTER),
    }
    sod = next(f for f in result.findings if f.reason is AccessReason.SEGREGATION_OF_DUTIES)
    assert [row["row_id"] for row in sod.evidence["rows"]] == [10]  # row 11 was approved by ana
    above = next(f for f in result.findings if f.reason is AccessReason.ABOVE_ROSTER)
    assert above.evidence["access_level"] == "EDITOR_SHARE" and above.evidence["roster_allows"] == "EDITOR"
    carl = next(f for f in result.findings if f.person == "carl@x.com")
    assert carl.evidence["days_since_login"] == 111
    assert result.people == 8 and result.approvals == 2
    # The stored record reads back as the same result.
    assert AccessReviewResult.from_record(result.to_record()) == result
    subject, text = access_review_digest(result, ZONE)
    assert subject == "Access review 2026-11-20: 6 findings, 5 people"
    assert "Changed and approved the same rows (1):" in text and "frank@out.com on Crew 1" in text


def test_thresholds_are_configurable_and_boundaries_hold() -> None:
    roster = {"a@x.com": RosterEntry("a@x.com", None, 2, True, date(2026, 8, 22))}  # 90 days before the 20th
    users = {"a@x.com": AccountUser("a@x.com", True, datetime(2026, 9, 21, 15, 0, tzinfo=UTC))}  # 60 days
    sheet = SheetAccess(1, "S", (Grant("a@x.com", "EDITOR", "sheet"),))
    common = dict(
        sheets=[sheet], users=users, roster=roster, approvals=[], changes=[], billed_columns=[], now=NOW, zone=ZONE
    )
    assert review_access(policy=AccessReviewPolicy(), **common).findings == []
    tighter = AccessReviewPolicy(inactive_days=59, review_days=89)
    assert {f.reason for f in review_access(policy=tighter, **common).findings} == {
        AccessReason.NO_RECENT_LOGIN,
        AccessReason.REVIEW_OVERDUE,
    }
