"""Deployment configuration: sheets, schedules, business time zone, recipients, retention, thresholds.

The `audit` section is the product's own configuration model (billing_audit.config.AuditConfig),
reused here so the deployment cannot hand the functions a configuration they would refuse.

Loaded, in this order, from
  1. the JSON file named by the CDK context key ``config_file`` (default ``infra/config.json`` when
     that file exists; a relative path is taken from the repository root),
  2. the CDK context key ``config`` (a JSON object, or a string holding one), merged over the file
     key by key (one level deep),
and validated with pydantic, so a typo fails the synth instead of reaching AWS.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from billing_audit.config import AuditConfig
from billing_audit.store.parameters import check_size, parameter_value

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = REPO_ROOT / "infra" / "config.json"
CONFIG_CONTEXT_KEY = "config"
CONFIG_FILE_CONTEXT_KEY = "config_file"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip

_SCHEDULE_EXPRESSION = re.compile(r"^(cron\([^()]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Smartsheet's regions, as the SDK adapter names them (billing_audit.smartsheet.sdk_client.API_BASES).
API_REGIONS = ("us", "eu", "gov")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Keys of features that are not built, so not deployed (README, "Unfinished"): a configuration that
# still sets one is refused with that reason rather than a bare "extra input".
NOT_BUILT_SCHEDULES: tuple[str, ...] = ()
# Keys of an earlier backups design: backups are configured under `backups` now.
MOVED_RETENTION = (
    "backups_lock_days",
    "backups_lock_mode",
    "backups_infrequent_access_days",
    "backups_glacier_days",
    "backups_expire_days",
)


def _refuse_not_built(values: Any, keys: tuple[str, ...], section: str) -> Any:
    named = sorted(set(values) & set(keys)) if isinstance(values, dict) else []
    if named:
        raise ValueError(
            f"{section}: {', '.join(named)}: that feature is not built, so nothing of it is deployed "
            "(README, Unfinished); remove the key"
        )
    return values


class Schedules(_Strict):
    """EventBridge Scheduler schedules, evaluated in the business time zone.

    Each schedule has its expression (`<name>`) and its own switch (`<name>_enabled`); `enabled`
    switches every schedule off at once.  A schedule runs when both are on.  One switched off is
    still deployed, in the DISABLED state: switching it back on changes that one property, and its
    role, target and dead-letter queue stay as they are.
    """

    enabled: bool = True  # the global switch: off stops every schedule, whatever its own switch says
    scan: str = "cron(0 0/4 ? * MON-FRI *)"
    scan_enabled: bool = True
    # Reports (functions/report): the day's at 07:00 and the week's on Monday at 07:30, business time.
    report_daily: str = "cron(0 7 * * ? *)"
    report_daily_enabled: bool = True
    report_weekly: str = "cron(30 7 ? * MON *)"
    report_weekly_enabled: bool = True
    # The anomaly model (functions/retrain): a new one from the last weeks' events, Sunday 03:00.
    retrain: str = "cron(0 3 ? * SUN *)"
    retrain_enabled: bool = True
    # The access review (functions/access_review): monthly, on the 1st at 06:00 business time.
    access_review: str = "cron(0 6 1 * ? *)"
    access_review_enabled: bool = True
    # Sheet backups (functions/backup): hourly from 01:00 to 04:00; the first goes through the
    # sheets, the later ones finish what it could not (or find the day done and stop).
    backup: str = "cron(0 1-4 * * ? *)"
    backup_enabled: bool = True
    # The events table's weekly export to the backup bucket (DynamoDB's own export), Sunday 02:00.
    events_export: str = "cron(0 2 ? * SUN *)"
    events_export_enabled: bool = True
    # The trail's digests (functions/digest): a signed digest of the log every hour.
    digest: str = "rate(1 hour)"
    digest_enabled: bool = True
    retry_attempts: int = Field(default=3, ge=0, le=185)
    max_event_age_minutes: int = Field(default=120, ge=1, le=1440)
    # Between two drains of a scan run's backlog: Smartsheet's limits are per minute.
    scan_drain_wait_seconds: int = Field(default=60, ge=1, le=3600)

    @model_validator(mode="before")
    @classmethod
    def _built_only(cls, values: Any) -> Any:
        return _refuse_not_built(values, NOT_BUILT_SCHEDULES, "schedules")

    @field_validator("scan", "report_daily", "report_weekly", "retrain", "access_review", "backup", "events_export")
    @classmethod
    def _expression(cls, value: str) -> str:
        if not _SCHEDULE_EXPRESSION.match(value):
            raise ValueError(f"not an EventBridge Scheduler cron(...) or rate(...) expression: {value!r}")
        return value

    @field_validator("digest")
    @classmethod
    def _digest_expression(cls, value: str) -> str:
        if not _SCHEDULE_EXPRESSION.match(value):
            raise ValueError(f"not an EventBridge Scheduler cron(...) or rate(...) expression: {value!r}")
        return value

    def is_enabled(self, name: str) -> bool:
        """Whether the schedule `name` runs: its own switch and the global one both on."""
        return self.enabled and bool(getattr(self, f"{name}_enabled"))


class Alerts(_Strict):
    emails: tuple[str, ...] = ()
    slack: bool = True

    @field_validator("emails", mode="before")
    @classmethod
    def _emails(cls, value: object) -> object:
        items = tuple(value) if isinstance(value, list | tuple) else value
        if isinstance(items, tuple):
            for item in items:
                if not isinstance(item, str) or not _EMAIL.match(item):
                    raise ValueError(f"not an e-mail address: {item!r}")
        return items


class Retention(_Strict):
    logs_days: int = Field(default=90, description="CloudWatch Logs retention of function and API logs")
    access_logs_days: int = Field(default=365, ge=1, description="S3 server access logs kept this long")
    reports_days: int = Field(default=365, ge=1, description="reports expire after this many days")

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, values: Any) -> Any:
        named = sorted(set(values) & set(MOVED_RETENTION)) if isinstance(values, dict) else []
        if named:
            raise ValueError(f"retention: {', '.join(named)}: backups are configured under `backups` now")
        return values

    @field_validator("logs_days")
    @classmethod
    def _log_days(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs retention must be one of {LOG_RETENTION_DAYS}")
        return value


class Backups(_Strict):
    """How long sheet backups and the events table's exports are kept (the backup bucket).

    Every backup object is locked (S3 Object Lock, `lock_mode`) for as long as it is kept: a day's
    backup `daily_days`, the first backup of each month `monthly_months` months (of 31 days).
    GOVERNANCE lets a holder of s3:BypassGovernanceRetention delete early; COMPLIANCE lets no one.
    """

    daily_days: int = Field(default=30, ge=1, le=3650, description="days a daily backup is locked and kept")
    monthly_months: int = Field(default=12, ge=0, le=120, description="months a monthly backup is kept")
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    events_export_days: int = Field(default=90, ge=1, description="days an events-table export is kept")


class Trail(_Strict):
    """The trail's digests (infra/constructs/trail.py): locked in compliance mode for this long, as
    long as the events they cover may be kept (the audit's retention_days), not the backups' tiers."""

    digest_retention_days: int = Field(default=2557, ge=1, le=36500, description="days a digest is locked and kept")


class Thresholds(_Strict):
    dlq_depth: int = Field(default=1, ge=1, description="messages in a dead-letter queue that alarm")
    function_errors: int = Field(default=1, ge=1, description="errors per function in 5 minutes")
    function_throttles: int = Field(default=1, ge=1, description="throttles per function in 5 minutes")
    rejected_signatures: int = Field(default=10, ge=1, description="bad webhook signatures in 5 minutes")
    scan_lag_minutes: int = Field(default=60, ge=1, description="scan finished this late after its slot")
    scan_backlog_age_minutes: int = Field(
        default=360, ge=1, description="a scan backlog still open this long after its run read the sheets"
    )
    api_5xx: int = Field(default=1, ge=1, description="webhook API 5xx answers in 5 minutes")
    dlq_age_hours: int = Field(
        default=24, ge=1, le=336, description="a message left this long in a dead-letter or failure queue"
    )


class Api(_Strict):
    throttle_rate: float = Field(default=20, gt=0, description="steady requests per second")
    throttle_burst: int = Field(default=40, ge=1)
    max_body_bytes: int = Field(default=262_144, ge=1024, le=10_485_760)
    waf: bool = False
    waf_rate_limit: int = Field(default=1000, ge=100, description="requests per IP per 5 minutes")
    # Source ranges allowed to call POST /webhook (an API resource policy); empty: anyone, as
    # Smartsheet publishes no fixed ranges for its webhook callbacks.  Requests from elsewhere are
    # refused by API Gateway before the function runs.
    allowed_source_cidrs: tuple[str, ...] = ()
    # Concurrency reserved for (and capping) the webhook function; None: none reserved, since a new
    # account has little concurrency to set aside (Lambda keeps 100 unreserved).
    webhook_reserved_concurrency: int | None = Field(default=None, ge=1, le=1000)

    @field_validator("allowed_source_cidrs", mode="before")
    @classmethod
    def _cidrs(cls, value: object) -> object:
        items = tuple(value) if isinstance(value, list | tuple) else value
        if isinstance(items, tuple):
            for item in items:
                try:
                    ipaddress.ip_network(str(item), strict=True)
                except ValueError as exc:
                    raise ValueError(f"not a CIDR range: {item!r} ({exc})") from None
        return items


class Smartsheet(_Strict):
    """Where the functions reach Smartsheet: `us`, `eu`, `gov`, or the https URL of an API base."""

    api_base: str = "us"

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str) -> str:
        if value.lower() in API_REGIONS:
            return value.lower()
        if not value.startswith("https://") or not value.rstrip("/").endswith("/2.0"):
            raise ValueError(f"Smartsheet api_base must be one of {sorted(API_REGIONS)} or an https URL ending in /2.0")
        return value


class Encryption(_Strict):
    # The reports bucket with a customer-managed KMS key of the data stack (rotating, retained)
    # instead of S3-managed keys.  The access-log bucket stays S3-managed: S3 server access logs
    # can only be delivered to a bucket with SSE-S3 default encryption.
    buckets_kms: bool = False


class Reports(_Strict):
    link_days: int = Field(default=7, ge=1, le=366, description="how long the links a report hands out open")
    link_throttle_rate: float = Field(default=5, gt=0, description="link clicks per second (steady)")
    link_throttle_burst: int = Field(default=20, ge=1)
    # Reports show keyed pseudonyms instead of people's emails (the key: the data stack's
    # billing-audit/pseudonym-key secret); the stored trail keeps the emails.
    pseudonymize: bool = False


class Processing(_Strict):
    batch_size: int = Field(default=10, ge=1, le=10)
    max_concurrency: int = Field(default=2, ge=2, le=1000, description="Smartsheet allows ~300 calls/min")
    max_receive_count: int = Field(default=5, ge=1)


DEFAULT_AUDIT = AuditConfig(timezone="America/Chicago", retention_days=2557)


class InfraConfig(_Strict):
    """Everything a deployment can choose.  `audit` is the product's own configuration
    (billing_audit.config.AuditConfig: sheets, time zone, policy, roster, event retention), stored
    in the SSM parameter the audit functions read (infra/constructs/configuration.py); its time zone
    is also the schedules' time zone."""

    audit: AuditConfig = DEFAULT_AUDIT
    schedules: Schedules = Schedules()
    alerts: Alerts = Alerts()
    retention: Retention = Retention()
    backups: Backups = Backups()
    trail: Trail = Trail()
    thresholds: Thresholds = Thresholds()
    api: Api = Api()
    processing: Processing = Processing()
    reports: Reports = Reports()
    smartsheet: Smartsheet = Smartsheet()
    encryption: Encryption = Encryption()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _fits_in_a_parameter(self) -> InfraConfig:
        check_size(self.audit_config_json(), "the audit configuration")
        return self

    @property
    def business_time_zone(self) -> str:
        return self.audit.timezone

    def audit_config_json(self) -> str:
        """The configuration parameter's value: the product configuration, compact JSON, as
        `billing-audit config push` writes it."""
        return parameter_value(self.audit)


def _as_mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object")
    return value


def load_config(context: dict[str, Any] | None = None) -> InfraConfig:
    """The validated configuration from a config file and/or the CDK context."""
    context = context or {}
    file_value = context.get(CONFIG_FILE_CONTEXT_KEY)
    raw: dict[str, Any] = {}
    if file_value:
        path = Path(str(file_value))
        path = path if path.is_absolute() else REPO_ROOT / path
        raw = _as_mapping(path.read_text(encoding="utf-8"), str(path))
    elif DEFAULT_CONFIG_FILE.exists():
        raw = _as_mapping(DEFAULT_CONFIG_FILE.read_text(encoding="utf-8"), str(DEFAULT_CONFIG_FILE))
    overrides = _as_mapping(context.get(CONFIG_CONTEXT_KEY), f"context {CONFIG_CONTEXT_KEY!r}")
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return InfraConfig.model_validate(raw)
