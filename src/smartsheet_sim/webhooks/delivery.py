"""The network side of simulated webhooks: verification challenges and signed callbacks.

Delivery is explicit (`Simulator.deliver_callbacks`) so runs are deterministic. Network calls to
callback URLs never happen while the state's lock is held: a receiver may call the API back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import requests

from smartsheet_sim.state import SimulatorState
from smartsheet_sim.webhooks.registry import ENABLED, Callback, Webhook, WebhookRegistry


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
        """Verify the callback URL synchronously (lock released meanwhile); ENABLED on success."""
        with self._state.lock:
            hook = self._registry.get(webhook_id)
            if hook.status == ENABLED:
                return hook
            url = hook.callback_url
        ok, _, _ = self._challenge(webhook_id, url)
        with self._state.lock:
            return self._registry.mark_verified(webhook_id, ok)

    def deliver(self, duplicate: bool = False) -> list[DeliveryResult]:
        """Send what is pending, one callback at a time per webhook, synchronously.

        200 delivers; another 2xx or a 410 disables the hook (DISABLED_CALLBACK_FAILED); other
        answers and connection errors keep the callback for the next call, which retries it (after
        `callback_max_failures` failures the hook is disabled). Before every `challenge_every`-th
        callback a verification challenge is sent. With `duplicate`, each delivered callback is
        sent a second time with the same body and nonce.
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
                    if status == 200:
                        hook.in_flight = None
                        hook.last_success = state.now
                        results.append(DeliveryResult(hook_id, kind, status, "delivered", callback.payload))
                    elif status is not None and (200 <= status < 300 or status == 410):
                        registry.mark_disabled(hook, "DISABLED_CALLBACK_FAILED")
                        hook.disabled_details = f"The callback URL answered HTTP {status}."
                        results.append(DeliveryResult(hook_id, kind, status, "disabled", callback.payload, error))
                        break
                    else:
                        callback.failures += 1
                        if callback.failures >= state.options.callback_max_failures:
                            registry.mark_disabled(hook, "DISABLED_CALLBACK_FAILED")
                            hook.disabled_details = f"The callback failed {callback.failures} times."
                            outcome = "disabled"
                        else:
                            outcome = "retry"
                        results.append(DeliveryResult(hook_id, kind, status, outcome, callback.payload, error))
                        break
                if duplicate:
                    status, _, error = self._post(url, callback.body, headers)
                    with state.lock:
                        results.append(DeliveryResult(hook_id, "duplicate", status, "sent", callback.payload, error))
        return results
