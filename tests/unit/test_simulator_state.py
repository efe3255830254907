"""The simulator's state semantics, without its HTTP server (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smartsheet_sim import Simulator
from smartsheet_sim.model import display_value, same_value
from smartsheet_sim.scenario import ScenarioEdit, ScenarioError, parse_scenario
from smartsheet_sim.testing import small_scenario
from tests.unit.builders import at


@pytest.fixture
def sim() -> Simulator:
    return Simulator(parse_scenario(small_scenario()))


def column_id(sim: Simulator, sheet_id: int, title: str) -> int:
    sheet = sim.sheet(sheet_id)
    assert sheet is not None
    column = sheet.column_by_title(title)
    assert column is not None
    return column.id


def history(sim: Simulator, sheet_id: int, row_id: int, title: str) -> list[tuple[object, datetime, str | None]]:
    sheet = sim.sheet(sheet_id)
    assert sheet is not None
    row = sheet.row(row_id)
    assert row is not None
    return [(e.value, e.modified_at, e.by) for e in row.history.get(column_id(sim, sheet_id, title), [])]


def test_column_ids_are_large_and_distinct_per_sheet(sim: Simulator) -> None:
    ids = [c.id for s in sim.sheets() for c in s.columns]
    assert len(ids) == len(set(ids))
    assert all(i > 10**15 and i < 2**53 for i in ids)
    assert column_id(sim, 4001, "Quantity") != column_id(sim, 4002, "Quantity")
    again = Simulator(parse_scenario(small_scenario()))
    assert column_id(again, 4001, "Quantity") == column_id(sim, 4001, "Quantity")


def test_rows_start_with_one_history_entry_per_non_empty_cell(sim: Simulator) -> None:
    assert history(sim, 4001, 1, "Quantity") == [(10, at("2026-11-03T15:00:00Z"), "ana@example.com")]
    # No created_at/created_by: the baseline, and no user.
    assert history(sim, 4001, 3, "Quantity") == [("12", at("2026-11-09T12:00:00Z"), None)]
    assert history(sim, 4001, 4, "Quantity") == []


def test_a_set_edit_is_one_save_and_equal_values_make_no_entry(sim: Simulator) -> None:
    sheet = sim.sheet(4001)
    assert sheet is not None
    version = sheet.version
    edits = sim.scenario.ordered_edits()
    sim.apply_edit(edits[0])
    assert sim.now == at("2026-11-10T15:00:00Z")
    assert history(sim, 4001, 1, "Quantity")[-1] == (12, at("2026-11-10T15:00:00Z"), "bob@example.com")
    assert history(sim, 4001, 1, "Redlined Total Price")[-1][0] == 1500.0
    assert sheet.version == version + 1
    row = sheet.row(1)
    assert row is not None
    assert (row.modified_at, row.modified_by) == (at("2026-11-10T15:00:00Z"), "bob@example.com")
    # 12.0 over 12: no entry, no version, the row keeps its modifiedAt.
    sim.apply_edit(edits[1])
    assert len(history(sim, 4001, 1, "Quantity")) == 2
    assert sheet.version == version + 1
    assert row.modified_at == at("2026-11-10T15:00:00Z")


def test_a_numeric_string_is_not_the_number(sim: Simulator) -> None:
    edit = ScenarioEdit.model_validate(
        {"at": "2026-11-10T15:00:00Z", "by": "bob@example.com", "sheet": 4001, "row": 3, "set": {"Quantity": 12}}
    )
    sim.apply_edit(edit)
    assert [v for v, _, _ in history(sim, 4001, 3, "Quantity")] == ["12", 12]


def test_delete_and_add(sim: Simulator) -> None:
    sim.apply_edits_through(at("2026-11-20T15:00:00Z"))
    sheet = sim.sheet(4001)
    assert sheet is not None
    assert sheet.row(2) is None
    added = sheet.row(77)
    assert added is not None
    assert (added.created_at, added.created_by) == (at("2026-11-12T10:00:00Z"), "eve@contractor.example")
    assert history(sim, 4001, 77, "Quantity") == [(3, at("2026-11-12T10:00:00Z"), "eve@contractor.example")]
    assert history(sim, 4001, 77, "Status") == []
    assert sheet.rows[-1].id == 77


def test_apply_edits_through_is_ordered_counted_and_idempotent(sim: Simulator) -> None:
    assert sim.apply_edits_through(at("2026-11-10T16:00:00Z")) == 2
    assert sim.now == at("2026-11-10T16:00:00Z")
    assert sim.apply_edits_through(at("2026-11-10T16:00:00Z")) == 0
    assert sim.apply_edits_through(at("2026-11-30T00:00:00Z")) == 2
    assert sim.now == at("2026-11-30T00:00:00Z")


def test_edits_at_equal_times_apply_in_file_order() -> None:
    data = small_scenario()
    data["edits"] = [
        {"at": "2026-11-10T15:00:00Z", "by": "bob@example.com", "sheet": 4001, "row": 1, "set": {"Quantity": 1}},
        {"at": "2026-11-10T15:00:00Z", "by": "ana@example.com", "sheet": 4001, "row": 1, "set": {"Quantity": 2}},
    ]
    sim = Simulator(parse_scenario(data))
    sim.apply_edits_through(at("2026-11-10T15:00:00Z"))
    assert [v for v, _, _ in history(sim, 4001, 1, "Quantity")] == [10, 1, 2]
    sheet = sim.sheet(4001)
    assert sheet is not None
    row = sheet.row(1)
    assert row is not None
    assert row.cells[column_id(sim, 4001, "Quantity")] == 2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"sheet": 9999, "row": 1, "set": {"Quantity": 1}}, "unknown sheet 9999"),
        ({"sheet": 4001, "row": 404, "set": {"Quantity": 1}}, "unknown row 404"),
        ({"sheet": 4001, "row": 1, "set": {"Qty": 1}}, "unknown column 'Qty'"),
        ({"sheet": 4001, "add": {"id": 1, "cells": {}}}, "adds row 1 that already exists"),
        ({"sheet": 4001, "add": {"id": 90, "cells": {"Nope": 1}}}, "unknown column 'Nope'"),
    ],
)
def test_bad_edits_raise_one_line_scenario_errors(sim: Simulator, edit: dict[str, object], message: str) -> None:
    version = {s.id: s.version for s in sim.sheets()}
    with pytest.raises(ScenarioError, match=message) as caught:
        sim.apply_edit(ScenarioEdit.model_validate({"at": "2026-11-10T15:00:00Z", "by": "x@example.com", **edit}))
    assert "\n" not in str(caught.value)
    assert {s.id: s.version for s in sim.sheets()} == version


def test_clock_never_goes_back(sim: Simulator) -> None:
    sim.set_time(at("2026-11-15T00:00:00Z"))
    with pytest.raises(ValueError, match="back"):
        sim.set_time(at("2026-11-14T00:00:00Z"))
    with pytest.raises(ValueError, match="aware"):
        sim.set_time(datetime(2026, 11, 16))
    sim.set_time(datetime(2026, 11, 16, tzinfo=UTC))
    assert sim.now.tzinfo is not None


def test_user_ids(sim: Simulator) -> None:
    assert sim.user_id_for("ana@example.com") == 5001
    assert sim.user_id_for("ANA@example.com") == 5001
    unknown = sim.user_id_for("eve@contractor.example")
    assert unknown == sim.user_id_for("eve@contractor.example")
    assert unknown not in {5001, 5002, 5003, 5004}
    assert sim.api_user_email == "ana@example.com"


def test_change_log_names_every_event(sim: Simulator) -> None:
    sim.apply_edits_through(at("2026-11-20T15:00:00Z"))
    kinds = [(e.object_type, e.event_type, e.at) for e in sim.change_log]
    t1, t3, t4 = at("2026-11-10T15:00:00Z"), at("2026-11-11T09:00:00Z"), at("2026-11-12T10:00:00Z")
    assert kinds == [
        ("sheet", "updated", t1),
        ("cell", "updated", t1),
        ("cell", "updated", t1),
        ("row", "updated", t1),
        ("sheet", "updated", t3),
        ("row", "deleted", t3),
        ("sheet", "updated", t4),
        ("row", "created", t4),
        ("cell", "updated", t4),
        ("cell", "updated", t4),
        ("cell", "updated", t4),
    ]
    assert sim.change_log[0].user_id == 5002
    event = sim.change_log[1].to_callback_event()
    assert event == {
        "objectType": "cell",
        "eventType": "updated",
        "rowId": 1,
        "columnId": column_id(sim, 4001, "Quantity"),
        "userId": 5002,
        "timestamp": "2026-11-10T15:00:00Z",
    }


def test_value_helpers() -> None:
    assert same_value(12, 12.0)
    assert not same_value(12, "12")
    assert not same_value(True, 1)
    assert same_value("", None)
    assert display_value(1250.0) == "1250"
    assert display_value(462.5) == "462.5"
    assert display_value("2026-11-08") == "2026-11-08"
    assert display_value(None) is None


def test_many_edits_keep_history_in_order(sim: Simulator) -> None:
    start = at("2026-11-10T00:00:00Z")
    for n in range(5):
        sim.apply_edit(
            ScenarioEdit.model_validate(
                {
                    "at": start + timedelta(minutes=n),
                    "by": "bob@example.com",
                    "sheet": 4001,
                    "row": 1,
                    "set": {"Quantity": 100 + n},
                }
            )
        )
    assert [v for v, _, _ in history(sim, 4001, 1, "Quantity")] == [10, 100, 101, 102, 103, 104]


# ----- the discrete-event clock -------------------------------------------------------------------


def test_the_clock_never_moves_on_its_own(sim: Simulator) -> None:
    start = sim.now
    assert sim.now == start == at("2026-11-09T12:00:00Z")
    assert sim.virtual_elapsed == timedelta(0)


def test_sleep_applies_the_edits_falling_due_each_at_its_own_time(sim: Simulator) -> None:
    sim.set_time(at("2026-11-10T14:59:00Z"))
    assert sim.sleep(30) == 0  # 14:59:30, the first edit is at 15:00
    assert sim.now == at("2026-11-10T14:59:30Z")
    assert sim.sleep(3600 + 30) == 2  # through 16:00:00: the save at 15:00 and the no-op at 16:00
    assert sim.now == at("2026-11-10T16:00:00Z")
    assert history(sim, 4001, 1, "Quantity")[-1] == (12, at("2026-11-10T15:00:00Z"), "bob@example.com")
    assert [e.at for e in sim.change_log if e.object_type == "sheet"] == [at("2026-11-10T15:00:00Z")]
    assert sim.virtual_elapsed == timedelta(hours=1, minutes=1)


def test_advance_to_applies_in_order_and_never_goes_back(sim: Simulator) -> None:
    assert sim.advance_to(at("2026-11-12T10:00:00Z")) == 4
    assert sim.now == at("2026-11-12T10:00:00Z")
    assert [e.at for e in sim.change_log if e.object_type == "sheet"] == [
        at("2026-11-10T15:00:00Z"),
        at("2026-11-11T09:00:00Z"),
        at("2026-11-12T10:00:00Z"),
    ]
    assert sim.advance_to(at("2026-11-11T00:00:00Z")) == 0  # already past: nothing moves
    assert sim.now == at("2026-11-12T10:00:00Z")
    assert sim.virtual_elapsed == at("2026-11-12T10:00:00Z") - at("2026-11-09T12:00:00Z")
    sim.reset_virtual_elapsed()
    assert sim.virtual_elapsed == timedelta(0)
    with pytest.raises(ValueError, match="aware"):
        sim.advance_to(datetime(2026, 11, 13))
    with pytest.raises(ValueError, match="negative"):
        sim.sleep(-1)


def test_driver_moves_do_not_count_as_waits(sim: Simulator) -> None:
    sim.apply_edits_through(at("2026-11-20T15:00:00Z"))
    sim.set_time(at("2026-11-21T00:00:00Z"))
    assert sim.virtual_elapsed == timedelta(0)
    sim.sleep(90)
    assert sim.virtual_elapsed == timedelta(seconds=90)


def test_a_scenario_edit_applies_once_whoever_applies_it(sim: Simulator) -> None:
    edits = sim.scenario.ordered_edits()
    sim.sleep(86400 * 3)  # through 2026-11-12T12:00: every edit
    log = len(sim.change_log)
    for edit in edits:
        assert sim.apply_edit(edit) is False  # the clock applied it while someone waited
    assert len(sim.change_log) == log
    assert sim.apply_edits_through(at("2026-11-30T00:00:00Z")) == 0
    again = Simulator(parse_scenario(small_scenario()))
    assert again.apply_edit(again.scenario.ordered_edits()[2]) is True  # out of order, by hand
    assert again.apply_edits_through(at("2026-11-30T00:00:00Z")) == 3
    assert again.sheet(4001).row(2) is None  # type: ignore[union-attr]


# ----- history_from ------------------------------------------------------------------------------


def test_history_from_must_not_be_after_the_baseline() -> None:
    data = small_scenario()
    data["sheets"][1]["history_from"] = "2026-11-09T12:00:01Z"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data)
    message = str(caught.value)
    assert message.startswith("scenario field sheets.1.history_from: ")
    assert "after baseline_at" in message and "\n" not in message
    data["sheets"][1]["history_from"] = "2026-11-09T12:00:00Z"  # at the baseline is allowed
    assert parse_scenario(data).sheets[1].history_from == at("2026-11-09T12:00:00Z")
    data["sheets"][1]["history_from"] = "yesterday"
    with pytest.raises(ScenarioError, match=r"^scenario field sheets\.1\.history_from: "):
        parse_scenario(data)


def test_history_from_and_nested_folders_are_kept_on_the_sheet() -> None:
    data = small_scenario()
    data["sheets"][0]["history_from"] = "2026-11-05T00:00:00+01:00"
    data["sheets"][0]["folder"] = ["Crews", "North"]
    sim = Simulator(parse_scenario(data))
    sheet = sim.sheet(4001)
    assert sheet is not None
    assert sheet.history_from == at("2026-11-04T23:00:00Z")
    assert sheet.folder_path == ("Crews", "North")
    assert sim.sheet(4002).folder_path == ()  # type: ignore[union-attr]
    assert sim.sheet(4002).history_from is None  # type: ignore[union-attr]
    # The entries stay in the state; the API is what hides them (tests/integration).
    assert history(sim, 4001, 1, "Quantity") == [(10, at("2026-11-03T15:00:00Z"), "ana@example.com")]
