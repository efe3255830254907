"""POST /webhook (API Gateway REST proxy): Smartsheet challenges and signed callbacks, queued for `process`.

The request logic lives in billing_audit.ingest.request; this module parses the event, shapes the
response, and owns the per-container clients (built lazily on first use).  Its import graph stays
light: no Smartsheet SDK, no scan pipeline, no openpyxl/scikit-learn/pandas, and no Powertools
event handler: one route (API Gateway sends only POST /webhook here) needs no router, and the
router's package (every resolver, asyncio) doubled this function's cold import.  The event is read
through Powertools' API Gateway data class.

No X-Ray SDK either (Powertools' Tracer loads it and patches botocore as it is built): importing it
cost this function as much as boto3 did.  The function still runs with active tracing, so API
Gateway's and Lambda's own segments time every request, its cold start included; what it gives up
is a subsegment per DynamoDB and SQS call, which the `process` function, where the audit's time
goes, keeps.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing_audit import resources as res
from billing_audit.ingest.queue import SqsCallbackSink
from billing_audit.ingest.request import IngestResult, Outcome, WebhookIngest
from billing_audit.settings import WebhookSettings, load
from billing_audit.store.s3 import S3Blobs
from billing_audit.store.secrets import SecretsManagerSecrets

logger = Logger(service=res.SERVICE_NAME)
metrics = Metrics(namespace=res.METRICS_NAMESPACE, service=res.SERVICE_NAME)

_ingest: WebhookIngest | None = None
_sink: SqsCallbackSink | None = None

_METRIC_FOR = {
    Outcome.CHALLENGE_ANSWERED: res.METRIC_WEBHOOK_CHALLENGES,
    Outcome.ACCEPTED: res.METRIC_CALLBACKS_ACCEPTED,
    Outcome.DUPLICATE: res.METRIC_CALLBACKS_DUPLICATE,
    Outcome.SIGNATURE_MISSING: res.METRIC_REJECTED_SIGNATURES,
    Outcome.SIGNATURE_INVALID: res.METRIC_REJECTED_SIGNATURES,
    Outcome.UNKNOWN_WEBHOOK: res.METRIC_WEBHOOK_REFUSED,
    Outcome.MALFORMED: res.METRIC_WEBHOOK_REFUSED,
    Outcome.TOO_LARGE: res.METRIC_WEBHOOK_REFUSED,
    Outcome.IN_PROGRESS: res.METRIC_WEBHOOK_REFUSED,
    Outcome.UNAVAILABLE: res.METRIC_WEBHOOK_FAILED,
}


def ingest() -> WebhookIngest:
    """The container's clients, built on the first request."""
    global _ingest, _sink
    if _ingest is None:
        settings = load(WebhookSettings)
        persistence = DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=boto3.client("dynamodb")
        )
        payloads = S3Blobs(boto3.client("s3"), settings.callback_payloads_bucket)
        _sink = SqsCallbackSink(boto3.client("sqs"), settings.callback_queue_url, persistence, payloads)
        secrets = SecretsManagerSecrets(
            SecretsProvider(boto3_client=boto3.client("secretsmanager")),
            prefix=settings.secret_prefix,
            max_age=settings.secret_max_age_seconds,
        )
        _ingest = WebhookIngest(
            secrets,
            _sink,
            max_body_bytes=settings.max_body_bytes,
            rotation_wait_seconds=settings.rotation_wait_seconds,
        )
    return _ingest


def _record(result: IngestResult) -> None:
    metric = _METRIC_FOR.get(result.outcome)
    if metric is not None:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    fields = {
        "outcome": result.outcome.value,
        "status": result.status_code,
        "webhook_id": result.webhook_id,
        "nonce": result.nonce,
        "detail": result.detail,
    }
    if result.status_code >= 500:
        logger.error("webhook request failed", extra=fields)
    elif result.rejected_signature:
        logger.warning("webhook signature rejected", extra=fields)
    elif result.status_code >= 400:
        logger.warning("webhook request refused", extra=fields)
    else:
        logger.info("webhook request handled", extra=fields)


def _response(status_code: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway proxy response with a JSON body."""
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def webhook(event: APIGatewayProxyEvent, context: LambdaContext | None) -> dict[str, Any]:
    runtime = ingest()
    if _sink is not None and context is not None:
        _sink.register_lambda_context(context)
    result = runtime.handle(event.body, bool(event.is_base64_encoded), dict(event.headers or {}))
    _record(result)
    return _response(result.status_code, result.body, result.headers)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return webhook(APIGatewayProxyEvent(event), context)
    except Exception as exc:
        # Never the body or the exception text (it could quote the body); Smartsheet retries a 500.
        metrics.add_metric(name=res.METRIC_WEBHOOK_FAILED, unit=MetricUnit.Count, value=1)
        logger.error("webhook request crashed", extra={"error": type(exc).__name__})
        return _response(500, {"message": "Try again"})
