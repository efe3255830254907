"""Webhook operations against moto and the simulator, through the real HTTP front and queue worker.

SQS partial failure and the dead-letter queue, newWebhookStatus alerts (through SNS), secret
rotation with no refusal window, recovery of a disabled webhook, and the `webhooks` commands.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from billing_audit.cli.webhooks import register
from billing_audit.store.memory import MemoryAlertPublisher
from billing_audit.store.secrets import WebhookSecretStore
from billing_audit.store.sns import SnsAlertPublisher
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.scenario import config_for
from billing_audit_local.serve import LocalWebhookStack
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import ScenarioEdit, parse_scenario
from smartsheet_sim.testing import small_scenario
from tests.integration.webhook_support import Recorder, WebhookEnv, post_signed, synced_hooks


class Tee:
    """Operational alerts to memory (to assert on) and to the real SNS topic."""

    def __init__(self, *targets: Any) -> None:
        self.targets = targets

    def notify(self, subject: str, text: str) -> None:
        for target in self.targets:
            target.notify(subject, text)


@dataclass
class Env(WebhookEnv):
    alert_queue: str


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    scenario = parse_scenario(small_scenario())
    config = config_for(scenario)
    with LocalCloud() as cloud, Simulator(scenario) as sim:
        names = cloud.provision()
        sqs, sns = boto3.client("sqs"), boto3.client("sns")
        alert_queue = sqs.create_queue(QueueName="ops-alerts-probe")["QueueUrl"]
        alert_arn = sqs.get_queue_attributes(QueueUrl=alert_queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=names["ALERTS_TOPIC_ARN"],
            Protocol="sqs",
            Endpoint=alert_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        recorder, alerts = Recorder(), MemoryAlertPublisher()
        notifier = Tee(alerts, SnsAlertPublisher(sns, names["ALERTS_TOPIC_ARN"]))
        stack = LocalWebhookStack(sim, config, simulator_deps(sim, config), notifier=notifier, process=recorder)
        stack.start()
        hooks = synced_hooks(stack)
        try:
            yield Env(sim, stack, recorder, alerts, hooks, alert_queue)
        finally:
            stack.stop()


@pytest.fixture(autouse=True)
def _clean(env: Env) -> Iterator[None]:
    env.recorder.calls.clear()
    env.recorder.failing.clear()
    env.alerts.notes.clear()
    yield
    env.recorder.failing.clear()
    env.stack.worker.drain()  # type: ignore[union-attr]


_minutes = iter(range(10, 10_000))


def edit(env: Env, sheet_id: int = 4001, row: int = 1, **cells: Any) -> None:
    """A save on the sheet at a fresh simulator time (callbacks are bundled per minute)."""
    minute = next(_minutes)
    at = f"2026-11-{10 + minute // 1440:02d}T{(minute // 60) % 24:02d}:{minute % 60:02d}:00Z"
    values = {k.replace("_", " "): v for k, v in cells.items()} or {"Quantity": 1000 + minute}
    env.sim.apply_edit(
        ScenarioEdit.model_validate({"at": at, "by": "carl@example.com", "sheet": sheet_id, "row": row, "set": values})
    )


def payload(env: Env, sheet_id: int = 4001, nonce: str | None = None) -> dict[str, Any]:
    return {
        "nonce": nonce or str(uuid.uuid4()),
        "timestamp": "2026-11-12T10:00:00.000+00:00",
        "webhookId": env.hooks[sheet_id],
        "scope": "sheet",
        "scopeObjectId": sheet_id,
        "events": [
            {
                "objectType": "row",
                "eventType": "updated",
                "id": 1,
                "userId": 5002,
                "timestamp": "2026-11-12T10:00:00.000+00:00",
            }
        ],
    }


def received_alerts(env: Env) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=env.alert_queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


# ----- SQS partial failure and the dead-letter queue -----------------------------------------------


def test_a_failing_callback_holds_its_sheets_later_ones_in_order_until_it_is_dead_lettered(env: Env) -> None:
    good_a, bad, good_b = payload(env), payload(env), payload(env)
    env.recorder.failing.add(bad["nonce"])
    for data in (good_a, bad, good_b):
        assert post_signed(env, data, env.secret(4001)).status_code == 200
    drained = env.stack.worker.drain()  # type: ignore[union-attr]
    attempts = env.recorder.nonces()
    assert attempts.count(good_a["nonce"]) == 1 and attempts.count(good_b["nonce"]) == 1
    assert attempts.count(bad["nonce"]) == 5  # the queue's maxReceiveCount
    # The sheet's later callback waited: it ran once, after the failing one's last attempt, and did
    # not share its fate (process dead-letters it itself on that attempt).
    assert attempts.index(good_b["nonce"]) > max(i for i, n in enumerate(attempts) if n == bad["nonce"])
    assert drained.failed >= 4
    [dead] = env.stack.worker.dead_letters(env.stack.dlq_url, delete=True)  # type: ignore[union-attr]
    assert json.loads(dead["Body"])["nonce"] == bad["nonce"]
    assert env.stack.worker.dead_letters(env.stack.dlq_url) == []  # type: ignore[union-attr]


def test_the_queue_redrives_to_the_dlq_and_the_dlq_has_an_alarm(env: Env) -> None:
    sqs = boto3.client("sqs")
    queue_url = env.stack.worker.queue_url  # type: ignore[union-attr]
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    dlq_name = env.stack.dlq_url.rsplit("/", 1)[-1]
    assert policy["deadLetterTargetArn"].endswith(":" + dlq_name) and int(policy["maxReceiveCount"]) >= 1
    alarms = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    watching = [a for a in alarms if any(d.get("Value") == dlq_name for d in a.get("Dimensions", []))]
    assert watching, "no CloudWatch alarm watches the callback dead-letter queue"


def test_a_poison_message_is_dead_lettered_too(env: Env) -> None:
    sqs = boto3.client("sqs")
    sqs.send_message(
        QueueUrl=env.stack.worker.queue_url,  # type: ignore[union-attr]
        MessageBody="not a callback",
        MessageGroupId="redelivery",
        MessageDeduplicationId=uuid.uuid4().hex,
    )
    drained = env.stack.worker.drain()  # type: ignore[union-attr]
    # Four failed attempts; on the fifth (the queue's maxReceiveCount) process dead-letters it.
    assert (drained.failed, drained.received) == (4, 5)
    dead = env.stack.worker.dead_letters(env.stack.dlq_url, delete=True)  # type: ignore[union-attr]
    assert [m["Body"] for m in dead] == ["not a callback"]
    assert [m["MessageAttributes"]["failure"]["StringValue"] for m in dead] == ["JSONDecodeError"]


# ----- status alerts and recovery of a disabled webhook ---------------------------------------------


def test_disabled_webhook_alerts_misses_changes_and_is_recovered_by_the_health_check(env: Env) -> None:
    webhook_id = env.hooks[4002]
    # Smartsheet sends no status callback for this status (only for an inaccessible scope and an
    # automatic re-enable, NOTES.md): the simulator is asked to send one, to test the alert path.
    env.sim.disable_webhook(webhook_id, "DISABLED_BY_OWNER", status_callback=True)
    first = env.stack.pump()
    [status] = [d for d in first.deliveries if d.kind == "status"]
    assert status.status_code == 200 and status.payload["newWebhookStatus"] == "DISABLED_BY_OWNER"
    [(subject, text)] = env.alerts.notes
    assert str(webhook_id) in subject and "DISABLED_BY_OWNER" in subject and "sheet 4002" in text
    sns_alerts = received_alerts(env)
    assert any(a.get("kind") == "operational" and "DISABLED_BY_OWNER" in a["text"] for a in sns_alerts)

    edit(env, sheet_id=4002, row=21)  # happens while disabled: never delivered
    missed = env.stack.pump()
    assert not [d for d in missed.deliveries if d.webhook_id == webhook_id] and env.recorder.calls == []

    env.alerts.notes.clear()
    report = env.stack.health()
    assert report.recovered == [4002]
    assert [s for s, _ in env.alerts.notes] == ["webhook of sheet 4002 not enabled"]
    assert env.sim.webhooks.get(webhook_id).status == "ENABLED"

    edit(env, sheet_id=4002, row=21)
    after = env.stack.pump()
    assert [d.outcome for d in after.deliveries if d.webhook_id == webhook_id] == ["delivered"]
    assert [c.webhook_id for c in env.recorder.calls] == [webhook_id]


def test_a_webhook_disabled_by_callback_failures_is_alerted_and_recovered(env: Env) -> None:
    webhook_id = env.hooks[4003]
    # As above: Smartsheet itself would send no status callback for DISABLED_CALLBACK_FAILED.
    env.sim.disable_webhook(webhook_id, "DISABLED_CALLBACK_FAILED", status_callback=True)
    env.stack.pump()
    assert any("DISABLED_CALLBACK_FAILED" in subject for subject, _ in env.alerts.notes)
    report = env.stack.health()
    assert report.recovered == [4003] and env.sim.webhooks.get(webhook_id).status == "ENABLED"


def test_a_scope_made_inaccessible_is_alerted_and_its_automatic_re_enable_is_not(env: Env) -> None:
    # The status callbacks Smartsheet does send: the sheet shared away, then shared back.
    webhook_id = env.hooks[4003]
    env.alerts.notes.clear()
    assert env.sim.make_scope_inaccessible(4003) == [webhook_id]
    gone = env.stack.pump()
    [status] = [d for d in gone.deliveries if d.kind == "status"]
    assert status.status_code == 200 and status.payload["newWebhookStatus"] == "DISABLED_SCOPE_INACCESSIBLE"
    [(subject, text)] = env.alerts.notes
    assert str(webhook_id) in subject and "DISABLED_SCOPE_INACCESSIBLE" in subject and "sheet 4003" in text

    env.alerts.notes.clear()
    assert env.sim.make_scope_accessible(4003) == [webhook_id]
    back = env.stack.pump()
    assert [d.payload["newWebhookStatus"] for d in back.deliveries if d.kind == "status"] == ["ENABLED"]
    assert env.alerts.notes == [] and env.sim.webhooks.get(webhook_id).status == "ENABLED"


def test_a_challenge_answered_too_late_is_verified_by_the_stacks_next_sync(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loaded machine's first answer comes after Smartsheet stopped waiting: sync tries again."""
    webhook_id = env.hooks[4002]
    env.sim.disable_webhook(webhook_id, "DISABLED_VERIFICATION_FAILED")
    monkeypatch.setattr(env.sim.options, "callback_timeout_seconds", 0.5)
    front = env.stack.front
    assert front is not None
    serve, late = front._serve, [True]

    def first_late(request: Any) -> None:
        if late:
            late.pop()
            time.sleep(1.0)  # past the challenge's timeout: the client has hung up when we answer
        serve(request)

    monkeypatch.setattr(front, "_serve", first_late)
    once = env.stack.sync(attempts=1)
    assert not once.ok and env.sim.webhooks.get(webhook_id).status == "DISABLED_VERIFICATION_FAILED"

    late.append(True)
    report = env.stack.sync()
    assert report.ok and env.sim.webhooks.get(webhook_id).status == "ENABLED"


