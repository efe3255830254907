"""The scan: what changed since the last run, replayed from cell history, over as many invocations
as Smartsheet's limits make it take.

A scan run has two steps.  In AWS each is one invocation of the scan function, driven by a Step
Functions state machine (infra/constructs/scan_run.py: start, then drain → wait → drain until
nothing remains); `run_scan` does both in one go (the CLI, a single invocation).

- `start_run`: per sheet, one read of what changed since the last run (`ifVersionAfter` +
  `rowsModifiedSince`): the run's sheet read, which the next run's deletions are judged against
  (FORMAT.md's "previous scan").  Its cell-history reads are planned (planner.py), ordered by
  risk, and saved as the sheet's backlog.  Baselines, unchanged and held sheets finish here.
- `drain`: the backlogs row by row, most urgent first, the sheets taking turns so none starves:
  read the row's histories, replay, store and alert its events, mark the row done.  It stops
  before the invocation's time runs out (a margin the slowest row fits in).  A sheet whose backlog
  is empty finishes: its deletions are judged and its snapshot moves to the run's read.

Progress is durable per row: an invocation that dies loses at most the row in hand (whose events
are stored idempotently anyway), and no history an earlier invocation replayed is read again.
Events are stored, and their violations held for alerting, before the snapshot moves on, so nothing
is lost or stored twice; each invocation alerts what it found at its end (pipeline/alerting.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from http import HTTPStatus

from billing_audit.budget import HISTORY_PER_MINUTE
from billing_audit.bulk import collector_paused
from billing_audit.config import AuditConfig
from billing_audit.domain.detect import AuditContext, detect_deleted_row, detect_row
from billing_audit.domain.models import AuditEvent, DetectedVia, RowTimeline
from billing_audit.domain.snapshot import SheetSnapshot
from billing_audit.domain.values import values_equal
from billing_audit.pipeline.alerting import AlertBatch
from billing_audit.pipeline.backlog import (
    RowWork,
    RunProgress,
    ScanResult,
    SheetBacklog,
    SheetScanResult,
    Urgency,
)
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.holds import column_hold, hold, release
from billing_audit.pipeline.planner import ScanPlan, columns_to_confirm, plan_scan, rows_modified_since
from billing_audit.pipeline.record import record_approvals, record_events
from billing_audit.pipeline.timelines import (
    ADDED_SINCE_ANY_TIME,
    build_timeline,
    newest_seen,
    snapshot_rows,
    with_history_of,
)
from billing_audit.smartsheet.gateway import SmartsheetError, SmartsheetGateway
from billing_audit.smartsheet.models import RowData, SheetData
from billing_audit.store.interfaces import RunInProgress
from billing_audit.store.memory import (
    MemoryAlertCooldowns,
    MemoryAlertPublisher,
    MemoryEventBus,
    MemoryEventStore,
    MemoryPendingAlerts,
    MemoryRunStore,
    OverlayStateStore,
)
from billing_audit.store.run_events import RunEvents


def resolve_sheet_ids(config: AuditConfig, gateway: SmartsheetGateway) -> list[int]:
    """Explicit ids first, then matching sheets of the configured workspaces and folders."""
    selection = config.sheets
    ids: dict[int, None] = dict.fromkeys(selection.sheet_ids)
    containers = [(w, gateway.workspace_sheets) for w in selection.workspaces] + [
        (f, gateway.folder_sheets) for f in selection.folders
    ]
    for selector, list_sheets in containers:
        pattern = re.compile(selector.name_pattern)
        ids.update(dict.fromkeys(s.id for s in list_sheets(selector.id) if pattern.search(s.name)))
    return list(ids)


def new_run_id(now: datetime) -> str:
    """Run ids begin with the run's start time, so open runs list oldest first."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def drain_estimate_seconds(progress: RunProgress) -> float:
    """How long the history reads left take at Smartsheet's cell-history limit (the binding one)."""
    return progress.history_reads_left * 60 / HISTORY_PER_MINUTE


# ----- one go ---------------------------------------------------------------------------------


