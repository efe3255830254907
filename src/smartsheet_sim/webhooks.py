"""Simulated Smartsheet webhooks: registration, verification challenges and signed callbacks.

Delivery is explicit (`Simulator.deliver_callbacks`) so runs are deterministic. Network calls to
callback URLs never happen while the simulator's lock is held: a receiver may call the API back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests

from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import ChangeEvent, iso

if TYPE_CHECKING:
    from smartsheet_sim.core import Simulator

ENABLED = "ENABLED"
NEW_NOT_VERIFIED = "NEW_NOT_VERIFIED"
DISABLED_STATUSES = (
    "DISABLED_ADMINISTRATIVE",
    "DISABLED_APP_REVOKED",
    "DISABLED_BY_OWNER",
    "DISABLED_CALLBACK_FAILED",
    "DISABLED_SCOPE_INACCESSIBLE",
    "DISABLED_VERIFICATION_FAILED",
)


@dataclass
class _Callback:
    payload: dict[str, Any]
    body: bytes
    events: list[ChangeEvent]
    failures: int = 0


@dataclass
class Webhook:
    id: int
    name: str
    callback_url: str
    scope: str
    scope_object_id: int
    events: list[str]
    version: int
    subscope_columns: list[int] | None
    shared_secret: str
    created_at: datetime
    modified_at: datetime
    enabled: bool = False
    status: str = NEW_NOT_VERIFIED
    disabled_details: str | None = None
    pending: list[ChangeEvent] = field(default_factory=list)
    in_flight: _Callback | None = None
    status_callbacks: list[_Callback] = field(default_factory=list)
    callbacks_sent: int = 0
    challenged_at: int = 0
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_retry_count: int = 0


@dataclass(frozen=True)
class DeliveryResult:
    """One POST the simulator made to a callback URL.

    kind: "callback" (first attempt), "retry", "duplicate" (a resend of a delivered callback),
    "challenge" (verification every `challenge_every` callbacks) or "status" (newWebhookStatus).
    outcome: "delivered", "retry" (kept for a later attempt), "disabled", "verified",
    "verification_failed" or "sent" (status and duplicate callbacks change nothing).
    """

    webhook_id: int
    kind: str
    status_code: int | None
    outcome: str
    payload: dict[str, Any]
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookManager:
    def __init__(self, sim: Simulator):
        self._sim = sim
        self._hooks: dict[int, Webhook] = {}
        self._rng = random.Random(f"webhooks:{sim.options.seed}")

    # ----- registry (called by the HTTP layer under the lock) ---------------------------------

    def _secret(self) -> str:
        return "".join(self._rng.choice(string.ascii_lowercase + string.digits) for _ in range(26))

    def _nonce(self) -> str:
        return "%08x-%04x-4%03x-%04x-%012x" % (  # noqa: UP031 - a UUID-shaped token
            self._rng.getrandbits(32),
            self._rng.getrandbits(16),
            self._rng.getrandbits(12),
            0x8000 | self._rng.getrandbits(14),
            self._rng.getrandbits(48),
        )

    def all(self) -> list[Webhook]:
        return list(self._hooks.values())

    def get(self, webhook_id: int) -> Webhook:
        hook = self._hooks.get(webhook_id)
        if hook is None:
            raise not_found(f"Webhook {webhook_id} not found.")
        return hook

    def create(self, body: Any) -> Webhook:
        if not isinstance(body, dict):
            raise bad_request("The request body must be a Webhook object.")
        for key in ("name", "callbackUrl", "scope", "scopeObjectId", "events", "version"):
            if key not in body:
                raise bad_request(f"Required object attribute(s) are missing from your request: {key}.", 1012)
        if body["scope"] != "sheet":
            raise bad_request("Only the 'sheet' scope is supported.")
        if body["events"] != ["*.*"]:
            raise bad_request("events must be ['*.*'].")
        if body["version"] != 1:
            raise bad_request("version must be 1.")
        callback_url = body["callbackUrl"]
        if not isinstance(callback_url, str) or not callback_url.startswith(("http://", "https://")):
            raise bad_request("callbackUrl must be an http(s) URL.")
        try:
            scope_id = int(body["scopeObjectId"])
        except (TypeError, ValueError):
            raise bad_request("scopeObjectId must be a sheet id.") from None
        if self._sim.sheet(scope_id) is None:
            raise not_found(f"Sheet {scope_id} not found.")
        subscope = self._subscope(body.get("subscope"), scope_id)
        now = self._sim.now
        hook = Webhook(
            id=self._sim.new_id("webhook"),
            name=str(body["name"]),
            callback_url=callback_url,
            scope="sheet",
            scope_object_id=scope_id,
            events=["*.*"],
            version=1,
            subscope_columns=subscope,
            shared_secret=self._secret(),
            created_at=now,
            modified_at=now,
        )
        self._hooks[hook.id] = hook
        return hook

    def _subscope(self, value: Any, sheet_id: int) -> list[int] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("columnIds"), list):
            raise bad_request("subscope must be {'columnIds': [...]}.")
        sheet = self._sim.sheet(sheet_id)
        assert sheet is not None
        ids: list[int] = []
        for raw in value["columnIds"]:
            try:
                column_id = int(raw)
            except (TypeError, ValueError):
                raise bad_request(f"Invalid column id {raw!r} in subscope.") from None
            if sheet.column(column_id) is None:
                raise not_found(f"Column {column_id} not found.")
            ids.append(column_id)
        return ids

    def update_fields(self, webhook_id: int, body: Any) -> tuple[Webhook, bool | None]:
        """Apply a PUT body except `enabled`; returns the hook and the requested `enabled` value."""
        hook = self.get(webhook_id)
        if not isinstance(body, dict):
            raise bad_request("The request body must be a Webhook object.")
        if "callbackUrl" in body:
            url = body["callbackUrl"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise bad_request("callbackUrl must be an http(s) URL.")
            hook.callback_url = url
        if "name" in body:
            hook.name = str(body["name"])
        if "events" in body and body["events"] != ["*.*"]:
            raise bad_request("events must be ['*.*'].")
        if "version" in body and body["version"] != 1:
            raise bad_request("version must be 1.")
        enabled = body.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise bad_request("enabled must be true or false.")
        hook.modified_at = self._sim.now
        return hook, enabled

    def enable(self, webhook_id: int) -> Webhook:
        """Verify the callback URL synchronously (lock released meanwhile); ENABLED on success."""
        sim = self._sim
        with sim.lock:
            hook = self.get(webhook_id)
            if hook.status == ENABLED:
                return hook
            url = hook.callback_url
        ok, _, _ = self._challenge(webhook_id, url)
        with sim.lock:
            hook = self.get(webhook_id)
            if ok:
                hook.enabled = True
                hook.status = ENABLED
                hook.disabled_details = None
                hook.callbacks_sent = 0
                hook.challenged_at = 0
            else:
                hook.enabled = False
                hook.status = "DISABLED_VERIFICATION_FAILED"
                hook.disabled_details = "The callback URL did not answer the verification challenge."
            hook.modified_at = sim.now
            return hook

    def disable(self, webhook_id: int, status: str = "DISABLED_BY_OWNER", notify: bool = True) -> None:
        """Disable a hook; with `notify`, a callback carrying `newWebhookStatus` is queued."""
        if status not in DISABLED_STATUSES:
            raise ValueError(f"unknown disabled status {status!r}")
        with self._sim.lock:
            hook = self.get(webhook_id)
            was_enabled = hook.status == ENABLED
            self._set_disabled(hook, status)
            if notify and was_enabled:
                payload: dict[str, Any] = {
                    "nonce": self._nonce(),
                    "timestamp": iso(self._sim.now),
                    "webhookId": hook.id,
                    "scope": hook.scope,
                    "scopeObjectId": hook.scope_object_id,
                    "newWebhookStatus": status,
                }
                hook.status_callbacks.append(_Callback(payload, json.dumps(payload).encode(), []))

    def _set_disabled(self, hook: Webhook, status: str) -> None:
        hook.enabled = False
        hook.status = status
        hook.pending.clear()
        hook.in_flight = None
        hook.modified_at = self._sim.now

    def delete(self, webhook_id: int) -> None:
        self.get(webhook_id)
        del self._hooks[webhook_id]

    def reset_secret(self, webhook_id: int) -> Webhook:
        hook = self.get(webhook_id)
        hook.shared_secret = self._secret()
        hook.modified_at = self._sim.now
        return hook

    def to_json(self, hook: Webhook) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": hook.id,
            "name": hook.name,
            "apiClientId": "simulator",
            "apiClientName": "Smartsheet simulator",
            "callbackUrl": hook.callback_url,
            "scope": hook.scope,
            "scopeObjectId": hook.scope_object_id,
            "events": list(hook.events),
            "version": hook.version,
            "enabled": hook.enabled,
            "status": hook.status,
            "sharedSecret": hook.shared_secret,
            "createdAt": iso(hook.created_at),
            "modifiedAt": iso(hook.modified_at),
        }
        if hook.subscope_columns is not None:
            out["subscope"] = {"columnIds": list(hook.subscope_columns)}
        if hook.disabled_details:
            out["disabledDetails"] = hook.disabled_details
        stats: dict[str, Any] = {"lastCallbackAttemptRetryCount": hook.last_retry_count}
        if hook.last_attempt is not None:
            stats["lastCallbackAttempt"] = iso(hook.last_attempt)
        if hook.last_success is not None:
            stats["lastSuccessfulCallback"] = iso(hook.last_success)
        out["stats"] = stats
        return out

    # ----- events --------------------------------------------------------------------------------

    def enqueue(self, sheet_id: int, events: list[ChangeEvent]) -> None:
        """Called under the lock when a sheet changes: only ENABLED hooks ever see the events."""
        for hook in self._hooks.values():
            if hook.status != ENABLED or hook.scope_object_id != sheet_id:
                continue
            selected = events
            if hook.subscope_columns is not None:
                wanted = set(hook.subscope_columns)
                touched = any(e.object_type == "cell" and e.column_id in wanted for e in events)
                deleted = any(e.object_type == "row" and e.event_type == "deleted" for e in events)
                if not (touched or deleted):
                    continue
                selected = [e for e in events if e.object_type != "cell" or e.column_id in wanted]
            hook.pending.extend(selected)

    def pending_count(self, webhook_id: int | None = None) -> int:
        with self._sim.lock:
            hooks = self._hooks.values() if webhook_id is None else [self.get(webhook_id)]
            return sum(len(h.pending) + (len(h.in_flight.events) if h.in_flight else 0) for h in hooks)

    def _bundle(self, hook: Webhook) -> _Callback:
        first = hook.pending[0]
        limit = timedelta(seconds=self._sim.options.bundle_seconds)
        count = 0
        for event in hook.pending:
            if abs(event.at - first.at) > limit:
                break
            count += 1
        events = hook.pending[:count]
        del hook.pending[:count]
        payload: dict[str, Any] = {
            "nonce": self._nonce(),
            "timestamp": iso(self._sim.now),
            "webhookId": hook.id,
            "scope": hook.scope,
            "scopeObjectId": hook.scope_object_id,
            "events": [e.to_callback_event() for e in events],
        }
        return _Callback(payload, json.dumps(payload).encode(), events)

    # ----- network ------------------------------------------------------------------------------

    def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, requests.Response | None, str | None]:
        try:
            response = requests.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=self._sim.options.callback_timeout_seconds,
            )
        except requests.RequestException as exc:
            return None, None, type(exc).__name__
        return response.status_code, response, None

    def _challenge(self, webhook_id: int, url: str) -> tuple[bool, int | None, dict[str, Any]]:
        with self._sim.lock:
            value = self._nonce()
        payload: dict[str, Any] = {"challenge": value, "webhookId": webhook_id}
        status, response, _ = self._post(url, json.dumps(payload).encode(), {"Smartsheet-Hook-Challenge": value})
        ok = False
        if status == 200 and response is not None:
            if response.headers.get("Smartsheet-Hook-Response") == value:
                ok = True
            else:
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
                ok = isinstance(answer, dict) and answer.get("smartsheetHookResponse") == value
        return ok, status, payload

    def deliver(self, duplicate: bool = False) -> list[DeliveryResult]:
        """Send what is pending, one callback at a time per webhook, synchronously.

        200 delivers; another 2xx or a 410 disables the hook (DISABLED_CALLBACK_FAILED); other
        answers and connection errors keep the callback for the next call, which retries it (after
        `callback_max_failures` failures the hook is disabled). Before every `challenge_every`-th
        callback a verification challenge is sent. With `duplicate`, each delivered callback is
        sent a second time with the same body and nonce.
        """
        sim = self._sim
        results: list[DeliveryResult] = []
        with sim.lock:
            hook_ids = list(self._hooks)
        for hook_id in hook_ids:
            while True:
                with sim.lock:
                    hook = self._hooks.get(hook_id)
                    if hook is None:
                        break
                    if hook.status_callbacks:
                        callback, kind = hook.status_callbacks.pop(0), "status"
                    elif hook.status != ENABLED:
                        break
                    elif hook.in_flight is not None:
                        callback, kind = hook.in_flight, "retry"
                    elif hook.pending:
                        callback, kind = self._bundle(hook), "callback"
                        hook.in_flight = callback
                    else:
                        break
                    need_challenge = (
                        kind != "status"
                        and hook.callbacks_sent > 0
                        and hook.callbacks_sent % sim.options.challenge_every == 0
                        and hook.challenged_at != hook.callbacks_sent
                    )
                    url, secret = hook.callback_url, hook.shared_secret
                if need_challenge:
                    ok, status, payload = self._challenge(hook_id, url)
                    with sim.lock:
                        outcome = "verified" if ok else "verification_failed"
                        results.append(DeliveryResult(hook_id, "challenge", status, outcome, payload))
                        hook = self._hooks.get(hook_id)
                        if hook is None:
                            break
                        if not ok:
                            self._set_disabled(hook, "DISABLED_VERIFICATION_FAILED")
                            break
                        hook.challenged_at = hook.callbacks_sent
                headers = {"Smartsheet-Hmac-SHA256": sign(secret, callback.body)}
                status, _, error = self._post(url, callback.body, headers)
                with sim.lock:
                    hook = self._hooks.get(hook_id)
                    if hook is None:
                        break
                    if kind == "status":
                        results.append(DeliveryResult(hook_id, kind, status, "sent", callback.payload, error))
                        continue
                    hook.callbacks_sent += 1
                    hook.last_attempt = sim.now
                    hook.last_retry_count = callback.failures
                    if status == 200:
                        hook.in_flight = None
                        hook.last_success = sim.now
                        results.append(DeliveryResult(hook_id, kind, status, "delivered", callback.payload))
                    elif status is not None and (200 <= status < 300 or status == 410):
                        self._set_disabled(hook, "DISABLED_CALLBACK_FAILED")
                        hook.disabled_details = f"The callback URL answered HTTP {status}."
                        results.append(DeliveryResult(hook_id, kind, status, "disabled", callback.payload, error))
                        break
                    else:
                        callback.failures += 1
                        if callback.failures >= sim.options.callback_max_failures:
                            self._set_disabled(hook, "DISABLED_CALLBACK_FAILED")
                            hook.disabled_details = f"The callback failed {callback.failures} times."
                            outcome = "disabled"
                        else:
                            outcome = "retry"
                        results.append(DeliveryResult(hook_id, kind, status, outcome, callback.payload, error))
                        break
                if duplicate:
                    status, _, error = self._post(url, callback.body, headers)
                    with sim.lock:
                        results.append(DeliveryResult(hook_id, "duplicate", status, "sent", callback.payload, error))
        return results
