"""The DynamoDB event store in the local cloud: idempotent writes and one alert per event."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import boto3

from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskLevel
from billing_audit.resources import EVENTS_TABLE
from billing_audit.store.dynamo import DynamoEventStore

AT = datetime(2026, 11, 12, 10, tzinfo=UTC)


def _event(event_id: str) -> AuditEvent:
    return AuditEvent(
        event_id=event_id,
        sheet_id=1,
        sheet_name="S",
        row_id=2,
        column="Quantity",
        old_value=1,
        new_value="2",
        changed_at=AT,
        changed_by="a@x.com",
        type=EventType.POST_CLOSE_CHANGE,
        violation=True,
        financial_impact=100.0,
        risk_level=RiskLevel.MEDIUM,
        detected_at=AT,
        detected_via=DetectedVia.SCAN,
    )


def test_events_are_stored_once_and_alerts_claimed_once(cloud):
    table = boto3.resource("dynamodb").Table(os.environ[EVENTS_TABLE.env_var])
    first, second = DynamoEventStore(table), DynamoEventStore(table)  # two concurrent writers
    assert [e.event_id for e in first.add([_event("a"), _event("b")])] == ["a", "b"]
    assert second.add([_event("a")]) == []
    assert first.claim_alerts(["a", "b", "missing"]) == ["a", "b"]
    assert second.claim_alerts(["a", "b"]) == []
    first.release_alerts(["b"])
    assert second.claim_alerts(["a", "b"]) == ["b"]
    stored = {e.event_id: e for e in second.all_events()}
    assert stored["a"].new_value == "2" and stored["a"].old_value == 1  # values kept exactly as the API gave them
