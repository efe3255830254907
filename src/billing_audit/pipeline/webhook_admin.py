"""Keeping Smartsheet's webhooks, and their shared secrets in Secrets Manager, as configured.

- `sync_webhooks`: one webhook per configured sheet (named WEBHOOK_NAME_PREFIX + sheet id), all
  events, pointed at the callback URL and ENABLED; stale ones of ours deleted; each webhook's
  current shared secret stored.  The secret is stored *before* enabling, because enabling makes
  Smartsheet send the verification challenge, which the webhook function answers only for
  webhooks that have a secret.
- `webhook_health`: the same, for the periodic scan, alerting on every webhook it finds not
  ENABLED (or missing) and returning the sheets it recovered, which the scan must reconcile
  (Smartsheet never re-delivers what happened while a webhook was disabled).
- `rotate_secrets`: resets shared secrets with no refusal window: the stored secret is marked
  "rotation pending" first, so a callback signed with the brand-new secret waits (a few seconds
  at most) for it to be stored instead of being refused; the old secret stays valid for a grace
  period.  Should the rotation die between the reset and the store, the marker expires after a
  minute and `webhooks sync` stores the secret Smartsheet reports; callbacks refused meanwhile
  (401) are retried by Smartsheet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from billing_audit import resources as res
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.webhook_admin import WebhookInfo
from billing_audit.store.interfaces import Notifier
from billing_audit.store.secrets import WebhookSecret

MISSING = "MISSING"


class WebhookApi(Protocol):
    def list(self) -> list[WebhookInfo]: ...

    def create(self, *, name: str, callback_url: str, sheet_id: int) -> WebhookInfo: ...

    def enable(self, webhook_id: int) -> WebhookInfo: ...

    def set_callback_url(self, webhook_id: int, callback_url: str) -> WebhookInfo: ...

    def delete(self, webhook_id: int) -> None: ...

    def reset_secret(self, webhook_id: int) -> str: ...


class SecretStore(Protocol):
    def read(self, webhook_id: int) -> WebhookSecret | None: ...

    def store_current(self, webhook_id: int, secret: str) -> bool: ...

    def mark_pending(self, webhook_id: int) -> None: ...

    def delete(self, webhook_id: int) -> None: ...


def webhook_name(sheet_id: int) -> str:
    return f"{res.WEBHOOK_NAME_PREFIX}{sheet_id}"


def is_ours(hook: WebhookInfo) -> bool:
    return hook.name.startswith(res.WEBHOOK_NAME_PREFIX)


@dataclass
class WebhookRow:
    sheet_id: int | None
    webhook_id: int | None
    status: str
    action: str  # created, enabled, re-enabled, re-pointed, unchanged, deleted, duplicate deleted, missing, failed
    sm_state: str  # the Secrets Manager copy: stored, updated, unchanged, reset, missing, stale, deleted, -
    callback_url: str = ""
    was_status: str | None = None
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.action == "failed"


@dataclass
class SyncReport:
    rows: list[WebhookRow] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    def configured(self) -> list[WebhookRow]:
        return [r for r in self.rows if not r.action.endswith("deleted")]

    @property
    def ok(self) -> bool:
        return all(not r.failed and r.status == "ENABLED" and r.sm_state != "missing" for r in self.configured())

    @property
    def recovered(self) -> list[int]:
        """Sheets whose webhook was disabled or missing and is ENABLED now: reconcile them."""
        return [
            r.sheet_id
            for r in self.configured()
            if r.sheet_id is not None
            and r.status == "ENABLED"
            and r.was_status is not None
            and r.was_status != "ENABLED"
            and r.action != "created"
        ]

    def render(self) -> str:
        header = ("SHEET", "WEBHOOK", "STATUS", "ACTION", "SECRET", "CALLBACK URL")
        lines = [header] + [
            (
                str(r.sheet_id or "-"),
                str(r.webhook_id or "-"),
                r.status,
                r.action + (f" ({r.detail})" if r.detail else ""),
                r.sm_state,
                r.callback_url or "-",
            )
            for r in self.rows
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
        )


def _choose(candidates: Sequence[WebhookInfo]) -> tuple[WebhookInfo | None, list[WebhookInfo]]:
    """The webhook to keep for a sheet (an ENABLED one, else the newest id) and the duplicates."""
    if not candidates:
        return None, []
    ranked = sorted(candidates, key=lambda h: (h.is_enabled, h.id), reverse=True)
    return ranked[0], list(ranked[1:])


def _sm_state(hook: WebhookInfo, stored: WebhookSecret | None) -> str:
    if stored is None:
        return "missing"
    if hook.shared_secret is not None and stored.current != hook.shared_secret:
        return "stale"
    return "stored"


def sync_webhooks(
    sheet_ids: Iterable[int],
    api: WebhookApi,
    secrets: SecretStore,
    *,
    callback_url: str | None,
    delete_stale: bool = True,
    dry_run: bool = False,
    notifier: Notifier | None = None,
) -> SyncReport:
    """Make Smartsheet's webhooks match `sheet_ids`; `dry_run` only reports (webhooks status)."""
    desired = list(dict.fromkeys(sheet_ids))
    report = SyncReport()
    ours = [h for h in api.list() if is_ours(h)]
    by_sheet: dict[int, list[WebhookInfo]] = {}
    for hook in ours:
        if hook.sheet_id is not None:
            by_sheet.setdefault(hook.sheet_id, []).append(hook)

    for sheet_id in desired:
        keep, duplicates = _choose(by_sheet.get(sheet_id, []))
        for extra in duplicates:
            report.rows.append(_delete(extra, api, secrets, dry_run=dry_run, action="duplicate deleted"))
        try:
            report.rows.append(
                _ensure(
                    sheet_id,
                    keep,
                    api,
                    secrets,
                    callback_url=callback_url,
                    dry_run=dry_run,
                    report=report,
                    notifier=notifier,
                )
            )
        except SmartsheetError as exc:
            report.rows.append(
                WebhookRow(
                    sheet_id,
                    keep.id if keep else None,
                    keep.status if keep else MISSING,
                    "failed",
                    "-",
                    keep.callback_url if keep else "",
                    detail=str(exc),
                )
            )
    if delete_stale:
        wanted = set(desired)
        for hook in ours:
            if hook.sheet_id not in wanted:
                report.rows.append(_delete(hook, api, secrets, dry_run=dry_run, action="deleted"))
    if notifier is not None:
        for row in report.configured():
            if row.status != "ENABLED" and not dry_run:
                text = (
                    f"Webhook {row.webhook_id or '-'} of sheet {row.sheet_id} is still {row.status} after an "
                    f"attempt to repair it ({row.detail or row.action}); changes reach the audit only through "
                    "the periodic scan until it is fixed."
                )
                notifier.notify(f"webhook of sheet {row.sheet_id} not repaired", text)
                report.alerts.append(text)
    return report


