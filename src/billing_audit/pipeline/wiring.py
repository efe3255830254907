"""Builds AuditDeps from validated settings: physical names from the environment, the token from Secrets Manager."""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities import parameters

from billing_audit import resources as res
from billing_audit.clock import Clock, system_clock
from billing_audit.config import AuditConfig
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import resolve_sheet_ids
from billing_audit.pipeline.webhook_alerts import webhook_check_failed
from billing_audit.pipeline.webhook_sync import SyncReport, webhook_health
from billing_audit.resources import MissingSetting
from billing_audit.settings import AuditSettings, SmartsheetSettings, load
from billing_audit.smartsheet.gateway import SmartsheetGateway
from billing_audit.smartsheet.sdk_client import SdkSmartsheet
from billing_audit.smartsheet.webhook_api import SmartsheetWebhooks
from billing_audit.store.dynamo import DynamoEventStore, DynamoStateStore
from billing_audit.store.secrets import WebhookSecretStore
from billing_audit.store.sns import SnsAlertPublisher

TOKEN_MAX_AGE_SECONDS = 300


def smartsheet_token(settings: SmartsheetSettings, *, fresh: bool = False) -> str:
    """The token itself where it is set (local runs); else from its Secrets Manager secret, cached
    by Powertools.  `fresh` skips the cache: after a 401, the secret may have been rotated."""
    if settings.access_token is not None:
        return settings.access_token.get_secret_value()
    if not settings.token_secret:
        raise MissingSetting(
            f"no Smartsheet token: set {res.SMARTSHEET_TOKEN_ENV} or {res.SMARTSHEET_TOKEN_SECRET_ENV}"
        )
    return str(parameters.get_secret(settings.token_secret, max_age=TOKEN_MAX_AGE_SECONDS, force_fetch=fresh))


def sdk_smartsheet(settings: SmartsheetSettings, api_base: str | None = None) -> SdkSmartsheet:
    """The SDK adapter for these settings; a refused token is re-read once from its secret."""
    return SdkSmartsheet(
        token=smartsheet_token(settings),
        api_base=api_base or settings.api_base,
        renew_token=lambda: smartsheet_token(settings, fresh=True),
    )


def aws_dependencies(
    config: AuditConfig,
    settings: AuditSettings | None = None,
    *,
    smartsheet: SmartsheetGateway | None = None,
    clock: Clock = system_clock,
) -> AuditDeps:
    settings = settings if settings is not None else load(AuditSettings)
    dynamodb = boto3.resource("dynamodb")
    topic = SnsAlertPublisher(boto3.client("sns"), settings.alerts_topic_arn)
    return AuditDeps(
        smartsheet=smartsheet if smartsheet is not None else sdk_smartsheet(settings),
        events=DynamoEventStore(
            dynamodb.Table(settings.events_table), retention_days=config.retention_days, clock=clock
        ),
        state=DynamoStateStore(dynamodb.Table(settings.state_table)),
        alerts=topic,
        notifier=topic,
        clock=clock,
    )


def webhook_upkeep(config: AuditConfig, deps: AuditDeps, settings: AuditSettings | None = None) -> SyncReport | None:
    """Before a scheduled scan: alert on webhooks that are not ENABLED and re-enable them.

    Only where the product is deployed (WEBHOOK_URL names its endpoint) and Smartsheet is reached
    through the SDK. The scan that follows reconciles whatever the disabled webhooks did not
    deliver: it reads every change since its last snapshot, whichever path saw it first.
    """
    settings = settings if settings is not None else load(AuditSettings)
    if not settings.webhook_url or not isinstance(deps.smartsheet, SdkSmartsheet):
        return None
    try:
        return webhook_health(
            resolve_sheet_ids(config, deps.smartsheet),
            SmartsheetWebhooks(deps.smartsheet),
            WebhookSecretStore(boto3.client("secretsmanager"), prefix=settings.secret_prefix),
            deps.notifier,
            callback_url=settings.webhook_url,
        )
    except Exception as exc:  # the scan that follows must run even when the webhook check cannot
        deps.notifier.notify(*webhook_check_failed(exc))
        return None
