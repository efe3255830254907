"""Backups: the daily export of every audited sheet, checking them, and restoring one.

A day's run reads each audited sheet whole (one request, one version), stores its JSON (what a
restore reads) and an XLSX copy (for people) with their SHA-256, and records the sheet as done in
the state table; when every sheet is done it writes the day's manifest.  An invocation that runs
short of time stops between sheets and the next one goes on from the first sheet not done, so no
sheet is backed up twice and none is left out.  Every Smartsheet request is paced by the token's
shared budget at scan priority: callbacks go first.

Verifying re-reads every object a manifest names and checks it against the manifest's SHA-256.
Restoring never touches the live sheet: it builds a new sheet from a backup, or compares a backup
with a live sheet cell by cell.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import ValidationError

from billing_audit.clock import Clock
from billing_audit.config import AuditConfig
from billing_audit.domain.backup import (
    BackupObject,
    Difference,
    FailedSheet,
    Manifest,
    NewRow,
    Retention,
    SheetBackup,
    SheetEntry,
    Tier,
    diff_sheets,
    manifest_key,
    object_key,
    restore_batches,
)
from billing_audit.errors import BadInput, DependencyFailed
from billing_audit.pipeline.backup_workbook import render_backup_workbook
from billing_audit.pipeline.scan import resolve_sheet_ids
from billing_audit.smartsheet.gateway import SheetArchive, SmartsheetError, SmartsheetGateway
from billing_audit.store.backups import BackupProgress, BackupStore

JSON_TYPE = "application/json"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BackupCorrupt(DependencyFailed):
    """A backup object is missing or does not match its manifest: it cannot be trusted."""


@dataclass
class BackupDeps:
    archive: SheetArchive
    gateway: SmartsheetGateway  # lists the configured workspaces and folders
    store: BackupStore
    progress: BackupProgress
    clock: Clock
    retention: Retention = field(default_factory=Retention)


@dataclass
class BackupOutcome:
    day: date
    tier: Tier
    complete: bool  # every sheet was tried and the manifest is written
    backed_up: list[SheetEntry]  # by this invocation
    failed: list[FailedSheet]
    sheets_left: int  # not done yet (stopped for time)
    manifest: Manifest | None = None
    already_done: bool = False


def run_backup(
    config: AuditConfig,
    deps: BackupDeps,
    day: date,
    *,
    time_left: Callable[[], float] | None = None,
    margin_seconds: float = 0.0,
    sheet_ids: Sequence[int] | None = None,
) -> BackupOutcome:
    """Back up the audited sheets (or `sheet_ids`) for `day`, going on from where an earlier
    invocation of the day stopped.  Stops before a sheet when `time_left()` is under the margin.

    A sheet Smartsheet cannot serve is reported as failed and the others go on.  The manifest is
    written when every sheet was tried, naming the failures; with failures the run stays open, so
    the day's next invocation tries those sheets again and rewrites the manifest (a new version of
    the object: the earlier one stays locked).
    """
    run = deps.progress.begin(day, deps.clock())
    if run.finished_at is not None:
        return BackupOutcome(day, run.tier, True, [], [], 0, _read_manifest(deps.store, day), already_done=True)
    wanted = list(sheet_ids) if sheet_ids is not None else resolve_sheet_ids(config, deps.gateway)
    done = deps.progress.done(day)
    backed_up: list[SheetEntry] = []
    failed: list[FailedSheet] = []
    pending = [sheet_id for sheet_id in wanted if sheet_id not in done]
    for position, sheet_id in enumerate(pending):
        if time_left is not None and time_left() < margin_seconds:
            return BackupOutcome(day, run.tier, False, backed_up, failed, len(pending) - position)
        try:
            entry = backup_sheet(deps, sheet_id, day, run.tier)
        except SmartsheetError as exc:
            failed.append(FailedSheet(sheet_id=sheet_id, error=str(exc)))
            continue
        deps.progress.mark_done(day, entry)
        backed_up.append(entry)
        done[sheet_id] = entry
    now = deps.clock()
    manifest = Manifest(
        day=day,
        tier=run.tier,
        started_at=run.started_at,
        completed_at=now,
        sheets=[done[sheet_id] for sheet_id in wanted if sheet_id in done],
        failed=failed,
    )
    retain_until = deps.retention.retain_until(day, run.tier)
    deps.store.put(
        manifest_key(day),
        manifest.model_dump_json(indent=1).encode(),
        JSON_TYPE,
        tier=run.tier,
        retain_until=retain_until,
    )
    if not failed:
        deps.progress.finish(day, now)
    return BackupOutcome(day, run.tier, True, backed_up, failed, 0, manifest)


def backup_sheet(deps: BackupDeps, sheet_id: int, day: date, tier: Tier) -> SheetEntry:
    """One sheet's objects, stored: its JSON and its XLSX copy."""
    taken_at = deps.clock()
    content = deps.archive.sheet_content(sheet_id)
    backup = SheetBackup(taken_at=taken_at, sheet=content)
    retain_until = deps.retention.retain_until(day, tier)
    objects: dict[str, BackupObject] = {}
    for name, data, content_type in (
        ("json", backup.model_dump_json().encode(), JSON_TYPE),
        ("xlsx", render_backup_workbook(backup), XLSX_TYPE),
    ):
        key = object_key(day, sheet_id, name)
        digest = deps.store.put(key, data, content_type, tier=tier, retain_until=retain_until)
        objects[name] = BackupObject(key=key, sha256=digest, bytes=len(data), content_type=content_type)
    return SheetEntry(
        sheet_id=content.id,
        name=content.name,
        version=content.version,
        row_count=len(content.rows),
        taken_at=taken_at,
        objects=objects,
    )


