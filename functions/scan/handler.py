"""Scheduled scan: EventBridge Scheduler → one incremental scan of the configured sheets."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from billing_audit import resources as res
from billing_audit.config import AuditConfig
from billing_audit.model_wiring import scored_dependencies
from billing_audit.pipeline.backlog import RunProgress, ScanResult, SheetScanResult
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import drain, drain_estimate_seconds, new_run_id, run_scan, start_run
from billing_audit.pipeline.webhook_sync import webhook_upkeep
from billing_audit.settings import AuditSettings, load
from billing_audit.wiring import audit_config

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=res.METRICS_NAMESPACE)


class ScanIncompleteError(RuntimeError):
    """Some sheets could not be read; their state did not move, so the next scan retries them."""


class ScanRequest(BaseModel):
    """The input: {"job": "scan", "scheduled_time": ...} from a schedule, optionally limited to some
    sheets; the scan-run state machine adds {"step": "start" | "drain", "run_id": ...}."""

    model_config = ConfigDict(extra="ignore")

    sheet_ids: list[int] = []
    scheduled_time: datetime | None = None
    # The scan-run state machine's steps; absent, the whole scan runs in this one invocation.
    step: Literal["start", "drain"] | None = None
    run_id: str | None = None


Runtime = tuple[AuditConfig, AuditSettings, AuditDeps]
_configured: Runtime | None = None
_built: Runtime | None = None


@cache
def _settings() -> AuditSettings:
    """Read from the environment once per container."""
    return load(AuditSettings)


def _runtime() -> Runtime:
    """This container's settings, the configuration as it is now (Powertools caches the parameter
    for its max age, so a push reaches warm containers), and deps rebuilt only when it changed."""
    global _built
    settings = _settings()
    config = audit_config(settings)
    if _built is None or _built[1] != settings or _built[0] != config:
        _built = (config, settings, scored_dependencies(config, settings))
    return _built


def configure(runtime: Runtime | None) -> None:
    """Use this configuration and these deps instead of the environment's (local runs: the
    simulator's gateway and virtual clock); None goes back to the environment's."""
    global _configured
    _configured = runtime


def _current() -> Runtime:
    return _configured if _configured is not None else _runtime()


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


def _sheet_summary(sheets: list[SheetScanResult]) -> list[dict[str, Any]]:
    return [
        {
            "sheet_id": sheet.sheet_id,
            "baseline": sheet.baseline,
            "unchanged": sheet.unchanged,
            "events": len(sheet.events),
            "new_events": sheet.new_events,
            "history_reads": sheet.history_reads,
            "error": sheet.error,
            "held": sheet.held,
            "lacks": sheet.lacks,
        }
        for sheet in sheets
    ]


def _warn_missing_columns(sheets: list[SheetScanResult]) -> None:
    """Said at each sheet's baseline: a policy column a sheet lacks is often a misspelt title."""
    lacking = {sheet.sheet_id: sheet.lacks for sheet in sheets if sheet.lacks}
    if lacking:
        logger.warning(
            "sheets without some policy columns: the rules that use them skip those sheets", extra={"sheets": lacking}
        )


def _record_backlog(progress: RunProgress, seconds: float, now: datetime) -> None:
    age = (now - progress.open_since).total_seconds() if progress.open_since is not None else 0.0
    pace = progress.history_reads / (seconds / 60) if seconds > 0 else 0.0
    for name, unit, value in (
        (res.METRIC_SCAN_BACKLOG_ROWS, MetricUnit.Count, progress.rows_left),
        (res.METRIC_SCAN_BACKLOG_READS, MetricUnit.Count, progress.history_reads_left),
        (res.METRIC_SCAN_BACKLOG_AGE, MetricUnit.Seconds, max(age, 0.0)),
        (res.METRIC_SCAN_DRAIN_ESTIMATE, MetricUnit.Seconds, drain_estimate_seconds(progress)),
        (res.METRIC_SCAN_HISTORY_READS_PER_MINUTE, MetricUnit.Count, pace),
    ):
        metrics.add_metric(name=name, unit=unit, value=value)


def _run_step(request: ScanRequest, context: LambdaContext) -> dict[str, Any]:
    """One state of the scan-run state machine: start a run (and drain while time lasts), or drain."""
    config, settings, deps = _current()
    started = time.monotonic()
    begun: list[SheetScanResult] = []
    recovered: list[int] = []
    if request.step == "start":
        upkeep = webhook_upkeep(config, deps, settings.webhook_url)
        recovered = upkeep.recovered if upkeep is not None else []
        begun = start_run(config, deps, request.run_id or new_run_id(deps.clock()), request.sheet_ids or None)
    progress = drain(
        config,
        deps,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        margin_seconds=settings.scan_margin_seconds,
    )
    _record_backlog(progress, time.monotonic() - started, deps.clock())
    if progress.finished and request.scheduled_time is not None:
        lag = (deps.clock() - request.scheduled_time).total_seconds()
        metrics.add_metric(name=res.METRIC_SCAN_LAG, unit=MetricUnit.Seconds, value=max(lag, 0.0))
    summary = {
        "step": request.step,
        "remaining": progress.rows_left,
        "history_reads_left": progress.history_reads_left,
        "rows_done": progress.rows_done,
        "started": _sheet_summary(begun),
        "sheets": _sheet_summary(progress.sheets),
        "webhooks_recovered": recovered,
    }
    logger.info("scan step finished", extra=summary)
    _warn_missing_columns(begun)
    failed = [sheet for sheet in begun + progress.sheets if sheet.error is not None]
    if failed:
        # Said now, whatever remains: a sheet that failed at the start has no backlog to report it.
        logger.error("sheets not scanned", extra={"sheets": {s.sheet_id: s.error for s in failed}})
        metrics.add_metric(name=res.METRIC_SCAN_SHEETS_FAILED, unit=MetricUnit.Count, value=len(failed))
    if failed and progress.finished:
        raise ScanIncompleteError("; ".join(f"sheet {s.sheet_id}: {s.error}" for s in failed))
    return summary


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Scheduler passes its input as the event itself; an EventBridge rule would wrap it in "detail".
    request = ScanRequest.model_validate(event.get("detail") or event or {})
    if request.step is not None:
        return _run_step(request, context)
    config, settings, deps = _current()
    upkeep = webhook_upkeep(config, deps, settings.webhook_url)
    if upkeep is not None and upkeep.recovered:
        logger.warning("webhooks re-enabled; this scan reconciles their sheets", extra={"sheets": upkeep.recovered})
    started, calls_before = time.monotonic(), sum(deps.smartsheet.call_counts().values())
    result = run_scan(config, deps, request.sheet_ids or None)
    api_calls = sum(deps.smartsheet.call_counts().values()) - calls_before
    _record_metrics(result, time.monotonic() - started, api_calls, request.scheduled_time)
    summary = {
        "sheets": _sheet_summary(result.sheets),
        "api_calls": api_calls,
        "webhooks_recovered": upkeep.recovered if upkeep is not None else [],
    }
    logger.info("scan finished", extra=summary)
    _warn_missing_columns(result.sheets)
    if result.failed:
        # Fail the invocation so the errors alarm fires; the other sheets' results are stored.
        raise ScanIncompleteError("; ".join(f"sheet {s.sheet_id}: {s.error}" for s in result.failed))
    return summary
