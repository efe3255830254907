"""Builds AuditDeps from validated settings: physical names from the environment, the token from Secrets Manager."""

from __future__ import annotations

from datetime import datetime

import boto3
from aws_lambda_powertools.utilities import parameters

from billing_audit import resources as res
from billing_audit.budget import Priority
from billing_audit.clock import Clock, Sleeper, system_clock, system_sleep
from billing_audit.config import AuditConfig, parse_config, read_document, with_overrides
from billing_audit.domain.backup import Retention
from billing_audit.domain.pseudonym import Pseudonymizer
from billing_audit.pipeline.access_review import AccessReviewDeps
from billing_audit.pipeline.backup import BackupDeps
from billing_audit.pipeline.compliance import ComplianceDeps, Status, backup_status, trail_status
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.provenance import SaveSources
from billing_audit.pipeline.reports.build import ReportDeps
from billing_audit.pipeline.reports.links import LatestReportLinks, LinkIssuer, PresignedLinks, ShortLinks
from billing_audit.pipeline.trail import TrailDeps
from billing_audit.resources import MissingSetting
from billing_audit.settings import (
    AccessReviewSettings,
    AuditSettings,
    BackupSettings,
    ComplianceSettings,
    ConfigSettings,
    ReportSettings,
    SmartsheetSettings,
    TrailSettings,
    load,
)
from billing_audit.smartsheet.archive import SdkSheetArchive
from billing_audit.smartsheet.gateway import RequestBudget
from billing_audit.smartsheet.links import app_base
from billing_audit.smartsheet.sdk_access import SdkAccess
from billing_audit.smartsheet.sdk_client import SdkSmartsheet
from billing_audit.smartsheet.webhook_api import SmartsheetWebhooks
from billing_audit.store.access import DynamoAccessReviewStore, DynamoApprovalStore
from billing_audit.store.alert_state import DynamoAlertCooldowns, DynamoPendingAlerts
from billing_audit.store.backups import DynamoBackupProgress, S3BackupStore
from billing_audit.store.digests import KmsSigner, S3DigestStore
from billing_audit.store.dynamo import DynamoEventStore, DynamoRequestBudget, DynamoRunStore, DynamoStateStore
from billing_audit.store.event_query import DynamoEventQuery
from billing_audit.store.eventbridge import EventBridgeBus
from billing_audit.store.memory import MemoryEventBus
from billing_audit.store.metrics import CloudWatchMetrics
from billing_audit.store.parameters import ConfigParameter
from billing_audit.store.reports import DynamoLinkStore, DynamoReportLedger
from billing_audit.store.s3 import S3Blobs
from billing_audit.store.secrets import WebhookSecretStore
from billing_audit.store.sns import SnsAlertPublisher
from billing_audit.store.trail import DynamoTrail


def audit_config(settings: ConfigSettings, *, fresh: bool = False) -> AuditConfig:
    """The product configuration: the SSM parameter (cached by Powertools for its max age; `fresh`
    reads it now) with the environment's JSON over its top-level keys; either alone where only one
    is set.  What cannot be used is one ConfigError line naming where it came from."""
    overrides = read_document(settings.config_overrides) if settings.config_overrides else None
    if settings.config_parameter is None:
        if overrides is None:
            raise res.MissingSetting(f"no configuration: set {res.CONFIG_PARAMETER_ENV} or {res.CONFIG_ENV}")
        return parse_config(overrides)
    parameter = ConfigParameter(settings.config_parameter, max_age=settings.config_max_age_seconds)
    document = parameter.document(fresh=fresh)
    if overrides is None:
        return parse_config(document, parameter.source)
    return with_overrides(document, overrides, f"{parameter.source} with {res.CONFIG_ENV} over it")


