"""Monthly access review: EventBridge Scheduler → who can reach the audited sheets, stored and alerted."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from billing_audit import resources as res
from billing_audit.pipeline.access_review import run_access_review
from billing_audit.settings import AccessReviewSettings, load
from billing_audit.wiring import access_review_dependencies, audit_config

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=res.METRICS_NAMESPACE)


class ReviewJob(BaseModel):
    """The schedule's input: {"job": "access_review", "scheduled_time": ...}; `sheet_ids` narrows it."""

    model_config = ConfigDict(extra="ignore")

    sheet_ids: list[int] = []
    alert: bool = True


@cache
def _settings() -> AccessReviewSettings:
    return load(AccessReviewSettings)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = ReviewJob.model_validate(event.get("detail") or event or {})
    settings = _settings()
    config = audit_config(settings)  # the deployed parameter, cached by Powertools
    result = run_access_review(
        config, access_review_dependencies(config, settings), sheet_ids=job.sheet_ids or None, alert=job.alert
    )
    metrics.add_metric(name=res.METRIC_ACCESS_FINDINGS, unit=MetricUnit.Count, value=len(result.findings))
    logger.info("access review done", extra={"counts": result.counts(), "sheets": len(result.sheets)})
    return {
        "reviewed_at": result.reviewed_at.isoformat(),
        "sheets": len(result.sheets),
        "people": result.people,
        "findings": len(result.findings),
        "counts": result.counts(),
    }
