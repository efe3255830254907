"""What each function reads from its environment, validated once (pydantic).

One model per consumer; a handler builds its model once per container (`load`) and passes it
down, so no module parses `os.environ` on its own.  Variable names come from `resources`, which
the CDK code uses to set them.  A missing or malformed variable is a deployment problem: `load`
names it in one line (`MissingSetting`), and never prints a value (tokens are `SecretStr`).

Plain pydantic models validated from the environment's mapping, by alias: every setting is one
scalar variable, which is all pydantic-settings did for us here, and importing it (its providers
for every cloud's secret store among them) was a fifth of the webhook function's cold start.
"""

from __future__ import annotations

import os
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from billing_audit import resources as res
from billing_audit.resources import MissingSetting

DEFAULT_ROTATION_WAIT_SECONDS = 3.0


class _FromEnvironment(BaseModel):
    # Names are the variables' own, case and all; the rest of the environment is not ours to read.
    # Each validator is built when its model is first loaded: a function loads one of these models,
    # and building all of them on import cost the webhook's cold start another tenth.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


class SmartsheetSettings(_FromEnvironment):
    """How to reach Smartsheet: the token itself (local runs) or the secret that holds it (AWS)."""

    access_token: SecretStr | None = Field(None, alias=res.SMARTSHEET_TOKEN_ENV)
    token_secret: str | None = Field(None, alias=res.SMARTSHEET_TOKEN_SECRET_ENV)
    api_base: str = Field("us", alias=res.SMARTSHEET_API_BASE_ENV)


class WebhookSecretSettings(_FromEnvironment):
    """Where the per-webhook shared secrets live, and how long a read of one is cached."""

    secret_prefix: str = Field(res.WEBHOOK_SECRET_PREFIX, alias=res.WEBHOOK_SECRET_PREFIX_ENV)
    secret_max_age_seconds: int = Field(res.SECRET_CACHE_SECONDS, ge=0, alias=res.WEBHOOK_SECRET_MAX_AGE_ENV)


class ConfigSettings(_FromEnvironment):
    """Where the product configuration is: the SSM parameter (deployed), JSON in the environment
    (local runs; beside the parameter, overrides of its top-level keys), or both."""

    config_parameter: str | None = Field(None, alias=res.CONFIG_PARAMETER_ENV)
    config_overrides: str | None = Field(None, alias=res.CONFIG_ENV)  # a document, or a file's path
    config_max_age_seconds: int = Field(res.CONFIG_CACHE_SECONDS, ge=0, alias=res.CONFIG_MAX_AGE_ENV)


class AuditSettings(SmartsheetSettings, WebhookSecretSettings, ConfigSettings):
    """An audit run (the scan, callback processing, `billing-audit scan`): stores, topic, token."""

    events_table: str = Field(alias=res.EVENTS_TABLE.env_var)
    state_table: str = Field(alias=res.STATE_TABLE.env_var)
    alerts_topic_arn: str = Field(alias=res.ALERTS_TOPIC_ENV)
    # Where the product is deployed: the scan keeps the webhooks pointed here (absent locally).
    webhook_url: str | None = Field(None, alias=res.WEBHOOK_URL_ENV)
    # A drain stops this long before the invocation's time runs out: the slowest row (its histories
    # paced at Smartsheet's limit) must fit in it.
    scan_margin_seconds: float = Field(res.SCAN_MARGIN_DEFAULT_SECONDS, ge=0, alias=res.SCAN_MARGIN_ENV)
    # Where the anomaly models are (absent: the rules alone score).
    models_bucket: str | None = Field(None, alias=res.MODELS_BUCKET.env_var)
    # The product's event bus, which every stored violation is put on (absent: none is).
    event_bus_name: str | None = Field(None, alias=res.EVENT_BUS_ENV)
    # Where short links are served: alerts link the latest report through a link issued for them
    # (absent: alerts carry no report link).
    report_link_base_url: str | None = Field(None, alias=res.REPORT_LINK_BASE_ENV)


class RetrainSettings(ConfigSettings):
    """The retraining function: the configuration, read the events table, write the models bucket."""

    events_table: str = Field(alias=res.EVENTS_TABLE.env_var)
    models_bucket: str = Field(alias=res.MODELS_BUCKET.env_var)
    window_days: int = Field(res.RETRAIN_WINDOW_DEFAULT_DAYS, ge=1, alias=res.RETRAIN_WINDOW_DAYS_ENV)


class AccessReviewSettings(SmartsheetSettings, ConfigSettings):
    """functions/access_review and `billing-audit access-review`: reads shares, users, approvals and
    events; stores the result in the state table; alerts one digest."""

    events_table: str = Field(alias=res.EVENTS_TABLE.env_var)
    state_table: str = Field(alias=res.STATE_TABLE.env_var)
    alerts_topic_arn: str = Field(alias=res.ALERTS_TOPIC_ENV)


