"""Builds AuditDeps from the environment: physical names from env vars, the token from Secrets Manager."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import boto3

from billing_audit import resources as res
from billing_audit.config import AuditConfig
from billing_audit.pipeline.deps import AuditDeps, wall_clock
from billing_audit.resources import required_env
from billing_audit.smartsheet.gateway import SmartsheetError, SmartsheetGateway
from billing_audit.store.dynamo import DynamoEventStore, DynamoStateStore
from billing_audit.store.interfaces import Notifier
from billing_audit.store.sns import SnsAlertPublisher

if TYPE_CHECKING:
    from billing_audit.pipeline.webhook_admin import SyncReport


def smartsheet_token(*, fresh: bool = False) -> str:
    """From SMARTSHEET_ACCESS_TOKEN locally; from Secrets Manager (cached by Powertools) in AWS.

    `fresh` skips the cache: after a 401, the secret may have been rotated.
    """
    token = os.environ.get(res.SMARTSHEET_TOKEN_ENV)
    if token:
        return token
    secret_name = os.environ.get(res.SMARTSHEET_TOKEN_SECRET_ENV)
    if not secret_name:
        raise SmartsheetError(
            f"no Smartsheet token: set {res.SMARTSHEET_TOKEN_ENV} or {res.SMARTSHEET_TOKEN_SECRET_ENV}"
        )
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(secret_name, max_age=300, force_fetch=fresh))


def default_smartsheet() -> SmartsheetGateway:
    from billing_audit.smartsheet.sdk_client import SdkSmartsheet

    return SdkSmartsheet(token=smartsheet_token(), renew_token=lambda: smartsheet_token(fresh=True))


def aws_dependencies(
    config: AuditConfig,
    *,
    smartsheet: SmartsheetGateway | None = None,
    clock: Callable[[], datetime] = wall_clock,
) -> AuditDeps:
    dynamodb = boto3.resource("dynamodb")
    return AuditDeps(
        smartsheet=smartsheet if smartsheet is not None else default_smartsheet(),
        events=DynamoEventStore(
            dynamodb.Table(required_env(res.EVENTS_TABLE.env_var)), retention_days=config.retention_days
        ),
        state=DynamoStateStore(dynamodb.Table(required_env(res.STATE_TABLE.env_var))),
        alerts=SnsAlertPublisher(boto3.client("sns"), required_env(res.ALERTS_TOPIC_ENV)),
        clock=clock,
    )


def webhook_upkeep(config: AuditConfig, deps: AuditDeps) -> SyncReport | None:
    """Before a scheduled scan: alert on webhooks that are not ENABLED and re-enable them.

    Only where the product is deployed (WEBHOOK_URL names its endpoint). The scan that follows
    reconciles whatever the disabled webhooks did not deliver: it reads every change since its
    last snapshot, whichever path saw it first.
    """
    from billing_audit.pipeline.scan import resolve_sheet_ids
    from billing_audit.pipeline.webhook_admin import webhook_health
    from billing_audit.smartsheet.sdk_client import SdkSmartsheet
    from billing_audit.smartsheet.webhook_admin import SmartsheetWebhooks
    from billing_audit.store.secrets import WebhookSecretStore

    callback_url = os.environ.get(res.WEBHOOK_URL_ENV)
    if not callback_url or not isinstance(deps.smartsheet, SdkSmartsheet) or not isinstance(deps.alerts, Notifier):
        return None
    try:
        return webhook_health(
            resolve_sheet_ids(config, deps.smartsheet),
            SmartsheetWebhooks(deps.smartsheet),
            WebhookSecretStore(boto3.client("secretsmanager")),
            deps.alerts,
            callback_url=callback_url,
        )
    except Exception as exc:  # the scan that follows must run even when the webhook check cannot
        deps.alerts.notify(
            "webhook check failed", f"The scheduled webhook check failed ({type(exc).__name__}); the scan still ran."
        )
        return None
