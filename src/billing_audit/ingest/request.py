"""What the webhook function does with one request: challenge, signature, validation, enqueue.

No slow work here: a callback is verified, deduplicated on its nonce and queued; the audit runs
in functions/process.  Every answer to an accepted callback is exactly 200 (Smartsheet disables
a webhook on any other 2xx).  Refusals never echo or log the body.

| situation                                         | status |
| ------------------------------------------------- | ------ |
| verification challenge for a managed webhook      | 200 + Smartsheet-Hook-Response |
| challenge or callback for an unmanaged webhook id | 403    |
| missing or wrong Smartsheet-Hmac-SHA256           | 401    |
| not JSON, not a callback, bad base64, too large   | 400    |
| accepted, or a replayed nonce already accepted    | 200    |
| the same nonce still being queued concurrently    | 409 (Smartsheet retries) |
| Secrets Manager or SQS unavailable                | 500 (Smartsheet retries) |
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from pydantic import ValidationError

from billing_audit import resources as res
from billing_audit.clock import Clock, system_clock
from billing_audit.errors import first_problem
from billing_audit.settings import DEFAULT_ROTATION_WAIT_SECONDS
from billing_audit.smartsheet.webhooks import (
    CHALLENGE_HEADER,
    CHALLENGE_RESPONSE_HEADER,
    SIGNATURE_HEADER,
    WebhookCallback,
    signature_valid,
    webhook_id_of,
)
from billing_audit.store.secrets import SecretFormatError, SecretUnavailable, WebhookSecret

# The secret store allows a webhook's secret to be read afresh about once a second once a short
# burst is spent (store/secrets.py): polling faster would spend the burst and then reread the cache.
ROTATION_POLL_SECONDS = 1.0
MAX_CHALLENGE_LENGTH = 512


class Outcome(StrEnum):
    CHALLENGE_ANSWERED = "challenge_answered"
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IN_PROGRESS = "in_progress"
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    UNKNOWN_WEBHOOK = "unknown_webhook"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    webhook_id: int | None = None
    nonce: str | None = None
    detail: str = ""  # safe to log: never the body, a signature or a secret

    @property
    def rejected_signature(self) -> bool:
        return self.outcome in (Outcome.SIGNATURE_MISSING, Outcome.SIGNATURE_INVALID)


class SecretSource(Protocol):
    def get(self, webhook_id: int, *, fresh: bool = False) -> WebhookSecret | None:
        """The webhook's secret (cached unless `fresh`), or None when the webhook is not ours."""


class CallbackInProgress(RuntimeError):
    """The same nonce is being queued by a concurrent request right now."""


class CallbackSink(Protocol):
    def enqueue(self, *, callback: dict[str, Any], body: str) -> bool:
        """Queue a verified callback once per (webhookId, nonce); False when it was queued before."""


