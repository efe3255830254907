"""Every AWS resource name and data layout, defined once.

The CDK constructs (infra/) and the local cloud (billing_audit_local) both read this module, so a
table key or index can never differ between production and the moto deployment.  Runtime code
finds the physical names through the environment variables named here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Literal

from billing_audit.errors import DependencyFailed

APP_NAME = "billing-audit"
STACK_NAME = "BillingAudit"
SERVICE_NAME = "billing-audit"
METRICS_NAMESPACE = "BillingAudit"
CHANGE_AGENT = "billing-audit"
FUNCTION_TAG = "billing-audit:function"  # on every Lambda function: its folder under functions/

KeyType = Literal["S", "N", "B"]


class MissingSetting(DependencyFailed):
    """A required environment variable is not set (a deployment or local-cloud problem)."""


def required_env(name: str) -> str:
    """The value of an environment variable the deployment must set."""
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


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
        # Windows by detection time (reports, retraining): one partition per UTC day, so a window is
        # a query per day it spans and never a scan (store/dynamo.py, DynamoEventStore.window).
        Index("by_detected_day", Key("detected_day"), Key("detected_at")),
    ),
    ttl_attribute="expires_at",
)

# Scan state: one "state" item per sheet plus the chunks of its row snapshot.  Beside it, the
# trail's log, the report ledger, approvals, access reviews and the webhook path's row memory.
# Only approvals and reviews (kept as long as the events they are evidence for) and the row memory
# (ROW_MEMORY_DAYS) carry the TTL attribute; the trail's entries and the ledger's records name an
# `expires_at` of their own that DynamoDB must not act on.
STATE_TABLE = TableSpec(
    logical_id="StateTable",
    env_var="STATE_TABLE",
    partition=Key("pk"),
    sort=Key("sk"),
    ttl_attribute="purge_at",
)

# Partitions of the state table that a function touching nothing else is held to (IAM's
# dynamodb:LeadingKeys): the trail's log and digest pointer; each short link's item.
TRAIL_PARTITION = "trail"
REPORT_LINK_PARTITION_PREFIX = "link#"

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


# The reports bucket: the demo keeps its outputs there.
REPORTS_BUCKET = BucketSpec("ReportsBucket", "REPORTS_BUCKET")
# Callbacks too large for a queue message, queued by reference (ingest/queue.py); kept as long as
# the dead-letter queue keeps a message that names one.
CALLBACK_PAYLOADS_BUCKET = BucketSpec("CallbackPayloadsBucket", "CALLBACK_PAYLOADS_BUCKET")
CALLBACK_PAYLOAD_DAYS = 15
CALLBACK_PAYLOAD_PREFIX = "callbacks/"
# Anomaly models (store/models.py): versioned keys under models/anomaly/, written by `retrain`.
MODELS_BUCKET = BucketSpec("ModelsBucket", "MODELS_BUCKET")
# Sheet backups (store/backups.py): Object Lock, versioned, kept by tier (lifecycle rules on the `tier`
# tag); the weekly export of the events table goes under exports/.
BACKUPS_BUCKET = BucketSpec("BackupsBucket", "BACKUPS_BUCKET")
EVENTS_EXPORT_PREFIX = "exports/events/"
BACKUP_LOCK_MODE_ENV = "BACKUP_LOCK_MODE"  # GOVERNANCE or COMPLIANCE: the Object Lock mode of each object
BACKUP_DAILY_DAYS_ENV = "BACKUP_DAILY_DAYS"  # how long a daily backup is locked and kept
BACKUP_MONTHLY_MONTHS_ENV = "BACKUP_MONTHLY_MONTHS"  # how long a month's first backup is locked and kept
BACKUP_MARGIN_ENV = "BACKUP_MARGIN_SECONDS"  # an invocation stops before a sheet when less time is left
BACKUP_MARGIN_DEFAULT_SECONDS = 300.0  # a 20,000-row sheet's read, workbook and upload, with room
# The backup function's timeout: Lambda's whole 15 minutes, since an invocation stops between
# sheets when it runs short (infra/constructs/backups.py).
BACKUP_TIMEOUT_SECONDS = 15 * 60
METRIC_BACKUP_SHEETS = "BackupSheets"  # count of sheets backed up by an invocation
METRIC_BACKUP_SHEETS_FAILED = "BackupSheetsFailed"  # count of sheets Smartsheet could not serve
# Signed digests of the trail (store/digests.py): Object Lock in compliance mode, kept as long as the
# events they cover (infra config `trail.digest_retention_days`), never shortened by anyone.
TRAIL_DIGESTS_BUCKET = BucketSpec("TrailDigestsBucket", "TRAIL_DIGESTS_BUCKET")
BUCKETS: tuple[BucketSpec, ...] = (
    REPORTS_BUCKET,
    CALLBACK_PAYLOADS_BUCKET,
    MODELS_BUCKET,
    BACKUPS_BUCKET,
    TRAIL_DIGESTS_BUCKET,
)

ALERTS_TOPIC_LOGICAL_ID = "AlertsTopic"
ALERTS_TOPIC_ENV = "ALERTS_TOPIC_ARN"
CALLBACK_QUEUE_LOGICAL_ID = "CallbackQueue"
CALLBACK_QUEUE_ENV = "CALLBACK_QUEUE_URL"
CALLBACK_DLQ_LOGICAL_ID = "CallbackDeadLetterQueue"

# Secrets Manager names (a per-webhook shared secret lives under the prefix + webhook id).
SMARTSHEET_TOKEN_SECRET = "billing-audit/smartsheet-token"  # noqa: S105 - a name, not a secret
SMARTSHEET_TOKEN_SECRET_ENV = "SMARTSHEET_TOKEN_SECRET"  # noqa: S105
WEBHOOK_SECRET_PREFIX = "billing-audit/webhook/"  # noqa: S105
SLACK_WEBHOOK_SECRET = "billing-audit/slack-webhook-url"  # noqa: S105

# Non-resource runtime settings.
SMARTSHEET_API_BASE_ENV = "SMARTSHEET_API_BASE"
SMARTSHEET_TOKEN_ENV = "SMARTSHEET_ACCESS_TOKEN"  # noqa: S105
CONFIG_ENV = "BILLING_AUDIT_CONFIG"
# The product configuration as deployed: one SSM parameter (infra/constructs/configuration.py
# creates it from the deployment config, `billing-audit config push` replaces its value).  Where
# CONFIG_ENV is set too, its top-level keys override the parameter's.
CONFIG_PARAMETER_ENV = "BILLING_AUDIT_CONFIG_PARAMETER"
CONFIG_PARAMETER_NAME = "/billing-audit/config"
CONFIG_MAX_AGE_ENV = "BILLING_AUDIT_CONFIG_MAX_AGE"
# How long a read of the parameter is cached (Powertools Parameters): a push reaches warm
# functions within this.
CONFIG_CACHE_SECONDS = 300
# SSM's limits on a parameter's value: 4 KB in the standard tier, 8 KB in the advanced tier.
CONFIG_STANDARD_TIER_BYTES = 4096
CONFIG_MAX_BYTES = 8192

SNAPSHOT_CHUNK_BYTES = 300_000  # stays well under DynamoDB's 400 KB item limit
# How long a secret read from Secrets Manager is cached (Powertools Parameters): a rotation
# reaches warm containers within this, and sooner where a refusal forces a fresh read.
SECRET_CACHE_SECONDS = 300

# One Smartsheet request's time, and the Lambda timeouts derived from it.  The SDK adapter
# (smartsheet/sdk_client.py) takes its defaults from here and infra/ sizes the functions from here,
# so neither can change without the other.
SMARTSHEET_REQUEST_TIMEOUT_SECONDS = 20.0  # one HTTP attempt; a timed-out attempt fails the request
SMARTSHEET_RETRY_ATTEMPTS = 6  # retries of one request answered 4001, 4002 or 4004
SMARTSHEET_RETRY_BUDGET_SECONDS = 150.0  # what one request may spend waiting between those retries
# The longest one request may take: every attempt to its timeout and the whole backoff budget.
# Rate limits (4003) are not in it: a rate-limited request waits a minute at a time, never failing
# (sdk_client.ExponentialBackoff), so no timeout covers them; a callback batch that runs out of
# time comes back after the queue's visibility timeout, its finished callbacks not redone.
SMARTSHEET_REQUEST_MAX_SECONDS = (
    SMARTSHEET_RETRY_BUDGET_SECONDS + (SMARTSHEET_RETRY_ATTEMPTS + 1) * SMARTSHEET_REQUEST_TIMEOUT_SECONDS
)
# The processing function's timeout: its longest request plus the rest of a batch's work.
PROCESS_WORK_SECONDS = 60
PROCESS_TIMEOUT_SECONDS = math.ceil(SMARTSHEET_REQUEST_MAX_SECONDS + PROCESS_WORK_SECONDS)
# A violation's alert is claimed just before it is published and recorded as sent just after
# (pipeline/alerting.py).  A claim still unrecorded this long after (longer than any Lambda
# invocation lives) belongs to a run that died in between: a later run takes it over and alerts it.
ALERT_CLAIM_LEASE_SECONDS = 900
# The webhook path's memory of a row (its latest values seen) expires this long after it was last
# written.  A scan's snapshot supersedes it at every scan, so the memory only matters until the next
# scan; without it a later callback reads the row's history (reads, not events, are what it costs).
ROW_MEMORY_DAYS = 90
# A scan drain stops this long before its invocation's time runs out: the row in hand (a few paced
# history reads) and one request at its longest must still fit.
SCAN_MARGIN_DEFAULT_SECONDS = math.ceil(SMARTSHEET_REQUEST_MAX_SECONDS + PROCESS_WORK_SECONDS)

# --- Added for the CDK application (infra/) and the moto deployment (billing_audit_local.deploy) ---
CALLBACK_DLQ_ENV = "CALLBACK_DLQ_URL"
SCHEDULER_DLQ_ENV = "SCHEDULER_DLQ_URL"
WEBHOOK_SECRET_PREFIX_ENV = "WEBHOOK_SECRET_PREFIX"  # noqa: S105 - an env var name
SLACK_WEBHOOK_SECRET_ENV = "SLACK_WEBHOOK_SECRET"  # noqa: S105
WEBHOOK_URL_ENV = "WEBHOOK_URL"  # the public POST /webhook address, for `billing-audit webhooks sync`
WEBHOOK_MAX_BODY_ENV = "WEBHOOK_MAX_BODY_BYTES"  # the webhook function refuses larger bodies (400)
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
# A scan run's backlog (pipeline/scan_run.py), reported by every invocation that drains it.
METRIC_SCAN_BACKLOG_ROWS = "ScanBacklogRows"  # rows still to replay
METRIC_SCAN_BACKLOG_READS = "ScanBacklogHistoryReads"  # cell-history reads they still need
METRIC_SCAN_BACKLOG_AGE = "ScanBacklogAgeSeconds"  # since the oldest open backlog was read (0 when none)
METRIC_SCAN_DRAIN_ESTIMATE = "ScanDrainEstimateSeconds"  # the reads left at the history limit
METRIC_SCAN_HISTORY_READS_PER_MINUTE = "ScanHistoryReadsPerMinute"  # this invocation's pace
METRIC_SCAN_SHEETS_FAILED = "ScanSheetsFailed"  # sheets Smartsheet could not serve in a scan step
SCAN_MARGIN_ENV = "SCAN_MARGIN_SECONDS"  # an invocation stops draining this long before its timeout

# --- Added for webhook ingest (functions/webhook, functions/process, `billing-audit webhooks`) ---
WEBHOOK_NAME_PREFIX = "billing-audit:"  # our webhooks are named WEBHOOK_NAME_PREFIX + sheet id
# The largest callback body accepted: what a Lambda proxy request can carry (6 MB with its envelope).
# A body larger than one queue message goes to S3 and is queued by reference (ingest/queue.py).
WEBHOOK_DEFAULT_MAX_BODY_BYTES = 5_242_880
SQS_MAX_MESSAGE_BYTES = 262_144  # SQS's limit counts the body and the message attributes
API_GATEWAY_MAX_BODY_BYTES = 10_485_760  # API Gateway's own payload limit (answers 413 above it)
WEBHOOK_SECRET_MAX_AGE_ENV = "WEBHOOK_SECRET_MAX_AGE_SECONDS"  # noqa: S105 - Parameters cache age
WEBHOOK_ROTATION_WAIT_ENV = "WEBHOOK_ROTATION_WAIT_SECONDS"  # how long a callback waits out a rotation
CALLBACK_MAX_RECEIVE_COUNT_ENV = "CALLBACK_MAX_RECEIVE_COUNT"  # the queue's maxReceiveCount, told to process
CALLBACK_MAX_RECEIVE_COUNT = 5  # SQS receives before a callback goes to the DLQ (infra's default)
METRIC_CALLBACKS_ACCEPTED = "WebhookCallbacksAccepted"  # count of callbacks queued
METRIC_CALLBACKS_DUPLICATE = "WebhookCallbacksDuplicate"  # count of replayed nonces answered 200, not queued
METRIC_WEBHOOK_CHALLENGES = "WebhookChallengesAnswered"  # count of verification challenges answered
METRIC_WEBHOOK_REFUSED = "WebhookRequestsRefused"  # count of 400/403/409 answers (bad body, unknown webhook)
METRIC_WEBHOOK_FAILED = "WebhookRequestsFailed"  # count of 5xx answers (Secrets Manager, SQS or DynamoDB down)
METRIC_CALLBACK_RECORDS = "WebhookCallbackRecords"  # count of SQS records each processing run received
METRIC_CALLBACKS_PROCESSED = "WebhookCallbacksProcessed"  # count of queued callbacks processed
METRIC_CALLBACKS_FAILED = "WebhookCallbacksFailed"  # count of queued callbacks that failed (retried)
METRIC_WEBHOOK_STATUS_ALERTS = "WebhookStatusAlerts"  # count of newWebhookStatus alerts raised
METRIC_CALLBACK_ROWS_DEFERRED = "WebhookRowsDeferred"  # rows the webhook path left to the scan

# --- Added for reports (functions/report, functions/report_link, `billing-audit report`) ---
EVENTS_BY_SHEET_INDEX = "by_sheet_time"
EVENTS_BY_DETECTED_DAY_INDEX = "by_detected_day"
REPORT_LINK_BASE_ENV = "REPORT_LINK_BASE_URL"  # where short links are served: <api>/prod/r/
REPORT_LINK_DAYS_ENV = "REPORT_LINK_DAYS"  # how long a report's links live
REPORT_LINK_DEFAULT_DAYS = 7
# A click is answered with a URL presigned for this long: enough to start the download, short
# enough that a forwarded redirect target is useless soon after.
REPORT_LINK_REDIRECT_SECONDS = 300
REPORT_PREFIX = "reports/"  # every report's objects live under this prefix of the reports bucket
METRIC_REPORTS_BUILT = "ReportsBuilt"  # count of reports written
METRIC_REPORT_EVENTS = "ReportEvents"  # events a report covered

# --- Added for alerts (pipeline/alerting.py, the event bus) ---
EVENT_BUS_LOGICAL_ID = "AuditEventBus"
EVENT_BUS_NAME = "billing-audit-events"
EVENT_BUS_ENV = "EVENT_BUS_NAME"
EVENT_SOURCE = "billing-audit"  # the `source` of every event the product puts on its bus


def event_detail_type(event_type: str) -> str:
    """The bus's detail-type of one event type: `Billing Audit post_close_change`."""
    return f"Billing Audit {event_type}"