def run_scan(
    config: AuditConfig,
    deps: AuditDeps,
    sheet_ids: Sequence[int] | None = None,
    *,
    dry_run: bool = False,
    accept_columns: bool = False,
) -> ScanResult:
    """A whole scan run in this call; one sheet Smartsheet cannot serve does not stop the others.

    `dry_run` detects and reports but writes nothing (state is read, never saved; no event stored
    or alerted).  `accept_columns` accepts each sheet's columns as they are now, ending a hold.
    """
    if dry_run:
        deps = replace(
            deps,
            events=MemoryEventStore(),
            state=OverlayStateStore(deps.state),
            runs=MemoryRunStore(),
            alerts=MemoryAlertPublisher(),
            notifier=MemoryAlertPublisher(),
            bus=MemoryEventBus(),
            cooldowns=MemoryAlertCooldowns(),
            # Never the real pending alerts: a dry run would read them and clear what it cannot claim.
            pending_alerts=MemoryPendingAlerts(),
        )
    started = start_run(config, deps, new_run_id(deps.clock()), sheet_ids, accept_columns=accept_columns)
    # Every open backlog, this run's and any an earlier run left (a crash, a timed-out step).
    drained = {sheet.sheet_id: sheet for sheet in drain(config, deps).sheets}
    sheets: list[SheetScanResult] = []
    for sheet in started:
        done = drained.pop(sheet.sheet_id, None)
        if done is not None:
            sheet.events = sorted(done.events, key=lambda e: e.changed_at)
            sheet.new_events, sheet.history_reads = done.new_events, done.history_reads
            sheet.error = sheet.error or done.error
        sheets.append(sheet)
    sheets.extend(drained.values())  # backlogs an earlier run left open, drained too
    return ScanResult(sheets=sheets)


# ----- start ----------------------------------------------------------------------------------


def start_run(
    config: AuditConfig,
    deps: AuditDeps,
    run_id: str,
    sheet_ids: Sequence[int] | None = None,
    *,
    accept_columns: bool = False,
) -> list[SheetScanResult]:
    """Read each sheet once and save its backlog.  A sheet whose previous run is still open is left
    to drain (one run at a time per sheet); one Smartsheet cannot serve is reported and retried next run."""
    results: list[SheetScanResult] = []
    open_sheets = set(deps.runs.open_sheets())
    for sheet_id in sheet_ids or resolve_sheet_ids(config, deps.smartsheet):
        if sheet_id in open_sheets:
            continue
        try:
            with collector_paused():  # one sheet's read, whole: see bulk.py
                results.append(_start_sheet(sheet_id, config, deps, run_id, accept_columns=accept_columns))
        except RunInProgress:
            continue  # another run opened this sheet meanwhile: it drains it
        except SmartsheetError as exc:
            # Nothing of this sheet moved on: the next run retries it from the same state.
            results.append(SheetScanResult(sheet_id=sheet_id, error=str(exc)))
    return results


def _start_sheet(
    sheet_id: int, config: AuditConfig, deps: AuditDeps, run_id: str, *, accept_columns: bool
) -> SheetScanResult:
    now = deps.clock()
    snapshot = deps.state.load(sheet_id)
    if snapshot is None:
        return _take_baseline(sheet_id, config, deps, now)
    changes = deps.smartsheet.sheet_changes(
        sheet_id, after_version=snapshot.version, modified_since=rows_modified_since(snapshot.watermark)
    )
    if changes is None:
        deps.state.save(snapshot.model_copy(update={"taken_at": now}))
        return SheetScanResult(sheet_id=sheet_id, sheet_name=snapshot.sheet_name, unchanged=True)
    held = column_hold(snapshot, changes.columns, config.policy)
    if held is not None and not accept_columns:
        hold(snapshot, held, deps)
        return SheetScanResult(sheet_id=sheet_id, sheet_name=changes.name, held=held)
    ctx = _context(config, changes, now)
    deleted = _deleted_rows(snapshot, changes, deps)
    remembered = deps.state.recall_rows(sheet_id, [row.id for row in changes.rows] + deleted)
    # A deferred row was left to this scan by the webhook path: its memory audits nothing.
    audited = {row_id: row.modified_at for row_id, row in remembered.items() if not row.deferred}
    plan = plan_scan(snapshot, changes, ctx, now, audited)
    work = _work(plan, snapshot, ctx, now)
    backlog = SheetBacklog(
        run_id=run_id,
        sheet_id=sheet_id,
        read_at=now,
        sheet=_moving_rows(changes, snapshot, work, config.policy.snapshot_columns),
        deleted=deleted,
        work=work,
        accepted=held,
    )
    deps.runs.begin(sheet_id, run_id, backlog.dump())
    return SheetScanResult(
        sheet_id=sheet_id,
        sheet_name=changes.name,
        rows_modified=len(plan.changed_rows),
        rows_added=len(plan.added_rows),
        rows_deleted=len(deleted),
    )


