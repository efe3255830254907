"""Every AWS resource name and data layout, defined once.

The CDK constructs (infra/) and the local cloud (billing_audit.local) both read this module, so a
table key or index can never differ between production and the moto deployment.  Runtime code
finds the physical names through the environment variables named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

APP_NAME = "billing-audit"
STACK_NAME = "BillingAudit"
SERVICE_NAME = "billing-audit"
METRICS_NAMESPACE = "BillingAudit"
CHANGE_AGENT = "billing-audit"

KeyType = Literal["S", "N", "B"]


@dataclass(frozen=True)
class Key:
    name: str
    type: KeyType = "S"


@dataclass(frozen=True)
class Index:
    name: str
    partition: Key
    sort: Key | None = None


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    env_var: str
    partition: Key
    sort: Key | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None


# Audit events.  The partition key is the stable event id so a conditional put makes every
# writer (scan, webhook worker, retries) idempotent; the indexes serve the reads the CLI,
# reports and risk scoring make.
EVENTS_TABLE = TableSpec(
    logical_id="EventsTable",
    env_var="EVENTS_TABLE",
    partition=Key("event_id"),
    indexes=(
        Index("by_sheet_time", Key("sheet_key"), Key("changed_at")),
        Index("by_user", Key("changed_by"), Key("changed_at")),
        Index("by_risk_date", Key("risk_level"), Key("changed_at")),
        Index("by_work_request", Key("work_request"), Key("changed_at")),
    ),
    ttl_attribute="expires_at",
)

# Scan state: one "state" item per sheet plus the chunks of its row snapshot.
STATE_TABLE = TableSpec(
    logical_id="StateTable",
    env_var="STATE_TABLE",
    partition=Key("pk"),
    sort=Key("sk"),
)

# Powertools idempotency layout (its default key and TTL attribute names).
IDEMPOTENCY_TABLE = TableSpec(
    logical_id="IdempotencyTable",
    env_var="IDEMPOTENCY_TABLE",
    partition=Key("id"),
    ttl_attribute="expiration",
)

TABLES: tuple[TableSpec, ...] = (EVENTS_TABLE, STATE_TABLE, IDEMPOTENCY_TABLE)


@dataclass(frozen=True)
class BucketSpec:
    logical_id: str
    env_var: str


REPORTS_BUCKET = BucketSpec("ReportsBucket", "REPORTS_BUCKET")
BACKUPS_BUCKET = BucketSpec("BackupsBucket", "BACKUPS_BUCKET")
MODELS_BUCKET = BucketSpec("ModelsBucket", "MODELS_BUCKET")
BUCKETS: tuple[BucketSpec, ...] = (REPORTS_BUCKET, BACKUPS_BUCKET, MODELS_BUCKET)

ALERTS_TOPIC_LOGICAL_ID = "AlertsTopic"
ALERTS_TOPIC_ENV = "ALERTS_TOPIC_ARN"
CALLBACK_QUEUE_LOGICAL_ID = "CallbackQueue"
CALLBACK_QUEUE_ENV = "CALLBACK_QUEUE_URL"
CALLBACK_DLQ_LOGICAL_ID = "CallbackDeadLetterQueue"

# Secrets Manager names (a per-webhook shared secret lives under the prefix + webhook id).
SMARTSHEET_TOKEN_SECRET = "billing-audit/smartsheet-token"  # noqa: S105 - a name, not a secret
SMARTSHEET_TOKEN_SECRET_ENV = "SMARTSHEET_TOKEN_SECRET"  # noqa: S105
WEBHOOK_SECRET_PREFIX = "billing-audit/webhook/"  # noqa: S105
INTEGRITY_KEY_SECRET = "billing-audit/integrity-key"  # noqa: S105
SLACK_WEBHOOK_SECRET = "billing-audit/slack-webhook-url"  # noqa: S105

# Non-resource runtime settings.
SMARTSHEET_API_BASE_ENV = "SMARTSHEET_API_BASE"
SMARTSHEET_TOKEN_ENV = "SMARTSHEET_ACCESS_TOKEN"  # noqa: S105
CONFIG_ENV = "BILLING_AUDIT_CONFIG"

SNAPSHOT_CHUNK_BYTES = 300_000  # stays well under DynamoDB's 400 KB item limit

# --- Added for the CDK application (infra/) and the moto deployment (billing_audit.local.deploy) ---
CALLBACK_DLQ_ENV = "CALLBACK_DLQ_URL"
SCHEDULER_DLQ_ENV = "SCHEDULER_DLQ_URL"
WEBHOOK_SECRET_PREFIX_ENV = "WEBHOOK_SECRET_PREFIX"  # noqa: S105 - an env var name
INTEGRITY_KEY_SECRET_ENV = "INTEGRITY_KEY_SECRET"  # noqa: S105
SLACK_WEBHOOK_SECRET_ENV = "SLACK_WEBHOOK_SECRET"  # noqa: S105
WEBHOOK_URL_ENV = "WEBHOOK_URL"  # the public POST /webhook address, for `billing-audit webhooks sync`
WEBHOOK_MAX_BODY_ENV = "WEBHOOK_MAX_BODY_BYTES"  # the webhook function refuses larger bodies (413)
LOG_LEVEL_ENV = "POWERTOOLS_LOG_LEVEL"

# Custom CloudWatch metrics (namespace METRICS_NAMESPACE, emitted through Powertools with the
# dimension {"service": SERVICE_NAME}; Violations adds METRIC_RISK_DIMENSION).  The dashboard and
# the alarms in infra/constructs/monitoring.py read exactly these names.
METRIC_SERVICE_DIMENSION = "service"
METRIC_RISK_DIMENSION = "risk_level"
METRIC_EVENTS_RECORDED = "EventsRecorded"  # count of audit events written
METRIC_VIOLATIONS = "Violations"  # count, one dimension value per risk level
METRIC_SCAN_DURATION = "ScanDurationSeconds"  # seconds, one value per scan run
METRIC_SMARTSHEET_API_CALLS = "SmartsheetApiCalls"  # count of Smartsheet API requests made
METRIC_REJECTED_SIGNATURES = "WebhookSignatureRejected"  # count of callbacks with a bad HMAC
# Seconds between the schedule slot (the scheduler's input field "scheduled_time") and the end of
# the scan run: how far behind the audit is.
METRIC_SCAN_LAG = "ScanLagSeconds"
