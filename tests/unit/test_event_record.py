"""An event's stored and written form: FORMAT.md's fields unchanged, the risk factors beside them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskFactor, event_id_for

FORMAT_FIELDS = {
    "event_id", "sheet_id", "sheet_name", "row_id", "work_request", "column", "old_value", "new_value",
    "changed_at", "changed_by", "type", "violation", "financial_impact", "risk_level", "risk_score",
    "anomaly_score", "detected_at", "detected_via",
}  # fmt: skip


def _event(factors: list[RiskFactor]) -> AuditEvent:
    changed = datetime(2026, 11, 11, 2, 30, tzinfo=UTC)
    return AuditEvent(
        event_id=event_id_for(3001, 300101, EventType.POST_CLOSE_CHANGE, "Quantity", changed),
        sheet_id=3001,
        sheet_name="Line Crew Billing",
        row_id=300101,
        column="Quantity",
        changed_at=changed,
        type=EventType.POST_CLOSE_CHANGE,
        violation=True,
        detected_at=datetime(2026, 11, 14, 15, tzinfo=UTC),
        detected_via=DetectedVia.SCAN,
        risk_factors=factors,
    )


def test_record_keeps_format_fields_and_adds_the_factors() -> None:
    factor = RiskFactor(code="outside_business_hours", label="Outside business hours (20:30 local)", weight=0.3)
    record = _event([factor]).to_record()
    assert set(record) >= FORMAT_FIELDS
    assert set(record) - FORMAT_FIELDS == {"risk_factors", "week_ending"}
    assert record["risk_factors"] == [{"code": "outside_business_hours", "label": factor.label, "weight": 0.3}]


def test_record_round_trips_and_old_records_without_factors_still_load() -> None:
    event = _event([RiskFactor(code="weekend", label="Weekend (Saturday)", weight=0.2)])
    assert AuditEvent.model_validate_json(json.dumps(event.to_record())) == event
    old = event.to_record()
    del old["risk_factors"]
    assert AuditEvent.model_validate(old).risk_factors == []


def test_factor_renders_as_label_and_weight() -> None:
    assert RiskFactor(code="weekend", label="Weekend (Saturday)", weight=0.2).render() == "Weekend (Saturday) (+0.2)"