def smartsheet_token(settings: SmartsheetSettings, *, fresh: bool = False) -> str:
    """The token itself where it is set (local runs); else from its Secrets Manager secret, cached
    by Powertools.  `fresh` skips the cache: after a 401, the secret may have been rotated."""
    if settings.access_token is not None:
        return usable_token(settings.access_token.get_secret_value(), res.SMARTSHEET_TOKEN_ENV)
    if not settings.token_secret:
        raise MissingSetting(
            f"no Smartsheet token: set {res.SMARTSHEET_TOKEN_ENV} or {res.SMARTSHEET_TOKEN_SECRET_ENV}"
        )
    secret = parameters.get_secret(settings.token_secret, max_age=res.SECRET_CACHE_SECONDS, force_fetch=fresh)
    return usable_token(str(secret), f"secret {settings.token_secret}")


def usable_token(token: str, source: str) -> str:
    """The token without the spaces and line ends a paste leaves around it.  One that still holds
    a character no HTTP header carries is refused here, naming only where it came from: sent, the
    HTTP library's error would quote the whole header, token and all, into a log."""
    token = token.strip()
    if not token or not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise MissingSetting(f"the Smartsheet token in {source} is empty or holds spaces or control characters")
    return token


def sdk_smartsheet(
    settings: SmartsheetSettings,
    api_base: str | None = None,
    *,
    budget: RequestBudget | None = None,
    priority: Priority = Priority.SCAN,
    sleep: Sleeper = system_sleep,
) -> SdkSmartsheet:
    """The SDK adapter for these settings; a refused token is re-read once from its secret."""
    return SdkSmartsheet(
        token=smartsheet_token(settings),
        api_base=api_base or settings.api_base,
        renew_token=lambda: smartsheet_token(settings, fresh=True),
        budget=budget,
        priority=priority,
        sleep=sleep,
    )


def request_budget(state_table: str, clock: Clock = system_clock) -> DynamoRequestBudget:
    """The Smartsheet token's shared allowance, kept in the state table."""
    return DynamoRequestBudget(boto3.resource("dynamodb").Table(state_table), clock)


def state_store(state_table: str) -> DynamoStateStore:
    return DynamoStateStore(boto3.resource("dynamodb").Table(state_table))


def event_store(config: AuditConfig, events_table: str, clock: Clock = system_clock) -> DynamoEventStore:
    return DynamoEventStore(
        boto3.resource("dynamodb").Table(events_table), retention_days=config.retention_days, clock=clock
    )


def trail_log(config: AuditConfig, state_table: str, events_table: str) -> DynamoTrail:
    """The trail's log in the state table, over the events it covers."""
    dynamodb = boto3.resource("dynamodb")
    return DynamoTrail(dynamodb.Table(state_table), dynamodb.Table(events_table), config.retention_days)


