"""The webhook path derives changes from the row memory and the callback, reading cell history only
where the callback cannot tell: each case is checked against what the scan finds from history."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from billing_audit.config import AuditConfig, SheetSelection
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.values import CellValue, utc_iso
from billing_audit.pipeline.callbacks import HistoryCause, process_callback
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import run_scan
from billing_audit.smartsheet.models import RowData, UserData
from billing_audit.smartsheet.webhooks import WebhookCallback
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from tests.unit.builders import BASELINE, at, billing_row
from tests.unit.fake_smartsheet import FakeSheet

COLUMNS = ["Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman"]
CONFIG = AuditConfig(timezone="America/Chicago", sheets=SheetSelection(sheet_ids=[4001]))
HISTORY = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"
KNOWN = {"ann@example.com": 11, "bob@example.com": 12, "carl@example.com": 13}


class CallbackSheet(FakeSheet):
    """A sheet that also writes down, as Smartsheet's webhook would, what each save did."""

    def __init__(self) -> None:
        rows = {n: billing_row(**{"Work Request #": f"WR-{n}"}) for n in (1, 2, 3)}  # closed week, $1000 each
        super().__init__(4001, COLUMNS, rows, created=at("2026-10-20T14:00:00Z"))
        self.pending: list[dict[str, object]] = []

    @staticmethod
    def user_id(email: str) -> int:
        return KNOWN.get(email, 900 + len(email))  # an editor the users list does not name

    def users(self) -> list[UserData]:
        return [UserData(id=user_id, email=email) for email, user_id in KNOWN.items()]

    def save(self, row_id: int, at: datetime, by: str, **cells: CellValue) -> None:
        before = dict(self.cells[row_id])
        super().save(row_id, at, by, **cells)
        for column_id, value in self.cells[row_id].items():
            if before.get(column_id) != value:
                self._event("cell", at, by, rowId=row_id, columnId=column_id)
        self._event("row", at, by, id=row_id, eventType="updated")

    def add_row(self, row_id: int, at: datetime, by: str, values: dict[str, CellValue]) -> None:
        self.meta[row_id] = RowData(id=row_id, created_at=at, created_by=by, modified_at=at, modified_by=by)
        self.cells[row_id] = {}
        self._event("row", at, by, id=row_id, eventType="created")
        self._write(row_id, values, at, by)
        for column_id in self.cells[row_id]:
            self._event("cell", at, by, rowId=row_id, columnId=column_id)
        self.version += 1

    def _event(self, kind: str, at: datetime, by: str, **fields: object) -> None:
        event = {"objectType": kind, "eventType": "updated", "userId": self.user_id(by), "timestamp": utc_iso(at)}
        self.pending.append({**event, **fields})

    def callback(self) -> WebhookCallback:
        events, self.pending = self.pending, []
        return WebhookCallback.model_validate(
            {"nonce": str(len(events)), "webhookId": 1, "scope": "sheet", "scopeObjectId": 4001, "events": events}
        )


class Clock:
    def __init__(self) -> None:
        self.now = BASELINE

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sheet() -> CallbackSheet:
    return CallbackSheet()


def _deps(sheet: CallbackSheet, clock: Clock) -> AuditDeps:
    deps = AuditDeps(
        smartsheet=sheet,
        events=MemoryEventStore(),
        state=MemoryStateStore(),  # type: ignore[arg-type]
        alerts=MemoryAlertPublisher(),
        notifier=MemoryAlertPublisher(),
        clock=clock,
    )
    run_scan(CONFIG, deps)  # the baseline
    return deps


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hooked(sheet: CallbackSheet, clock: Clock) -> AuditDeps:
    """The webhook path's stores: baseline taken, the webhook live since then."""
    deps = _deps(sheet, clock)
    deps.state.mark_webhook_live(4001, BASELINE)
    return deps


@pytest.fixture
def scanned(sheet: CallbackSheet, clock: Clock) -> AuditDeps:
    """A second, independent deployment that only scans: the reference."""
    return _deps(sheet, clock)