class BackupSettings(SmartsheetSettings, ConfigSettings):
    """functions/backup and `billing-audit backup|restore`: the token, the state table (the token's
    budget and the run's progress), the backup bucket and how long backups are kept."""

    state_table: str = Field(alias=res.STATE_TABLE.env_var)
    backups_bucket: str = Field(alias=res.BACKUPS_BUCKET.env_var)
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field("GOVERNANCE", alias=res.BACKUP_LOCK_MODE_ENV)
    daily_days: int = Field(30, ge=1, alias=res.BACKUP_DAILY_DAYS_ENV)
    monthly_months: int = Field(12, ge=0, alias=res.BACKUP_MONTHLY_MONTHS_ENV)
    margin_seconds: float = Field(res.BACKUP_MARGIN_DEFAULT_SECONDS, ge=0, alias=res.BACKUP_MARGIN_ENV)


class ProcessSettings(AuditSettings):
    idempotency_table: str = Field(alias=res.IDEMPOTENCY_TABLE.env_var)
    callback_payloads_bucket: str = Field(alias=res.CALLBACK_PAYLOADS_BUCKET.env_var)
    callback_dlq_url: str = Field(alias=res.CALLBACK_DLQ_ENV)
    max_receive_count: int = Field(res.CALLBACK_MAX_RECEIVE_COUNT, ge=1, alias=res.CALLBACK_MAX_RECEIVE_COUNT_ENV)


class WebhookSettings(WebhookSecretSettings):
    """The webhook function: no Smartsheet token, no audit stores, only the queue and its guards."""

    idempotency_table: str = Field(alias=res.IDEMPOTENCY_TABLE.env_var)
    callback_queue_url: str = Field(alias=res.CALLBACK_QUEUE_ENV)
    callback_payloads_bucket: str = Field(alias=res.CALLBACK_PAYLOADS_BUCKET.env_var)
    max_body_bytes: int = Field(res.WEBHOOK_DEFAULT_MAX_BODY_BYTES, gt=0, alias=res.WEBHOOK_MAX_BODY_ENV)
    rotation_wait_seconds: float = Field(DEFAULT_ROTATION_WAIT_SECONDS, ge=0, alias=res.WEBHOOK_ROTATION_WAIT_ENV)


class NotifierSettings(_FromEnvironment):
    slack_webhook_secret: str = Field(alias=res.SLACK_WEBHOOK_SECRET_ENV)


class WebhookAdminSettings(SmartsheetSettings, WebhookSecretSettings):
    """`billing-audit webhooks ...`: Smartsheet, the secrets, and the endpoint to point webhooks at."""

    webhook_url: str | None = Field(None, alias=res.WEBHOOK_URL_ENV)
    # Where the token's shared budget lives; without it (no deployment at hand) requests are unpaced.
    state_table: str | None = Field(None, alias=res.STATE_TABLE.env_var)


class ReportLinkSettings(_FromEnvironment):
    """The report-link function: the links it resolves and the bucket it signs downloads from."""

    state_table: str = Field(alias=res.STATE_TABLE.env_var)
    reports_bucket: str = Field(alias=res.REPORTS_BUCKET.env_var)


class ReportSettings(ReportLinkSettings, ConfigSettings):
    """The report function and `billing-audit report`: the configuration, the events, the state, the
    bucket, the links."""

    events_table: str = Field(alias=res.EVENTS_TABLE.env_var)
    # Where short links are served (`GET /r/{token}` on the product's API); absent, links are presigned
    # directly and live no longer than the credentials that signed them.
    link_base_url: str | None = Field(None, alias=res.REPORT_LINK_BASE_ENV)
    link_days: int = Field(res.REPORT_LINK_DEFAULT_DAYS, ge=1, le=366, alias=res.REPORT_LINK_DAYS_ENV)
    api_base: str = Field("us", alias=res.SMARTSHEET_API_BASE_ENV)  # for links to rows in Smartsheet
    # Where set, reports show keyed pseudonyms instead of people's emails (the key: this secret).
    pseudonym_key_secret: str | None = Field(None, alias=res.PSEUDONYM_KEY_SECRET_ENV)


class ComplianceSettings(ConfigSettings):
    """`billing-audit compliance-report`: the events and the state table (approvals, access reviews);
    the trail and backup checks read their own settings where they are set."""

    events_table: str = Field(alias=res.EVENTS_TABLE.env_var)
    state_table: str = Field(alias=res.STATE_TABLE.env_var)
    pseudonym_key_secret: str = Field(res.PSEUDONYM_KEY_SECRET, alias=res.PSEUDONYM_KEY_SECRET_ENV)


class TrailSettings(_FromEnvironment):
    """The digest function and the trail commands (`verify`, `prove`, `events`, `stats`): the log, the
    events it covers, the digests' bucket and the signing key."""

    events_table: str = Field(alias=res.EVENTS_TABLE.env_var)
    state_table: str = Field(alias=res.STATE_TABLE.env_var)
    digests_bucket: str = Field(alias=res.TRAIL_DIGESTS_BUCKET.env_var)
    signing_key_id: str = Field(alias=res.TRAIL_SIGNING_KEY_ENV)
    pseudonym_key_secret: str = Field(res.PSEUDONYM_KEY_SECRET, alias=res.PSEUDONYM_KEY_SECRET_ENV)


SettingsT = TypeVar("SettingsT", bound=_FromEnvironment)


def load(model: type[SettingsT]) -> SettingsT:
    """The model read from the environment now; one line naming each bad variable, never its value."""
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            problems.append(
                f"environment variable {name} is not set"
                if error["type"] == "missing"
                else f"environment variable {name}: {error['msg']}"
            )
        raise MissingSetting("; ".join(problems)) from None
