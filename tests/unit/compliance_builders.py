"""A period of stored events, approvals and a review for the compliance report tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing_audit.config import AuditConfig, RosterUser
from billing_audit.domain.access import AccessFinding, AccessReason, AccessReviewResult, Approval
from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskLevel
from billing_audit.pipeline.compliance import ComplianceDeps, Status
from billing_audit.store.access import MemoryAccessReviewStore, MemoryApprovalStore
from billing_audit.store.memory import MemoryEventStore

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
SINCE, UNTIL = datetime(2026, 11, 1, 5, tzinfo=UTC), datetime(2026, 12, 1, 6, tzinfo=UTC)
CONFIG = AuditConfig(
    timezone="America/Chicago",
    retention_days=2557,
    roster=[RosterUser(email="ana@example.com", role="billing_admin", access_level=4)],
)


def event(n: int, kind: EventType, by: str | None, column: str | None = "Quantity", impact: float | None = 10.0):
    at = datetime(2026, 11, 10, 15, tzinfo=UTC) + timedelta(hours=n)
    violation = kind is not EventType.CHANGE
    return AuditEvent(
        event_id=f"e{n}",
        sheet_id=4001,
        sheet_name="Crew <12> Billing",
        row_id=100 + n % 3,
        work_request=f"WR-{n}",
        column=column,
        old_value=1,
        new_value="=2+2" if n == 4 else 2,
        changed_at=at,
        changed_by=by,
        type=kind,
        violation=violation,
        financial_impact=impact if violation else None,
        risk_level=RiskLevel.HIGH if violation else None,
        detected_at=at + timedelta(minutes=5),
        detected_via=DetectedVia.SCAN,
    )


EVENTS = [
    event(0, EventType.POST_CLOSE_CHANGE, "bob@example.com", impact=1500.0),
    event(1, EventType.CLOSED_ROW_DELETED, None, column=None, impact=-300.0),
    event(2, EventType.CHANGE, "bob@example.com"),
    event(3, EventType.LOCKED_ROW_CHANGE, "ana@example.com"),
    event(4, EventType.WEEK_ENDING_MOVED, "carl@example.com", column="Week Ending", impact=None),
]
# Bob changed row 100's Quantity (event 0) and approved row 100; Ana approved row 102 she did not change.
APPROVALS = [
    Approval(approval_id="a1", sheet_id=4001, sheet_name="Crew <12> Billing", row_id=100, work_request="WR-0",
             status="Approved", at=datetime(2026, 11, 12, 15, tzinfo=UTC), by="bob@example.com"),
    Approval(approval_id="a2", sheet_id=4001, sheet_name="Crew <12> Billing", row_id=102, work_request="WR-2",
             status="Invoiced", at=datetime(2026, 11, 12, 16, tzinfo=UTC), by="ana@example.com"),
]  # fmt: skip
REVIEW = AccessReviewResult(
    reviewed_at=datetime(2026, 11, 20, 12, tzinfo=UTC),
    sheets=[{"sheet_id": 4001, "sheet_name": "Crew <12> Billing", "people": 3}],
    people=3,
    findings=[
        AccessFinding(
            person="dana@example.com",
            sheet_id=4001,
            sheet_name="Crew <12> Billing",
            reason=AccessReason.INACTIVE_USER,
            detail="inactive in Smartsheet but still holds VIEWER",
        )
    ],
)


def compliance_deps(*, review: bool = True, trail_ok: bool | None = True) -> ComplianceDeps:
    events = MemoryEventStore()
    events.add(EVENTS)
    approvals = MemoryApprovalStore()
    approvals.add(APPROVALS)
    reviews = MemoryAccessReviewStore()
    if review:
        reviews.save(REVIEW)
    trail = None if trail_ok is None else (lambda: Status("Trail verification", trail_ok, "checked"))
    return ComplianceDeps(
        events=events,
        approvals=approvals,
        reviews=reviews,
        clock=lambda: NOW,
        trail_check=trail,
        backup_check=lambda: Status("Backups", True, "2026-11-30: 4 object(s) re-read, all match"),
    )
