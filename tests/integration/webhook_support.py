"""Plumbing shared by the webhook integration tests: a stand-in for callback processing, the local
stack's environment, and signed posts to its HTTP front."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

from billing_audit.cli.webhooks import render_report
from billing_audit.config import AuditConfig
from billing_audit.pipeline.callbacks import CallbackResult
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.smartsheet.webhooks import WebhookCallback, sign
from billing_audit.store.memory import MemoryAlertPublisher
from billing_audit_local.serve import LocalWebhookStack
from smartsheet_sim import Simulator


@dataclass
class Recorder:
    """Stands in for pipeline.callbacks.process_callback: records each callback it is given."""

    calls: list[WebhookCallback] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    def __call__(
        self,
        callback: WebhookCallback,
        config: AuditConfig,
        deps: AuditDeps,
        *,
        history_allowance: int | None,
        batch: Any = None,
    ) -> CallbackResult:
        self.calls.append(callback)
        if callback.nonce in self.failing:
            raise RuntimeError("detection failed")
        return CallbackResult()

    def nonces(self) -> list[str | None]:
        return [c.nonce for c in self.calls]


def synced_hooks(stack: LocalWebhookStack) -> dict[int, int]:
    """Sync the stack's webhooks (asserting it went well); sheet id -> webhook id."""
    report = stack.sync()
    assert report.ok, render_report(report)
    return {row.sheet_id: row.webhook_id for row in report.rows if row.sheet_id and row.webhook_id}


@dataclass
class WebhookEnv:
    sim: Simulator
    stack: LocalWebhookStack
    recorder: Recorder
    alerts: MemoryAlertPublisher
    hooks: dict[int, int]  # sheet id -> webhook id

    @property
    def url(self) -> str:
        return self.stack.url

    def secret(self, sheet_id: int = 4001) -> str:
        return self.sim.webhooks.get(self.hooks[sheet_id]).shared_secret


def post(env: WebhookEnv, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        env.url, data=body, headers={"Content-Type": "application/json", **(headers or {})}, timeout=15
    )


def post_signed(env: WebhookEnv, data: dict[str, Any], secret: str | None = None) -> requests.Response:
    """`data` as JSON, signed with `secret` (by default sheet 4001's webhook secret)."""
    body = json.dumps(data).encode()
    return post(env, body, {"Smartsheet-Hmac-SHA256": sign(secret or env.secret(), body)})
