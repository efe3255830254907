"""A scan run that drains any backlog under the API's limits, over as many invocations as it takes.

A run has two steps.  In AWS each is one invocation of the scan function, driven by a Step Functions
state machine (infra/constructs/scan_run.py: start, then drain → wait → drain until nothing remains);
locally billing_audit_local's driver plays that machine.

- `start_run`: per sheet, one read of what changed since the last run: the run's sheet read, which
  the next run's deletions are judged against (FORMAT.md's "previous scan").  Its cell-history
  reads are planned (pipeline/planner.py), ordered by risk, and saved as the sheet's backlog.
  Baselines and unchanged sheets finish here.
- `drain`: the backlogs, one row at a time, most urgent first and sheets interleaved so none
  starves: read the row's histories, replay, store and alert its events, mark the row done.  It
  stops before the invocation's time runs out (a margin the slowest row fits in).  A sheet whose
  backlog is empty finishes: its deletions are judged and its snapshot moves to the run's read.

Progress is durable per row: an invocation that dies loses at most the row in hand (whose events
are stored idempotently anyway), and no history an earlier invocation replayed is read again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from pydantic import BaseModel

from billing_audit.config import AuditConfig
from billing_audit.domain.detect import AuditContext, detect_deleted_row, detect_row
from billing_audit.domain.models import AuditEvent, DetectedVia, RowTimeline
from billing_audit.domain.snapshot import SheetSnapshot
from billing_audit.domain.values import values_equal
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.holds import column_hold, hold, release
from billing_audit.pipeline.planner import ScanPlan, plan_scan, rows_modified_since
from billing_audit.pipeline.record import record_events
from billing_audit.pipeline.scan import (
    SheetScanResult,
    resolve_sheet_ids,
)
from billing_audit.pipeline.scan import _deleted_rows as deleted_rows
from billing_audit.pipeline.scan import _next_snapshot as next_snapshot
from billing_audit.pipeline.scan import _take_baseline as take_baseline
from billing_audit.pipeline.timelines import ADDED_SINCE_ANY_TIME, build_timeline, newest_seen
from billing_audit.resources import HISTORY_READS_PER_MINUTE
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.models import RowData, SheetData


class Urgency(IntEnum):
    """The order a backlog is drained in: what can hide a violation first."""

    CHANGED_CLOSED = 0  # closed or locked, and a tracked value differs from the last run
    CLOSED = 1  # closed or locked, tracked values as before (a change and its revert may hide here)
    OTHER = 2  # open rows with differing cells, rows added since


class RowWork(BaseModel):
    row_id: int
    added: bool
    urgency: Urgency
    history_columns: tuple[str, ...]


class SheetBacklog(BaseModel):
    """One sheet's part of a run, saved when the run starts."""

    run_id: str
    sheet_id: int
    read_at: datetime  # the run's read of the sheet: the next snapshot's `taken_at`
    sheet: SheetData  # what that read returned (the modified rows)
    deleted: list[int]
    work: list[RowWork]  # in drain order

    @property
    def history_reads(self) -> int:
        return sum(len(item.history_columns) for item in self.work)

    def dump(self) -> bytes:
        return self.model_dump_json().encode()


@dataclass
class RunProgress:
    """What one invocation did, and what is left for the next."""

    sheets: list[SheetScanResult] = field(default_factory=list)
    rows_done: int = 0
    history_reads: int = 0
    rows_left: int = 0
    history_reads_left: int = 0
    open_since: datetime | None = None  # when the oldest open backlog was read

    @property
    def finished(self) -> bool:
        return self.rows_left == 0

    @property
    def events(self) -> list[AuditEvent]:
        return [event for sheet in self.sheets for event in sheet.events]

    @property
    def failed(self) -> list[SheetScanResult]:
        return [sheet for sheet in self.sheets if sheet.error is not None]


def new_run_id(now: datetime) -> str:
    """Run ids begin with the run's start time, so open runs list oldest first."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def drain_estimate_seconds(progress: RunProgress) -> float:
    """How long the history reads left take at Smartsheet's cell-history limit (the binding one)."""
    return progress.history_reads_left * 60 / HISTORY_READS_PER_MINUTE


def _context(config: AuditConfig, sheet: SheetData, now: datetime) -> AuditContext:
    return AuditContext(
        policy=config.policy,
        zone=config.zone,
        sheet_columns=frozenset(sheet.columns.ids_by_title),
        detected_at=now,
        detected_via=DetectedVia.SCAN,
    )


