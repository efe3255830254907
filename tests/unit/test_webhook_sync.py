"""Webhook sync and health (pipeline.webhook_sync) and secret rotation (pipeline.webhook_rotation) against fakes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import pytest

from billing_audit.cli.webhooks import render_report
from billing_audit.pipeline.webhook_rotation import rotate_secrets
from billing_audit.pipeline.webhook_sync import sync_webhooks, webhook_health, webhook_name
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.models import WebhookInfo
from billing_audit.store.memory import MemoryAlertPublisher
from billing_audit.store.secrets import WebhookSecret

URL = "https://example.invalid/prod/webhook"


@dataclass
class FakeApi:
    hooks: dict[int, WebhookInfo] = field(default_factory=dict)
    verify_ok: bool = True
    log: list[str] = field(default_factory=list)
    fail_reset: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _secrets: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    secrets: FakeSecrets | None = None

    def add(self, sheet_id: int, status: str = "ENABLED", name: str | None = None, url: str = URL) -> WebhookInfo:
        hook = WebhookInfo(
            next(self._ids),
            name or webhook_name(sheet_id),
            url,
            sheet_id,
            status == "ENABLED",
            status,
            f"secret-{next(self._secrets)}",
        )
        self.hooks[hook.id] = hook
        return hook

    def list(self) -> list[WebhookInfo]:
        return list(self.hooks.values())

    def create(self, *, name: str, callback_url: str, sheet_id: int) -> WebhookInfo:
        self.log.append(f"create {sheet_id}")
        return self.add(sheet_id, "NEW_NOT_VERIFIED", name=name, url=callback_url)

    def enable(self, webhook_id: int) -> WebhookInfo:
        # Smartsheet verifies through the endpoint, which answers only webhooks with a stored secret.
        stored = self.secrets is not None and self.secrets.values.get(webhook_id) is not None
        self.log.append(f"enable {webhook_id} stored={stored}")
        ok = self.verify_ok and stored
        status = "ENABLED" if ok else "DISABLED_VERIFICATION_FAILED"
        self.hooks[webhook_id] = replace(self.hooks[webhook_id], enabled=ok, status=status)
        return self.hooks[webhook_id]

    def set_callback_url(self, webhook_id: int, callback_url: str) -> WebhookInfo:
        self.log.append(f"repoint {webhook_id}")
        self.hooks[webhook_id] = replace(self.hooks[webhook_id], callback_url=callback_url)
        return self.hooks[webhook_id]

    def delete(self, webhook_id: int) -> None:
        self.log.append(f"delete {webhook_id}")
        del self.hooks[webhook_id]

    def reset_secret(self, webhook_id: int) -> str:
        self.log.append(f"reset {webhook_id}")
        if self.fail_reset:
            raise SmartsheetError("Smartsheet POST /webhooks/{webhookId}/resetsharedsecret failed: HTTP 500")
        secret = f"secret-{next(self._secrets)}"
        self.hooks[webhook_id] = replace(self.hooks[webhook_id], shared_secret=secret)
        return secret


@dataclass
class FakeSecrets:
    values: dict[int, WebhookSecret] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def read(self, webhook_id: int) -> WebhookSecret | None:
        return self.values.get(webhook_id)

    def store_current(self, webhook_id: int, secret: str) -> bool:
        self.log.append(f"store {webhook_id}")
        old = self.values.get(webhook_id)
        previous = old.current if old is not None and old.current != secret else None
        self.values[webhook_id] = WebhookSecret(current=secret, previous=previous)
        return True

    def mark_pending(self, webhook_id: int) -> None:
        self.log.append(f"pending {webhook_id}")
        self.values[webhook_id] = self.values[webhook_id].model_copy(update={"pending_since": "2026-11-12T10:00:00Z"})

    def delete(self, webhook_id: int) -> None:
        self.log.append(f"delete {webhook_id}")
        self.values.pop(webhook_id, None)


@pytest.fixture
def env() -> tuple[FakeApi, FakeSecrets]:
    secrets = FakeSecrets()
    return FakeApi(secrets=secrets), secrets


def test_sync_creates_stores_the_secret_then_enables(env: tuple[FakeApi, FakeSecrets]) -> None:
    api, secrets = env
    report = sync_webhooks([4001, 4002], api, secrets, callback_url=URL)
    assert report.ok and [r.action for r in report.rows] == ["created", "created"]
    assert all("stored=True" in line for line in api.log if line.startswith("enable"))
    assert {h.name for h in api.hooks.values()} == {"billing-audit:4001", "billing-audit:4002"}
    assert {secrets.values[h.id].current for h in api.hooks.values()} == {h.shared_secret for h in api.hooks.values()}
    assert report.recovered == []  # new webhooks: the baseline scan covers what came before
    again = sync_webhooks([4001, 4002], api, secrets, callback_url=URL)
    assert [r.action for r in again.rows] == ["unchanged", "unchanged"] and again.ok


def test_sync_deletes_stale_and_duplicate_webhooks_but_not_foreign_ones(env: tuple[FakeApi, FakeSecrets]) -> None:
    api, secrets = env
    keep = api.add(4001)
    older_duplicate = api.add(4001, "DISABLED_BY_OWNER")
    stale = api.add(4003)
    foreign = api.add(4001, name="someone-else")
    for hook in (keep, older_duplicate, stale):
        secrets.store_current(hook.id, hook.shared_secret or "")
    report = sync_webhooks([4001], api, secrets, callback_url=URL)
    assert set(api.hooks) == {keep.id, foreign.id}
    assert {r.webhook_id: r.action for r in report.rows} == {
        older_duplicate.id: "duplicate deleted",
        keep.id: "unchanged",
        stale.id: "deleted",
    }
    assert set(secrets.values) == {keep.id}
    kept = sync_webhooks([4001], api, secrets, callback_url=URL, delete_stale=False)
    assert [r.webhook_id for r in kept.rows] == [keep.id]


def test_sync_repoints_refreshes_secrets_and_re_enables(env: tuple[FakeApi, FakeSecrets]) -> None:
    api, secrets = env
    hook = api.add(4001, "DISABLED_CALLBACK_FAILED", url="https://old.invalid/webhook")
    secrets.store_current(hook.id, "outdated")
    [row] = sync_webhooks([4001], api, secrets, callback_url=URL).rows
    assert (row.action, row.sm_state, row.status, row.was_status) == (
        "re-pointed, re-enabled",
        "updated",
        "ENABLED",
        "DISABLED_CALLBACK_FAILED",
    )
    assert secrets.values[hook.id].current == hook.shared_secret
    assert secrets.values[hook.id].previous == "outdated"


def test_status_is_a_dry_run(env: tuple[FakeApi, FakeSecrets]) -> None:
    api, secrets = env
    disabled = api.add(4001, "DISABLED_BY_OWNER")
    api.add(4009)
    report = sync_webhooks([4001, 4002], api, secrets, callback_url=None, dry_run=True)
    assert [(r.sheet_id, r.status, r.action, r.sm_state) for r in report.rows] == [
        (4001, "DISABLED_BY_OWNER", "unchanged", "missing"),
        (4002, "MISSING", "missing", "-"),
        (4009, "ENABLED", "would be deleted", "-"),
    ]
    assert not report.ok and api.log == [] and secrets.log == []
    assert "DISABLED_BY_OWNER" in render_report(report) and str(disabled.id) in render_report(report)


def test_health_alerts_repairs_and_reports_what_to_reconcile(env: tuple[FakeApi, FakeSecrets]) -> None:
    api, secrets = env
    healthy = api.add(4001)
    disabled = api.add(4002, "DISABLED_CALLBACK_FAILED")
    for hook in (healthy, disabled):
        secrets.store_current(hook.id, hook.shared_secret or "")
    alerts = MemoryAlertPublisher()
    report = webhook_health([4001, 4002, 4003], api, secrets, alerts, callback_url=URL)
    assert report.recovered == [4002]
    subjects = [subject for subject, _ in alerts.notes]
    assert subjects == ["webhook of sheet 4002 not enabled", "webhook of sheet 4003 not enabled"]
    assert all(h.status == "ENABLED" for h in api.hooks.values())


def test_health_alerts_again_when_the_repair_fails(env: tuple[FakeApi, FakeSecrets]) -> None:
    api, secrets = env
    hook = api.add(4001, "DISABLED_BY_OWNER")
    secrets.store_current(hook.id, hook.shared_secret or "")
    api.verify_ok = False
    alerts = MemoryAlertPublisher()
    report = webhook_health([4001], api, secrets, alerts, callback_url=URL)
    assert report.recovered == [] and not report.ok
    assert [s for s, _ in alerts.notes] == ["webhook of sheet 4001 not enabled", "webhook of sheet 4001 not repaired"]


def test_health_without_a_callback_url_alerts_on_missing_webhooks(
    env: tuple[FakeApi, FakeSecrets], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, secrets = env
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    alerts = MemoryAlertPublisher()
    report = webhook_health([4001], api, secrets, alerts)
    assert report.rows[0].action == "failed" and "WEBHOOK_URL" in report.rows[0].detail
    assert len(alerts.notes) == 2 and api.hooks == {}


def test_rotation_marks_pending_resets_then_stores(env: tuple[FakeApi, FakeSecrets]) -> None:
    api, secrets = env
    hook = api.add(4001)
    api.add(4002, name="someone-else")
    secrets.store_current(hook.id, hook.shared_secret or "")
    secrets.log.clear()
    seen: list[WebhookSecret | None] = []
    rows = rotate_secrets(api, secrets, between=lambda webhook_id: seen.append(secrets.read(webhook_id)))
    assert [(r.webhook_id, r.rotated) for r in rows] == [(hook.id, True)]
    assert secrets.log == [f"pending {hook.id}", f"store {hook.id}"]
    assert seen[0] is not None and seen[0].pending_since is not None and seen[0].current == hook.shared_secret
    value = secrets.values[hook.id]
    assert value.current == api.hooks[hook.id].shared_secret and value.previous == hook.shared_secret
    assert value.pending_since is None


def test_a_failed_reset_clears_the_pending_marker(env: tuple[FakeApi, FakeSecrets]) -> None:
    api, secrets = env
    hook = api.add(4001)
    secrets.store_current(hook.id, hook.shared_secret or "")
    api.fail_reset = True
    [row] = rotate_secrets(api, secrets, webhook_ids=[hook.id])
    assert not row.rotated and "HTTP 500" in row.detail
    assert secrets.values[hook.id].pending_since is None and secrets.values[hook.id].current == hook.shared_secret
