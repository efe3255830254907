"""The webhook request logic (billing_audit.ingest.request) with fake secrets and a fake queue."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing_audit.ingest.request import CallbackInProgress, Outcome, WebhookIngest
from billing_audit.smartsheet.webhooks import sign
from billing_audit.store.secrets import SecretUnavailable, WebhookSecret

NOW = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
HOOK = 4862947229609079
MARKER = "BODY-MARKER-7731"  # appears in bodies; must never appear in a result's detail or body


def callback(nonce: str = "n-1", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "nonce": nonce,
        "timestamp": "2026-11-12T10:00:00Z",
        "webhookId": HOOK,
        "scope": "sheet",
        "scopeObjectId": 4001,
        "events": [
            {
                "objectType": "cell",
                "eventType": "updated",
                "rowId": 1,
                "columnId": 77,
                "userId": 5002,
                "timestamp": "2026-11-12T09:59:58Z",
                "note": MARKER,
            },
        ],
    }
    payload.update(extra)
    return payload


@dataclass
class FakeSecrets:
    cached: WebhookSecret | None
    fresh: list[WebhookSecret | None] = field(default_factory=list)  # consumed by fresh reads, last one sticks
    calls: list[bool] = field(default_factory=list)
    fail: bool = False

    def get(self, webhook_id: int, *, fresh: bool = False) -> WebhookSecret | None:
        self.calls.append(fresh)
        if self.fail:
            raise SecretUnavailable("cannot read the secret")
        if webhook_id != HOOK:
            return None
        if fresh and self.fresh:
            value = self.fresh.pop(0) if len(self.fresh) > 1 else self.fresh[0]
            self.cached = value
            return value
        return self.cached


@dataclass
class FakeSink:
    seen: set[tuple[int, str]] = field(default_factory=set)
    queued: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    error: Exception | None = None

    def enqueue(self, *, callback: dict[str, Any], body: str) -> bool:
        if self.error is not None:
            raise self.error
        key = (int(callback["webhookId"]), str(callback["nonce"]))
        if key in self.seen:
            return False
        self.seen.add(key)
        self.queued.append((callback, body))
        return True


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.ticks = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.ticks += seconds
        self.now += timedelta(seconds=seconds)


def make(secrets: FakeSecrets, sink: FakeSink | None = None, **kw: Any) -> tuple[WebhookIngest, FakeSink, Clock]:
    sink = sink or FakeSink()
    clock = Clock()
    ingest = WebhookIngest(
        secrets, sink, sleep=clock.sleep, monotonic=lambda: clock.ticks, clock=lambda: clock.now, **kw
    )
    return ingest, sink, clock


def signed(secret: str, payload: dict[str, Any]) -> tuple[str, dict[str, str]]:
    body = json.dumps(payload)
    return body, {"Content-Type": "application/json", "Smartsheet-Hmac-SHA256": sign(secret, body.encode())}


def no_leak(result: Any) -> None:
    assert MARKER not in result.detail
    assert MARKER not in json.dumps(result.body)


# ----- challenges ----------------------------------------------------------------------------------


def test_challenge_is_answered_in_header_and_body() -> None:
    ingest, sink, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    body = json.dumps({"challenge": "abc-123", "webhookId": HOOK})
    result = ingest.handle(body, False, {"smartsheet-hook-challenge": "abc-123"})
    assert (result.outcome, result.status_code) == (Outcome.CHALLENGE_ANSWERED, 200)
    assert result.headers == {"Smartsheet-Hook-Response": "abc-123"}
    assert result.body == {"smartsheetHookResponse": "abc-123"}
    assert not sink.queued


def test_challenge_in_body_only_is_answered() -> None:
    ingest, _, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    result = ingest.handle(json.dumps({"challenge": "xyz", "webhookId": HOOK}), False, {})
    assert result.status_code == 200 and result.headers["Smartsheet-Hook-Response"] == "xyz"


@pytest.mark.parametrize(
    ("header", "in_body"),
    [("abc", "different"), ("bad\r\nInjected: 1", None), ("", None), ("x" * 600, None)],
)
def test_bad_challenges_are_refused(header: str, in_body: str | None) -> None:
    ingest, _, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    payload: dict[str, Any] = {"webhookId": HOOK}
    if in_body is not None:
        payload["challenge"] = in_body
    result = ingest.handle(json.dumps(payload), False, {"Smartsheet-Hook-Challenge": header})
    assert (result.outcome, result.status_code) == (Outcome.MALFORMED, 400)


def test_challenge_for_an_unmanaged_webhook_is_forbidden_after_a_fresh_look() -> None:
    secrets = FakeSecrets(WebhookSecret(current="s1"))
    ingest, _, _ = make(secrets)
    result = ingest.handle(json.dumps({"challenge": "c", "webhookId": 42}), False, {"Smartsheet-Hook-Challenge": "c"})
    assert (result.outcome, result.status_code) == (Outcome.UNKNOWN_WEBHOOK, 403)
    assert secrets.calls == [False, True]  # a secret stored a moment ago is not missed


# ----- signatures ----------------------------------------------------------------------------------


def test_good_signature_is_queued_with_the_exact_body_and_exactly_200() -> None:
    ingest, sink, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    body, headers = signed("s1", callback())
    result = ingest.handle(body, False, headers)
    assert (result.outcome, result.status_code, result.body) == (Outcome.ACCEPTED, 200, {"status": "accepted"})
    assert sink.queued == [(callback(), body)]
    assert (result.webhook_id, result.nonce) == (HOOK, "n-1")


def test_signature_header_name_is_case_insensitive() -> None:
    ingest, _, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    body = json.dumps(callback())
    result = ingest.handle(body, False, {"smartsheet-hmac-sha256": sign("s1", body.encode()).upper()})
    assert result.outcome is Outcome.ACCEPTED


def test_replayed_nonce_answers_200_and_queues_nothing() -> None:
    ingest, sink, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    body, headers = signed("s1", callback())
    first, second = ingest.handle(body, False, headers), ingest.handle(body, False, headers)
    assert (first.outcome, second.outcome) == (Outcome.ACCEPTED, Outcome.DUPLICATE)
    assert second.status_code == 200 and len(sink.queued) == 1


def test_missing_signature_is_401_without_a_secret_lookup() -> None:
    secrets = FakeSecrets(WebhookSecret(current="s1"))
    ingest, sink, _ = make(secrets)
    result = ingest.handle(json.dumps(callback()), False, {})
    assert (result.outcome, result.status_code) == (Outcome.SIGNATURE_MISSING, 401)
    assert result.rejected_signature and not sink.queued and secrets.calls == []
    no_leak(result)


def test_bad_signature_is_401_after_one_fresh_read() -> None:
    secrets = FakeSecrets(WebhookSecret(current="s1"), fresh=[WebhookSecret(current="s1")])
    ingest, sink, clock = make(secrets)
    body, headers = signed("wrong", callback())
    result = ingest.handle(body, False, headers)
    assert (result.outcome, result.status_code) == (Outcome.SIGNATURE_INVALID, 401)
    assert secrets.calls == [False, True] and not sink.queued and clock.sleeps == []
    no_leak(result)


def test_a_freshly_reset_secret_is_honoured_despite_the_cache() -> None:
    secrets = FakeSecrets(WebhookSecret(current="old"), fresh=[WebhookSecret(current="new", previous="old")])
    ingest, _, _ = make(secrets)
    body, headers = signed("new", callback())
    assert ingest.handle(body, False, headers).outcome is Outcome.ACCEPTED
    assert secrets.calls == [False, True]


def test_previous_secret_is_accepted_until_its_grace_ends() -> None:
    value = WebhookSecret(current="new", previous="old", previous_until=NOW + timedelta(hours=1))
    ingest, _, clock = make(FakeSecrets(value, fresh=[value]))
    body, headers = signed("old", callback("n-a"))
    assert ingest.handle(body, False, headers).outcome is Outcome.ACCEPTED
    clock.now = NOW + timedelta(hours=2)
    body, headers = signed("old", callback("n-b"))
    assert ingest.handle(body, False, headers).outcome is Outcome.SIGNATURE_INVALID


def test_during_a_rotation_the_callback_waits_for_the_new_secret() -> None:
    pending = WebhookSecret(current="old", pending_since=NOW)
    rotated = WebhookSecret(current="new", previous="old", previous_until=NOW + timedelta(days=1))
    secrets = FakeSecrets(WebhookSecret(current="old"), fresh=[pending, pending, pending, rotated])
    ingest, sink, clock = make(secrets, rotation_wait_seconds=3.0, poll_seconds=0.25)
    body, headers = signed("new", callback())
    result = ingest.handle(body, False, headers)
    assert result.outcome is Outcome.ACCEPTED and len(sink.queued) == 1
    assert clock.sleeps == [0.25, 0.25, 0.25]


def test_the_rotation_wait_is_bounded() -> None:
    pending = WebhookSecret(current="old", pending_since=NOW)
    ingest, _, clock = make(FakeSecrets(pending, fresh=[pending]), rotation_wait_seconds=1.0, poll_seconds=0.25)
    body, headers = signed("new", callback())
    assert ingest.handle(body, False, headers).outcome is Outcome.SIGNATURE_INVALID
    assert sum(clock.sleeps) == pytest.approx(1.0)


def test_a_stale_rotation_marker_does_not_make_callbacks_wait() -> None:
    stale = WebhookSecret(current="old", pending_since=NOW - timedelta(minutes=5))
    ingest, _, clock = make(FakeSecrets(stale, fresh=[stale]))
    body, headers = signed("new", callback())
    assert ingest.handle(body, False, headers).outcome is Outcome.SIGNATURE_INVALID
    assert clock.sleeps == []


def test_callback_for_an_unmanaged_webhook_is_forbidden() -> None:
    ingest, sink, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    body, headers = signed("s1", callback(webhookId=42))
    result = ingest.handle(body, False, headers)
    assert (result.outcome, result.status_code) == (Outcome.UNKNOWN_WEBHOOK, 403) and not sink.queued


# ----- bodies --------------------------------------------------------------------------------------


def test_base64_body_is_verified_on_the_decoded_bytes() -> None:
    ingest, sink, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    body, headers = signed("s1", callback())
    result = ingest.handle(base64.b64encode(body.encode()).decode(), True, headers)
    assert result.outcome is Outcome.ACCEPTED and sink.queued[0][1] == body


def test_signature_over_the_base64_text_is_not_accepted() -> None:
    ingest, _, _ = make(FakeSecrets(WebhookSecret(current="s1"), fresh=[WebhookSecret(current="s1")]))
    encoded = base64.b64encode(json.dumps(callback()).encode()).decode()
    headers = {"Smartsheet-Hmac-SHA256": sign("s1", encoded.encode())}
    assert ingest.handle(encoded, True, headers).outcome is Outcome.SIGNATURE_INVALID


@pytest.mark.parametrize(
    ("body", "is_base64", "outcome"),
    [
        ("{not json " + MARKER, False, Outcome.MALFORMED),
        ("[1, 2]", False, Outcome.MALFORMED),
        ('{"nonce": "x"}', False, Outcome.MALFORMED),
        ("***not base64***", True, Outcome.MALFORMED),
        (base64.b64encode(b"\xff\xfe" + MARKER.encode()).decode(), True, Outcome.MALFORMED),
        ('{"webhookId": 1, "pad": "' + "x" * 300 + '"}', False, Outcome.TOO_LARGE),
        (base64.b64encode(b"x" * 300).decode(), True, Outcome.TOO_LARGE),
        ("", False, Outcome.MALFORMED),
    ],
)
def test_bad_bodies_are_400(body: str, is_base64: bool, outcome: Outcome) -> None:
    ingest, sink, _ = make(FakeSecrets(WebhookSecret(current="s1")), max_body_bytes=256)
    result = ingest.handle(body, is_base64, {"Smartsheet-Hmac-SHA256": "00"})
    assert (result.outcome, result.status_code) == (outcome, 400) and not sink.queued
    no_leak(result)


@pytest.mark.parametrize(
    "payload",
    [
        callback(nonce=""),
        {k: v for k, v in callback().items() if k != "nonce"},
        callback(events=[]),
        callback(events=[{"objectType": "cell"}]),
        callback(scope="workspace"),
    ],
)
def test_signed_but_not_a_callback_is_400(payload: dict[str, Any]) -> None:
    ingest, sink, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    body, headers = signed("s1", payload)
    result = ingest.handle(body, False, headers)
    assert (result.outcome, result.status_code) == (Outcome.MALFORMED, 400) and not sink.queued
    no_leak(result)


def test_status_callback_without_events_is_queued() -> None:
    ingest, sink, _ = make(FakeSecrets(WebhookSecret(current="s1")))
    payload = {k: v for k, v in callback("n-status").items() if k != "events"}
    body, headers = signed("s1", {**payload, "newWebhookStatus": "DISABLED_BY_OWNER"})
    assert ingest.handle(body, False, headers).outcome is Outcome.ACCEPTED and len(sink.queued) == 1


# ----- failures of the services behind ------------------------------------------------------------


def test_secrets_manager_down_is_a_retryable_500() -> None:
    secrets = FakeSecrets(WebhookSecret(current="s1"), fail=True)
    ingest, _, _ = make(secrets)
    body, headers = signed("s1", callback())
    assert ingest.handle(body, False, headers).status_code == 500
    challenge = ingest.handle(json.dumps({"challenge": "c", "webhookId": HOOK}), False, {})
    assert challenge.status_code == 500


def test_queue_down_is_a_retryable_500_and_concurrent_duplicate_a_409() -> None:
    body, headers = signed("s1", callback())
    ingest, _, _ = make(FakeSecrets(WebhookSecret(current="s1")), FakeSink(error=RuntimeError(MARKER)))
    failed = ingest.handle(body, False, headers)
    assert (failed.outcome, failed.status_code) == (Outcome.UNAVAILABLE, 500)
    no_leak(failed)
    ingest, _, _ = make(FakeSecrets(WebhookSecret(current="s1")), FakeSink(error=CallbackInProgress()))
    assert ingest.handle(body, False, headers).status_code == 409


def test_a_non_ascii_signature_is_simply_wrong():
    from billing_audit.smartsheet.webhooks import signature_valid

    assert signature_valid("secret", b"{}", "é" * 64) is False
