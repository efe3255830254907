"""Scheduled reports: EventBridge Scheduler → the workbook and dashboard of the last day or week."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from billing_audit import resources as res
from billing_audit.pipeline.reports.build import ReportDeps, ReportRequest, build_report
from billing_audit.settings import ReportSettings, load
from billing_audit.wiring import audit_config, report_dependencies

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=res.METRICS_NAMESPACE)

KINDS = {"report_daily": "daily", "report_weekly": "weekly"}


class ReportJob(BaseModel):
    """The schedule's input: {"job": "report_daily" | "report_weekly", "scheduled_time": ...}."""

    model_config = ConfigDict(extra="ignore")

    job: str = "report_daily"
    scheduled_time: datetime | None = None
    sheet_ids: list[int] = []
    force: bool = False


@cache
def _runtime() -> tuple[ReportSettings, ReportDeps]:
    settings = load(ReportSettings)
    return settings, report_dependencies(settings)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = ReportJob.model_validate(event.get("detail") or event or {})
    settings, deps = _runtime()
    config = audit_config(settings)  # the deployed parameter, cached by Powertools: a push shows soon
    request = ReportRequest(
        kind=KINDS.get(job.job, "on_demand"),
        # The slot, not the moment this ran: a retried or late run covers the same window.
        until=job.scheduled_time,
        sheet_ids=job.sheet_ids,
        force=job.force,
        link_days=settings.link_days,
    )
    outcome = build_report(request, deps, zone=config.zone, configured_sheets=config.sheets.sheet_ids)
    if outcome.record is None:
        logger.info("report skipped: nothing detected since the last one", extra={"kind": request.kind})
        return {"kind": request.kind, "skipped": True}
    record = outcome.record
    metrics.add_metric(name=res.METRIC_REPORTS_BUILT, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=res.METRIC_REPORT_EVENTS, unit=MetricUnit.Count, value=record.events)
    # The links are bearer links: handed to people (the CLI, alerts), never logged or stored.
    summary = {
        "kind": record.kind,
        "skipped": False,
        "report_id": record.report_id,
        "events": record.events,
        "violations": record.violations,
        "keys": record.keys,
        "sha256": record.sha256,
    }
    logger.info("report built", extra=summary)
    return summary