# ----- list and verify -------------------------------------------------------------------------


@dataclass
class DayListing:
    day: date
    manifest: Manifest | None  # None: a run that has not finished (or a manifest that is unreadable)


def list_backups(store: BackupStore) -> list[DayListing]:
    return [DayListing(day, _read_manifest(store, day)) for day in store.days()]


def _read_manifest(store: BackupStore, day: date) -> Manifest | None:
    data = store.get(manifest_key(day))
    if data is None:
        return None
    try:
        return Manifest.model_validate_json(data)
    except ValidationError:
        return None


@dataclass
class Problem:
    key: str
    what: str  # "missing", "checksum mismatch", "unreadable manifest", ...

    def line(self) -> str:
        return f"{self.what}: {self.key}"


@dataclass
class Verification:
    day: date
    checked: int = 0  # objects re-read
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def latest_day(store: BackupStore) -> date:
    days = store.days()
    if not days:
        raise BadInput("no backups in the bucket")
    return days[-1]


def verify_backup(store: BackupStore, day: date) -> Verification:
    """Re-read every object the day's manifest names and check each against its SHA-256 and size."""
    result = Verification(day)
    key = manifest_key(day)
    data = store.get(key)
    if data is None:
        result.problems.append(Problem(key, "missing manifest"))
        return result
    try:
        manifest = Manifest.model_validate_json(data)
    except ValidationError:
        result.problems.append(Problem(key, "unreadable manifest"))
        return result
    for _entry, stored in manifest.objects():
        body = store.get(stored.key)
        result.checked += 1
        if body is None:
            result.problems.append(Problem(stored.key, "missing"))
            continue
        result.bytes += len(body)
        digest = hashlib.sha256(body).hexdigest()
        if digest != stored.sha256 or len(body) != stored.bytes:
            result.problems.append(
                Problem(stored.key, f"checksum mismatch (sha256 {digest}, manifest {stored.sha256})")
            )
    return result


# ----- restore ---------------------------------------------------------------------------------


def load_sheet_backup(store: BackupStore, sheet_id: int, day: date) -> tuple[SheetEntry, SheetBackup]:
    """The sheet's backup of that day, checked against the manifest before it is used."""
    data = store.get(manifest_key(day))
    if data is None:
        raise BadInput(f"no backup manifest for {day.isoformat()}")
    manifest = Manifest.model_validate_json(data)
    entry = manifest.entry(sheet_id)
    if entry is None:
        raise BadInput(f"the backup of {day.isoformat()} holds no sheet {sheet_id}")
    stored = entry.objects["json"]
    body = store.get(stored.key)
    if body is None:
        raise BackupCorrupt(f"backup object missing: {stored.key}")
    if hashlib.sha256(body).hexdigest() != stored.sha256:
        raise BackupCorrupt(f"backup object does not match its manifest checksum: {stored.key}")
    return entry, SheetBackup.model_validate_json(body)


@dataclass
class Restored:
    sheet_id: int
    name: str
    rows: int
    columns: int
    requests: int
    attachments_not_copied: int
    discussions_not_copied: int


def restore_as_new(archive: SheetArchive, backup: SheetBackup, name: str) -> Restored:
    """A new sheet with the backup's columns, rows, order, hierarchy and values.

    Columns are created in order and matched by position; cells of system columns are left for
    Smartsheet to fill.  Rows go in level by level (restore_batches), each batch under its parent's
    new id.  Attachments and discussions are listed in the backup, not copied.
    """
    content = backup.sheet
    columns = sorted(content.columns, key=lambda column: column.index)
    sheet_id, column_ids = archive.create_sheet(name, columns)
    if len(column_ids) != len(columns):
        raise SmartsheetError(f"the new sheet has {len(column_ids)} columns, the backup {len(columns)}")
    new_column = {column.id: new_id for column, new_id in zip(columns, column_ids, strict=True) if not column.is_system}
    new_row: dict[int, int] = {}
    requests = 1
    for batch in restore_batches(content.rows):
        rows = [
            NewRow(
                cells={new_column[c]: v for c, v in row.cells.items() if c in new_column},
                formulas={new_column[c]: f for c, f in row.formulas.items() if c in new_column},
                expanded=row.expanded,
                locked=row.locked,
            )
            for row in batch.rows
        ]
        parent = new_row[batch.parent_id] if batch.parent_id is not None else None
        ids = archive.add_rows(sheet_id, rows, parent)
        requests += 1
        new_row.update(zip((row.id for row in batch.rows), ids, strict=True))
    return Restored(
        sheet_id=sheet_id,
        name=name,
        rows=len(new_row),
        columns=len(columns),
        requests=requests,
        attachments_not_copied=len(content.attachments),
        discussions_not_copied=len(content.discussions),
    )


def diff_with_live(
    archive: SheetArchive, backup: SheetBackup, against: int | None = None
) -> tuple[int, Literal["id", "position"], list[Difference]]:
    """Differences between the backup and the live sheet it was taken of (matched by id), or
    another live sheet such as a restored copy (`against`, matched by position)."""
    live_id = against if against is not None else backup.sheet.id
    match: Literal["id", "position"] = "id" if live_id == backup.sheet.id else "position"
    live = archive.sheet_content(live_id)
    return live_id, match, diff_sheets(backup.sheet, live, match=match)