# ----- secret rotation ------------------------------------------------------------------------------


def test_rotation_refuses_no_valid_callback(env: Env) -> None:
    before = env.secret(4001)
    edit(env)
    assert env.stack.pump().delivered == 1
    front = env.stack.front
    assert front is not None
    start = len(front.invocations)
    during: dict[str, Any] = {}

    def between(webhook_id: int) -> None:
        # Smartsheet already signs with the new secret; Secrets Manager still has the old one.
        if webhook_id != env.hooks[4001]:
            return
        edit(env)
        thread = threading.Thread(target=lambda: during.setdefault("results", env.sim.deliver_callbacks()))
        thread.start()
        time.sleep(0.6)  # the callback is now at the front, waiting out the rotation
        during["thread"] = thread

    rows = env.stack.rotate(between=between)
    during["thread"].join(timeout=15)
    assert all(row.rotated for row in rows) and len(rows) == 3
    after = env.secret(4001)
    assert after != before
    results = during["results"]
    assert [(d.kind, d.status_code) for d in results if d.webhook_id == env.hooks[4001]] == [("callback", 200)]
    assert all(inv.status_code == 200 for inv in front.invocations[start:])
    assert max(inv.seconds for inv in front.invocations[start:]) >= 0.3  # it waited for the new secret

    stored = WebhookSecretStore(boto3.client("secretsmanager")).read(env.hooks[4001])
    assert stored is not None and stored.current == after and stored.previous == before and not stored.pending_since
    # Signed with the previous secret (sent just before the reset): still accepted during the grace.
    assert post_signed(env, payload(env), before).status_code == 200
    assert post_signed(env, payload(env), "neither-secret").status_code == 401
    edit(env)
    assert env.stack.pump().delivered == 1


