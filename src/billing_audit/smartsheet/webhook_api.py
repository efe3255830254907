"""The webhooks API over smartsheet-python-sdk: list, create, enable, re-point, delete, reset secret.

Every call goes through `SdkSmartsheet.call`, so it is counted by endpoint and its failures come
back as one-line `SmartsheetError`s.  Enabling is synchronous at Smartsheet: it sends the
verification challenge to the callback URL before the PUT returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import smartsheet

from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.models import WebhookInfo
from billing_audit.smartsheet.sdk_client import SdkSmartsheet


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def to_info(hook: Any) -> WebhookInfo:
    stats = getattr(hook, "stats", None)
    last_success = getattr(stats, "last_successful_callback", None) if stats is not None else None
    return WebhookInfo(
        id=int(hook.id),
        name=str(hook.name or ""),
        callback_url=str(hook.callback_url or ""),
        sheet_id=int(hook.scope_object_id) if hook.scope_object_id is not None else None,
        enabled=bool(hook.enabled),
        status=str(hook.status or ""),
        shared_secret=_text(hook.shared_secret),
        disabled_details=_text(hook.disabled_details),
        last_success=last_success if isinstance(last_success, datetime) else None,
    )


class SmartsheetWebhooks:
    """The `WebhookApi` of pipeline.webhook_sync over the SDK client of an `SdkSmartsheet`."""

    def __init__(self, sdk: SdkSmartsheet) -> None:
        self.sdk = sdk
        self.api = sdk.client.Webhooks

    def list(self) -> list[WebhookInfo]:
        """Every webhook, newest first: by `lastKey` cursor, or by page until a page comes back short
        (`totalPages` is -1 since 2025-08-04); the SDK's `list_webhooks` takes no cursor."""
        return [to_info(smartsheet.models.Webhook(hook)) for hook in self.sdk.list_all("GET /webhooks", "/webhooks")]

    def get(self, webhook_id: int) -> WebhookInfo:
        return to_info(self.sdk.call("GET /webhooks/{webhookId}", self.api.get_webhook, webhook_id))

    def create(self, *, name: str, callback_url: str, sheet_id: int) -> WebhookInfo:
        spec = smartsheet.models.Webhook(
            {
                "name": name,
                "callbackUrl": callback_url,
                "scope": "sheet",
                "scopeObjectId": sheet_id,
                "events": ["*.*"],
                "version": 1,
            }
        )
        result = self.sdk.call("POST /webhooks", self.api.create_webhook, spec)
        return to_info(result.result)

    def _update(self, webhook_id: int, changes: dict[str, Any]) -> WebhookInfo:
        result = self.sdk.call(
            "PUT /webhooks/{webhookId}", self.api.update_webhook, webhook_id, smartsheet.models.Webhook(changes)
        )
        if result.result is None:
            return self.get(webhook_id)
        return to_info(result.result)

    def enable(self, webhook_id: int) -> WebhookInfo:
        """Smartsheet verifies the callback URL before answering; the answer tells whether it passed."""
        return self._update(webhook_id, {"enabled": True})

    def set_callback_url(self, webhook_id: int, callback_url: str) -> WebhookInfo:
        return self._update(webhook_id, {"callbackUrl": callback_url})

    def delete(self, webhook_id: int) -> None:
        self.sdk.call("DELETE /webhooks/{webhookId}", self.api.delete_webhook, webhook_id)

    def reset_secret(self, webhook_id: int) -> str:
        result = self.sdk.call("POST /webhooks/{webhookId}/resetsharedsecret", self.api.reset_shared_secret, webhook_id)
        secret = getattr(result.result, "shared_secret", None)
        if not secret:
            raise SmartsheetError(f"Smartsheet reset the secret of webhook {webhook_id} but returned none")
        return str(secret)
