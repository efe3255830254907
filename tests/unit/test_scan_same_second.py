"""A save in the same second as the scan's read of the sheet, after it, is reported by the next scan."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing_audit.config import AuditConfig, SheetSelection
from billing_audit.pipeline.backlog import SheetBacklog
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import drain, run_scan, start_run
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from tests.unit.builders import BASELINE, at, billing_row
from tests.unit.fake_smartsheet import FakeSheet

COLUMNS = ["Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman"]
CONFIG = AuditConfig(timezone="America/Chicago", sheets=SheetSelection(sheet_ids=[4001]))
READ = at("2026-11-12T10:00:00Z")  # the second of the first scan's read


class Clock:
    def __init__(self) -> None:
        self.now = BASELINE

    def __call__(self):
        return self.now


@pytest.fixture
def sheet() -> FakeSheet:
    rows = {1: billing_row(**{"Work Request #": "WR-1"}), 2: billing_row(**{"Work Request #": "WR-2"})}
    return FakeSheet(4001, COLUMNS, rows, created=at("2026-10-20T14:00:00Z"))


def _deps(sheet: FakeSheet, clock: Clock) -> AuditDeps:
    return AuditDeps(
        smartsheet=sheet,
        events=MemoryEventStore(),
        state=MemoryStateStore(),  # type: ignore[arg-type]
        alerts=MemoryAlertPublisher(),
        notifier=MemoryAlertPublisher(),
        clock=clock,
    )


def _found(result):
    return sorted((e.row_id, e.type.value, e.column, e.old_value, e.new_value, e.changed_by) for e in result.events)


def test_saves_in_the_second_of_the_read_after_it_are_reported_by_the_next_scan(sheet):
    clock = Clock()
    deps = _deps(sheet, clock)
    run_scan(CONFIG, deps)  # the baseline

    sheet.save(1, READ, "ana@example.com", Quantity=11)
    clock.now = READ
    first = run_scan(CONFIG, deps)
    assert _found(first) == [
        (1, "post_close_change", "Quantity", 10, 11, "ana@example.com"),
        (1, "price_mismatch", None, 1100.0, 1000.0, "ana@example.com"),
    ]
    assert deps.state.load(4001).watermark == READ

    # Later in that same second: the row just read is saved again, and another row is saved.
    sheet.save(1, READ, "bob@example.com", Redlined_Total_Price=1150.0)
    sheet.save(2, READ, "carl@example.com", Redlined_Total_Price=900.0)

    clock.now = READ + timedelta(hours=1)
    second = run_scan(CONFIG, deps)
    assert _found(second) == [
        (1, "post_close_change", "Redlined Total Price", 1000.0, 1150.0, "bob@example.com"),
        (1, "price_mismatch", None, 1100.0, 1150.0, "bob@example.com"),
        (2, "post_close_change", "Redlined Total Price", 1000.0, 900.0, "carl@example.com"),
        (2, "price_mismatch", None, 1000.0, 900.0, "carl@example.com"),
    ]
    assert second.sheets[0].new_events == 4
    assert len(deps.events.all_events()) == 6, "nothing of the first scan stored twice"

    # Rows read again only because of the lookback cost no history, and report nothing again.
    sheet.save(2, READ + timedelta(hours=2), "carl@example.com", Foreman="K. Lee")
    clock.now = READ + timedelta(hours=3)
    calls_before = sheet.call_counts()
    third = run_scan(CONFIG, deps)
    assert third.events == [] and third.sheets[0].history_reads == 5  # row 2 only: closed, every rule column
    assert sheet.call_counts()["GET /sheets/{sheetId}"] == calls_before["GET /sheets/{sheetId}"] + 1


def test_a_sheet_created_in_one_second_saves_only_its_moving_rows_in_the_backlog():
    """Every row shares the watermark's second, so every read returns them all again; the run's
    saved backlog keeps only the rows it replays or moves the snapshot on with."""
    rows = {n: billing_row(**{"Work Request #": f"WR-{n}"}) for n in range(1, 31)}
    sheet = FakeSheet(4001, COLUMNS, rows, created=at("2026-10-20T14:00:00Z"))
    clock = Clock()
    deps = _deps(sheet, clock)
    run_scan(CONFIG, deps)  # the baseline

    sheet.save(7, READ, "ana@example.com", Quantity=11)
    clock.now = READ
    start_run(CONFIG, deps, "run-1")
    _run_id, plan = deps.runs.current(4001)
    backlog = SheetBacklog.model_validate_json(plan)
    assert [row.id for row in backlog.sheet.rows] == [7] and backlog.sheet.total_row_count == 30

    drained = drain(CONFIG, deps)
    assert {(e.row_id, e.type.value) for e in drained.events} == {(7, "post_close_change"), (7, "price_mismatch")}
    snapshot = deps.state.load(4001)
    assert sorted(snapshot.rows) == list(range(1, 31)) and snapshot.rows[7].values["Quantity"] == 11
    assert snapshot.rows[8].values["Quantity"] == 10