# --- Added for risk scoring (functions/retrain, the anomaly model, `billing-audit retrain`) ---
EVENTS_BY_USER_INDEX = "by_user"  # a person's events by change time: bursts and reverts are judged on it
RETRAIN_WINDOW_DAYS_ENV = "RETRAIN_WINDOW_DAYS"  # how many days of stored events a retraining reads
RETRAIN_WINDOW_DEFAULT_DAYS = 28
METRIC_MODEL_UNAVAILABLE = "AnomalyModelUnavailable"  # count: scoring fell back to the rules alone
METRIC_MODEL_TRAINED = "AnomalyModelTrained"  # count of models saved by retraining
METRIC_MODEL_TRAINING_EVENTS = "AnomalyModelTrainingEvents"  # events a retraining learned from

# --- Added for the trail (domain/trail.py, store/trail.py, functions/digest, `billing-audit verify`) ---
TRAIL_SIGNING_KEY_ENV = "TRAIL_SIGNING_KEY_ID"  # the KMS asymmetric key (ECC_NIST_P256) that signs digests
TRAIL_SIGNING_KEY_ALIAS = "alias/billing-audit-trail"
TRAIL_DIGEST_RETENTION_DEFAULT_DAYS = 2557  # 7 years: as long as the events may be kept
# The pseudonymisation key (domain/pseudonym.py) for exports and reports that leave the product.
PSEUDONYM_KEY_SECRET = "billing-audit/pseudonym-key"  # noqa: S105 - a name, not a secret
PSEUDONYM_KEY_SECRET_ENV = "PSEUDONYM_KEY_SECRET"  # noqa: S105
METRIC_TRAIL_SIZE = "TrailSize"  # leaves in the log when a digest is written
METRIC_TRAIL_DIGESTS = "TrailDigestsWritten"  # count of digests signed and kept

# --- Added for the access review (functions/access_review, `billing-audit access-review`) ---
METRIC_ACCESS_FINDINGS = "AccessReviewFindings"  # count of findings of one review
