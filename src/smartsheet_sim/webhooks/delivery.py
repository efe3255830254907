"""The network side of simulated webhooks: verification challenges and signed callbacks.

Delivery is explicit (`Simulator.deliver_callbacks`) so runs are deterministic. Network calls to
callback URLs never happen while the state's lock is held: a receiver may call the API back.

How Smartsheet treats a callback's answer (NOTES.md), as `callback_outcome` decides:
- exactly 200: delivered;
- 400-499 except 410, 500-599, and no answer (timeout, connection refused): failed, retried with the
  same body on the virtual clock (`SimulatorOptions.callback_max_retries` and the waits beside it),
  the hook's later callbacks waiting behind it; after the last retry fails the hook is disabled;
- anything else (another 2xx, 1xx, 3xx, 410, a status past 599): the hook is disabled at once,
  DISABLED_CALLBACK_FAILED, and the callback is not retried. Redirects that carry a Location are
  followed first, as an HTTP client does (NOTES.md names 309-399); a 3xx that ends the exchange
  disables.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from smartsheet_sim.errors import ApiError
from smartsheet_sim.options import SimulatorOptions
from smartsheet_sim.state import SimulatorState
from smartsheet_sim.webhooks.registry import ENABLED, Callback, Webhook, WebhookRegistry

DELIVERED, RETRY, DISABLE = "delivered", "retry", "disable"


def callback_outcome(status: int | None) -> str:
    """What Smartsheet does with a callback answered `status` (None: no answer in time, or none at all)."""
    if status == 200:
        return DELIVERED
    if status is None or (400 <= status <= 499 and status != 410) or 500 <= status <= 599:
        return RETRY
    return DISABLE


def retry_wait(options: SimulatorOptions, retry: int) -> timedelta | None:
    """How long before the `retry`-th retry (1-based) of a failed callback; None past the last one."""
    if retry > options.callback_max_retries:
        return None
    if retry <= options.callback_backoff_retries:
        return timedelta(seconds=options.callback_retry_base_seconds * 2 ** (retry - 1))
    return timedelta(seconds=options.callback_retry_interval_seconds)


@dataclass(frozen=True)
class DeliveryResult:
    """One POST the simulator made to a callback URL.

    kind: "callback" (first attempt), "retry", "duplicate" (a resend of a delivered callback),
    "challenge" (verification every `challenge_every` callbacks) or "status" (newWebhookStatus).
    outcome: "delivered", "retry" (kept for a later attempt, at `retry_at` on the virtual clock),
    "disabled", "verified", "verification_failed" or "sent" (status and duplicate callbacks change
    nothing).
    """

    webhook_id: int
    kind: str
    status_code: int | None
    outcome: str
    payload: dict[str, Any]
    error: str | None = None
    retry_at: datetime | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


def sign(secret: str, body: bytes) -> str:
    """The `Smartsheet-Hmac-SHA256` header value of a callback body: hex HMAC-SHA256 with the hook's secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookDelivery:
    """Sends what the registry holds to the callback URLs."""

    def __init__(self, state: SimulatorState, registry: WebhookRegistry):
        self._state = state
        self._registry = registry

    def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, requests.Response | None, str | None]:
        try:
            response = requests.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=self._state.options.callback_timeout_seconds,
            )
        except requests.RequestException as exc:
            return None, None, type(exc).__name__
        return response.status_code, response, None

    def _challenge(self, webhook_id: int, url: str) -> tuple[bool, int | None, dict[str, Any]]:
        with self._state.lock:
            value = self._registry.nonce()
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

    def enable(self, webhook_id: int) -> Webhook:
        """Verify the callback URL synchronously (lock released meanwhile); ENABLED on success.

        A hook whose sheet the owner can no longer reach is refused, 400 errorCode 1151 (*inferred*:
        Smartsheet's error for a scope object not found; access restored re-enables it by itself).
        """
        with self._state.lock:
            hook = self._registry.get(webhook_id)
            if hook.status == ENABLED:
                return hook
            if self._state.sheet(hook.scope_object_id) is None:
                raise ApiError(400, 1151, f"Scope '{hook.scope}', object id {hook.scope_object_id} was not found.")
            url = hook.callback_url
        ok, _, _ = self._challenge(webhook_id, url)
        with self._state.lock:
            return self._registry.mark_verified(webhook_id, ok)

    def deliver(self, duplicate: bool = False) -> list[DeliveryResult]:
        """Send what is due, one callback at a time per webhook, synchronously.

        Answers are judged by `callback_outcome` (see the module docstring). A failed callback is
        kept, with its `retry_at` on the virtual clock, and sent again by the first call made once
        the clock has reached it; meanwhile the hook's later callbacks wait (one at a time). Status
        callbacks go first and are never retried. Before every `challenge_every`-th callback a
        verification challenge is sent. With `duplicate`, each delivered callback is sent a second
        time with the same body and nonce.
        """
        state, registry = self._state, self._registry
        results: list[DeliveryResult] = []
        with state.lock:
            hook_ids = registry.ids()
        for hook_id in hook_ids:
            while True:
                with state.lock:
                    hook = registry.find(hook_id)
                    if hook is None:
                        break
                    callback: Callback
                    if hook.status_callbacks:
                        callback, kind = hook.status_callbacks.pop(0), "status"
                    elif hook.status != ENABLED:
                        break
                    elif hook.in_flight is not None:
                        retry_at = hook.in_flight.retry_at
                        if retry_at is not None and state.now < retry_at:
                            break  # not due yet: the clock has to move first
                        callback, kind = hook.in_flight, "retry"
                    elif hook.pending:
                        callback, kind = registry.next_callback(hook), "callback"
                        hook.in_flight = callback
                    else:
                        break
                    need_challenge = (
                        kind != "status"
                        and hook.callbacks_sent > 0
                        and hook.callbacks_sent % state.options.challenge_every == 0
                        and hook.challenged_at != hook.callbacks_sent
                    )
                    url, secret = hook.callback_url, hook.shared_secret
                if need_challenge:
                    ok, status, payload = self._challenge(hook_id, url)
                    with state.lock:
                        outcome = "verified" if ok else "verification_failed"
                        results.append(DeliveryResult(hook_id, "challenge", status, outcome, payload))
                        hook = registry.find(hook_id)
                        if hook is None:
                            break
                        if not ok:
                            registry.mark_disabled(hook, "DISABLED_VERIFICATION_FAILED")
                            break
                        hook.challenged_at = hook.callbacks_sent
                headers = {"Smartsheet-Hmac-SHA256": sign(secret, callback.body)}
                status, _, error = self._post(url, callback.body, headers)
                with state.lock:
                    hook = registry.find(hook_id)
                    if hook is None:
                        break
                    if kind == "status":
                        results.append(DeliveryResult(hook_id, kind, status, "sent", callback.payload, error))
                        continue
                    hook.callbacks_sent += 1
                    hook.last_attempt = state.now
                    hook.last_retry_count = callback.failures
                    verdict = callback_outcome(status)
                    if verdict == DELIVERED:
                        hook.in_flight = None
                        hook.last_success = state.now
                        results.append(DeliveryResult(hook_id, kind, status, "delivered", callback.payload))
                    elif verdict == DISABLE:
                        registry.mark_disabled(hook, "DISABLED_CALLBACK_FAILED")
                        hook.disabled_details = f"The callback URL answered HTTP {status}."
                        results.append(DeliveryResult(hook_id, kind, status, "disabled", callback.payload, error))
                        break
                    else:
                        callback.failures += 1
                        wait = retry_wait(state.options, callback.failures)
                        if wait is None:
                            registry.mark_disabled(hook, "DISABLED_CALLBACK_FAILED")
                            hook.disabled_details = f"The callback failed {callback.failures} times."
                            results.append(DeliveryResult(hook_id, kind, status, "disabled", callback.payload, error))
                        else:
                            callback.retry_at = state.now + wait
                            results.append(
                                DeliveryResult(
                                    hook_id, kind, status, "retry", callback.payload, error, retry_at=callback.retry_at
                                )
                            )
                        break
                if duplicate:
                    status, _, error = self._post(url, callback.body, headers)
                    with state.lock:
                        results.append(DeliveryResult(hook_id, "duplicate", status, "sent", callback.payload, error))
        return results
