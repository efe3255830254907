"""Scheduled scan: EventBridge Scheduler → one incremental scan of the configured sheets."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from billing_audit.config import AuditConfig, load_config
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import run_scan
from billing_audit.pipeline.wiring import aws_dependencies

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class ScanRequest(BaseModel):
    sheet_ids: list[int] = []


@cache
def _runtime() -> tuple[AuditConfig, AuditDeps]:
    config = load_config()
    return config, aws_dependencies(config)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Scheduler passes the target input as the event itself; an EventBridge rule wraps it in "detail".
    request = ScanRequest.model_validate(event.get("detail") or event or {})
    config, deps = _runtime()
    started, calls_before = time.monotonic(), sum(deps.smartsheet.call_counts().values())
    result = run_scan(config, deps, request.sheet_ids or None)
    metrics.add_metric(name="ScanDuration", unit=MetricUnit.Seconds, value=time.monotonic() - started)
    metrics.add_metric(name="EventsDetected", unit=MetricUnit.Count, value=len(result.events))
    for level in ("HIGH", "MEDIUM", "LOW"):
        count = sum(1 for e in result.events if e.violation and e.risk_level == level)
        metrics.add_metric(name=f"Violations{level.title()}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(
        name="SmartsheetApiCalls",
        unit=MetricUnit.Count,
        value=sum(deps.smartsheet.call_counts().values()) - calls_before,
    )
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
        ]
    }
    logger.info("scan finished", extra=summary)
    return summary
