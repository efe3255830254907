"""Weekly retraining: EventBridge Scheduler → a new anomaly model from the last weeks' stored events."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing_audit import resources as res
from billing_audit.config import AuditConfig
from billing_audit.model_wiring import retrain_stores
from billing_audit.pipeline.retrain import TooFewEvents, retrain
from billing_audit.settings import RetrainSettings, load
from billing_audit.store.interfaces import EventStore
from billing_audit.store.models import ModelStore
from billing_audit.wiring import audit_config

logger = Logger(service=res.SERVICE_NAME)
tracer = Tracer(service=res.SERVICE_NAME)
metrics = Metrics(namespace=res.METRICS_NAMESPACE, service=res.SERVICE_NAME)

Runtime = tuple[AuditConfig, RetrainSettings, EventStore, ModelStore]
_configured: Runtime | None = None


@cache
def _runtime() -> Runtime:
    settings = load(RetrainSettings)
    config = audit_config(settings)
    events, models = retrain_stores(config, settings)
    return config, settings, events, models


def configure(runtime: Runtime | None) -> None:
    """Use these stores instead of the environment's (local runs and tests); None goes back."""
    global _configured
    _configured = runtime


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config, settings, events, models = _configured if _configured is not None else _runtime()
    try:
        result = retrain(config, events, models, datetime.now(UTC), settings.window_days)
    except TooFewEvents as exc:
        # Not a failure: the previous model (or the rules alone) keeps scoring until there is data.
        logger.warning("no model trained", extra={"reason": str(exc)})
        return {"trained": False, "reason": str(exc)}
    metrics.add_metric(name=res.METRIC_MODEL_TRAINED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=res.METRIC_MODEL_TRAINING_EVENTS, unit=MetricUnit.Count, value=result.events)
    summary = {"trained": True, "version": result.version, "key": result.key, "events": result.events}
    logger.info("model trained", extra={**summary, "metrics": result.metrics})
    return summary