# ----- the webhooks commands --------------------------------------------------------------------------


def run_cli(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="billing-audit")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_webhooks_commands(env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", env.sim.token)
    monkeypatch.setenv("SMARTSHEET_API_BASE", env.sim.api_base or "")
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", json.dumps({"sheets": {"sheet_ids": [4001, 4002]}}))
    monkeypatch.setenv("WEBHOOK_URL", env.stack.url)
    secrets = WebhookSecretStore(boto3.client("secretsmanager"))
    stale = env.hooks[4003]

    assert run_cli(["webhooks", "status"]) == 0
    out = capsys.readouterr().out
    assert "would be deleted" in out and str(stale) in out and "ENABLED" in out

    assert run_cli(["webhooks", "sync"]) == 0
    out = capsys.readouterr().out
    assert f"{stale}" in out and "deleted" in out
    assert stale not in {h.id for h in env.sim.webhooks.all()} and secrets.read(stale) is None

    old = env.secret(4001)
    assert run_cli(["webhooks", "rotate"]) == 0
    out = capsys.readouterr().out
    assert out.count("rotated") == 2 and "4003" not in out
    assert env.secret(4001) != old
    edit(env)
    assert env.stack.pump().delivered == 1

    # Back to the whole configuration: the webhook of sheet 4003 is created again.
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", json.dumps({"sheets": {"sheet_ids": [4001, 4002, 4003]}}))
    assert run_cli(["webhooks", "sync", "--callback-url", env.stack.url]) == 0
    out = capsys.readouterr().out
    assert "created" in out
    env.hooks[4003] = next(h.id for h in env.sim.webhooks.all() if h.name == "billing-audit:4003")
