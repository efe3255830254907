"""Daily sheet backups: EventBridge Scheduler → every audited sheet exported to the backup bucket.

The schedule fires several times a night; each invocation goes on with the day's run from the first
sheet not done and stops before a sheet when less than the margin is left, so a long run spans
invocations and a finished day's later invocations do nothing.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from billing_audit import resources as res
from billing_audit.pipeline.backup import BackupDeps, run_backup
from billing_audit.settings import BackupSettings, load
from billing_audit.wiring import audit_config, backup_dependencies

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=res.METRICS_NAMESPACE)


class BackupJob(BaseModel):
    """The schedule's input: {"job": "backup", "scheduled_time": ...}; `sheet_ids` for a manual run."""

    model_config = ConfigDict(extra="ignore")

    job: str = "backup"
    scheduled_time: datetime | None = None
    sheet_ids: list[int] | None = None


@cache
def _runtime() -> tuple[BackupSettings, BackupDeps]:
    settings = load(BackupSettings)
    return settings, backup_dependencies(settings)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = BackupJob.model_validate(event or {})
    settings, deps = _runtime()
    config = audit_config(settings)
    # The slot's day in the business zone, not the moment this ran: a retried or later invocation
    # of the night goes on with the same day's run.
    day = (job.scheduled_time or deps.clock()).astimezone(config.zone).date()
    outcome = run_backup(
        config,
        deps,
        day,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        margin_seconds=settings.margin_seconds,
        sheet_ids=job.sheet_ids,
    )
    metrics.add_metric(name=res.METRIC_BACKUP_SHEETS, unit=MetricUnit.Count, value=len(outcome.backed_up))
    metrics.add_metric(name=res.METRIC_BACKUP_SHEETS_FAILED, unit=MetricUnit.Count, value=len(outcome.failed))
    for failed in outcome.failed:
        logger.error("sheet not backed up", extra={"sheet_id": failed.sheet_id, "error": failed.error})
    summary = {
        "day": day.isoformat(),
        "tier": outcome.tier.value,
        "complete": outcome.complete,
        "already_done": outcome.already_done,
        "backed_up": [entry.sheet_id for entry in outcome.backed_up],
        "failed": [failed.sheet_id for failed in outcome.failed],
        "sheets_left": outcome.sheets_left,
    }
    logger.info("backup invocation", extra=summary)
    return summary
