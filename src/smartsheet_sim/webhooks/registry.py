"""Simulated Smartsheet webhooks as data: registration, status, shared secrets, and the events each
hook has still to send (queued by `enqueue`, bundled into callbacks by `next_callback`).

Status callbacks (`newWebhookStatus`) are queued only where Smartsheet sends them (NOTES.md): when
a hook is disabled because its scope became inaccessible (`scope_inaccessible`: the sheet deleted
or shared away) and when it is re-enabled automatically (`scope_accessible`: access restored). A
hook disabled by its owner, by callback failures or by a failed verification is told nothing.

No network here: verification challenges and callbacks are sent by `webhooks.delivery`.
Callers hold the state's lock, except where a method says it takes it.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import ChangeEvent, iso
from smartsheet_sim.state import SimulatorState

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
SCOPE_INACCESSIBLE = "DISABLED_SCOPE_INACCESSIBLE"
STATUS_CALLBACK_STATUSES = frozenset({SCOPE_INACCESSIBLE, ENABLED})
"""The statuses Smartsheet announces with a `newWebhookStatus` callback: an automatic disable for an
inaccessible scope, and the automatic re-enable when access returns."""


@dataclass
class Callback:
    """One callback body, kept with its events until it is delivered (retries resend the same body).

    `failures`: attempts that failed so far; `retry_at`: when the next may be made (virtual clock).
    """

    payload: dict[str, Any]
    body: bytes
    events: list[ChangeEvent]
    failures: int = 0
    retry_at: datetime | None = None


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
    in_flight: Callback | None = None
    status_callbacks: list[Callback] = field(default_factory=list)
    callbacks_sent: int = 0
    challenged_at: int = 0
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_retry_count: int = 0
    serial: int = 0  # creation order: lists answer newest first


class WebhookRegistry:
    """The account's webhooks; subscribe `enqueue` to the state's commits."""

    def __init__(self, state: SimulatorState):
        self._state = state
        self._hooks: dict[int, Webhook] = {}
        self._created = 0
        self._rng = random.Random(f"webhooks:{state.options.seed}")

    def _secret(self) -> str:
        return "".join(self._rng.choice(string.ascii_lowercase + string.digits) for _ in range(26))

    def nonce(self) -> str:
        """A UUID-shaped random token (deterministic for a given seed and call order)."""
        return "%08x-%04x-4%03x-%04x-%012x" % (  # noqa: UP031 - a UUID-shaped token
            self._rng.getrandbits(32),
            self._rng.getrandbits(16),
            self._rng.getrandbits(12),
            0x8000 | self._rng.getrandbits(14),
            self._rng.getrandbits(48),
        )

    # ----- registration --------------------------------------------------------------------------

    def ids(self) -> list[int]:
        return list(self._hooks)

    def all(self) -> list[Webhook]:
        return list(self._hooks.values())

    def find(self, webhook_id: int) -> Webhook | None:
        return self._hooks.get(webhook_id)

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
        if self._state.sheet(scope_id) is None:
            raise not_found(f"Sheet {scope_id} not found.")
        subscope = self._subscope(body.get("subscope"), scope_id)
        now = self._state.now
        hook = Webhook(
            id=self._state.new_id("webhook"),
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
        self._created += 1
        hook.serial = self._created
        self._hooks[hook.id] = hook
        return hook

    def _subscope(self, value: Any, sheet_id: int) -> list[int] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("columnIds"), list):
            raise bad_request("subscope must be {'columnIds': [...]}.")
        sheet = self._state.sheet(sheet_id)
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
        hook.modified_at = self._state.now
        return hook, enabled

    def mark_verified(self, webhook_id: int, ok: bool) -> Webhook:
        """The outcome of the verification challenge an enable request sent."""
        hook = self.get(webhook_id)
        if ok:
            self._mark_enabled(hook)
        else:
            hook.enabled = False
            hook.status = "DISABLED_VERIFICATION_FAILED"
            hook.disabled_details = "The callback URL did not answer the verification challenge."
        hook.modified_at = self._state.now
        return hook

    def disable(self, webhook_id: int, status: str = "DISABLED_BY_OWNER", status_callback: bool | None = None) -> None:
        """Disable a hook (takes the lock).

        An ENABLED hook is told by a `newWebhookStatus` callback where Smartsheet would tell it
        (`status_callback=None`: only for DISABLED_SCOPE_INACCESSIBLE); True queues one whatever the
        status (one Smartsheet does not send: for testing a receiver), False none.
        """
        if status not in DISABLED_STATUSES:
            raise ValueError(f"unknown disabled status {status!r}")
        if status_callback is None:
            status_callback = status in STATUS_CALLBACK_STATUSES
        with self._state.lock:
            hook = self.get(webhook_id)
            was_enabled = hook.status == ENABLED
            self.mark_disabled(hook, status)
            if status_callback and was_enabled:
                self._queue_status_callback(hook)

    def _queue_status_callback(self, hook: Webhook) -> None:
        payload: dict[str, Any] = {
            "nonce": self.nonce(),
            "timestamp": iso(self._state.now),
            "webhookId": hook.id,
            "scope": hook.scope,
            "scopeObjectId": hook.scope_object_id,
            "newWebhookStatus": hook.status,
        }
        hook.status_callbacks.append(Callback(payload, json.dumps(payload).encode(), []))

    def scope_inaccessible(self, sheet_id: int) -> list[int]:
        """The sheet is deleted or shared away from the token's owner (takes the lock): the API no
        longer shows it, and each ENABLED hook on it becomes DISABLED_SCOPE_INACCESSIBLE and is told so
        by a status callback. Returns the ids of the hooks disabled."""
        with self._state.lock:
            self._state.set_accessible(sheet_id, False)
            disabled = [h for h in self._hooks.values() if h.scope_object_id == sheet_id and h.status == ENABLED]
            for hook in disabled:
                self.mark_disabled(hook, SCOPE_INACCESSIBLE)
                hook.disabled_details = f"Sheet {sheet_id} is no longer accessible to the webhook's owner."
                self._queue_status_callback(hook)
            return [h.id for h in disabled]

    def scope_accessible(self, sheet_id: int) -> list[int]:
        """Access to the sheet is restored (takes the lock): the API shows it again, and Smartsheet
        re-enables each hook it had disabled as DISABLED_SCOPE_INACCESSIBLE, with a status callback
        (`newWebhookStatus: ENABLED`). Changes made meanwhile are never delivered. Returns the ids."""
        with self._state.lock:
            self._state.set_accessible(sheet_id, True)
            revived = [
                h for h in self._hooks.values() if h.scope_object_id == sheet_id and h.status == SCOPE_INACCESSIBLE
            ]
            for hook in revived:
                self._mark_enabled(hook)
                self._queue_status_callback(hook)
            return [h.id for h in revived]

    def _mark_enabled(self, hook: Webhook) -> None:
        hook.enabled = True
        hook.status = ENABLED
        hook.disabled_details = None
        hook.callbacks_sent = 0
        hook.challenged_at = 0
        hook.modified_at = self._state.now

    def mark_disabled(self, hook: Webhook, status: str) -> None:
        """Disabled: whatever it had still to send is dropped."""
        hook.enabled = False
        hook.status = status
        hook.pending.clear()
        hook.in_flight = None
        hook.modified_at = self._state.now

    def delete(self, webhook_id: int) -> None:
        self.get(webhook_id)
        del self._hooks[webhook_id]

    def reset_secret(self, webhook_id: int) -> Webhook:
        hook = self.get(webhook_id)
        hook.shared_secret = self._secret()
        hook.modified_at = self._state.now
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
        """Events not yet delivered (queued or in a callback awaiting retry); takes the lock."""
        with self._state.lock:
            hooks = self._hooks.values() if webhook_id is None else [self.get(webhook_id)]
            return sum(len(h.pending) + (len(h.in_flight.events) if h.in_flight else 0) for h in hooks)

    def next_retry_at(self, webhook_id: int | None = None) -> datetime | None:
        """When the earliest failed callback waiting for a retry may be sent again (virtual clock);
        None when none waits. Takes the lock. A driver moves the clock there (`sim.advance_to`)."""
        with self._state.lock:
            hooks = self._hooks.values() if webhook_id is None else [self.get(webhook_id)]
            times = [
                h.in_flight.retry_at
                for h in hooks
                if h.status == ENABLED and h.in_flight is not None and h.in_flight.retry_at is not None
            ]
            return min(times, default=None)

    def next_callback(self, hook: Webhook) -> Callback:
        """Take the pending events within `bundle_seconds` of the first into one callback."""
        first = hook.pending[0]
        limit = timedelta(seconds=self._state.options.bundle_seconds)
        count = 0
        for event in hook.pending:
            if abs(event.at - first.at) > limit:
                break
            count += 1
        events = hook.pending[:count]
        del hook.pending[:count]
        payload: dict[str, Any] = {
            "nonce": self.nonce(),
            "timestamp": iso(self._state.now),
            "webhookId": hook.id,
            "scope": hook.scope,
            "scopeObjectId": hook.scope_object_id,
            "events": [e.to_callback_event() for e in events],
        }
        return Callback(payload, json.dumps(payload).encode(), events)
