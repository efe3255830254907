"""The periodic scan: version check, modified rows, planned cell histories, replay, store, alert.

Crash safety: events are stored idempotently (stable ids) and alerted before the sheet's snapshot
moves on, so a scan that dies midway is simply redone by the next one, with nothing lost and
nothing stored twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from billing_audit.config import AuditConfig
from billing_audit.domain.detect import AuditContext, detect_deleted_row, detect_row
from billing_audit.domain.models import AuditEvent, DetectedVia, RowTimeline
from billing_audit.domain.snapshot import SheetSnapshot
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.holds import column_hold, hold, release
from billing_audit.pipeline.planner import plan_scan, rows_modified_since
from billing_audit.pipeline.record import record_events
from billing_audit.pipeline.timelines import ADDED_SINCE_ANY_TIME, build_timeline, newest_seen, snapshot_rows
from billing_audit.smartsheet.gateway import SmartsheetError, SmartsheetGateway
from billing_audit.smartsheet.models import RowData, SheetData


@dataclass
class SheetScanResult:
    sheet_id: int
    sheet_name: str = ""
    baseline: bool = False
    unchanged: bool = False
    rows_modified: int = 0
    rows_added: int = 0
    rows_deleted: int = 0
    history_reads: int = 0
    events: list[AuditEvent] = field(default_factory=list)
    new_events: int = 0
    error: str | None = None  # Smartsheet could not be read for this sheet; its state did not move
    held: str | None = None  # a rule column changed: the sheet's audit is held (pipeline/holds.py)


@dataclass
class ScanResult:
    sheets: list[SheetScanResult] = field(default_factory=list)

    @property
    def failed(self) -> list[SheetScanResult]:
        return [sheet for sheet in self.sheets if sheet.error is not None]

    @property
    def events(self) -> list[AuditEvent]:
        return [event for sheet in self.sheets for event in sheet.events]


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


def run_scan(
    config: AuditConfig,
    deps: AuditDeps,
    sheet_ids: Sequence[int] | None = None,
    *,
    dry_run: bool = False,
    accept_columns: bool = False,
) -> ScanResult:
    """Scan each sheet; one sheet Smartsheet cannot serve does not stop the others (see `failed`).

    `accept_columns` accepts each sheet's columns as they are now, ending a hold (pipeline/holds.py).
    """
    result = ScanResult()
    for sheet_id in sheet_ids or resolve_sheet_ids(config, deps.smartsheet):
        try:
            result.sheets.append(scan_sheet(sheet_id, config, deps, dry_run=dry_run, accept_columns=accept_columns))
        except SmartsheetError as exc:
            # Nothing of this sheet moved on: the next scan retries it from the same state.
            result.sheets.append(SheetScanResult(sheet_id=sheet_id, error=str(exc)))
    return result


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


def scan_sheet(
    sheet_id: int, config: AuditConfig, deps: AuditDeps, *, dry_run: bool = False, accept_columns: bool = False
) -> SheetScanResult:
    now = deps.clock()
    snapshot = deps.state.load(sheet_id)
    columns = config.policy.snapshot_columns
    if snapshot is None:
        return _take_baseline(sheet_id, config, deps, now, dry_run=dry_run)

    result = SheetScanResult(sheet_id=sheet_id, sheet_name=snapshot.sheet_name)
    changes = deps.smartsheet.sheet_changes(
        sheet_id, after_version=snapshot.version, modified_since=rows_modified_since(snapshot.watermark)
    )
    if changes is None:
        result.unchanged = True
        if not dry_run:
            deps.state.save(snapshot.model_copy(update={"taken_at": now}))
        return result

    result.sheet_name = changes.name
    held = column_hold(snapshot, changes.columns, config.policy)
    if held is not None and not accept_columns:
        result.held = held
        if not dry_run:
            hold(snapshot, held, deps)
        return result
    ctx = AuditContext(
        policy=config.policy,
        zone=config.zone,
        sheet_columns=frozenset(changes.columns.ids_by_title),
        detected_at=now,
        detected_via=DetectedVia.SCAN,
    )
    deleted = _deleted_rows(snapshot, changes, deps)
    remembered = deps.state.recall_rows(sheet_id, [row.id for row in changes.rows] + deleted)
    plan = plan_scan(snapshot, changes, ctx, now, {row_id: row.modified_at for row_id, row in remembered.items()})
    result.rows_modified, result.rows_added, result.rows_deleted = (
        len(plan.changed_rows),
        len(plan.added_rows),
        len(deleted),
    )
    result.history_reads = plan.history_reads

    events: list[AuditEvent] = []
    for row in plan.changed_rows:
        known = snapshot.rows[row.id]
        timeline = build_timeline(changes, row, deps.smartsheet, plan.history_columns.get(row.id, ()), known=known)
        events.extend(detect_row(timeline, ctx, since=known.modified_at or snapshot.taken_at))
    for row in plan.added_rows:
        timeline = build_timeline(changes, row, deps.smartsheet, plan.history_columns.get(row.id, ()), known=None)
        events.extend(detect_row(timeline, ctx, since=ADDED_SINCE_ANY_TIME))
    for row_id in deleted:
        # The newest values seen of the row: the webhook path may have seen edits since the snapshot.
        last_seen = newest_seen(snapshot.rows[row_id], remembered.get(row_id))
        assert last_seen is not None  # the snapshot knows every row it reports deleted
        gone = RowTimeline(sheet_id=sheet_id, sheet_name=changes.name, row_id=row_id, start=last_seen.values)
        events.extend(detect_deleted_row(gone, ctx, judged_at=snapshot.taken_at, reported_at=now, by=None))

    result.events = sorted(events, key=lambda e: e.changed_at)
    if dry_run:
        return result
    result.new_events = len(record_events(result.events, config, deps))

    deps.state.save(_next_snapshot(snapshot, changes, deleted, columns, now))
    release(snapshot, deps, accepted=held)
    return result


def _take_baseline(
    sheet_id: int, config: AuditConfig, deps: AuditDeps, now: datetime, *, dry_run: bool
) -> SheetScanResult:
    """The first scan of a sheet reports nothing: it records what the sheet looks like."""
    sheet = deps.smartsheet.sheet_changes(sheet_id, after_version=None, modified_since=None)
    assert sheet is not None  # without a version to compare, the adapter always returns the sheet
    if not dry_run:
        deps.state.save(_next_snapshot(None, sheet, [], config.policy.snapshot_columns, now))
    return SheetScanResult(sheet_id=sheet_id, sheet_name=sheet.name, baseline=True)


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
