"""Keeping Smartsheet's webhooks, and their shared secrets in Secrets Manager, as configured.

- `sync_webhooks`: one webhook per configured sheet (named WEBHOOK_NAME_PREFIX + sheet id), all
  events, pointed at the callback URL and ENABLED; stale ones of ours deleted; each webhook's
  current shared secret stored.  The secret is stored *before* enabling, because enabling makes
  Smartsheet send the verification challenge, which the webhook function answers only for
  webhooks that have a secret.
- `webhook_health`: the same, for the periodic scan, alerting on every webhook it finds not
  ENABLED (or missing) and returning the sheets it recovered, which the scan must reconcile
  (Smartsheet never re-delivers what happened while a webhook was disabled).

What each did is a `SyncReport`: one `WebhookRow` per webhook, its `WebhookAction`s and the
`SecretState` of its stored secret.  Rotating the secrets is `webhook_rotation`; the alert texts
are `webhook_alerts`; the CLI prints the report as a table (`cli.webhooks.render_report`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from billing_audit import resources as res
from billing_audit.config import AuditConfig
from billing_audit.pipeline import webhook_alerts as alerts
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import resolve_sheet_ids
from billing_audit.pipeline.webhook_alerts import Alert
from billing_audit.smartsheet.gateway import SmartsheetError, WebhookApi
from billing_audit.smartsheet.models import WebhookInfo, WebhookStatus
from billing_audit.store.interfaces import Notifier, SecretStore, StateStore
from billing_audit.store.secrets import WebhookSecret

# A row's status is Smartsheet's (a `WebhookStatus`, or a value Smartsheet added since), or one of ours:
MISSING = "MISSING"  # the sheet has no webhook of ours
DELETED = "DELETED"  # sync deleted it


def webhook_name(sheet_id: int) -> str:
    return f"{res.WEBHOOK_NAME_PREFIX}{sheet_id}"


def is_ours(hook: WebhookInfo) -> bool:
    return hook.name.startswith(res.WEBHOOK_NAME_PREFIX)


class WebhookAction(StrEnum):
    """What a sync did to one webhook (or, in a dry run, would do)."""

    CREATED = "created"
    ENABLED = "enabled"  # a webhook that was never verified
    RE_ENABLED = "re-enabled"
    RE_POINTED = "re-pointed"
    UNCHANGED = "unchanged"
    DELETED = "deleted"  # of a sheet no longer configured
    DUPLICATE_DELETED = "duplicate deleted"  # a second webhook of a configured sheet
    WOULD_BE_DELETED = "would be deleted"
    WOULD_BE_DUPLICATE_DELETED = "would be duplicate deleted"
    MISSING = "missing"  # dry run: the sheet has no webhook
    FAILED = "failed"

    @property
    def removes(self) -> bool:
        """The webhook is (or would be) gone: it is not one of the configured sheets' webhooks."""
        return self in _REMOVALS


_REMOVALS = frozenset(
    {
        WebhookAction.DELETED,
        WebhookAction.DUPLICATE_DELETED,
        WebhookAction.WOULD_BE_DELETED,
        WebhookAction.WOULD_BE_DUPLICATE_DELETED,
    }
)
_DRY_RUN_REMOVAL = {
    WebhookAction.DELETED: WebhookAction.WOULD_BE_DELETED,
    WebhookAction.DUPLICATE_DELETED: WebhookAction.WOULD_BE_DUPLICATE_DELETED,
}


class SecretState(StrEnum):
    """The Secrets Manager copy of a webhook's shared secret, as a sync found or left it."""

    STORED = "stored"  # stored and current (found so, or newly stored)
    UPDATED = "updated"  # replaced by the secret Smartsheet reports
    UNCHANGED = "unchanged"
    RESET = "reset"  # Smartsheet reported none: reset at Smartsheet, the new one stored
    MISSING = "missing"  # dry run: none stored
    STALE = "stale"  # dry run: differs from the one Smartsheet reports
    DELETED = "deleted"
    NOT_CHECKED = "-"


