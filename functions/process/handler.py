"""SQS (queued webhook callbacks) to the audit: partial batch responses, idempotent per callback.

The logic lives in billing_audit.ingest.process (batching, status alerts) and
billing_audit.pipeline.callbacks (detection); this module owns the per-container runtime.
`configure()` lets the local worker and tests run it against the simulator's clock and gateway.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing_audit import resources as res
from billing_audit.budget import Priority
from billing_audit.config import AuditConfig
from billing_audit.ingest.process import CallbackProcessor, RecordResult
from billing_audit.ingest.queue import SqsDeadLetters
from billing_audit.model_wiring import scored_dependencies
from billing_audit.settings import ProcessSettings, load
from billing_audit.store.s3 import S3Blobs
from billing_audit.wiring import audit_config

logger = Logger(service=res.SERVICE_NAME)
tracer = Tracer(service=res.SERVICE_NAME)
metrics = Metrics(namespace=res.METRICS_NAMESPACE, service=res.SERVICE_NAME)

_processor: CallbackProcessor | None = None  # set by configure()
_built: tuple[ProcessSettings, AuditConfig, CallbackProcessor] | None = None


def _record(result: RecordResult) -> None:
    metrics.add_metric(name=res.METRIC_CALLBACKS_PROCESSED, unit=MetricUnit.Count, value=1)
    if result.status_alert:
        metrics.add_metric(name=res.METRIC_WEBHOOK_STATUS_ALERTS, unit=MetricUnit.Count, value=1)
    logger.info(
        "callback processed",
        extra={
            "webhook_id": result.webhook_id,
            "nonce": result.nonce,
            "events": result.events,
            "history_reads": result.history_reads,
            "rows_deferred": result.rows_deferred,
        },
    )
    if result.rows_deferred:
        metrics.add_metric(name=res.METRIC_CALLBACK_ROWS_DEFERRED, unit=MetricUnit.Count, value=result.rows_deferred)


def _failed(record: SQSRecord, exc: Exception) -> None:
    # The type only: an exception text may quote the callback.
    logger.warning(
        "callback failed",
        extra={
            "message_id": record.message_id,
            "receive_count": record.attributes.approximate_receive_count,
            "error": type(exc).__name__,
        },
    )


@cache
def _settings() -> ProcessSettings:
    """Read from the environment once per container."""
    return load(ProcessSettings)


def _build(settings: ProcessSettings, config: AuditConfig) -> CallbackProcessor:
    # Callbacks are real-time work: the scan yields the token's budget to them.
    deps = scored_dependencies(config, settings, priority=Priority.REALTIME)
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=boto3.client("dynamodb"))
    payloads = S3Blobs(boto3.client("s3"), settings.callback_payloads_bucket)
    return CallbackProcessor(
        config,
        deps,
        deps.notifier,
        persistence=persistence,
        payloads=payloads,
        dead_letters=SqsDeadLetters(boto3.client("sqs"), settings.callback_dlq_url),
        max_receives=settings.max_receive_count,
        on_record=_record,
        on_failure=_failed,
    )


def configure(processor: CallbackProcessor | None) -> None:
    """Use this processor instead of one built from the environment (local runs and tests)."""
    global _processor
    if processor is not None:
        processor.on_record = processor.on_record or _record
        processor.on_failure = processor.on_failure or _failed
    _processor = processor


def processor() -> CallbackProcessor:
    """The configured processor; else one for this container's settings and the configuration as it
    is now (Powertools caches the parameter for its max age, so a push reaches warm containers),
    rebuilt only when the configuration changed."""
    global _built
    if _processor is not None:
        return _processor
    settings = _settings()
    config = audit_config(settings)
    if _built is None or _built[0] != settings or _built[1] != config:
        _built = (settings, config, _build(settings, config))
    return _built[2]


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Every run reports its batch size: a run of duplicates only would otherwise publish nothing.
    metrics.add_metric(name=res.METRIC_CALLBACK_RECORDS, unit=MetricUnit.Count, value=len(event.get("Records", [])))
    response = processor().handle(event, context)
    failures = len(response.get("batchItemFailures", []))
    if failures:
        metrics.add_metric(name=res.METRIC_CALLBACKS_FAILED, unit=MetricUnit.Count, value=failures)
        logger.warning(
            "callbacks failed and will be retried", extra={"failed": failures, "records": len(event.get("Records", []))}
        )
    return response
