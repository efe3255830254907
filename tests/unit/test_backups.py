"""Backups over in-memory fakes: a run and its resumption, the manifest, verification, restore plans,
restoring as a new sheet and the cell-by-cell diff, the people's workbook."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from billing_audit.config import parse_config
from billing_audit.domain.backup import (
    MAX_ROWS_PER_WRITE,
    BackupColumn,
    BackupRow,
    Manifest,
    NewRow,
    Retention,
    SheetBackup,
    SheetContent,
    Tier,
    diff_sheets,
    manifest_key,
    restore_batches,
)
from billing_audit.errors import BadInput
from billing_audit.pipeline.backup import (
    BackupCorrupt,
    BackupDeps,
    diff_with_live,
    list_backups,
    load_sheet_backup,
    restore_as_new,
    run_backup,
    verify_backup,
)
from billing_audit.pipeline.backup_workbook import render_backup_workbook
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.store.memory import MemoryBackupProgress, MemoryBackupStore

DAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def columns() -> list[BackupColumn]:
    return [
        BackupColumn(id=11, index=0, title="Work Request #", primary=True),
        BackupColumn(id=12, index=1, title="Status", type="PICKLIST", options=["Open", "Invoiced"], width=90),
        BackupColumn(id=13, index=2, title="Quantity"),
        BackupColumn(id=14, index=3, title="Created", type="DATETIME", system_column_type="CREATED_DATE"),
    ]


def tree_rows() -> list[BackupRow]:
    """A, A.1, A.1.a, A.2, B, B.1, C: three levels, display order."""
    spec = [
        (1, None, "A"),
        (2, 1, "A.1"),
        (3, 2, "A.1.a"),
        (4, 1, "A.2"),
        (5, None, "B"),
        (6, 5, "B.1"),
        (7, None, "C"),
    ]
    return [
        BackupRow(id=row_id, parent_id=parent, cells={11: name, 12: "Open", 13: row_id * 1.5, 14: "2026-11-01"})
        for row_id, parent, name in spec
    ]


def content(sheet_id: int = 4001, rows: list[BackupRow] | None = None) -> SheetContent:
    return SheetContent(id=sheet_id, name=f"Billing {sheet_id}", version=7, columns=columns(), rows=rows or tree_rows())


class FakeArchive:
    """Sheets held as SheetContent; new sheets built as Smartsheet would place rows (toBottom of a parent)."""

    def __init__(self, sheets: Sequence[SheetContent]) -> None:
        self.sheets = {sheet.id: sheet for sheet in sheets}
        self.reads: list[int] = []
        self.writes = 0
        self.failing: set[int] = set()
        self._next = 9000

    def sheet_content(self, sheet_id: int) -> SheetContent:
        self.reads.append(sheet_id)
        if sheet_id in self.failing or sheet_id not in self.sheets:
            raise SmartsheetError(f"Smartsheet GET /sheets/{{sheetId}} failed: HTTP 404 ({sheet_id})", status=404)
        return self.sheets[sheet_id]

    def create_sheet(self, name: str, cols: Sequence[BackupColumn]) -> tuple[int, list[int]]:
        self._next += 1
        sheet_id = self._next
        made = [c.model_copy(update={"id": sheet_id * 10 + i, "index": i}) for i, c in enumerate(cols)]
        self.sheets[sheet_id] = SheetContent(id=sheet_id, name=name, version=1, columns=made, rows=[])
        return sheet_id, [c.id for c in made]

    def add_rows(self, sheet_id: int, rows: Sequence[NewRow], parent_id: int | None) -> list[int]:
        self.writes += 1
        assert len(rows) <= MAX_ROWS_PER_WRITE
        sheet = self.sheets[sheet_id]
        current = list(sheet.rows)
        if parent_id is None:
            at = len(current)
        else:
            inside, at = {parent_id}, next(i for i, r in enumerate(current) if r.id == parent_id) + 1
            while at < len(current) and current[at].parent_id in inside:
                inside.add(current[at].id)
                at += 1
        added = []
        for offset, row in enumerate(rows):
            self._next += 1
            added.append(BackupRow(id=self._next, parent_id=parent_id, cells=row.cells, formulas=row.formulas))
            current.insert(at + offset, added[-1])
        self.sheets[sheet_id] = sheet.model_copy(update={"rows": current})
        return [row.id for row in added]

    def call_counts(self) -> dict[str, int]:
        return {"reads": len(self.reads), "writes": self.writes}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def deps_for(archive: FakeArchive) -> BackupDeps:
    return BackupDeps(
        archive=archive,
        gateway=None,  # type: ignore[arg-type]  # explicit sheet ids: no workspace is listed
        store=MemoryBackupStore(),
        progress=MemoryBackupProgress(),
        clock=Clock(),
        retention=Retention(daily_days=30, monthly_months=12),
    )


CONFIG = parse_config({"timezone": "America/Chicago", "sheets": {"sheet_ids": [4001, 4002, 4003]}})


def test_a_run_stores_each_sheet_with_its_checksums_and_a_manifest_naming_them() -> None:
    deps = deps_for(FakeArchive([content(4001), content(4002), content(4003)]))
    outcome = run_backup(CONFIG, deps, DAY)
    assert outcome.complete and not outcome.failed and outcome.tier is Tier.MONTHLY
    store = deps.store
    assert isinstance(store, MemoryBackupStore)
    manifest = Manifest.model_validate_json(store.objects[manifest_key(DAY)])
    assert [entry.sheet_id for entry in manifest.sheets] == [4001, 4002, 4003]
    for entry, stored in manifest.objects():
        body = store.objects[stored.key]
        assert hashlib.sha256(body).hexdigest() == stored.sha256 and len(body) == stored.bytes
        assert stored.key.startswith(f"backups/2026-12-01/{entry.sheet_id}/")
    first = manifest.sheets[0]
    assert (first.version, first.row_count) == (7, 7)
    assert SheetBackup.model_validate_json(store.objects[first.objects["json"].key]).sheet == content(4001)
    # The month's first backup is its monthly: locked for 12 months of 31 days; the next day's is a daily.
    assert store.tiers[first.objects["json"].key] == "monthly"
    assert store.retain_until[first.objects["json"].key] == datetime(2027, 12, 8, tzinfo=UTC)
    assert run_backup(CONFIG, deps, DAY + timedelta(days=1)).tier is Tier.DAILY
    assert store.retain_until[manifest_key(DAY + timedelta(days=1))] == datetime(2027, 1, 1, tzinfo=UTC)


def test_a_run_stopped_for_time_goes_on_from_the_next_sheet_and_never_repeats_one() -> None:
    archive = FakeArchive([content(4001), content(4002), content(4003)])
    deps = deps_for(archive)
    budget = iter([100.0, 100.0, 5.0])  # time left before each sheet; the margin is 10 s
    first = run_backup(CONFIG, deps, DAY, time_left=lambda: next(budget), margin_seconds=10)
    assert not first.complete and first.sheets_left == 1
    assert [entry.sheet_id for entry in first.backed_up] == [4001, 4002]
    assert manifest_key(DAY) not in deps.store.objects  # type: ignore[attr-defined]
    second = run_backup(CONFIG, deps, DAY, time_left=lambda: 100.0, margin_seconds=10)
    assert second.complete and [entry.sheet_id for entry in second.backed_up] == [4003]
    assert archive.reads == [4001, 4002, 4003]  # each sheet read once across both invocations
    assert [entry.sheet_id for entry in second.manifest.sheets] == [4001, 4002, 4003]  # type: ignore[union-attr]
    third = run_backup(CONFIG, deps, DAY)
    assert third.already_done and archive.reads == [4001, 4002, 4003]


def test_a_sheet_smartsheet_cannot_serve_is_named_and_tried_again_by_the_next_invocation() -> None:
    archive = FakeArchive([content(4001), content(4002), content(4003)])
    archive.failing = {4002}
    deps = deps_for(archive)
    outcome = run_backup(CONFIG, deps, DAY)
    assert [failed.sheet_id for failed in outcome.failed] == [4002] and "404" in outcome.failed[0].error
    manifest = Manifest.model_validate_json(deps.store.objects[manifest_key(DAY)])  # type: ignore[attr-defined]
    assert [e.sheet_id for e in manifest.sheets] == [4001, 4003] and [f.sheet_id for f in manifest.failed] == [4002]
    archive.failing = set()
    again = run_backup(CONFIG, deps, DAY)
    assert [entry.sheet_id for entry in again.backed_up] == [4002] and not again.failed
    manifest = Manifest.model_validate_json(deps.store.objects[manifest_key(DAY)])  # type: ignore[attr-defined]
    assert [e.sheet_id for e in manifest.sheets] == [4001, 4002, 4003] and not manifest.failed


def test_verify_names_every_missing_or_altered_object_by_its_key() -> None:
    deps = deps_for(FakeArchive([content(4001), content(4002)]))
    run_backup(CONFIG, deps, DAY, sheet_ids=[4001, 4002])
    store = deps.store
    assert isinstance(store, MemoryBackupStore)
    clean = verify_backup(store, DAY)
    assert clean.ok and clean.checked == 4
    altered, missing = "backups/2026-12-01/4001/sheet.json", "backups/2026-12-01/4002/sheet.xlsx"
    store.objects[altered] = store.objects[altered].replace(b'"Open"', b'"Paid"', 1)
    del store.objects[missing]
    result = verify_backup(store, DAY)
    assert not result.ok and result.checked == 4
    assert {(p.key, p.what.split(" (")[0]) for p in result.problems} == {
        (altered, "checksum mismatch"),
        (missing, "missing"),
    }
    with pytest.raises(BackupCorrupt, match=altered):
        load_sheet_backup(store, 4001, DAY)
    assert not verify_backup(store, DAY + timedelta(days=3)).ok  # no manifest: a problem, not a pass
    with pytest.raises(BadInput):
        load_sheet_backup(store, 4999, DAY)
    assert [listing.day for listing in list_backups(store)] == [DAY]


def test_restore_batches_rebuild_order_and_hierarchy_level_by_level() -> None:
    batches = restore_batches(tree_rows())
    assert [(b.parent_id, [r.id for r in b.rows]) for b in batches] == [
        (None, [1, 5, 7]),
        (1, [2, 4]),
        (5, [6]),
        (2, [3]),
    ]
    flat = [BackupRow(id=i) for i in range(1, 1202)]
    assert [len(b.rows) for b in restore_batches(flat)] == [500, 500, 201]


def test_restore_as_new_then_diff_by_position_is_exact_and_the_live_sheet_is_untouched() -> None:
    archive = FakeArchive([content(4001)])
    backup = SheetBackup(taken_at=NOW, sheet=content(4001))
    restored = restore_as_new(archive, backup, "Billing (restored)")
    assert (restored.rows, restored.columns, restored.requests) == (7, 4, 5)
    assert archive.sheets[4001] == content(4001)
    copy = archive.sheets[restored.sheet_id]
    assert [r.cells.get(copy.columns[0].id) for r in copy.rows] == ["A", "A.1", "A.1.a", "A.2", "B", "B.1", "C"]
    assert all(copy.columns[3].id not in r.cells for r in copy.rows)  # system column: Smartsheet fills it
    _live, match, differences = diff_with_live(archive, backup, restored.sheet_id)
    assert match == "position" and differences == []


def test_diff_by_id_tells_changed_cells_moved_added_and_missing_rows_and_changed_columns() -> None:
    backup = content(4001)
    rows = list(backup.rows)
    rows[2] = rows[2].model_copy(update={"cells": {**rows[2].cells, 13: 99}})  # A.1.a Quantity changed
    rows[4], rows[6] = rows[6], rows[4]  # C now before B (B.1 stays under B)
    rows[6] = rows[6].model_copy(update={"parent_id": None})
    del rows[3]  # A.2 deleted
    rows.append(BackupRow(id=42, cells={11: "new"}))
    cols = list(backup.columns)
    cols[1] = cols[1].model_copy(update={"options": ["Open", "Invoiced", "Paid"]})
    live = backup.model_copy(update={"rows": rows, "columns": cols})
    lines = {d.line() for d in diff_sheets(backup, live, match="id")}
    assert "row 3, Quantity: value: backup 4.5, live 99" in lines
    assert "row 4: missing from the live sheet: backup 4, live (none)" in lines
    assert "live row 7: not in the backup: backup (none), live 42" in lines
    assert "column 2 (Status): options: backup ['Open', 'Invoiced'], live ['Open', 'Invoiced', 'Paid']" in lines
    assert any(line.startswith("row 5: moved") for line in lines) and any(
        line.startswith("row 7: moved") for line in lines
    )
    assert diff_sheets(backup, backup, match="id") == []


def test_cells_compare_as_stored_values() -> None:
    backup = content(4001, [BackupRow(id=1, cells={11: "12", 13: 12})])
    same = content(4001, [BackupRow(id=1, cells={11: "12", 13: 12.0})])
    other = content(4001, [BackupRow(id=1, cells={11: 12, 13: True})])
    assert diff_sheets(backup, same, match="id") == []
    assert {d.where for d in diff_sheets(backup, other, match="id")} == {"row 1, Work Request #", "row 1, Quantity"}


def test_the_workbook_holds_every_row_with_its_level_and_text_never_runs_as_a_formula() -> None:
    rows = [*tree_rows(), BackupRow(id=8, cells={11: '=HYPERLINK("http://x")'}, formulas={13: "=SUM(1,2)"})]
    data = render_backup_workbook(SheetBackup(taken_at=NOW, sheet=content(4001, rows)))
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Rows", "Columns", "Attachments", "Discussions", "About"]
    sheet = book["Rows"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:4] == ["Row #", "Row id", "Level", "Work Request #"]
    assert [(v[3], v[2]) for v in values[1:4]] == [("A", 0), ("A.1", 1), ("A.1.a", 2)]
    # The row id the audit's events name, as text: Excel would round a 16-digit number.
    assert [v[1] for v in values[1:]] == [str(row.id) for row in rows]
    assert sheet.cell(row=4, column=4).alignment.indent == 2
    last = list(sheet.iter_rows())[-1]
    assert last[3].data_type == "s" and last[5].value == "=SUM(1,2)" and last[5].data_type == "s"
