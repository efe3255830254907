"""The DynamoDB event store in the local cloud: idempotent writes and one alert per event."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta

import boto3
from boto3.dynamodb.conditions import Key

from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskLevel
from billing_audit.resources import ALERT_CLAIM_LEASE_SECONDS, EVENTS_TABLE
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.interfaces import AlertClaims

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
    assert [e.event_id for e in second.add([_event("b2"), _event("b2")])] == ["b2"]  # an id twice: once
    assert first.claim_alerts(["a", "b", "missing"]).claimed == ["a", "b"]
    assert second.claim_alerts(["a", "b"]) == AlertClaims()  # claimed, not yet alerted: neither settled
    first.release_alerts(["b"])
    assert second.claim_alerts(["a", "b"]).claimed == ["b"]
    first.mark_alerted(["a", "missing"])  # a missing event stays missing
    assert second.claim_alerts(["a", "missing"]) == AlertClaims(settled=["a"])
    assert first.claim_alerts(["missing"]) == AlertClaims()
    stored = {e.event_id: e for e in second.all_events()}
    assert stored["a"].new_value == "2" and stored["a"].old_value == 1  # values kept exactly as the API gave them
    assert set(stored) == {"a", "b", "b2"}


def test_a_claim_never_recorded_is_taken_over_once_older_than_any_run_lives(cloud):
    table = boto3.resource("dynamodb").Table(os.environ[EVENTS_TABLE.env_var])
    now = {"at": AT}
    dead, later = DynamoEventStore(table, clock=lambda: now["at"]), DynamoEventStore(table, clock=lambda: now["at"])
    dead.add([_event("c")])
    assert dead.claim_alerts(["c"]).claimed == ["c"]  # and the run dies before publishing
    now["at"] = AT + timedelta(seconds=ALERT_CLAIM_LEASE_SECONDS)
    assert later.claim_alerts(["c"]) == AlertClaims()  # it might still be publishing
    now["at"] = AT + timedelta(seconds=ALERT_CLAIM_LEASE_SECONDS + 1)
    assert later.claim_alerts(["c"]).claimed == ["c"]
    later.mark_alerted(["c"])
    now["at"] = AT + timedelta(days=1)
    assert dead.claim_alerts(["c"]) == AlertClaims(settled=["c"])  # recorded: final


def test_scan_state_survives_a_concurrent_writer_and_large_snapshots(cloud):
    from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
    from billing_audit.resources import STATE_TABLE
    from billing_audit.store.dynamo import DynamoStateStore

    def table():
        return boto3.resource("dynamodb").Table(os.environ[STATE_TABLE.env_var])

    noise = random.Random(7)
    rows = {
        i: RowSnapshot(modified_at=AT, values={"Week Ending": "2026-11-08", "Note": f"{noise.getrandbits(800):x}"})
        for i in range(4000)
    }  # barely compressible: several chunks
    first = SheetSnapshot(sheet_id=9, sheet_name="S", version=1, taken_at=AT, rows=rows)
    DynamoStateStore(table()).save(first)
    assert DynamoStateStore(table()).load(9) == first
    # Rows of a few buckets are read bucket by bucket, rows all over the sheet in one paged read.
    few, spread = [3, 503, 1003, 4000], list(range(0, 4000, 97))
    assert DynamoStateStore(table()).load_rows(9, few) == {i: rows[i] for i in few if i in rows}
    assert DynamoStateStore(table()).load_rows(9, spread) == {i: rows[i] for i in spread}

    # Scan A reads the head, scan B switches it, then A tries to switch from what it read.
    slow_table = table()
    stale_head = slow_table.get_item(Key={"pk": "sheet#9", "sk": "head"}, ConsistentRead=True)
    DynamoStateStore(table()).save(first.model_copy(update={"version": 2}))
    slow_table.get_item = lambda **kwargs: stale_head  # type: ignore[method-assign]
    DynamoStateStore(slow_table).save(first.model_copy(update={"version": 3}))

    assert DynamoStateStore(table()).load(9).version == 2  # B's snapshot stands
    head = table().get_item(Key={"pk": "sheet#9", "sk": "head"})["Item"]
    items = table().query(KeyConditionExpression=Key("pk").eq("sheet#9"))["Items"]
    chunks = [item["sk"] for item in items if item["sk"] != "head"]
    assert len(chunks) == int(head["chunks"]) > 1  # neither A's chunks nor the first generation's remain
    assert all(key.startswith(f"chunk#{head['generation']}#") for key in chunks)


def test_the_webhook_paths_row_memory_expires_after_its_days_unless_written_again(cloud):
    from billing_audit.domain.snapshot import RowSnapshot
    from billing_audit.resources import ROW_MEMORY_DAYS, STATE_TABLE
    from billing_audit.store.dynamo import DynamoStateStore

    table = boto3.resource("dynamodb").Table(os.environ[STATE_TABLE.env_var])
    row = RowSnapshot(modified_at=AT, values={"Quantity": 3})
    DynamoStateStore(table, clock=lambda: AT).remember_rows(9, {1: row})
    later = AT + timedelta(days=30)
    DynamoStateStore(table, clock=lambda: later).remember_rows(9, {2: row})

    def purge_at(row_id: int) -> int:
        return int(table.get_item(Key={"pk": "sheet#9", "sk": f"row#{row_id}"})["Item"][str(STATE_TABLE.ttl_attribute)])

    assert purge_at(1) == int((AT + timedelta(days=ROW_MEMORY_DAYS)).timestamp())
    assert purge_at(2) == int((later + timedelta(days=ROW_MEMORY_DAYS)).timestamp())
    assert DynamoStateStore(table).recall_rows(9, [1, 2, 3]) == {1: row, 2: row}
