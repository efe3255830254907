"""Violations for the alerting tests, each with the fields a real detection fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskLevel, event_id_for
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.risk import risk_level_for

CHANGED = datetime(2026, 11, 11, 2, 30, tzinfo=UTC)
DETECTED = datetime(2026, 11, 20, 15, tzinfo=UTC)


def violation(
    row_id: int = 300101,
    *,
    impact: float | None = 49_500.0,
    kind: EventType = EventType.POST_CLOSE_CHANGE,
    sheet_id: int = 4001,
    sheet_name: str = "Subcontractor Billing",
    column: str | None = "Redlined Total Price",
    minutes: int = 0,
    **extra: object,
) -> AuditEvent:
    changed = CHANGED + timedelta(minutes=minutes)
    fields: dict[str, object] = {
        "event_id": event_id_for(sheet_id, row_id, kind, column, changed),
        "sheet_id": sheet_id,
        "sheet_name": sheet_name,
        "row_id": row_id,
        "work_request": "SUB-1003",
        "column": column,
        "old_value": 1250.0,
        "new_value": 50750.0,
        "changed_at": changed,
        "changed_by": "ana.ortiz@example.com",
        "type": kind,
        "violation": kind is not EventType.CHANGE,
        "financial_impact": impact,
        "risk_level": risk_level_for(kind, impact, AuditPolicy()) if kind is not EventType.CHANGE else None,
        "risk_score": 0.8,
        "detected_at": DETECTED,
        "detected_via": DetectedVia.SCAN,
    }
    fields.update(extra)
    return AuditEvent.model_validate(fields)


def high(row_id: int, **extra: object) -> AuditEvent:
    event = violation(row_id, **extra)
    assert event.risk_level is RiskLevel.HIGH
    return event