def _facts(events: list[AuditEvent]) -> list[tuple[object, ...]]:
    return sorted(
        (e.event_id, e.type.value, e.column, e.old_value, e.new_value, e.changed_by, e.changed_at) for e in events
    )


def _deliver(sheet: CallbackSheet, deps: AuditDeps, clock: Clock, **kwargs: object):
    clock.now += timedelta(minutes=5)
    before = sheet.calls[HISTORY]
    result = process_callback(sheet.callback(), CONFIG, deps, **kwargs)  # type: ignore[arg-type]
    return result, sheet.calls[HISTORY] - before


def _same_as_the_scan(hooked: AuditDeps, scanned: AuditDeps, clock: Clock) -> None:
    clock.now += timedelta(hours=1)
    run_scan(CONFIG, scanned)
    assert _facts(list(hooked.events.events.values())) == _facts(list(scanned.events.events.values()))


def test_a_single_edit_needs_no_history(sheet, hooked, scanned, clock):
    sheet.save(1, at("2026-11-10T23:30:00Z"), "ann@example.com", Redlined_Total_Price=1500.0)
    result, reads = _deliver(sheet, hooked, clock)
    assert reads == 0 and result.rows_derived == 1
    post_close = [e for e in result.events if e.type.value == "post_close_change"]
    assert [(e.old_value, e.new_value, e.changed_by) for e in post_close] == [(1000.0, 1500.0, "ann@example.com")]
    _same_as_the_scan(hooked, scanned, clock)


def test_same_second_saves_by_two_people_need_no_history(sheet, hooked, scanned, clock):
    moment = at("2026-11-10T23:30:00Z")
    sheet.save(1, moment, "ann@example.com", Quantity=12)
    sheet.save(1, moment, "bob@example.com", Redlined_Total_Price=1200.0)
    result, reads = _deliver(sheet, hooked, clock)
    assert reads == 0
    assert {(e.column, e.changed_by) for e in result.events if e.type.value == "post_close_change"} == {
        ("Quantity", "ann@example.com"),
        ("Redlined Total Price", "bob@example.com"),
    }
    _same_as_the_scan(hooked, scanned, clock)


def test_a_change_and_its_revert_in_one_bundle_read_that_cell_only(sheet, hooked, scanned, clock):
    sheet.save(2, at("2026-11-10T23:30:00Z"), "ann@example.com", Redlined_Total_Price=9000.0)
    sheet.save(2, at("2026-11-10T23:31:00Z"), "ann@example.com", Redlined_Total_Price=1000.0)
    result, reads = _deliver(sheet, hooked, clock)
    assert reads == 1 and dict(result.history_reads) == {HistoryCause.REPEATED_CELL: 1}
    assert [e.new_value for e in result.events if e.type.value == "post_close_change"] == [9000.0, 1000.0]
    _same_as_the_scan(hooked, scanned, clock)


def test_an_unknown_editor_is_named_by_that_cells_history(sheet, hooked, scanned, clock):
    sheet.save(3, at("2026-11-11T02:00:00Z"), "temp.contractor@example.net", Quantity=20)
    result, reads = _deliver(sheet, hooked, clock)
    assert reads == 1 and dict(result.history_reads) == {HistoryCause.UNKNOWN_EDITOR: 1}
    assert {e.changed_by for e in result.events} == {"temp.contractor@example.net"}
    _same_as_the_scan(hooked, scanned, clock)


def test_a_row_added_then_edited_reads_only_the_cell_edited_again(sheet, hooked, scanned, clock):
    added = billing_row(**{"Work Request #": "WR-9", "Redlined Total Price": 700.0})
    sheet.add_row(9, at("2026-11-12T10:00:00Z"), "carl@example.com", added)
    sheet.save(9, at("2026-11-12T10:05:00Z"), "carl@example.com", Redlined_Total_Price=750.0)
    result, reads = _deliver(sheet, hooked, clock)
    assert reads == 1 and dict(result.history_reads) == {HistoryCause.REPEATED_CELL: 1}
    assert "backdated_row_added" in {e.type.value for e in result.events}
    _same_as_the_scan(hooked, scanned, clock)