@dataclass
class WebhookRow:
    sheet_id: int | None
    webhook_id: int | None
    status: str  # Smartsheet's status, MISSING or DELETED
    actions: tuple[WebhookAction, ...]
    sm_state: SecretState
    callback_url: str = ""
    was_status: str | None = None
    detail: str = ""

    @property
    def action(self) -> str:
        """The actions as the report prints them: "re-pointed, re-enabled"."""
        return ", ".join(self.actions)

    @property
    def failed(self) -> bool:
        return WebhookAction.FAILED in self.actions

    @property
    def removed(self) -> bool:
        return any(action.removes for action in self.actions)


@dataclass
class SyncReport:
    rows: list[WebhookRow] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    def configured(self) -> list[WebhookRow]:
        return [r for r in self.rows if not r.removed]

    @property
    def ok(self) -> bool:
        return all(
            not r.failed and r.status == WebhookStatus.ENABLED and r.sm_state != SecretState.MISSING
            for r in self.configured()
        )

    @property
    def recovered(self) -> list[int]:
        """Sheets whose webhook was disabled or missing and is ENABLED now: reconcile them."""
        return [
            r.sheet_id
            for r in self.configured()
            if r.sheet_id is not None
            and r.status == WebhookStatus.ENABLED
            and r.was_status is not None
            and r.was_status != WebhookStatus.ENABLED
            and WebhookAction.CREATED not in r.actions
        ]


def _alert(notifier: Notifier | None, report: SyncReport, alert: Alert) -> None:
    if notifier is None:
        return
    notifier.notify(*alert)
    report.alerts.append(alert.text)


def _choose(candidates: Sequence[WebhookInfo]) -> tuple[WebhookInfo | None, list[WebhookInfo]]:
    """The webhook to keep for a sheet (an ENABLED one, else the newest id) and the duplicates."""
    if not candidates:
        return None, []
    ranked = sorted(candidates, key=lambda h: (h.is_enabled, h.id), reverse=True)
    return ranked[0], list(ranked[1:])


def _sm_state(hook: WebhookInfo, stored: WebhookSecret | None) -> SecretState:
    if stored is None:
        return SecretState.MISSING
    if hook.shared_secret is not None and stored.current != hook.shared_secret:
        return SecretState.STALE
    return SecretState.STORED


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
            report.rows.append(_delete(extra, api, secrets, dry_run=dry_run, action=WebhookAction.DUPLICATE_DELETED))
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
                    (WebhookAction.FAILED,),
                    SecretState.NOT_CHECKED,
                    keep.callback_url if keep else "",
                    detail=str(exc),
                )
            )
    if delete_stale:
        wanted = set(desired)
        for hook in ours:
            if hook.sheet_id not in wanted:
                report.rows.append(_delete(hook, api, secrets, dry_run=dry_run, action=WebhookAction.DELETED))
    if not dry_run:
        for row in report.configured():
            if row.status != WebhookStatus.ENABLED:
                why = row.detail or row.action
                _alert(notifier, report, alerts.webhook_not_repaired(row.sheet_id, row.webhook_id, row.status, why))
    return report


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
            return WebhookRow(
                sheet_id, None, MISSING, (WebhookAction.MISSING,), SecretState.NOT_CHECKED, was_status=MISSING
            )
        _alert(notifier, report, alerts.sheet_without_webhook(sheet_id))
        if not callback_url:
            return WebhookRow(
                sheet_id,
                None,
                MISSING,
                (WebhookAction.FAILED,),
                SecretState.NOT_CHECKED,
                was_status=MISSING,
                detail=f"no callback URL (set {res.WEBHOOK_URL_ENV})",
            )
        created = api.create(name=webhook_name(sheet_id), callback_url=callback_url, sheet_id=sheet_id)
        if created.shared_secret:
            secrets.store_current(created.id, created.shared_secret)
        else:
            secrets.store_current(created.id, api.reset_secret(created.id))
        enabled = api.enable(created.id)
        action = WebhookAction.CREATED if enabled.is_enabled else WebhookAction.FAILED
        detail = "" if enabled.is_enabled else f"verification failed: {enabled.disabled_details or enabled.status}"
        return WebhookRow(
            sheet_id,
            created.id,
            enabled.status,
            (action,),
            SecretState.STORED,
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
            (WebhookAction.UNCHANGED,),
            sm_state,
            hook.callback_url,
            was_status=was,
            detail=hook.disabled_details or "",
        )
    if not hook.is_enabled:
        _alert(notifier, report, alerts.webhook_found_disabled(sheet_id, hook))
    actions: list[WebhookAction] = []
    if sm_state != SecretState.STORED or (stored is not None and stored.pending_since is not None):
        if hook.shared_secret:
            secrets.store_current(hook.id, hook.shared_secret)
            sm_state = SecretState.UPDATED if stored is not None else SecretState.STORED
        else:
            secrets.store_current(hook.id, api.reset_secret(hook.id))
            sm_state = SecretState.RESET
    else:
        sm_state = SecretState.UNCHANGED
    if callback_url and hook.callback_url != callback_url:
        hook = api.set_callback_url(hook.id, callback_url)
        actions.append(WebhookAction.RE_POINTED)
    detail = ""
    if not hook.is_enabled:
        hook = api.enable(hook.id)
        if hook.is_enabled:
            actions.append(WebhookAction.RE_ENABLED if was != WebhookStatus.NEW_NOT_VERIFIED else WebhookAction.ENABLED)
        else:
            actions = [WebhookAction.FAILED]
            detail = f"verification failed: {hook.disabled_details or hook.status}"
    return WebhookRow(
        sheet_id,
        hook.id,
        hook.status,
        tuple(actions) or (WebhookAction.UNCHANGED,),
        sm_state,
        hook.callback_url,
        was_status=was,
        detail=detail,
    )


