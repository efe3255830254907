"""Webhooks: list, create, read, update (enabling sends the verification challenge), delete, and
reset the shared secret."""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import paged, success
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.webhooks.registry import ENABLED


def list_webhooks(backend: Backend, req: Request) -> Any:
    hooks = backend.webhooks
    return paged(backend.state, req, [hooks.to_json(h) for h in hooks.all()])


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
            hooks.disable(webhook_id, "DISABLED_BY_OWNER", notify=False)
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
