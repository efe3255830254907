"""System Insights from the product's own records: the scan state per sheet, open scan backlogs,
and its CloudWatch metrics (API use, callbacks) over the report's window."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from billing_audit import resources as res
from billing_audit.domain.values import spreadsheet_time
from billing_audit.pipeline.backlog import SheetBacklog
from billing_audit.pipeline.reports.figures import Backlog, SheetCoverage, SystemFacts
from billing_audit.store.interfaces import MetricsReader, RunStore, StateStore

HEALTH_METRICS = (
    res.METRIC_SMARTSHEET_API_CALLS,
    res.METRIC_EVENTS_RECORDED,
    res.METRIC_CALLBACKS_ACCEPTED,
    res.METRIC_CALLBACKS_DUPLICATE,
    res.METRIC_CALLBACKS_PROCESSED,
    res.METRIC_CALLBACKS_FAILED,
    res.METRIC_REJECTED_SIGNATURES,
    res.METRIC_WEBHOOK_STATUS_ALERTS,
    res.METRIC_SCAN_SHEETS_FAILED,
)


def system_facts(
    *,
    sheet_ids: Iterable[int],
    names: dict[int, str],
    counts: dict[int, tuple[int, int]],
    state: StateStore,
    runs: RunStore,
    metrics: MetricsReader | None,
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
) -> SystemFacts:
    """`sheet_ids`: the sheets to cover (configured ones and those with events); `counts`: events and
    violations per sheet in the window."""
    coverage: list[SheetCoverage] = []
    for sheet_id in sorted(set(sheet_ids)):
        snapshot = state.load(sheet_id)
        events, violations = counts.get(sheet_id, (0, 0))
        coverage.append(
            SheetCoverage(
                sheet_id=sheet_id,
                sheet_name=names.get(sheet_id) or (snapshot.sheet_name if snapshot else ""),
                last_scan=spreadsheet_time(snapshot.taken_at, zone) if snapshot else None,
                rows_tracked=len(snapshot.rows) if snapshot else None,
                events=events,
                violations=violations,
            )
        )
    return SystemFacts(
        coverage=coverage,
        backlog=_backlog(runs, zone),
        metrics=metrics.sums(HEALTH_METRICS, since, until) if metrics is not None else None,
    )


def _backlog(runs: RunStore, zone: ZoneInfo) -> Backlog:
    backlog = Backlog()
    for sheet_id in runs.open_sheets():
        current = runs.current(sheet_id)
        if current is None:
            continue
        run_id, plan = current
        saved = SheetBacklog.model_validate_json(plan)
        done = runs.done(sheet_id, run_id)
        left = [item for item in saved.work if item.row_id not in done]
        backlog.sheets += 1
        backlog.rows_left += len(left)
        backlog.history_reads_left += sum(len(item.history_columns) for item in left)
        read_at = spreadsheet_time(saved.read_at, zone)
        backlog.oldest = read_at if backlog.oldest is None else min(backlog.oldest, read_at)
    return backlog


def per_sheet(rows: Sequence[tuple[int, str, bool]]) -> tuple[dict[int, str], dict[int, tuple[int, int]]]:
    """Names and (events, violations) by sheet id from (sheet id, name, violation) triples."""
    names: dict[int, str] = {}
    events: Counter[int] = Counter()
    violations: Counter[int] = Counter()
    for sheet_id, name, violation in rows:
        names[sheet_id] = name
        events[sheet_id] += 1
        violations[sheet_id] += violation
    return names, {sheet_id: (events[sheet_id], violations[sheet_id]) for sheet_id in events}