def _take_baseline(sheet_id: int, config: AuditConfig, deps: AuditDeps, now: datetime) -> SheetScanResult:
    """The first scan of a sheet reports nothing: it records what the sheet looks like."""
    columns = config.policy.snapshot_columns  # all it remembers: the rest of a row is not read
    sheet = deps.smartsheet.sheet_changes(sheet_id, after_version=None, modified_since=None, columns=columns)
    assert sheet is not None  # without a version to compare, the adapter always returns the sheet
    deps.state.save(_next_snapshot(None, sheet, [], columns, now))
    lacks = config.policy.missing_columns(sheet.columns.ids_by_title)
    return SheetScanResult(sheet_id=sheet_id, sheet_name=sheet.name, baseline=True, lacks=lacks)


def _deleted_rows(snapshot: SheetSnapshot, changes: SheetData, deps: AuditDeps) -> list[int]:
    """Row ids the snapshot has and the sheet no longer does.

    The sheet's total row count tells whether anything was deleted at all, so the id listing is
    read only when it was.
    """
    added = [row for row in changes.rows if row.id not in snapshot.rows]
    if changes.total_row_count == len(snapshot.rows) + len(added):
        return []
    present = deps.smartsheet.row_ids(changes.id, changes.primary_column_id)
    return sorted(row_id for row_id in snapshot.rows if row_id not in present)


def _moving_rows(
    changes: SheetData, snapshot: SheetSnapshot, work: Sequence[RowWork], columns: Sequence[str]
) -> SheetData:
    """The read as the backlog keeps it: the rows to replay and the rows that move the snapshot on.

    A read returns every row of the watermark's second again (planner.READ_LOOKBACK); a sheet
    imported in one second returns whole.  The rest equal the snapshot already, and every
    invocation of the run would decode them from the saved backlog for nothing.
    """
    replayed = {item.row_id for item in work}
    others = snapshot_rows((row for row in changes.rows if row.id not in replayed), columns)
    kept = [row for row in changes.rows if row.id in replayed or snapshot.rows.get(row.id) != others[row.id]]
    return changes if len(kept) == len(changes.rows) else changes.model_copy(update={"rows": kept})


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


# ----- drain ----------------------------------------------------------------------------------


@dataclass
class _OpenSheet:
    backlog: SheetBacklog
    snapshot: SheetSnapshot
    done: set[int]
    result: SheetScanResult
    abandoned: bool = False
    _rows: dict[int, RowData] | None = None

    @property
    def pending(self) -> list[RowWork]:
        return [item for item in self.backlog.work if item.row_id not in self.done]

    def row(self, row_id: int) -> RowData:
        """A row of the run's read, by id (indexed once: a backlog may hold a whole sheet's rows)."""
        if self._rows is None:
            self._rows = {row.id: row for row in self.backlog.sheet.rows}
        return self._rows[row_id]


