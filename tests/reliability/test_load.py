"""Load on the local HTTP front: signed callbacks and as many unsigned ones, mixed, from 20
concurrent clients on 127.0.0.1.  Every signed one is accepted and queued exactly once, none lost;
every unsigned one is refused and nothing of it queued.  The p99 of the answers is reported.

`make test` sends the issue's size, 2,000 of each; `BILLING_AUDIT_LOAD_CALLBACKS=500` makes a
quicker local run.  The front serves one request at a time, as one Lambda container, and each
signed one costs an idempotency write and a queue send on moto."""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests

from billing_audit.smartsheet.webhooks import sign
from billing_audit.store.memory import MemoryAlertPublisher
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.scenario import config_for
from billing_audit_local.serve import LocalWebhookStack
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import small_scenario
from tests.integration.webhook_support import Recorder, synced_hooks

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SIGNED = UNSIGNED = int(os.environ.get("BILLING_AUDIT_LOAD_CALLBACKS", "2000"))
CLIENTS = 20


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[LocalWebhookStack, int, str]]:
    scenario = parse_scenario(small_scenario())
    config = config_for(scenario)
    with LocalCloud() as cloud, Simulator(scenario) as sim:
        cloud.provision()
        local = LocalWebhookStack(
            sim, config, simulator_deps(sim, config), notifier=MemoryAlertPublisher(), process=Recorder()
        )
        local.start()
        hooks = synced_hooks(local)
        webhook_id = hooks[4001]
        try:
            yield local, webhook_id, sim.webhooks.get(webhook_id).shared_secret
        finally:
            local.stop()


def _body(webhook_id: int, nonce: str) -> bytes:
    at = "2026-11-12T10:00:00.000+00:00"
    return json.dumps(
        {
            "nonce": nonce,
            "timestamp": at,
            "webhookId": webhook_id,
            "scope": "sheet",
            "scopeObjectId": 4001,
            "events": [{"objectType": "row", "eventType": "updated", "id": 1, "timestamp": at}],
        }
    ).encode()


def _consume(queue_url: str, nonces: list[str], burst_over: threading.Event) -> None:
    """Receive and delete the FIFO queue's messages while the burst goes on, as the processing
    function would, then until the queue is empty (a group delivers its next message only once the
    last is deleted).  moto walks the whole queue on every send and receive, so a queue left to
    grow to 2,000 messages made this test take minutes in moto, not in the product."""
    sqs = boto3.client("sqs")
    empty = 0
    while empty < 2:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
            "Messages", []
        )
        if not batch:
            if burst_over.is_set():
                empty += 1
            else:
                time.sleep(0.05)
            continue
        empty = 0
        nonces.extend(json.loads(message["Body"])["nonce"] for message in batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )


@pytest.mark.timeout(1800)
def test_a_burst_of_signed_and_unsigned_callbacks(stack: tuple[LocalWebhookStack, int, str]) -> None:
    local, webhook_id, secret = stack
    requests_to_send: list[tuple[str, bytes, dict[str, str]]] = []
    for n in range(SIGNED):
        nonce = f"signed-{n}-{uuid.uuid4().hex[:6]}"
        body = _body(webhook_id, nonce)
        requests_to_send.append((nonce, body, {"Smartsheet-Hmac-SHA256": sign(secret, body)}))
    for n in range(UNSIGNED):
        nonce = f"unsigned-{n}"
        body = _body(webhook_id, nonce)
        # Half carry no signature, half one made with another secret.
        headers = {} if n % 2 else {"Smartsheet-Hmac-SHA256": sign("not-the-secret", body)}
        requests_to_send.append((nonce, body, headers))
    random.Random(16).shuffle(requests_to_send)
    sessions: dict[int, requests.Session] = {}

    def post(item: tuple[str, bytes, dict[str, str]]) -> tuple[str, int, float]:
        session = sessions.setdefault(threading.get_ident(), requests.Session())
        nonce, body, headers = item
        started = time.perf_counter()
        answer = session.post(local.url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=60)
        return nonce, answer.status_code, time.perf_counter() - started

    queued: list[str] = []
    burst_over = threading.Event()
    consumer = threading.Thread(target=_consume, args=(local.worker.queue_url, queued, burst_over))  # type: ignore[union-attr]
    consumer.start()
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            answers = list(pool.map(post, requests_to_send))
    finally:
        burst_over.set()
        consumer.join()
    statuses = Counter((nonce.split("-")[0], status) for nonce, status, _ in answers)
    assert statuses == {("signed", 200): SIGNED, ("unsigned", 401): UNSIGNED}
    signed = sorted(nonce for nonce, _, _ in answers if nonce.startswith("signed-"))
    assert sorted(queued) == signed  # each signed one exactly once, none unsigned
    latencies = sorted(seconds for _, _, seconds in answers)
    p99 = latencies[int(len(latencies) * 0.99)]
    print(
        f"\nload: {len(answers)} requests from {CLIENTS} clients, p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms"
    )
