"""Smartsheet webhook callbacks: their payload shapes and the signature over the raw body."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

SIGNATURE_HEADER = "Smartsheet-Hmac-SHA256"
CHALLENGE_HEADER = "Smartsheet-Hook-Challenge"
CHALLENGE_RESPONSE_HEADER = "Smartsheet-Hook-Response"

# The spec spells the callback's webhook id `webhookId`; some senders write `webhookid`.
WEBHOOK_ID_FIELDS = ("webhookId", "webhookid")


class CallbackEvent(BaseModel):
    """One event of a callback. The spec spells `rowid`/`userid` where Smartsheet's samples say `rowId`."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    object_type: str = Field(validation_alias=AliasChoices("objectType", "objecttype"))
    event_type: str = Field(validation_alias=AliasChoices("eventType", "eventtype"))
    id: int | None = None
    row_id: int | None = Field(default=None, validation_alias=AliasChoices("rowId", "rowid"))
    column_id: int | None = Field(default=None, validation_alias=AliasChoices("columnId", "columnid"))
    user_id: int | None = Field(default=None, validation_alias=AliasChoices("userId", "userid"))
    timestamp: datetime
    change_agent: str | None = Field(default=None, validation_alias=AliasChoices("changeAgent", "changeagent"))


class WebhookCallback(BaseModel):
    """A callback body; a verification challenge has `challenge` and no events."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    nonce: str | None = None
    timestamp: datetime | None = None
    webhook_id: int = Field(validation_alias=AliasChoices(*WEBHOOK_ID_FIELDS))
    scope: Literal["sheet"] | None = None
    scope_object_id: int | None = Field(default=None, validation_alias=AliasChoices("scopeObjectId", "scopeobjectid"))
    events: list[CallbackEvent] = Field(default_factory=list)
    new_webhook_status: str | None = Field(
        default=None, validation_alias=AliasChoices("newWebhookStatus", "newwebhookstatus")
    )
    challenge: str | None = None


# Smartsheet's ids are positive 64-bit integers; anything else names no webhook (and would make a
# secret name Secrets Manager refuses: a 5xx, where a stranger's body deserves a 400).
MAX_WEBHOOK_ID = 2**63 - 1


def webhook_id_of(payload: Mapping[str, Any]) -> int | None:
    """The webhook id of a raw (not yet validated) callback body, or None if it has no id Smartsheet
    could have given (a positive 64-bit integer, or its ASCII digits)."""
    value = next((payload[name] for name in WEBHOOK_ID_FIELDS if name in payload), None)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_WEBHOOK_ID else None


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of the hex HMAC-SHA256 of the raw body bytes."""
    if not signature:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII text, and a forged header must be a 401.
    given = signature.strip().lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(sign(secret, body).encode("ascii"), given)
