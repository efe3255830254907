"""What the webhook path reads for a callback, with in-memory fakes (no Smartsheet, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing_audit.config import AuditConfig, SheetSelection
from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
from billing_audit.pipeline.callbacks import process_callback
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.resources import CHANGE_AGENT
from billing_audit.smartsheet.models import UserData
from billing_audit.smartsheet.webhooks import WebhookCallback
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore

NOW = datetime(2026, 11, 12, 12, tzinfo=UTC)


class NoReads:
    """A gateway that fails the test if anything but the user list is read."""

    def users(self):
        return [UserData(id=7, email="bob@example.com")]

    def __getattr__(self, name):
        raise AssertionError(f"unexpected Smartsheet read: {name}")


@pytest.fixture
def deps():
    state = MemoryStateStore()
    state.save(
        SheetSnapshot(
            sheet_id=3001,
            sheet_name="Crew",
            version=1,
            taken_at=datetime(2026, 11, 9, 12, tzinfo=UTC),
            columns={"Week Ending": 1, "Redlined Total Price": 2},
            rows={
                5: RowSnapshot(
                    modified_at=datetime(2026, 10, 20, tzinfo=UTC),
                    values={"Week Ending": "2026-11-01", "Redlined Total Price": 300.0},
                )
            },
        )
    )
    return AuditDeps(
        smartsheet=NoReads(),
        events=MemoryEventStore(),
        state=state,  # type: ignore[arg-type]
        alerts=MemoryAlertPublisher(),
        notifier=MemoryAlertPublisher(),
        clock=lambda: NOW,
    )


CONFIG = AuditConfig(timezone="America/Chicago", sheets=SheetSelection(sheet_ids=[3001]))


def _callback(*events):
    return WebhookCallback.model_validate(
        {
            "nonce": "n",
            "timestamp": "2026-11-12T10:00:00Z",
            "webhookId": 1,
            "scope": "sheet",
            "scopeObjectId": 3001,
            "events": list(events),
        }
    )


def test_the_products_own_writes_are_ignored(deps):
    own = {
        "objectType": "cell",
        "eventType": "updated",
        "rowId": 5,
        "columnId": 2,
        "userId": 7,
        "timestamp": "2026-11-12T10:00:00Z",
        "changeAgent": CHANGE_AGENT,
    }
    assert process_callback(_callback(own), CONFIG, deps).events == []
    assert deps.events.events == {}


def test_a_deletion_is_judged_at_its_time_with_who_from_the_user_list(deps):
    deleted = {"objectType": "row", "eventType": "deleted", "id": 5, "userId": 7, "timestamp": "2026-11-12T09:00:00Z"}
    [event] = process_callback(_callback(deleted), CONFIG, deps).events
    assert (event.type.value, event.changed_by, event.financial_impact) == (
        "closed_row_deleted",
        "bob@example.com",
        -300.0,
    )
    assert event.changed_at == datetime(2026, 11, 12, 9, tzinfo=UTC) and event.detected_via.value == "webhook"
    assert [e.event_id for e in deps.alerts.published] == [event.event_id]


def test_a_sheet_without_a_baseline_is_left_to_the_first_scan(deps):
    callback = _callback(
        {"objectType": "row", "eventType": "deleted", "id": 5, "userId": 7, "timestamp": "2026-11-12T09:00:00Z"}
    )
    orphan = callback.model_copy(update={"scope_object_id": 9999})
    assert process_callback(orphan, CONFIG, deps).events == []


def test_edits_to_columns_no_rule_reads_cost_nothing(deps):
    foreman = {
        "objectType": "cell",
        "eventType": "updated",
        "rowId": 5,
        "columnId": 3,
        "userId": 7,
        "timestamp": "2026-11-12T10:00:00Z",
    }
    row = {"objectType": "row", "eventType": "updated", "id": 5, "userId": 7, "timestamp": "2026-11-12T10:00:00Z"}
    deps.state.snapshots[3001].columns["Foreman"] = 3
    assert process_callback(_callback(row, foreman), CONFIG, deps).events == []  # NoReads fails on any row read
