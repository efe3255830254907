"""The scan planner reads cell history only where FORMAT.md's scan mode needs it."""

from __future__ import annotations

from billing_audit.domain.detect import detect_row
from billing_audit.domain.models import ColumnMap, EventType
from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
from billing_audit.pipeline.planner import columns_to_confirm, plan_scan, rows_modified_since
from billing_audit.smartsheet.models import RowData, SheetData
from tests.unit.builders import BASELINE, NOW, at, billing_row, context, timeline

COLUMN_IDS = {
    t: i
    for i, t in enumerate(
        ["Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman"], 1
    )
}
RULES = ("Quantity", "Redlined Total Price", "Week Ending", "Status", "Unit Price")


def _snapshot(rows):
    return SheetSnapshot(
        sheet_id=1,
        sheet_name="S",
        version=1,
        taken_at=BASELINE,
        columns=COLUMN_IDS,
        rows={i: RowSnapshot(modified_at=at("2026-10-20T14:00:00Z"), values=v) for i, v in rows.items()},
    )


def _changes(rows, ids=COLUMN_IDS):
    return SheetData(
        id=1, name="S", version=2, total_row_count=len(rows), columns=ColumnMap(ids_by_title=ids), rows=rows
    )


def _row(row_id, values, modified="2026-11-12T10:00:00Z", created="2026-10-20T14:00:00Z"):
    return RowData(id=row_id, created_at=at(created), modified_at=at(modified), values=values)


def test_closed_or_locked_rows_read_every_rule_column():
    closed = billing_row()  # week of 2026-11-08 closed before the baseline
    locked = billing_row(**{"Week Ending": "2026-11-15", "Status": "Approved"})
    plan = plan_scan(_snapshot({1: closed, 2: locked}), _changes([_row(1, closed), _row(2, locked)]), context(), NOW)
    assert plan.history_columns == {1: RULES, 2: RULES}


def test_a_row_that_closes_by_now_reads_every_rule_column():
    open_row = billing_row(**{"Week Ending": "2026-11-15"})
    plan = plan_scan(_snapshot({1: open_row}), _changes([_row(1, open_row)]), context(), NOW)
    assert plan.history_columns == {1: RULES}


def test_open_rows_read_only_cells_that_differ():
    before = billing_row(**{"Week Ending": "2026-11-29"})
    after = billing_row(**{"Week Ending": "2026-11-29", "Quantity": "11", "Foreman": "X"})
    plan = plan_scan(_snapshot({1: before}), _changes([_row(1, after)]), context(), NOW)
    assert plan.history_columns == {1: ("Quantity",)}
    same = plan_scan(
        _snapshot({1: before}),
        _changes([_row(1, billing_row(**{"Week Ending": "2026-11-29", "Quantity": "10"}))]),
        context(),
        NOW,
    )
    assert same.history_columns == {} and [r.id for r in same.changed_rows] == [1]


def test_added_rows_read_history_only_when_edited_after_creation_or_closed_or_locked():
    open_week = billing_row(**{"Week Ending": "2026-11-22"})
    fresh = _row(9, open_week, modified="2026-11-12T10:00:00Z", created="2026-11-12T10:00:00Z")
    edited = _row(8, open_week, modified="2026-11-13T10:00:00Z", created="2026-11-12T10:00:00Z")
    # An edit in the second of creation leaves modifiedAt at createdAt: on a row closed or locked
    # it may be a violation, so its history is read all the same.
    closed = _row(7, billing_row(), modified="2026-11-12T10:00:00Z", created="2026-11-12T10:00:00Z")
    locked = billing_row(**{"Week Ending": "2026-11-22", "Status": "Completed"})
    completed = _row(6, locked, modified="2026-11-12T10:00:00Z", created="2026-11-12T10:00:00Z")
    plan = plan_scan(_snapshot({}), _changes([fresh, edited, closed, completed]), context(), NOW)
    assert [r.id for r in plan.added_rows] == [9, 8, 7, 6]
    assert plan.history_columns == {8: RULES, 7: RULES, 6: RULES}


def test_an_added_row_saved_by_someone_else_in_its_creation_second_is_read():
    open_week = billing_row(**{"Week Ending": "2026-11-22"})
    second = "2026-11-12T10:00:00Z"
    by_creator = _row(9, open_week, modified=second, created=second).model_copy(
        update={"created_by": "ana@example.com", "modified_by": "ana@example.com"}
    )
    by_another = _row(8, open_week, modified=second, created=second).model_copy(
        update={"created_by": "ana@example.com", "modified_by": "bob@example.com"}
    )
    plan = plan_scan(_snapshot({}), _changes([by_creator, by_another]), context(), NOW)
    assert plan.history_columns == {8: RULES}


