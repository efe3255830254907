"""Scheduled scan: EventBridge Scheduler → one incremental scan of the configured sheets."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from billing_audit import resources as res
from billing_audit.config import AuditConfig, load_config
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import ScanResult, run_scan
from billing_audit.pipeline.webhook_sync import webhook_upkeep
from billing_audit.settings import AuditSettings, load
from billing_audit.wiring import aws_dependencies

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=res.METRICS_NAMESPACE)


class ScanIncompleteError(RuntimeError):
    """Some sheets could not be read; their state did not move, so the next scan retries them."""


class ScanRequest(BaseModel):
    """The schedule's input: {"job": "scan", "scheduled_time": ...}, optionally limited to some sheets."""

    model_config = ConfigDict(extra="ignore")

    sheet_ids: list[int] = []
    scheduled_time: datetime | None = None


@cache
def _runtime() -> tuple[AuditConfig, AuditSettings, AuditDeps]:
    config, settings = load_config(), load(AuditSettings)
    return config, settings, aws_dependencies(config, settings)


def _record_metrics(result: ScanResult, seconds: float, api_calls: int, scheduled: datetime | None) -> None:
    metrics.add_metric(name=res.METRIC_SCAN_DURATION, unit=MetricUnit.Seconds, value=seconds)
    metrics.add_metric(name=res.METRIC_SMARTSHEET_API_CALLS, unit=MetricUnit.Count, value=api_calls)
    metrics.add_metric(
        name=res.METRIC_EVENTS_RECORDED, unit=MetricUnit.Count, value=sum(s.new_events for s in result.sheets)
    )
    if scheduled is not None:
        lag = (datetime.now(UTC) - scheduled).total_seconds()
        metrics.add_metric(name=res.METRIC_SCAN_LAG, unit=MetricUnit.Seconds, value=max(lag, 0.0))
    levels = Counter(str(e.risk_level) for e in result.events if e.violation)
    for level in ("HIGH", "MEDIUM", "LOW"):
        with single_metric(
            name=res.METRIC_VIOLATIONS,
            unit=MetricUnit.Count,
            value=levels.get(level, 0),
            namespace=res.METRICS_NAMESPACE,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name=res.METRIC_RISK_DIMENSION, value=level)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Scheduler passes its input as the event itself; an EventBridge rule would wrap it in "detail".
    request = ScanRequest.model_validate(event.get("detail") or event or {})
    config, settings, deps = _runtime()
    upkeep = webhook_upkeep(config, deps, settings.webhook_url)
    if upkeep is not None and upkeep.recovered:
        logger.warning("webhooks re-enabled; this scan reconciles their sheets", extra={"sheets": upkeep.recovered})
    started, calls_before = time.monotonic(), sum(deps.smartsheet.call_counts().values())
    result = run_scan(config, deps, request.sheet_ids or None)
    api_calls = sum(deps.smartsheet.call_counts().values()) - calls_before
    _record_metrics(result, time.monotonic() - started, api_calls, request.scheduled_time)
    summary = {
        "sheets": [
            {
                "sheet_id": sheet.sheet_id,
                "baseline": sheet.baseline,
                "unchanged": sheet.unchanged,
                "events": len(sheet.events),
                "new_events": sheet.new_events,
                "history_reads": sheet.history_reads,
            }
            for sheet in result.sheets
        ],
        "api_calls": api_calls,
        "webhooks_recovered": upkeep.recovered if upkeep is not None else [],
    }
    logger.info("scan finished", extra=summary)
    if result.failed:
        # Fail the invocation so the errors alarm fires; the other sheets' results are stored.
        raise ScanIncompleteError("; ".join(f"sheet {s.sheet_id}: {s.error}" for s in result.failed))
    return summary