def aws_dependencies(
    config: AuditConfig,
    settings: AuditSettings | None = None,
    *,
    smartsheet: SdkSmartsheet | None = None,
    clock: Clock = system_clock,
    sleep: Sleeper = system_sleep,
    priority: Priority = Priority.SCAN,
) -> AuditDeps:
    """The production adapters.  Every Smartsheet request is paced by the token's shared budget
    (scan work at `Priority.SCAN` yields to callbacks at `Priority.REALTIME`).  Where the product is
    deployed (a webhook URL is set) the deps also carry the webhooks API and their secrets, so the
    scheduled scan can keep the webhooks healthy."""
    settings = settings if settings is not None else load(AuditSettings)
    dynamodb = boto3.resource("dynamodb")
    topic = SnsAlertPublisher(boto3.client("sns"), settings.alerts_topic_arn)
    sdk = (
        smartsheet
        if smartsheet is not None
        else sdk_smartsheet(
            settings, budget=request_budget(settings.state_table, clock), priority=priority, sleep=sleep
        )
    )
    deployed = settings.webhook_url is not None
    return AuditDeps(
        smartsheet=sdk,
        webhooks=SmartsheetWebhooks(sdk) if deployed else None,
        webhook_secrets=(
            WebhookSecretStore(boto3.client("secretsmanager"), prefix=settings.secret_prefix, clock=clock)
            if deployed
            else None
        ),
        events=event_store(config, settings.events_table, clock),
        state=DynamoStateStore(dynamodb.Table(settings.state_table)),
        runs=DynamoRunStore(dynamodb.Table(settings.state_table)),
        alerts=topic,
        notifier=topic,
        clock=clock,
        cooldowns=DynamoAlertCooldowns(dynamodb.Table(settings.state_table)),
        pending_alerts=DynamoPendingAlerts(dynamodb.Table(settings.state_table)),
        bus=EventBridgeBus(boto3.client("events"), settings.event_bus_name)
        if settings.event_bus_name
        else MemoryEventBus(),
        smartsheet_app_url=app_base(settings.api_base),
        # Alerts link the latest report while its links live, each through a short link issued for
        # it: the ledger (in the state table) keeps no link.
        report_links=LatestReportLinks(
            DynamoReportLedger(dynamodb.Table(settings.state_table)),
            ShortLinks(DynamoLinkStore(dynamodb.Table(settings.state_table)), settings.report_link_base_url),
            clock,
        )
        if settings.report_link_base_url
        else None,
        trail=trail_log(config, settings.state_table, settings.events_table),
        approvals=DynamoApprovalStore(dynamodb.Table(settings.state_table), config.retention_days),
        # Source and IP of each change from Event Reporting, only where it is configured.
        sources=SaveSources(SdkAccess(sdk), sdk.users, config.event_reporting, clock)
        if config.event_reporting.enabled
        else None,
    )


def access_review_dependencies(
    config: AuditConfig,
    settings: AccessReviewSettings,
    *,
    smartsheet: SdkSmartsheet | None = None,
    clock: Clock = system_clock,
    sleep: Sleeper = system_sleep,
) -> AccessReviewDeps:
    """What an access review reads and writes in AWS; Event Reporting only where configured."""
    dynamodb = boto3.resource("dynamodb")
    state = dynamodb.Table(settings.state_table)
    sdk = (
        smartsheet
        if smartsheet is not None
        else sdk_smartsheet(
            settings, budget=request_budget(settings.state_table, clock), priority=Priority.SCAN, sleep=sleep
        )
    )
    access = SdkAccess(sdk)
    return AccessReviewDeps(
        smartsheet=sdk,
        sharing=access,
        events=event_store(config, settings.events_table, clock),
        approvals=DynamoApprovalStore(state, config.retention_days),
        state=DynamoStateStore(state),
        alerts=SnsAlertPublisher(boto3.client("sns"), settings.alerts_topic_arn),
        reviews=DynamoAccessReviewStore(state, config.retention_days),
        clock=clock,
        event_reporting=access if config.event_reporting.enabled else None,
    )


def trail_dependencies(settings: TrailSettings, *, clock: Clock = system_clock) -> TrailDeps:
    """The trail in AWS: the log and events (DynamoDB), digests (S3), the signing key (KMS), and the
    pseudonymisation key (Secrets Manager), read only when an export asks for it."""
    dynamodb = boto3.resource("dynamodb")
    state, events = dynamodb.Table(settings.state_table), dynamodb.Table(settings.events_table)

    def pseudonym_key() -> bytes:
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=settings.pseudonym_key_secret)
        return str(secret["SecretString"]).encode()

    return TrailDeps(
        trail=DynamoTrail(state, events),
        digests=S3DigestStore(boto3.client("s3"), settings.digests_bucket, state),
        signer=KmsSigner(boto3.client("kms"), settings.signing_key_id),
        query=DynamoEventQuery(events),
        clock=clock,
        pseudonym_key=pseudonym_key,
    )