def test_rows_not_modified_since_the_snapshot_are_skipped():
    row = billing_row()
    plan = plan_scan(_snapshot({1: row}), _changes([_row(1, row, modified="2026-10-20T14:00:00Z")]), context(), NOW)
    assert plan.changed_rows == [] and plan.history_reads == 0


def test_missing_columns_are_not_read():
    ids = {k: v for k, v in COLUMN_IDS.items() if k != "Unit Price"}
    row = {k: v for k, v in billing_row().items() if k != "Unit Price"}
    plan = plan_scan(_snapshot({1: row}), _changes([_row(1, row)], ids), context(), NOW)
    assert plan.history_columns == {1: ("Quantity", "Redlined Total Price", "Week Ending", "Status")}


def test_rows_the_webhook_path_audited_through_their_last_edit_are_not_read_again():
    closed = billing_row()
    edited_later = _row(2, closed, modified="2026-11-13T10:00:00Z")
    audited = {1: at("2026-11-12T10:00:00Z"), 2: at("2026-11-12T10:00:00Z")}
    plan = plan_scan(
        _snapshot({1: closed, 2: closed}), _changes([_row(1, closed), edited_later]), context(), NOW, audited
    )
    assert plan.already_audited == [1]
    assert plan.history_columns == {2: RULES}


def test_the_next_read_reaches_back_into_the_watermarks_own_second():
    assert rows_modified_since(at("2026-11-12T10:00:00Z")) == at("2026-11-12T09:59:59Z")
    assert rows_modified_since(None) is None


def test_a_row_saved_again_in_the_second_it_was_read_is_told_by_its_values():
    seen = billing_row(**{"Week Ending": "2026-11-29"})
    snapshot = _snapshot({1: seen, 2: seen})
    for known in snapshot.rows.values():
        known.modified_at = at("2026-11-12T10:00:00Z")
    saved_after_the_read = _row(1, {**seen, "Quantity": 12})
    untouched = _row(2, seen)  # read again only because of the lookback
    plan = plan_scan(snapshot, _changes([saved_after_the_read, untouched]), context(), NOW)
    assert [row.id for row in plan.changed_rows] == [1]
    assert plan.history_columns == {1: ("Quantity",)}


def _found(start, saves):
    return detect_row(timeline(start, saves), context(), since=BASELINE)


PRICES = ("Quantity", "Unit Price", "Redlined Total Price")


def test_a_price_mismatch_found_with_price_cells_unread_asks_for_them():
    open_row = billing_row(**{"Week Ending": "2026-11-29"})
    columns = _changes([]).columns
    repriced = _found(open_row, [("2026-11-12T10:00:00Z", "bob@x.com", {"Unit Price": 120.0})])
    assert [e.type for e in repriced] == [EventType.PRICE_MISMATCH]
    assert columns_to_confirm(repriced, ("Unit Price",), context(), columns) == (
        "Quantity",
        "Redlined Total Price",
    )
    assert columns_to_confirm(repriced, PRICES, context(), columns) == ()  # all read: nothing left
    # A sheet without a unit price column: the cells it has.
    no_price = ColumnMap(ids_by_title={t: i for t, i in COLUMN_IDS.items() if t != "Unit Price"})
    assert columns_to_confirm(repriced, ("Quantity",), context(), no_price) == ("Redlined Total Price",)
    # Consistent saves found nothing resting on the prices: no read.
    consistent = _found(
        open_row, [("2026-11-12T10:00:00Z", "bob@x.com", {"Quantity": 12, "Redlined Total Price": 1200.0})]
    )
    assert consistent and not any(e.violation for e in consistent)
    assert columns_to_confirm(consistent, ("Quantity", "Redlined Total Price"), context(), columns) == ()


def test_a_locked_row_change_asks_for_its_unit_price_and_its_week():
    # Priced at the unit price after the save; and a week moved into a closed one and back would
    # have made it a post-close change, which comes first.
    locked = billing_row(**{"Week Ending": "2026-11-29", "Status": "Approved"})
    found = _found(locked, [("2026-11-12T10:00:00Z", "bob@x.com", {"Quantity": 11})])
    assert (EventType.LOCKED_ROW_CHANGE, "Quantity") in [(e.type, e.column) for e in found]
    columns = _changes([]).columns
    assert columns_to_confirm(found, ("Quantity", "Status"), context(), columns) == (
        "Unit Price",
        "Redlined Total Price",
        "Week Ending",
    )
    total = _found(locked, [("2026-11-12T10:00:00Z", "bob@x.com", {"Redlined Total Price": 1100.0})])
    locked_total = [e for e in total if e.type is EventType.LOCKED_ROW_CHANGE]
    assert locked_total
    assert columns_to_confirm(locked_total, (*PRICES, "Status"), context(), columns) == ("Week Ending",)