def _alert_found(notifier: Notifier | None, report: SyncReport, sheet_id: int, hook: WebhookInfo | None) -> None:
    if notifier is None:
        return
    if hook is None:
        text = f"Sheet {sheet_id} has no billing-audit webhook; creating one."
    else:
        details = f" ({hook.disabled_details})" if hook.disabled_details else ""
        text = (
            f"Webhook {hook.id} of sheet {sheet_id} was found {hook.status}{details}; re-enabling it through "
            "verification and reconciling the sheet, since Smartsheet never re-delivers missed changes."
        )
    notifier.notify(f"webhook of sheet {sheet_id} not enabled", text)
    report.alerts.append(text)


def _ensure(
    sheet_id: int,
    hook: WebhookInfo | None,
    api: WebhookApi,
    secrets: SecretStore,
    *,
    callback_url: str | None,
    dry_run: bool,
    report: SyncReport,
    notifier: Notifier | None,
) -> WebhookRow:
    if hook is None:
        if dry_run:
            return WebhookRow(sheet_id, None, MISSING, "missing", "-", was_status=MISSING)
        _alert_found(notifier, report, sheet_id, None)
        if not callback_url:
            return WebhookRow(
                sheet_id,
                None,
                MISSING,
                "failed",
                "-",
                was_status=MISSING,
                detail=f"no callback URL (set {res.WEBHOOK_URL_ENV})",
            )
        created = api.create(name=webhook_name(sheet_id), callback_url=callback_url, sheet_id=sheet_id)
        sm_state = "stored"
        if created.shared_secret:
            secrets.store_current(created.id, created.shared_secret)
        else:
            secrets.store_current(created.id, api.reset_secret(created.id))
        enabled = api.enable(created.id)
        action = "created" if enabled.is_enabled else "failed"
        detail = "" if enabled.is_enabled else f"verification failed: {enabled.disabled_details or enabled.status}"
        return WebhookRow(
            sheet_id,
            created.id,
            enabled.status,
            action,
            sm_state,
            enabled.callback_url,
            was_status=MISSING,
            detail=detail,
        )

    was = hook.status
    stored = secrets.read(hook.id)
    sm_state = _sm_state(hook, stored)
    if dry_run:
        return WebhookRow(
            sheet_id,
            hook.id,
            hook.status,
            "unchanged",
            sm_state,
            hook.callback_url,
            was_status=was,
            detail=hook.disabled_details or "",
        )
    if not hook.is_enabled:
        _alert_found(notifier, report, sheet_id, hook)
    actions: list[str] = []
    if sm_state != "stored" or (stored is not None and stored.pending_since is not None):
        if hook.shared_secret:
            secrets.store_current(hook.id, hook.shared_secret)
            sm_state = "updated" if stored is not None else "stored"
        else:
            secrets.store_current(hook.id, api.reset_secret(hook.id))
            sm_state = "reset"
    else:
        sm_state = "unchanged"
    if callback_url and hook.callback_url != callback_url:
        hook = api.set_callback_url(hook.id, callback_url)
        actions.append("re-pointed")
    detail = ""
    if not hook.is_enabled:
        hook = api.enable(hook.id)
        if hook.is_enabled:
            actions.append("re-enabled" if was != "NEW_NOT_VERIFIED" else "enabled")
        else:
            actions = ["failed"]
            detail = f"verification failed: {hook.disabled_details or hook.status}"
    return WebhookRow(
        sheet_id,
        hook.id,
        hook.status,
        ", ".join(actions) or "unchanged",
        sm_state,
        hook.callback_url,
        was_status=was,
        detail=detail,
    )


