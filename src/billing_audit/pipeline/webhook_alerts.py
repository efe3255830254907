"""Every operational alert about a webhook, its subject and text composed here and nowhere else.

Sync and the scheduled upkeep send the first four; the queue worker (ingest.process) sends the
`newWebhookStatus` one.  Each is an `Alert`, handed to `Notifier.notify(*alert)`.
"""

from __future__ import annotations

from typing import NamedTuple

from billing_audit.smartsheet.models import WebhookInfo
from billing_audit.smartsheet.webhooks import WebhookCallback


class Alert(NamedTuple):
    subject: str
    text: str


def sheet_without_webhook(sheet_id: int) -> Alert:
    """A configured sheet has no webhook of ours: sync is about to create one."""
    return Alert(
        f"webhook of sheet {sheet_id} not enabled", f"Sheet {sheet_id} has no billing-audit webhook; creating one."
    )


def webhook_found_disabled(sheet_id: int, hook: WebhookInfo) -> Alert:
    """A sheet's webhook is not ENABLED: sync is about to re-enable it, and the sheet needs reconciling."""
    details = f" ({hook.disabled_details})" if hook.disabled_details else ""
    return Alert(
        f"webhook of sheet {sheet_id} not enabled",
        f"Webhook {hook.id} of sheet {sheet_id} was found {hook.status}{details}; re-enabling it through "
        "verification and reconciling the sheet, since Smartsheet never re-delivers missed changes.",
    )


def webhook_not_repaired(sheet_id: int | None, webhook_id: int | None, status: str, why: str) -> Alert:
    """After a sync, a sheet's webhook is still not ENABLED (`why`: the failure, or what was done)."""
    return Alert(
        f"webhook of sheet {sheet_id} not repaired",
        f"Webhook {webhook_id or '-'} of sheet {sheet_id} is still {status} after an attempt to repair it "
        f"({why}); changes reach the audit only through the periodic scan until it is fixed.",
    )


def webhook_check_failed(exc: BaseException) -> Alert:
    """The scheduled upkeep itself failed (the scan goes on regardless)."""
    return Alert(
        "webhook check failed", f"The scheduled webhook check failed ({type(exc).__name__}); the scan still ran."
    )


def webhook_status_changed(callback: WebhookCallback) -> Alert:
    """Smartsheet's `newWebhookStatus` callback: a webhook left ENABLED."""
    status = callback.new_webhook_status or "UNKNOWN"
    sheet = callback.scope_object_id if callback.scope_object_id is not None else "?"
    return Alert(
        f"webhook {callback.webhook_id} is {status}",
        f"Smartsheet reports webhook {callback.webhook_id} (sheet {sheet}) is now {status}. "
        "Changes to that sheet are not delivered while it is disabled; the periodic scan re-enables it "
        "through verification and reconciles what was missed.",
    )