def _urgency(row: RowData, snapshot: SheetSnapshot, ctx: AuditContext, now: datetime) -> Urgency:
    known = snapshot.rows.get(row.id)
    if known is None:
        return Urgency.OTHER
    if not (ctx.closed_or_locked(known.values, snapshot.taken_at) or ctx.closed_or_locked(row.values, now)):
        return Urgency.OTHER
    tracked = ctx.policy.tracked_columns
    if any(not values_equal(known.values.get(c), row.values.get(c)) for c in tracked):
        return Urgency.CHANGED_CLOSED
    return Urgency.CLOSED


def _work(plan: ScanPlan, snapshot: SheetSnapshot, ctx: AuditContext, now: datetime) -> list[RowWork]:
    items = [
        RowWork(
            row_id=row.id,
            added=added,
            urgency=_urgency(row, snapshot, ctx, now),
            history_columns=plan.history_columns.get(row.id, ()),
        )
        for added, rows in ((False, plan.changed_rows), (True, plan.added_rows))
        for row in rows
    ]
    return sorted(items, key=lambda item: item.urgency)  # stable: the sheet's row order within a level


def start_run(
    config: AuditConfig, deps: AuditDeps, run_id: str, sheet_ids: Sequence[int] | None = None
) -> list[SheetScanResult]:
    """Read each sheet once and save its backlog.  A sheet whose previous run is still open is left
    to drain (one run at a time per sheet); one Smartsheet cannot serve is reported and retried next run."""
    results: list[SheetScanResult] = []
    open_sheets = set(deps.runs.open_sheets())
    for sheet_id in sheet_ids or resolve_sheet_ids(config, deps.smartsheet):
        if sheet_id in open_sheets:
            continue
        try:
            results.append(_start_sheet(sheet_id, config, deps, run_id))
        except SmartsheetError as exc:
            results.append(SheetScanResult(sheet_id=sheet_id, error=str(exc)))
    return results


def _start_sheet(sheet_id: int, config: AuditConfig, deps: AuditDeps, run_id: str) -> SheetScanResult:
    now = deps.clock()
    snapshot = deps.state.load(sheet_id)
    if snapshot is None:
        return take_baseline(sheet_id, config, deps, now, dry_run=False)
    changes = deps.smartsheet.sheet_changes(
        sheet_id, after_version=snapshot.version, modified_since=rows_modified_since(snapshot.watermark)
    )
    if changes is None:
        deps.state.save(snapshot.model_copy(update={"taken_at": now}))
        return SheetScanResult(sheet_id=sheet_id, sheet_name=snapshot.sheet_name, unchanged=True)
    held = column_hold(snapshot, changes.columns, config.policy)
    if held is not None:
        hold(snapshot, held, deps)
        return SheetScanResult(sheet_id=sheet_id, sheet_name=changes.name, held=held)
    ctx = _context(config, changes, now)
    deleted = deleted_rows(snapshot, changes, deps)
    remembered = deps.state.recall_rows(sheet_id, [row.id for row in changes.rows] + deleted)
    plan = plan_scan(snapshot, changes, ctx, now, {row_id: row.modified_at for row_id, row in remembered.items()})
    backlog = SheetBacklog(
        run_id=run_id,
        sheet_id=sheet_id,
        read_at=now,
        sheet=changes,
        deleted=deleted,
        work=_work(plan, snapshot, ctx, now),
    )
    deps.runs.begin(sheet_id, run_id, backlog.dump())
    return SheetScanResult(
        sheet_id=sheet_id,
        sheet_name=changes.name,
        rows_modified=len(plan.changed_rows),
        rows_added=len(plan.added_rows),
        rows_deleted=len(deleted),
    )


@dataclass
class _OpenSheet:
    backlog: SheetBacklog
    snapshot: SheetSnapshot
    done: set[int]
    result: SheetScanResult

    @property
    def pending(self) -> list[RowWork]:
        return [item for item in self.backlog.work if item.row_id not in self.done]


def _load_open(deps: AuditDeps) -> list[_OpenSheet]:
    sheets: list[_OpenSheet] = []
    for sheet_id in deps.runs.open_sheets():
        current = deps.runs.current(sheet_id)
        snapshot = deps.state.load(sheet_id)
        if current is None or snapshot is None:
            continue
        run_id, plan = current
        backlog = SheetBacklog.model_validate_json(plan)
        sheets.append(
            _OpenSheet(
                backlog=backlog,
                snapshot=snapshot,
                done=deps.runs.done(sheet_id, run_id),
                result=SheetScanResult(sheet_id=sheet_id, sheet_name=backlog.sheet.name),
            )
        )
    return sheets