def _delete(hook: WebhookInfo, api: WebhookApi, secrets: SecretStore, *, dry_run: bool, action: str) -> WebhookRow:
    if dry_run:
        return WebhookRow(
            hook.sheet_id, hook.id, hook.status, f"would be {action}", "-", hook.callback_url, was_status=hook.status
        )
    try:
        api.delete(hook.id)
    except SmartsheetError as exc:
        return WebhookRow(hook.sheet_id, hook.id, hook.status, "failed", "-", hook.callback_url, detail=str(exc))
    secrets.delete(hook.id)
    return WebhookRow(hook.sheet_id, hook.id, "DELETED", action, "deleted", hook.callback_url, was_status=hook.status)


def webhook_health(
    sheet_ids: Iterable[int],
    api: WebhookApi,
    secrets: SecretStore,
    notifier: Notifier,
    *,
    callback_url: str | None = None,
) -> SyncReport:
    """For the periodic scan: alert on webhooks not ENABLED, repair them; `.recovered` needs reconciling.

    Stale webhooks are left alone here (that is `webhooks sync`'s decision); missing ones are
    created when a callback URL is known (argument, or WEBHOOK_URL), else alerted only.
    """
    if callback_url is None:
        import os

        callback_url = os.environ.get(res.WEBHOOK_URL_ENV) or None
    return sync_webhooks(sheet_ids, api, secrets, callback_url=callback_url, delete_stale=False, notifier=notifier)


@dataclass
class RotationRow:
    sheet_id: int | None
    webhook_id: int
    rotated: bool
    detail: str = ""


def rotate_secrets(
    api: WebhookApi,
    secrets: SecretStore,
    *,
    sheet_ids: Iterable[int] | None = None,
    webhook_ids: Iterable[int] | None = None,
    between: Callable[[int], None] | None = None,
) -> list[RotationRow]:
    """Reset the shared secret of each of our webhooks (all, or those named) with no refusal window.

    Per webhook: mark the stored secret "rotation pending", reset it at Smartsheet, store the new
    secret (the old one stays valid for the grace period).  `between(webhook_id)` runs after the
    reset and before the store (tests use it to deliver callbacks in that moment).
    """
    sheets = set(sheet_ids) if sheet_ids is not None else None
    ids = set(webhook_ids) if webhook_ids is not None else None
    rows: list[RotationRow] = []
    for hook in api.list():
        if (
            not is_ours(hook)
            or (sheets is not None and hook.sheet_id not in sheets)
            or (ids is not None and hook.id not in ids)
        ):
            continue
        try:
            if secrets.read(hook.id) is None:
                if not hook.shared_secret:
                    rows.append(RotationRow(hook.sheet_id, hook.id, False, "no stored secret: run webhooks sync"))
                    continue
                secrets.store_current(hook.id, hook.shared_secret)
            secrets.mark_pending(hook.id)
            try:
                new = api.reset_secret(hook.id)
            except SmartsheetError as exc:
                current = secrets.read(hook.id)
                if current is not None:
                    secrets.store_current(hook.id, current.current)  # clears the pending marker
                rows.append(RotationRow(hook.sheet_id, hook.id, False, str(exc)))
                continue
            if between is not None:
                between(hook.id)
            secrets.store_current(hook.id, new)
        except SmartsheetError as exc:
            rows.append(RotationRow(hook.sheet_id, hook.id, False, str(exc)))
            continue
        rows.append(RotationRow(hook.sheet_id, hook.id, True))
    return rows