class BodyError(ValueError):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def raw_body(body: str | None, is_base64: bool, max_bytes: int) -> bytes:
    """The exact bytes Smartsheet sent (API Gateway base64-encodes them when it marks the event so)."""
    if body is None:
        return b""
    if is_base64:
        if len(body) > (max_bytes + 2) // 3 * 4 + 4:
            raise BodyError(Outcome.TOO_LARGE, "body larger than the limit")
        try:
            raw = base64.b64decode(body.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise BodyError(Outcome.MALFORMED, "body marked base64 is not base64") from None
    else:
        raw = body.encode("utf-8", errors="surrogateescape")
    if len(raw) > max_bytes:
        raise BodyError(Outcome.TOO_LARGE, "body larger than the limit")
    return raw


def _refuse(outcome: Outcome, status: int, message: str, **kw: Any) -> IngestResult:
    return IngestResult(outcome, status, {"message": message}, detail=kw.pop("detail", message), **kw)


class WebhookIngest:
    def __init__(
        self,
        secrets: SecretSource,
        sink: CallbackSink,
        *,
        max_body_bytes: int = res.WEBHOOK_DEFAULT_MAX_BODY_BYTES,
        rotation_wait_seconds: float = DEFAULT_ROTATION_WAIT_SECONDS,
        poll_seconds: float = ROTATION_POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Clock = system_clock,
    ) -> None:
        self.secrets = secrets
        self.sink = sink
        self.max_body_bytes = max_body_bytes
        self.rotation_wait_seconds = rotation_wait_seconds
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.monotonic = monotonic
        self.clock = clock

    # -- the request ---------------------------------------------------------------------------
    def handle(self, body: str | None, is_base64: bool, headers: Mapping[str, str] | None) -> IngestResult:
        lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items() if v is not None}
        try:
            raw = raw_body(body, is_base64, self.max_body_bytes)
        except BodyError as exc:
            return _refuse(exc.outcome, 400, "Bad request", detail=exc.detail)
        try:
            text = raw.decode("utf-8")
            payload = json.loads(text)
        # ValueError: not UTF-8, not JSON, or an integer longer than Python converts; RecursionError:
        # nesting deeper than the parser goes.  A stranger's body, however made, is a 400.
        except (ValueError, RecursionError):
            return _refuse(Outcome.MALFORMED, 400, "Bad request", detail="body is not JSON")
        if not isinstance(payload, dict):
            return _refuse(Outcome.MALFORMED, 400, "Bad request", detail="body is not a JSON object")
        webhook_id = webhook_id_of(payload)
        if webhook_id is None:
            return _refuse(Outcome.MALFORMED, 400, "Bad request", detail="no webhookId")

        challenge = lowered.get(CHALLENGE_HEADER.lower())
        if challenge is not None or "challenge" in payload:
            return self._challenge(webhook_id, challenge, payload.get("challenge"))
        try:
            return self._callback(webhook_id, raw, text, payload, lowered.get(SIGNATURE_HEADER.lower()))
        except (SecretUnavailable, SecretFormatError) as exc:
            return _refuse(Outcome.UNAVAILABLE, 500, "Try again", webhook_id=webhook_id, detail=str(exc))

    def _challenge(self, webhook_id: int, header: str | None, in_body: object) -> IngestResult:
        if in_body is not None and (not isinstance(in_body, str) or (header is not None and header != in_body)):
            return _refuse(Outcome.MALFORMED, 400, "Bad request", webhook_id=webhook_id, detail="bad challenge")
        value = header if header is not None else str(in_body)
        if not value or len(value) > MAX_CHALLENGE_LENGTH or not value.isprintable():
            return _refuse(Outcome.MALFORMED, 400, "Bad request", webhook_id=webhook_id, detail="bad challenge")
        try:
            managed = self.secrets.get(webhook_id) is not None or self.secrets.get(webhook_id, fresh=True) is not None
        except (SecretUnavailable, SecretFormatError) as exc:
            return _refuse(Outcome.UNAVAILABLE, 500, "Try again", webhook_id=webhook_id, detail=str(exc))
        if not managed:
            return _refuse(Outcome.UNKNOWN_WEBHOOK, 403, "Unknown webhook", webhook_id=webhook_id)
        return IngestResult(
            Outcome.CHALLENGE_ANSWERED,
            200,
            {"smartsheetHookResponse": value},
            headers={CHALLENGE_RESPONSE_HEADER: value},
            webhook_id=webhook_id,
            detail="verification challenge answered",
        )

    def _callback(
        self, webhook_id: int, raw: bytes, text: str, payload: dict[str, Any], signature: str | None
    ) -> IngestResult:
        if not signature:
            return _refuse(
                Outcome.SIGNATURE_MISSING, 401, "Unauthorized", webhook_id=webhook_id, detail="no signature header"
            )
        secret = self.secrets.get(webhook_id)
        if secret is None:
            return _refuse(Outcome.UNKNOWN_WEBHOOK, 403, "Unknown webhook", webhook_id=webhook_id)
        if not self._verified(webhook_id, secret, raw, signature):
            return _refuse(
                Outcome.SIGNATURE_INVALID, 401, "Unauthorized", webhook_id=webhook_id, detail="signature mismatch"
            )
        try:
            callback = WebhookCallback.model_validate(payload)
        except ValidationError as exc:
            where, _ = first_problem(exc)
            return _refuse(
                Outcome.MALFORMED, 400, "Bad request", webhook_id=webhook_id, detail=f"not a callback: {where}"
            )
        if not callback.nonce:
            return _refuse(Outcome.MALFORMED, 400, "Bad request", webhook_id=webhook_id, detail="no nonce")
        if not callback.events and callback.new_webhook_status is None:
            return _refuse(
                Outcome.MALFORMED, 400, "Bad request", webhook_id=webhook_id, detail="no events and no status"
            )
        try:
            new = self.sink.enqueue(callback=payload, body=text)
        except CallbackInProgress:
            return _refuse(Outcome.IN_PROGRESS, 409, "Already in progress", webhook_id=webhook_id, nonce=callback.nonce)
        except Exception as exc:  # SQS or DynamoDB failed: Smartsheet retries a 5xx later
            return _refuse(
                Outcome.UNAVAILABLE,
                500,
                "Try again",
                webhook_id=webhook_id,
                nonce=callback.nonce,
                detail=f"enqueue failed: {type(exc).__name__}",
            )
        outcome = Outcome.ACCEPTED if new else Outcome.DUPLICATE
        return IngestResult(
            outcome,
            200,
            {"status": outcome.value},
            webhook_id=webhook_id,
            nonce=callback.nonce,
            detail=f"{len(callback.events)} events"
            + (f", status {callback.new_webhook_status}" if callback.new_webhook_status else ""),
        )

    def _verified(self, webhook_id: int, secret: WebhookSecret, raw: bytes, signature: str) -> bool:
        """Cached secret first; on a mismatch one fresh read; during a rotation, wait for the new secret."""
        if self._matches(secret, raw, signature):
            return True
        fresh = self.secrets.get(webhook_id, fresh=True)
        if fresh is None:
            return False
        if self._matches(fresh, raw, signature):
            return True
        deadline = self.monotonic() + self.rotation_wait_seconds
        while fresh.rotation_pending(self.clock()) and self.monotonic() < deadline:
            self.sleep(self.poll_seconds)
            polled = self.secrets.get(webhook_id, fresh=True)
            if polled is None:
                return False
            fresh = polled
            if self._matches(fresh, raw, signature):
                return True
        return False

    def _matches(self, secret: WebhookSecret, raw: bytes, signature: str) -> bool:
        # Check every candidate (no early exit) so timing says nothing about which one matched.
        results = [signature_valid(candidate, raw, signature) for candidate in secret.candidates(self.clock())]
        return any(results)