def scan_run_metrics(since: datetime, until: datetime) -> dict[str, list[float]]:
    """Per scan run: its duration, Smartsheet calls and backlog, from the product's CloudWatch metrics."""
    names = {
        res.METRIC_SCAN_DURATION: "duration_seconds",
        res.METRIC_SMARTSHEET_API_CALLS: "api_calls",
        res.METRIC_SCAN_BACKLOG_ROWS: "backlog_rows",
    }
    series = CloudWatchMetrics(boto3.client("cloudwatch")).per_minute(list(names), since, until)
    return {label: series[name] for name, label in names.items()}


def compliance_dependencies(
    config: AuditConfig, settings: ComplianceSettings, *, check_trail: bool = True, pseudonymize: bool = False
) -> ComplianceDeps:
    """What a compliance report reads; its trail and backup checks build their own deps when run, so a
    place without those settings reports them as not checked rather than failing."""
    state = boto3.resource("dynamodb").Table(settings.state_table)

    def trail() -> Status:
        return trail_status(trail_dependencies(load(TrailSettings)))

    def backups() -> Status:
        backup = load(BackupSettings)
        return backup_status(S3BackupStore(boto3.client("s3"), backup.backups_bucket, backup.lock_mode))

    return ComplianceDeps(
        events=event_store(config, settings.events_table),
        approvals=DynamoApprovalStore(state),
        reviews=DynamoAccessReviewStore(state),
        trail_check=trail if check_trail else None,
        backup_check=backups,
        pseudonyms=pseudonymizer(settings.pseudonym_key_secret) if pseudonymize else None,
    )


def pseudonymizer(secret_name: str) -> Pseudonymizer:
    """The keyed pseudonymizer whose key is this Secrets Manager secret (cached by Powertools)."""
    return Pseudonymizer(str(parameters.get_secret(secret_name, max_age=res.SECRET_CACHE_SECONDS)))


def report_dependencies(settings: ReportSettings, *, clock: Clock = system_clock) -> ReportDeps:
    """What a report reads and writes in AWS; links are short links where a link service is deployed."""
    dynamodb = boto3.resource("dynamodb")
    state = dynamodb.Table(settings.state_table)
    blobs = S3Blobs.signing(settings.reports_bucket)
    links: LinkIssuer = (
        ShortLinks(DynamoLinkStore(state), settings.link_base_url)
        if settings.link_base_url
        else PresignedLinks(blobs, clock)
    )
    return ReportDeps(
        events=DynamoEventStore(dynamodb.Table(settings.events_table), clock=clock),
        state=DynamoStateStore(state),
        runs=DynamoRunStore(state),
        blobs=blobs,
        ledger=DynamoReportLedger(state),
        links=links,
        app_base=app_base(settings.api_base),
        metrics=CloudWatchMetrics(boto3.client("cloudwatch")),
        clock=clock,
        access_reviews=DynamoAccessReviewStore(state),
        pseudonyms=pseudonymizer(settings.pseudonym_key_secret) if settings.pseudonym_key_secret else None,
    )


def backup_dependencies(
    settings: BackupSettings,
    *,
    smartsheet: SdkSmartsheet | None = None,
    clock: Clock = system_clock,
    sleep: Sleeper = system_sleep,
) -> BackupDeps:
    """What a backup, a check of backups or a restore reads and writes: the token paced by the shared
    budget at scan priority (callbacks first), the backup bucket, the run's progress."""
    sdk = (
        smartsheet
        if smartsheet is not None
        else sdk_smartsheet(
            settings, budget=request_budget(settings.state_table, clock), priority=Priority.SCAN, sleep=sleep
        )
    )
    return BackupDeps(
        archive=SdkSheetArchive(sdk),
        gateway=sdk,
        store=S3BackupStore(boto3.client("s3"), settings.backups_bucket, settings.lock_mode),
        progress=DynamoBackupProgress(boto3.resource("dynamodb").Table(settings.state_table)),
        clock=clock,
        retention=Retention(daily_days=settings.daily_days, monthly_months=settings.monthly_months),
    )
