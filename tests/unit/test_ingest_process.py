"""The queue side (billing_audit.ingest.process): partial batch failures and status alerts."""

from __future__ import annotations

import json
from typing import Any

from billing_audit.config import AuditConfig
from billing_audit.ingest.process import CallbackProcessor, RecordResult
from billing_audit.pipeline.callbacks import CallbackResult
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.record import record_events
from billing_audit.smartsheet.webhooks import WebhookCallback
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from tests.unit.alert_builders import high


def body(nonce: str, **extra: Any) -> str:
    payload: dict[str, Any] = {
        "nonce": nonce,
        "timestamp": "2026-11-12T10:00:00Z",
        "webhookId": 99,
        "scope": "sheet",
        "scopeObjectId": 4001,
        "events": [{"objectType": "row", "eventType": "updated", "id": 1, "timestamp": "2026-11-12T09:59:00Z"}],
    }
    payload.update(extra)
    return json.dumps(payload)


def sqs_event(*bodies: str, groups: list[str] | None = None) -> dict[str, Any]:
    """A FIFO batch; each record in its own message group unless `groups` says otherwise."""
    groups = groups or [f"sheet-{i}" for i in range(len(bodies))]
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"r-{i}",
                "body": text,
                "attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": group},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for i, (text, group) in enumerate(zip(bodies, groups, strict=True))
        ]
    }


class Recorder:
    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.seen: list[str | None] = []

    def __call__(
        self,
        callback: WebhookCallback,
        config: AuditConfig,
        deps: AuditDeps,
        *,
        history_allowance: int | None,
        batch: Any = None,
    ) -> CallbackResult:
        self.seen.append(callback.nonce)
        if callback.nonce in self.failing:
            raise RuntimeError("detection failed")
        return CallbackResult()


def processor(recorder: Recorder, alerts: MemoryAlertPublisher) -> CallbackProcessor:
    deps = AuditDeps(
        smartsheet=None, events=MemoryEventStore(), state=MemoryStateStore(), alerts=alerts, notifier=alerts
    )  # type: ignore[arg-type]
    return CallbackProcessor(AuditConfig(), deps, alerts, process=recorder)


def test_one_failing_record_fails_alone() -> None:
    recorder, alerts = Recorder(failing={"b"}), MemoryAlertPublisher()
    results: list[RecordResult] = []
    failures: list[str] = []
    proc = processor(recorder, alerts)
    proc.on_record = results.append
    proc.on_failure = lambda record, exc: failures.append(record.message_id)
    response = proc.handle(sqs_event(body("a"), body("b"), body("c")), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert recorder.seen == ["a", "b", "c"]
    assert [r.nonce for r in results] == ["a", "c"] and failures == ["m-1"]


def test_after_a_failure_the_rest_of_that_sheets_callbacks_wait_in_order() -> None:
    recorder = Recorder(failing={"b"})
    proc = processor(recorder, MemoryAlertPublisher())
    batch = sqs_event(body("a"), body("b"), body("c"), body("d"), groups=["sheet-1", "sheet-1", "sheet-1", "sheet-2"])
    response = proc.handle(batch, None)
    # c is not processed ahead of b: both go back to the queue; the other sheet's d goes on.
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    assert recorder.seen == ["a", "b", "d"]


def test_every_record_failing_is_reported_not_raised() -> None:
    proc = processor(Recorder(failing={"a"}), MemoryAlertPublisher())
    response = proc.handle(sqs_event(body("a"), "not json"), None)
    assert sorted(i["itemIdentifier"] for i in response["batchItemFailures"]) == ["m-0", "m-1"]


def test_status_callback_alerts_and_runs_no_detection() -> None:
    recorder, alerts = Recorder(), MemoryAlertPublisher()
    status = json.loads(body("s"))
    del status["events"]
    status["newWebhookStatus"] = "DISABLED_CALLBACK_FAILED"
    response = processor(recorder, alerts).handle(sqs_event(json.dumps(status)), None)
    assert response == {"batchItemFailures": []}
    assert recorder.seen == []
    [(subject, text)] = alerts.notes
    assert "DISABLED_CALLBACK_FAILED" in subject and "sheet 4001" in text and "reconcil" in text


def test_enabled_status_is_not_an_alert() -> None:
    alerts = MemoryAlertPublisher()
    processor(Recorder(), alerts).handle(sqs_event(body("e", newWebhookStatus="ENABLED")), None)
    assert alerts.notes == []


class Burst:
    """Stands in for detection: each callback stores 30 HIGH violations of its sheet, as a bulk edit would."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(
        self,
        callback: WebhookCallback,
        config: AuditConfig,
        deps: AuditDeps,
        *,
        history_allowance: int | None,
        batch: Any = None,
    ) -> CallbackResult:
        self.calls += 1
        events = [high(1000 * self.calls + n) for n in range(30)]
        record_events(events, config, deps, batch=batch)
        return CallbackResult(events=events)


def test_a_batch_of_callbacks_is_one_alerting_run() -> None:
    alerts = MemoryAlertPublisher()
    deps = AuditDeps(
        smartsheet=None, events=MemoryEventStore(), state=MemoryStateStore(), alerts=alerts, notifier=alerts
    )  # type: ignore[arg-type]
    proc = CallbackProcessor(AuditConfig(timezone="America/Chicago"), deps, alerts, process=Burst())
    response = proc.handle(sqs_event(body("a"), body("b"), body("c"), groups=["sheet-1"] * 3), None)
    assert response == {"batchItemFailures": []}
    # 90 HIGH violations from three callbacks: the per-sheet allowance of single messages, then one
    # digest for the rest of the batch, not 90 messages.
    kinds = [message.kind for message in alerts.messages]
    assert (
        kinds.count("digest") == 1
        and kinds.count("violation") == AuditConfig(timezone="UTC").alerting.max_singles_per_sheet
    )
    assert len(alerts.published) == 90  # every violation is alerted, once