def test_a_row_added_alone_needs_no_history(sheet, hooked, scanned, clock):
    sheet.add_row(8, at("2026-11-12T10:00:00Z"), "carl@example.com", billing_row(**{"Work Request #": "WR-8"}))
    result, reads = _deliver(sheet, hooked, clock)
    assert reads == 0 and [e.type.value for e in result.events if e.violation] == ["backdated_row_added"]
    _same_as_the_scan(hooked, scanned, clock)


def test_memory_from_before_the_webhook_was_enabled_is_not_derived_from(sheet, hooked, scanned, clock):
    hooked.state.mark_webhook_live(4001, BASELINE + timedelta(hours=1))  # re-enabled after the snapshot
    sheet.save(1, at("2026-11-10T23:30:00Z"), "ann@example.com", Redlined_Total_Price=1500.0)
    result, reads = _deliver(sheet, hooked, clock)
    assert reads == 5 and dict(result.history_reads) == {HistoryCause.STALE_MEMORY: 5}
    _same_as_the_scan(hooked, scanned, clock)


def test_a_row_that_moved_on_past_the_callback_is_read_whole(sheet, hooked, scanned, clock):
    sheet.save(1, at("2026-11-10T23:30:00Z"), "ann@example.com", Quantity=11)
    first = sheet.callback()
    sheet.save(1, at("2026-11-10T23:45:00Z"), "bob@example.com", Quantity=12)  # its callback is still to come
    clock.now += timedelta(minutes=30)
    result = process_callback(first, CONFIG, hooked)
    assert dict(result.history_reads) == {HistoryCause.MOVED_ON: 5}
    _same_as_the_scan(hooked, scanned, clock)


def test_a_callback_retried_after_a_later_one_was_processed_reads_nothing_and_adds_nothing(sheet, hooked, clock):
    sheet.save(1, at("2026-11-10T23:30:00Z"), "ann@example.com", Quantity=11)
    first = sheet.callback()
    process_callback(first, CONFIG, hooked)
    sheet.save(1, at("2026-11-10T23:45:00Z"), "bob@example.com", Quantity=12)
    later, _ = _deliver(sheet, hooked, clock)
    assert later.rows_derived == 1
    stored = _facts(list(hooked.events.events.values()))
    before = sheet.calls[HISTORY]
    retried = process_callback(first, CONFIG, hooked)  # Smartsheet's retry, or an SQS redelivery
    assert sheet.calls[HISTORY] == before and retried.events == []
    assert _facts(list(hooked.events.events.values())) == stored


def test_rows_beyond_the_allowance_are_left_to_the_scan_and_not_derived_from_again(sheet, hooked, scanned, clock):
    hooked.state.mark_webhook_live(4001, BASELINE + timedelta(hours=1))  # every row needs its history
    sheet.save(1, at("2026-11-10T23:30:00Z"), "ann@example.com", Quantity=11)
    sheet.save(2, at("2026-11-10T23:30:00Z"), "ann@example.com", Quantity=11)
    result, reads = _deliver(sheet, hooked, clock, history_allowance=5)
    assert (reads, result.rows_deferred) == (5, 1)
    hooked.state.mark_webhook_live(4001, BASELINE)  # even once its memory would be trusted again...
    sheet.save(2, at("2026-11-10T23:50:00Z"), "ann@example.com", Quantity=12)
    result, reads = _deliver(sheet, hooked, clock)
    assert dict(result.history_reads) == {HistoryCause.STALE_MEMORY: 5}  # ...a deferred row is read whole
    _same_as_the_scan(hooked, scanned, clock)


def test_the_scan_finishes_what_the_webhook_path_deferred(sheet, hooked, scanned, clock):
    hooked.state.mark_webhook_live(4001, BASELINE + timedelta(hours=1))
    sheet.save(1, at("2026-11-10T23:30:00Z"), "ann@example.com", Redlined_Total_Price=1500.0)
    result, reads = _deliver(sheet, hooked, clock, history_allowance=0)
    assert (reads, result.rows_deferred, result.events) == (0, 1, [])
    clock.now += timedelta(hours=1)
    run_scan(CONFIG, hooked)
    _same_as_the_scan(hooked, scanned, clock)
