"""Webhooks: list, create, read, update (enabling sends the verification challenge), delete, and
reset the shared secret.

The list answers newest first, by `lastKey` cursor (`maxItems`); paged the deprecated way (`page`,
`pageSize`, `includeAll`, as SDK 4.4.0's `list_webhooks` does) it answers `totalPages: -1` and
`totalCount: -1`, with a page past the end empty (NOTES.md).
"""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import Keyed, cursor_page, legacy_page, success, wants_cursor
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.webhooks.registry import ENABLED


def list_webhooks(backend: Backend, req: Request) -> Any:
    hooks = backend.webhooks
    newest_first = sorted(hooks.all(), key=lambda h: h.serial, reverse=True)
    items: list[Keyed] = [([-h.serial], hooks.to_json(h)) for h in newest_first]
    if wants_cursor(req):
        return cursor_page(backend.state, req, items)
    return legacy_page(backend.state, req, items)


def create_webhook(backend: Backend, req: Request) -> Any:
    hooks = backend.webhooks
    return success(hooks.to_json(hooks.create(req.json())))


def get_webhook(backend: Backend, req: Request) -> Any:
    hooks = backend.webhooks
    return hooks.to_json(hooks.get(req.id("webhookId")))


def update_webhook(backend: Backend, req: Request) -> Any:
    """Not run under the lock: enabling performs the verification challenge synchronously."""
    hooks, lock = backend.webhooks, backend.state.lock
    webhook_id = req.id("webhookId")
    body = req.json()
    with lock:
        hook, enabled = hooks.update_fields(webhook_id, body)
        if enabled is False and hook.status == ENABLED:
            hooks.disable(webhook_id, "DISABLED_BY_OWNER", status_callback=False)
    if enabled is True:
        backend.delivery.enable(webhook_id)
    with lock:
        return success(hooks.to_json(hooks.get(webhook_id)))


def delete_webhook(backend: Backend, req: Request) -> Any:
    backend.webhooks.delete(req.id("webhookId"))
    return success()


def reset_shared_secret(backend: Backend, req: Request) -> Any:
    hook = backend.webhooks.reset_secret(req.id("webhookId"))
    return success({"sharedSecret": hook.shared_secret, "webhookId": hook.id})