def _delete(
    hook: WebhookInfo, api: WebhookApi, secrets: SecretStore, *, dry_run: bool, action: WebhookAction
) -> WebhookRow:
    if dry_run:
        return WebhookRow(
            hook.sheet_id,
            hook.id,
            hook.status,
            (_DRY_RUN_REMOVAL[action],),
            SecretState.NOT_CHECKED,
            hook.callback_url,
            was_status=hook.status,
        )
    try:
        api.delete(hook.id)
    except SmartsheetError as exc:
        return WebhookRow(
            hook.sheet_id,
            hook.id,
            hook.status,
            (WebhookAction.FAILED,),
            SecretState.NOT_CHECKED,
            hook.callback_url,
            detail=str(exc),
        )
    secrets.delete(hook.id)
    return WebhookRow(
        hook.sheet_id, hook.id, DELETED, (action,), SecretState.DELETED, hook.callback_url, was_status=hook.status
    )


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
    created when a callback URL is given, else alerted only (the row says to set WEBHOOK_URL).
    """
    return sync_webhooks(sheet_ids, api, secrets, callback_url=callback_url, delete_stale=False, notifier=notifier)


_LIVE_FROM_NOW = frozenset({WebhookAction.CREATED, WebhookAction.ENABLED, WebhookAction.RE_ENABLED})


def mark_live(report: SyncReport, state: StateStore, now: datetime) -> list[int]:
    """Record since when each enabled webhook delivers every change; returns the sheets marked.

    The webhook path derives changes from a row's memory only if it was seen after this instant:
    what happened while a webhook was missing or disabled reaches no callback, only the scan.  A
    webhook found enabled with no mark yet (a deployment older than the mark) is marked from now.
    """
    marked: list[int] = []
    for row in report.configured():
        if row.status != WebhookStatus.ENABLED or row.sheet_id is None:
            continue
        if _LIVE_FROM_NOW.intersection(row.actions) or state.webhook_live_since(row.sheet_id) is None:
            state.mark_webhook_live(row.sheet_id, now)
            marked.append(row.sheet_id)
    return marked


def webhook_upkeep(config: AuditConfig, deps: AuditDeps, callback_url: str | None) -> SyncReport | None:
    """Before a scheduled scan: alert on webhooks that are not ENABLED and re-enable them.

    Only where the product is deployed (it has a callback URL and the deps carry the webhooks API).
    The scan that follows reconciles whatever the disabled webhooks did not deliver: it reads every
    change since its last snapshot, whichever path saw it first.
    """
    if not callback_url or deps.webhooks is None or deps.webhook_secrets is None:
        return None
    try:
        report = webhook_health(
            resolve_sheet_ids(config, deps.smartsheet),
            deps.webhooks,
            deps.webhook_secrets,
            deps.notifier,
            callback_url=callback_url,
        )
        mark_live(report, deps.state, deps.clock())
        return report
    except Exception as exc:  # the scan that follows must run even when the webhook check cannot
        deps.notifier.notify(*alerts.webhook_check_failed(exc))
        return None
