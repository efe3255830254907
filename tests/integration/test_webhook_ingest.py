"""The webhook endpoint through the real HTTP front (API Gateway proxy events), moto and the simulator.

Covers the verification challenge, good / bad / missing signatures, base64 bodies, a replayed
nonce, malformed and oversized bodies, unknown webhook ids, and the simulator's own signed
deliveries (including duplicates) reaching the process function exactly once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from billing_audit import resources as res
from billing_audit.store.memory import MemoryAlertPublisher
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.scenario import config_for
from billing_audit_local.serve import LocalWebhookStack
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import ScenarioEdit, parse_scenario
from smartsheet_sim.testing import small_scenario
from tests.integration.webhook_support import Recorder, WebhookEnv, post, post_signed, synced_hooks

MARKER = "BODY-MARKER-5521"


class LogRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.dumps(record.__dict__, default=str))


@dataclass
class Env(WebhookEnv):
    logs: LogRecords

    def queue_depth(self) -> int:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.stack.worker.queue_url if self.stack.worker else "",
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    scenario = parse_scenario(small_scenario())
    config = config_for(scenario)
    logs = LogRecords()
    with LocalCloud() as cloud, Simulator(scenario) as sim:
        cloud.provision()
        recorder, alerts = Recorder(), MemoryAlertPublisher()
        stack = LocalWebhookStack(sim, config, simulator_deps(sim, config), notifier=alerts, process=recorder)
        stack.start()
        # After the handlers' Powertools Loggers exist: Powertools formats with the logger's first handler.
        logging.getLogger("billing-audit").addHandler(logs)
        hooks = synced_hooks(stack)
        try:
            yield Env(sim, stack, recorder, alerts, hooks, logs)
        finally:
            stack.stop()
            logging.getLogger("billing-audit").removeHandler(logs)


@pytest.fixture(autouse=True)
def _clean(env: Env) -> Iterator[None]:
    env.stack.front.base64_bodies = False  # type: ignore[union-attr]
    env.recorder.calls.clear()
    yield
    env.stack.worker.drain()  # type: ignore[union-attr]


def payload(env: Env, nonce: str | None = None, sheet_id: int = 4001) -> dict[str, Any]:
    return {
        "nonce": nonce or str(uuid.uuid4()),
        "timestamp": "2026-11-12T10:00:00.000+00:00",
        "webhookId": env.hooks[sheet_id],
        "scope": "sheet",
        "scopeObjectId": sheet_id,
        "events": [
            {
                "objectType": "sheet",
                "eventType": "updated",
                "id": sheet_id,
                "userId": 5002,
                "timestamp": "2026-11-12T10:00:00.000+00:00",
            },
            {
                "objectType": "cell",
                "eventType": "updated",
                "rowId": 1,
                "columnId": 11,
                "userId": 5002,
                "timestamp": "2026-11-12T10:00:00.000+00:00",
                "marker": MARKER,
            },
        ],
    }


def emf_metrics(text: str) -> list[str]:
    names: list[str] = []
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            names += [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    return names


# ----- the verification challenge --------------------------------------------------------------


def test_sync_enabled_every_webhook_through_the_front(env: Env) -> None:
    assert set(env.hooks) == {4001, 4002, 4003}
    for webhook_id in env.hooks.values():
        hook = env.sim.webhooks.get(webhook_id)
        assert (hook.status, hook.callback_url) == ("ENABLED", env.url)


def test_challenge_is_answered_with_header_and_body(env: Env) -> None:
    answer = post(
        env,
        json.dumps({"challenge": "chal-1", "webhookId": env.hooks[4002]}).encode(),
        {"Smartsheet-Hook-Challenge": "chal-1"},
    )
    assert answer.status_code == 200
    assert answer.headers["Smartsheet-Hook-Response"] == "chal-1"
    assert answer.json() == {"smartsheetHookResponse": "chal-1"}


def test_challenge_for_an_unknown_webhook_is_403(env: Env) -> None:
    answer = post(
        env,
        json.dumps({"challenge": "chal-2", "webhookId": 123456789}).encode(),
        {"Smartsheet-Hook-Challenge": "chal-2"},
    )
    assert answer.status_code == 403
    assert "Smartsheet-Hook-Response" not in answer.headers


def test_a_webhook_pointed_elsewhere_cannot_be_verified_by_us(env: Env) -> None:
    """A webhook this deployment has no secret for fails verification (Smartsheet disables it)."""
    foreign = env.stack.webhooks.create(name="someone-else", callback_url=env.url, sheet_id=4002)
    try:
        enabled = env.stack.webhooks.enable(foreign.id)
        assert enabled.status == "DISABLED_VERIFICATION_FAILED"
    finally:
        env.stack.webhooks.delete(foreign.id)


# ----- signatures --------------------------------------------------------------------------------


def test_good_signature_is_accepted_with_exactly_200_and_processed(env: Env) -> None:
    data = payload(env)
    answer = post_signed(env, data)
    assert answer.status_code == 200 and answer.json() == {"status": "accepted"}
    drained = env.stack.worker.drain()  # type: ignore[union-attr]
    assert (drained.received, drained.succeeded) == (1, 1)
    assert env.recorder.nonces() == [data["nonce"]]
    assert env.recorder.calls[0].events[1].column_id == 11


def test_bad_signature_is_401_with_a_metric_and_no_body_in_logs(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    env.logs.lines.clear()
    answer = post_signed(env, payload(env), secret="not-the-secret")
    assert answer.status_code == 401
    assert env.queue_depth() == 0
    assert "WebhookSignatureRejected" in emf_metrics(capsys.readouterr().out)
    rejected = [line for line in env.logs.lines if "webhook signature rejected" in line]
    assert len(rejected) == 1 and "signature mismatch" in rejected[0]
    assert not any(MARKER in line for line in env.logs.lines)


def test_missing_signature_is_401_and_nothing_is_queued(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    env.logs.lines.clear()
    answer = post(env, json.dumps(payload(env)).encode())
    assert answer.status_code == 401
    assert env.queue_depth() == 0
    assert "WebhookSignatureRejected" in emf_metrics(capsys.readouterr().out)
    assert any("no signature header" in line for line in env.logs.lines)
    assert not any(MARKER in line for line in env.logs.lines)


def test_callback_for_an_unknown_webhook_is_403(env: Env) -> None:
    data = {**payload(env), "webhookId": 987654321}
    assert post_signed(env, data).status_code == 403
    assert env.queue_depth() == 0


def test_base64_body_from_api_gateway_is_verified_on_the_raw_bytes(env: Env) -> None:
    env.stack.front.base64_bodies = True  # type: ignore[union-attr]
    data = payload(env)
    assert post_signed(env, data).status_code == 200
    assert env.stack.front.invocations[-1].base64  # type: ignore[union-attr]
    env.stack.worker.drain()  # type: ignore[union-attr]
    assert env.recorder.nonces() == [data["nonce"]]


def test_base64_body_with_a_bad_signature_is_401(env: Env) -> None:
    env.stack.front.base64_bodies = True  # type: ignore[union-attr]
    assert post_signed(env, payload(env), secret="wrong").status_code == 401


def test_replayed_nonce_is_200_but_queued_and_processed_once(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    data = payload(env)
    first, second = post_signed(env, data), post_signed(env, data)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate"}
    assert "WebhookCallbacksDuplicate" in emf_metrics(capsys.readouterr().out)
    drained = env.stack.worker.drain()  # type: ignore[union-attr]
    assert drained.received == 1 and env.recorder.nonces() == [data["nonce"]]


# ----- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]", b'{"nonce": "x"}', b"\xff\xfe\x00garbage"])
def test_malformed_bodies_are_400(env: Env, body: bytes) -> None:
    answer = post(env, body, {"Smartsheet-Hmac-SHA256": "00" * 32})
    assert answer.status_code == 400
    assert env.queue_depth() == 0


def test_signed_body_that_is_not_a_callback_is_400(env: Env) -> None:
    data = {**payload(env), "events": [{"objectType": "cell"}]}
    assert post_signed(env, data).status_code == 400
    assert env.queue_depth() == 0


def test_a_body_over_a_queue_message_is_accepted_and_one_over_the_limit_is_400(env: Env) -> None:
    # Larger than one SQS message: stored and queued by reference, never refused.
    big = {**payload(env), "padding": "x" * 300_000}
    assert post_signed(env, big).status_code == 200
    assert env.queue_depth() == 1
    # Larger than a Lambda proxy request can carry: refused before anything is queued.
    huge = {**payload(env), "padding": "x" * (res.WEBHOOK_DEFAULT_MAX_BODY_BYTES + 1)}
    assert post_signed(env, huge).status_code == 400
    assert env.queue_depth() == 1
    # The big one is processed like any other, read back from the payloads bucket.
    drained = env.stack.worker.drain()  # type: ignore[union-attr]
    assert (drained.succeeded, drained.failed, env.queue_depth()) == (1, 0, 0)


def test_api_gateway_limits_and_routes(env: Env) -> None:
    assert requests.get(env.url, timeout=5).status_code == 403
    assert requests.post(env.url.replace("/webhook", "/other"), data=b"{}", timeout=5).status_code == 403
    huge = requests.post(env.url, data=b"x" * (10 * 1024 * 1024 + 1), timeout=30)
    assert huge.status_code == 413


# ----- the simulator's own deliveries ------------------------------------------------------------


def edit(env: Env, at: str, row: int = 1, **cells: Any) -> None:
    env.sim.apply_edit(
        ScenarioEdit.model_validate(
            {
                "at": at,
                "by": "carl@example.com",
                "sheet": 4001,
                "row": row,
                "set": {k.replace("_", " "): v for k, v in cells.items()},
            }
        )
    )


def test_simulator_callbacks_and_duplicates_reach_processing_once(env: Env) -> None:
    edit(env, "2026-11-10T15:00:00Z", Quantity=21)
    result = env.stack.pump(duplicate=True)
    kinds = [(d.kind, d.status_code, d.outcome) for d in result.deliveries]
    assert ("callback", 200, "delivered") in kinds and ("duplicate", 200, "sent") in kinds
    assert result.drained.received == 1
    [processed] = env.recorder.calls
    assert processed.webhook_id == env.hooks[4001]
    assert any(e.object_type == "cell" and e.row_id == 1 for e in processed.events)


def test_sqs_redelivery_of_a_processed_callback_is_skipped(env: Env) -> None:
    """At-least-once SQS: the same callback twice on the queue is audited once (per nonce)."""
    data = payload(env)
    sqs = boto3.client("sqs")
    for _ in range(2):
        sqs.send_message(
            QueueUrl=env.stack.worker.queue_url,  # type: ignore[union-attr]
            MessageBody=json.dumps(data),
            MessageGroupId="redelivery",
            MessageDeduplicationId=uuid.uuid4().hex,
        )
    drained = env.stack.worker.drain()  # type: ignore[union-attr]
    assert (drained.received, drained.succeeded) == (2, 2)
    assert env.recorder.nonces() == [data["nonce"]]


def test_a_failed_enqueue_leaves_the_nonce_free_for_smartsheets_retry(env: Env) -> None:
    """SQS refusing the send answers 500 and forgets the nonce, so the retried callback is queued."""
    import os

    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from billing_audit.ingest.queue import SqsCallbackSink
    from billing_audit_local.lambdas import LocalLambdaContext

    table = os.environ["IDEMPOTENCY_TABLE"]
    data = payload(env)
    body = json.dumps(data)
    broken = SqsCallbackSink(
        boto3.client("sqs"),
        env.stack.worker.queue_url + "-missing",  # type: ignore[union-attr]
        DynamoDBPersistenceLayer(table_name=table),
    )
    broken.register_lambda_context(LocalLambdaContext("webhook"))  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
        broken.enqueue(callback=data, body=body)
    working = SqsCallbackSink(
        boto3.client("sqs"),
        env.stack.worker.queue_url,  # type: ignore[union-attr]
        DynamoDBPersistenceLayer(table_name=table),
    )
    working.register_lambda_context(LocalLambdaContext("webhook"))  # type: ignore[arg-type]
    assert working.enqueue(callback=data, body=body) is True
    assert working.enqueue(callback=data, body=body) is False
    assert post_signed(env, data).json() == {"status": "duplicate"}  # the function shares the same record
