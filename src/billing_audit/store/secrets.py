"""Webhook shared secrets in Secrets Manager: their stored format, the reader and the writer.

One secret per webhook, named `WEBHOOK_SECRET_PREFIX + webhook id`, holding JSON:

    {"current": "...", "previous": "..." | null, "previous_until": ISO | null,
     "pending_since": ISO | null}

- `current` is what Smartsheet signs with.  A plain (non-JSON) string is read as `current`.
- `previous` is the secret before the last rotation, accepted until `previous_until`, so a callback
  signed just before a reset (or retried with its first signature) is not refused.
- `pending_since` marks a rotation in progress: Smartsheet may already sign with a secret that is
  not stored yet.  The webhook function then waits a few seconds for it instead of refusing.

The presence of a webhook's secret is also what makes it "managed": challenges for a webhook id
without a secret are refused (403).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from billing_audit import resources as res
from billing_audit.clock import Clock, system_clock

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

PREVIOUS_GRACE = timedelta(hours=24)  # how long the secret before a rotation stays valid
PENDING_WINDOW = timedelta(seconds=60)  # a rotation marker older than this is ignored


class WebhookSecret(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    current: str
    previous: str | None = None
    previous_until: AwareDatetime | None = None
    pending_since: AwareDatetime | None = None

    def candidates(self, now: datetime) -> list[str]:
        """The secrets a valid callback may be signed with right now, newest first."""
        found = [self.current]
        if self.previous and (self.previous_until is None or now <= self.previous_until):
            found.append(self.previous)
        return found

    def rotation_pending(self, now: datetime) -> bool:
        return self.pending_since is not None and now - self.pending_since <= PENDING_WINDOW

    def dump(self) -> str:
        return self.model_dump_json()

    def __repr__(self) -> str:  # never print secret material
        return f"WebhookSecret(pending_since={self.pending_since!r})"

    __str__ = __repr__


class SecretFormatError(ValueError):
    """A stored secret is neither our JSON nor a plain string (message carries no secret)."""


def parse_secret(text: str) -> WebhookSecret:
    stripped = text.strip()
    if not stripped:
        raise SecretFormatError("the webhook secret is empty")
    if stripped.startswith("{"):
        try:
            return WebhookSecret.model_validate(json.loads(stripped))
        except (json.JSONDecodeError, ValidationError):
            raise SecretFormatError("the webhook secret is not the expected JSON document") from None
    return WebhookSecret(current=stripped)


def secret_name(webhook_id: int, prefix: str = res.WEBHOOK_SECRET_PREFIX) -> str:
    return f"{prefix}{webhook_id}"


class SecretUnavailable(RuntimeError):
    """Secrets Manager did not answer (throttled, denied, down): the caller should answer 5xx."""


def _not_found(exc: BaseException) -> bool:
    """Whether a (Powertools-wrapped) Secrets Manager error means the secret does not exist."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return True
        seen = seen.__cause__ or seen.__context__
    return "ResourceNotFoundException" in str(exc)


