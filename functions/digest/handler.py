"""Hourly digest: EventBridge Scheduler → sign the trail's log head and keep it in the Object Lock bucket."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing_audit import resources as res
from billing_audit.pipeline.trail import TrailDeps, seal
from billing_audit.settings import TrailSettings, load
from billing_audit.wiring import trail_dependencies

logger = Logger(service=res.SERVICE_NAME)
tracer = Tracer(service=res.SERVICE_NAME)
metrics = Metrics(namespace=res.METRICS_NAMESPACE, service=res.SERVICE_NAME)

_configured: TrailDeps | None = None


@cache
def _deps() -> TrailDeps:
    return trail_dependencies(load(TrailSettings))


def configure(deps: TrailDeps | None) -> None:
    """Use these deps instead of the environment's (local runs and tests); None goes back."""
    global _configured
    _configured = deps


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = _configured if _configured is not None else _deps()
    digest = seal(deps.trail, deps.digests, deps.signer, deps.clock())
    metrics.add_metric(name=res.METRIC_TRAIL_DIGESTS, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=res.METRIC_TRAIL_SIZE, unit=MetricUnit.Count, value=digest.tree_size)
    summary = {"tree_size": digest.tree_size, "root_hash": digest.root_hash, "digest_time": digest.digest_time}
    logger.info("digest signed", extra=summary)
    return summary