def drain_order(sheets: Sequence[_OpenSheet]) -> list[tuple[_OpenSheet, RowWork]]:
    """Most urgent first; within one urgency the sheets take turns, each in its own row order."""
    ranked: list[tuple[int, int, int, _OpenSheet, RowWork]] = []
    for sheet_index, sheet in enumerate(sheets):
        turn: dict[Urgency, int] = {}
        for item in sheet.pending:
            position = turn.get(item.urgency, 0)
            turn[item.urgency] = position + 1
            ranked.append((item.urgency, position, sheet_index, sheet, item))
    ranked.sort(key=lambda entry: entry[:3])
    return [(sheet, item) for _, _, _, sheet, item in ranked]


def drain(
    config: AuditConfig,
    deps: AuditDeps,
    *,
    time_left: Callable[[], float] = lambda: float("inf"),
    margin_seconds: float = 0.0,
) -> RunProgress:
    """Work through the open backlogs until they are empty or `time_left()` falls to the margin."""
    progress = RunProgress()
    sheets = _load_open(deps)
    for sheet, item in drain_order(sheets):
        if time_left() <= margin_seconds:
            break
        try:
            events = _replay_row(sheet, item, config, deps)
        except SmartsheetError as exc:
            # The row stays pending; the next invocation tries it again.
            sheet.result.error = str(exc)
            continue
        sheet.result.new_events += len(record_events(events, config, deps))
        sheet.result.events.extend(events)
        deps.runs.mark_done(sheet.backlog.sheet_id, sheet.backlog.run_id, item.row_id)
        sheet.done.add(item.row_id)
        sheet.result.history_reads += len(item.history_columns)
        progress.rows_done += 1
        progress.history_reads += len(item.history_columns)
    for sheet in sheets:
        if not sheet.pending and sheet.result.error is None:
            _finish(sheet, config, deps)
        progress.sheets.append(sheet.result)
    still_open = [sheet for sheet in sheets if sheet.pending or sheet.result.error is not None]
    progress.rows_left = sum(len(sheet.pending) for sheet in still_open)
    progress.history_reads_left = sum(len(item.history_columns) for sheet in still_open for item in sheet.pending)
    progress.open_since = min((sheet.backlog.read_at for sheet in still_open), default=None)
    return progress


def _replay_row(sheet: _OpenSheet, item: RowWork, config: AuditConfig, deps: AuditDeps) -> list[AuditEvent]:
    backlog, snapshot = sheet.backlog, sheet.snapshot
    row = next(row for row in backlog.sheet.rows if row.id == item.row_id)
    ctx = _context(config, backlog.sheet, deps.clock())
    if item.added:
        timeline = build_timeline(backlog.sheet, row, deps.smartsheet, item.history_columns, known=None)
        return detect_row(timeline, ctx, since=ADDED_SINCE_ANY_TIME)
    known = snapshot.rows[row.id]
    timeline = build_timeline(backlog.sheet, row, deps.smartsheet, item.history_columns, known=known)
    return detect_row(timeline, ctx, since=known.modified_at or snapshot.taken_at)


def _finish(sheet: _OpenSheet, config: AuditConfig, deps: AuditDeps) -> None:
    """Judge the deletions as of the previous run's read, then move the snapshot to this run's."""
    backlog, snapshot = sheet.backlog, sheet.snapshot
    now = deps.clock()
    ctx = _context(config, backlog.sheet, now)
    remembered = deps.state.recall_rows(backlog.sheet_id, backlog.deleted)
    events: list[AuditEvent] = []
    for row_id in backlog.deleted:
        # The newest values seen of the row: the webhook path may have seen edits since the snapshot.
        last_seen = newest_seen(snapshot.rows[row_id], remembered.get(row_id))
        assert last_seen is not None  # the snapshot knows every row it reports deleted
        gone = RowTimeline(
            sheet_id=backlog.sheet_id, sheet_name=backlog.sheet.name, row_id=row_id, start=last_seen.values
        )
        events.extend(detect_deleted_row(gone, ctx, judged_at=snapshot.taken_at, reported_at=now, by=None))
    sheet.result.new_events += len(record_events(events, config, deps))
    sheet.result.events.extend(events)
    sheet.result.rows_deleted = len(backlog.deleted)
    deps.state.save(
        next_snapshot(snapshot, backlog.sheet, backlog.deleted, config.policy.snapshot_columns, backlog.read_at)
    )
    release(snapshot, deps)
    deps.runs.end(backlog.sheet_id, backlog.run_id)