def _load_open(deps: AuditDeps) -> list[_OpenSheet]:
    """Every open backlog, each with only the snapshot rows its work and deletions need: the whole
    snapshot of every open sheet at once would grow an invocation's memory with sheets x rows.
    A sheet's whole snapshot is read when its run finishes (`_finish`), one sheet at a time."""
    sheets: list[_OpenSheet] = []
    for sheet_id in deps.runs.open_sheets():
        current = deps.runs.current(sheet_id)
        header = deps.state.load_header(sheet_id)
        if current is None or header is None:
            continue
        run_id, plan = current
        backlog = SheetBacklog.model_validate_json(plan)
        done = deps.runs.done(sheet_id, run_id)
        needed = [item.row_id for item in backlog.work if not item.added and item.row_id not in done]
        snapshot = header.model_copy(update={"rows": deps.state.load_rows(sheet_id, [*needed, *backlog.deleted])})
        sheets.append(
            _OpenSheet(
                backlog=backlog,
                snapshot=snapshot,
                done=done,
                result=SheetScanResult(sheet_id=sheet_id, sheet_name=backlog.sheet.name),
            )
        )
    return sheets


def _drain_order(sheets: Sequence[_OpenSheet]) -> list[tuple[_OpenSheet, RowWork]]:
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
    """Work through the open backlogs until they are empty or `time_left()` falls to the margin.

    The violations this invocation stores are alerted together at its end (one digest per run);
    if it dies first, they wait as pending alerts for the next run of either path.
    """
    alerts = AlertBatch(run="scan run")
    # One person's edits across many rows ask for nearly the same neighbours: read them once a run.
    deps = replace(deps, events=RunEvents(deps.events))
    progress = _drain(config, deps, alerts, time_left, margin_seconds)
    alerts.send(config, deps)
    return progress


def _drain(
    config: AuditConfig,
    deps: AuditDeps,
    alerts: AlertBatch,
    time_left: Callable[[], float],
    margin_seconds: float,
) -> RunProgress:
    progress = RunProgress()
    sheets = _load_open(deps)
    for sheet, item in _drain_order(sheets):
        if time_left() <= margin_seconds:
            break
        if sheet.abandoned:
            continue
        try:
            events, reads = _replay_row(sheet, item, config, deps)
        except SmartsheetError as exc:
            if exc.status == HTTPStatus.NOT_FOUND and _row_gone(sheet, item, deps):
                # Deleted since the run read the sheet: nothing to replay now; the next run finds
                # the deletion (its snapshot still holds the row) and judges it.
                deps.runs.mark_done(sheet.backlog.sheet_id, sheet.backlog.run_id, item.row_id)
                sheet.done.add(item.row_id)
                continue
            # The sheet cannot be read as planned (gone, shared away, a column re-created): its run
            # is dropped, its snapshot stays, and the next run plans it afresh and says why.
            sheet.result.error = str(exc)
            sheet.abandoned = True
            deps.runs.end(sheet.backlog.sheet_id, sheet.backlog.run_id)
            continue
        sheet.result.new_events += len(record_events(events, config, deps, batch=alerts))
        sheet.result.events.extend(events)
        deps.runs.mark_done(sheet.backlog.sheet_id, sheet.backlog.run_id, item.row_id)
        sheet.done.add(item.row_id)
        sheet.result.history_reads += reads
        progress.rows_done += 1
        progress.history_reads += reads
    for sheet in sheets:
        if not sheet.pending and not sheet.abandoned:
            with collector_paused():  # the whole snapshot, loaded and saved: see bulk.py
                _finish(sheet, config, deps, alerts)
        progress.sheets.append(sheet.result)
    still_open = [sheet for sheet in sheets if sheet.pending and not sheet.abandoned]
    progress.rows_left = sum(len(sheet.pending) for sheet in still_open)
    progress.history_reads_left = sum(len(item.history_columns) for sheet in still_open for item in sheet.pending)
    progress.open_since = min((sheet.backlog.read_at for sheet in still_open), default=None)
    return progress


def _row_gone(sheet: _OpenSheet, item: RowWork, deps: AuditDeps) -> bool:
    """Whether a row whose history Smartsheet no longer serves was deleted (the sheet still answers)."""
    try:
        return not deps.smartsheet.rows(sheet.backlog.sheet_id, [item.row_id]).rows
    except SmartsheetError:
        return False