class SecretsManagerSecrets:
    """The webhook function's reader: Powertools Parameters (cached `max_age`, `fresh` forces a fetch).

    An id found to have no secret is remembered for a few seconds: anyone can post a made-up
    webhook id, and each must not cost Secrets Manager reads (Powertools caches only hits).  For
    the same reason forced reads of one id are rationed: a wrong signature asks for one (the
    secret may have just been rotated), and anyone who knows a webhook id can send wrong signatures.
    Each id may force `FORCED_BURST` reads at once and one more a second after that; past the
    allowance `fresh` is served from the cache the last read filled, so a flood of wrong signatures
    costs one read a second per container, while a rotation right after a few of them is still seen.
    """

    MISSING_SECONDS = 10.0
    REMEMBERED_IDS = 10_000  # ids each table below holds at most: made-up ids must not grow memory
    FORCED_BURST = 5.0
    FORCED_PER_SECOND = 1.0

    def __init__(
        self,
        provider: SecretsProvider,
        *,
        prefix: str = res.WEBHOOK_SECRET_PREFIX,
        max_age: int = res.SECRET_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.prefix = prefix
        self.max_age = max_age
        self.monotonic = monotonic
        self._missing_until: dict[int, float] = {}
        self._forced: dict[int, tuple[float, float]] = {}  # id -> (allowance, when last counted)

    def _may_force(self, webhook_id: int, now: float) -> bool:
        """Whether a forced read of this id fits its allowance (a token bucket); counts it if so."""
        allowance, since = self._forced.get(webhook_id, (self.FORCED_BURST, now))
        allowance = min(self.FORCED_BURST, allowance + (now - since) * self.FORCED_PER_SECOND)
        if allowance < 1.0:
            self._forced[webhook_id] = (allowance, now)
            return False
        if webhook_id not in self._forced and len(self._forced) >= self.REMEMBERED_IDS:
            self._forced.clear()
        self._forced[webhook_id] = (allowance - 1.0, now)
        return True

    def get(self, webhook_id: int, *, fresh: bool = False) -> WebhookSecret | None:
        """The webhook's secret, or None when the product does not manage that webhook."""
        now = self.monotonic()
        if now < self._missing_until.get(webhook_id, 0.0):
            return None
        if fresh and not self._may_force(webhook_id, now):
            fresh = False
        try:
            value: Any = self.provider.get(
                secret_name(webhook_id, self.prefix), max_age=self.max_age, force_fetch=fresh
            )
        except GetParameterError as exc:
            if _not_found(exc):
                if len(self._missing_until) >= self.REMEMBERED_IDS:
                    self._missing_until.clear()
                self._missing_until[webhook_id] = now + self.MISSING_SECONDS
                return None
            raise SecretUnavailable(f"cannot read the secret of webhook {webhook_id}") from None
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        return parse_secret(str(value))


class WebhookSecretStore:
    """The admin side (`billing-audit webhooks ...`): reads and writes secrets with boto3."""

    def __init__(
        self,
        client: SecretsManagerClient,
        *,
        prefix: str = res.WEBHOOK_SECRET_PREFIX,
        clock: Clock = system_clock,
        grace: timedelta = PREVIOUS_GRACE,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.clock = clock
        self.grace = grace

    def name(self, webhook_id: int) -> str:
        return secret_name(webhook_id, self.prefix)

    def read(self, webhook_id: int) -> WebhookSecret | None:
        try:
            answer = self.client.get_secret_value(SecretId=self.name(webhook_id))
        except self.client.exceptions.ResourceNotFoundException:
            return None
        return parse_secret(answer.get("SecretString") or "")

    def _write(self, webhook_id: int, value: WebhookSecret, *, exists: bool) -> None:
        name = self.name(webhook_id)
        if exists:
            self.client.put_secret_value(SecretId=name, SecretString=value.dump())
            return
        try:
            self.client.create_secret(
                Name=name,
                SecretString=value.dump(),
                Description=f"Smartsheet shared secret of webhook {webhook_id} (billing-audit)",
                Tags=[{"Key": "app", "Value": res.APP_NAME}],
            )
        except self.client.exceptions.ResourceExistsException:
            self.client.put_secret_value(SecretId=name, SecretString=value.dump())

    def store_current(self, webhook_id: int, secret: str) -> bool:
        """Make `secret` the current one (the old current stays valid for the grace period).

        Returns whether anything changed.  Clears a pending-rotation marker.
        """
        existing = self.read(webhook_id)
        if existing is not None and existing.current == secret and existing.pending_since is None:
            return False
        if existing is None:
            value = WebhookSecret(current=secret)
        elif existing.current == secret:
            value = existing.model_copy(update={"pending_since": None})
        else:
            value = WebhookSecret(current=secret, previous=existing.current, previous_until=self.clock() + self.grace)
        self._write(webhook_id, value, exists=existing is not None)
        return True

    def mark_pending(self, webhook_id: int) -> None:
        """Announce a rotation: callbacks signed with a not-yet-stored secret wait for it."""
        existing = self.read(webhook_id)
        if existing is None:
            raise SecretFormatError(f"webhook {webhook_id} has no stored secret to rotate")
        self._write(webhook_id, existing.model_copy(update={"pending_since": self.clock()}), exists=True)

    def delete(self, webhook_id: int) -> None:
        try:
            # Webhook ids are never reused, so nothing is gained by a recovery window.
            self.client.delete_secret(SecretId=self.name(webhook_id), ForceDeleteWithoutRecovery=True)
        except self.client.exceptions.ResourceNotFoundException:
            return

    def stored_ids(self) -> list[int]:
        """Webhook ids that have a secret under the prefix."""
        ids: list[int] = []
        paginator = self.client.get_paginator("list_secrets")
        for page in paginator.paginate(Filters=[{"Key": "name", "Values": [self.prefix]}]):
            for entry in page.get("SecretList", []):
                tail = str(entry.get("Name", ""))[len(self.prefix) :]
                if str(entry.get("Name", "")).startswith(self.prefix) and tail.isdigit():
                    ids.append(int(tail))
        return sorted(ids)
