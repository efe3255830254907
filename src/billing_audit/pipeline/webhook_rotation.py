"""Rotating our webhooks' shared secrets with no refusal window.

The stored secret is marked "rotation pending" first, so a callback signed with the brand-new
secret waits (a few seconds at most) for it to be stored instead of being refused; the old secret
stays valid for a grace period.  Should the rotation die between the reset and the store, the
marker expires after a minute and `webhooks sync` stores the secret Smartsheet reports; callbacks
refused meanwhile (401) are retried by Smartsheet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from billing_audit.pipeline.webhook_sync import is_ours
from billing_audit.smartsheet.gateway import SmartsheetError, WebhookApi
from billing_audit.store.interfaces import SecretStore


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