def _replay_row(sheet: _OpenSheet, item: RowWork, config: AuditConfig, deps: AuditDeps) -> tuple[list[AuditEvent], int]:
    """The row's events, and how many cell histories it took."""
    backlog, snapshot = sheet.backlog, sheet.snapshot
    row = sheet.row(item.row_id)
    ctx = _context(config, backlog.sheet, deps.clock())
    if item.added:
        timeline = build_timeline(backlog.sheet, row, deps.smartsheet, item.history_columns, known=None)
        since = ADDED_SINCE_ANY_TIME
    else:
        known = snapshot.rows[row.id]
        timeline = build_timeline(backlog.sheet, row, deps.smartsheet, item.history_columns, known=known)
        since = known.modified_at or snapshot.taken_at
    events = detect_row(timeline, ctx, since=since)
    read = item.history_columns
    # Each round reads cells not read before, so this ends (at the latest with every rule column).
    while confirm := columns_to_confirm(events, read, ctx, backlog.sheet.columns):
        timeline = with_history_of(timeline, backlog.sheet, deps.smartsheet, confirm, ctx.policy.rule_columns)
        events = detect_row(timeline, ctx, since=since)
        read = (*read, *confirm)
    record_approvals(timeline, since, config, deps)
    return events, len(read)


def _finish(sheet: _OpenSheet, config: AuditConfig, deps: AuditDeps, alerts: AlertBatch) -> None:
    """Judge the deletions as of the previous run's read, then move the snapshot to this run's."""
    backlog = sheet.backlog
    # All of it, to move it on: the open sheet holds only the rows it replayed, and a snapshot
    # built from those would forget every other row.
    snapshot = deps.state.load(backlog.sheet_id)
    if snapshot is None:
        raise RuntimeError(f"scan state of sheet {backlog.sheet_id} vanished while its run was open")
    ctx = _context(config, backlog.sheet, deps.clock())
    remembered = deps.state.recall_rows(backlog.sheet_id, backlog.deleted)
    events: list[AuditEvent] = []
    for row_id in backlog.deleted:
        # The newest values seen of the row: the webhook path may have seen edits since the snapshot.
        last_seen = newest_seen(snapshot.rows[row_id], remembered.get(row_id))
        assert last_seen is not None  # the snapshot knows every row it reports deleted
        gone = RowTimeline(
            sheet_id=backlog.sheet_id, sheet_name=backlog.sheet.name, row_id=row_id, start=last_seen.values
        )
        # Noticed when this run read the sheet; judged as of the previous run's read.
        events.extend(detect_deleted_row(gone, ctx, judged_at=snapshot.taken_at, reported_at=backlog.read_at, by=None))
    sheet.result.new_events += len(record_events(events, config, deps, batch=alerts))
    sheet.result.events.extend(events)
    sheet.result.rows_deleted = len(backlog.deleted)
    deps.state.save(
        _next_snapshot(snapshot, backlog.sheet, backlog.deleted, config.policy.snapshot_columns, backlog.read_at)
    )
    release(snapshot, deps, accepted=backlog.accepted)
    deps.runs.end(backlog.sheet_id, backlog.run_id)


def _next_snapshot(
    previous: SheetSnapshot | None, sheet: SheetData, deleted: Sequence[int], columns: Sequence[str], now: datetime
) -> SheetSnapshot:
    """The previous snapshot moved on by what this read of the sheet showed (the whole sheet at a baseline)."""
    rows = dict(previous.rows) if previous is not None else {}
    rows.update(snapshot_rows(sheet.rows, columns))
    for row_id in deleted:
        rows.pop(row_id, None)
    return SheetSnapshot(
        sheet_id=sheet.id,
        sheet_name=sheet.name,
        version=sheet.version,
        taken_at=now,
        watermark=_watermark(previous.watermark if previous is not None else None, sheet.rows),
        columns=sheet.columns.ids_by_title,
        rows=rows,
    )


def _watermark(previous: datetime | None, rows: Iterable[RowData]) -> datetime | None:
    times = [row.modified_at for row in rows if row.modified_at is not None]
    if previous is not None:
        times.append(previous)
    return max(times) if times else None
