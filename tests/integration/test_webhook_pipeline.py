"""The whole webhook path with the real detection (pipeline.callbacks.process_callback).

The bundled example week is played after a baseline scan; every callback is delivered twice by the
simulator, then replayed over HTTP under a fresh nonce (past both nonce guards) and redelivered by
SQS.  The events stored and the alerts published must be exactly those of the single delivery.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
import requests

from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import run_scan
from billing_audit.smartsheet.webhooks import sign
from billing_audit.store.memory import MemoryAlertPublisher
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.serve import LocalWebhookStack
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import DeliveryResult, Simulator
from smartsheet_sim.scenario import load_scenario


@dataclass
class Played:
    sim: Simulator
    stack: LocalWebhookStack
    deps: AuditDeps
    alerts: MemoryAlertPublisher
    callbacks: list[DeliveryResult]


@pytest.fixture(scope="module")
def played() -> Iterator[Played]:
    scenario = load_scenario(bundled_example())
    config = config_for(scenario)
    with LocalCloud() as cloud, Simulator(scenario) as sim:
        cloud.provision()
        aws = simulator_deps(sim, config)
        alerts = MemoryAlertPublisher()
        deps = AuditDeps(
            smartsheet=aws.smartsheet,
            events=aws.events,
            state=aws.state,
            alerts=alerts,
            notifier=alerts,
            clock=aws.clock,
        )
        sim.apply_edits_through(scenario.baseline_at)
        sim.set_time(scenario.baseline_at)
        run_scan(config, deps)
        stack = LocalWebhookStack(sim, config, deps, notifier=alerts)
        stack.start()
        assert stack.sync().ok
        callbacks: list[DeliveryResult] = []
        try:
            for edit in scenario.ordered_edits():
                if edit.at <= scenario.baseline_at:
                    continue
                sim.apply_edits_through(edit.at)
                result = stack.pump(duplicate=True)
                assert all(d.status_code == 200 for d in result.deliveries)
                assert result.drained.failed == 0
                callbacks += [d for d in result.deliveries if d.kind == "callback"]
            yield Played(sim, stack, deps, alerts, callbacks)
        finally:
            stack.stop()


def test_every_change_was_delivered_and_audited(played: Played) -> None:
    assert played.callbacks and all(d.delivered for d in played.callbacks)
    events = played.deps.events.all_events()
    assert events, "the example week has violations the webhook path must find"
    assert all(e.detected_via.value == "webhook" for e in events if e.violation)


def test_duplicates_replays_and_redeliveries_add_no_events_or_alerts(played: Played) -> None:
    before = sorted(e.event_id for e in played.deps.events.all_events())
    published = Counter(e.event_id for e in played.alerts.published)
    assert published and max(published.values()) == 1

    secret = played.sim.webhooks.get(played.callbacks[0].webhook_id).shared_secret
    url = played.stack.url
    sqs = boto3.client("sqs")
    for delivery in played.callbacks:
        fresh = {**delivery.payload, "nonce": str(uuid.uuid4())}  # past the webhook's nonce guard
        body = json.dumps(fresh).encode()
        answer = requests.post(url, data=body, headers={"Smartsheet-Hmac-SHA256": sign(secret, body)}, timeout=15)
        assert answer.status_code == 200 and answer.json() == {"status": "accepted"}
        # ...and SQS delivering the original message again (at-least-once).
        sqs.send_message(
            QueueUrl=played.stack.worker.queue_url,  # type: ignore[union-attr]
            MessageBody=json.dumps(delivery.payload),
            MessageGroupId="redelivery",
            MessageDeduplicationId=uuid.uuid4().hex,
        )
    drained = played.stack.worker.drain()  # type: ignore[union-attr]
    assert drained.failed == 0 and drained.received == 2 * len(played.callbacks)

    assert sorted(e.event_id for e in played.deps.events.all_events()) == before
    assert Counter(e.event_id for e in played.alerts.published) == published
