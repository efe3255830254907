"""Each audit rule of FORMAT.md, one behaviour per test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing_audit.domain.detect import detect_deleted_row, detect_row
from billing_audit.domain.models import EventType, RiskLevel, RowTimeline
from billing_audit.domain.policy import AuditPolicy, PriceTolerance
from tests.unit.builders import BASELINE, COLUMNS, NOW, at, billing_row, context, timeline


def kinds(events):
    return [(e.type.value, e.column, e.financial_impact, e.risk_level) for e in events]


def test_change_after_close_is_post_close_with_total_impact_and_mismatch():
    row = timeline(
        billing_row(Status="Completed"),
        [("2026-11-11T02:30:00Z", "carl@example.com", {"Redlined Total Price": 2400.0})],
    )
    events = detect_row(row, context(), BASELINE)
    assert kinds(events) == [
        ("post_close_change", "Redlined Total Price", 1400.0, RiskLevel.HIGH),
        ("price_mismatch", None, None, RiskLevel.LOW),
    ]
    assert events[0].old_value == 1000.0 and events[0].new_value == 2400.0
    assert events[0].changed_by == "carl@example.com"
    assert (events[1].old_value, events[1].new_value) == (1000.0, 2400.0)


def test_locked_open_row_change_quantity_carries_zero_when_total_changes_in_same_save():
    row = timeline(
        billing_row(
            **{"Week Ending": "2026-11-15", "Status": "Approved", "Quantity": 6, "Redlined Total Price": 600.0}
        ),
        [("2026-11-10T16:00:00Z", "bob@example.com", {"Quantity": 7, "Redlined Total Price": 700.0})],
    )
    assert kinds(detect_row(row, context(), BASELINE)) == [
        ("locked_row_change", "Quantity", 0.0, RiskLevel.LOW),
        ("locked_row_change", "Redlined Total Price", 100.0, RiskLevel.MEDIUM),
    ]


def test_open_unlocked_change_is_not_a_violation():
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [("2026-11-10T15:00:00Z", "ana@example.com", {"Quantity": 11, "Redlined Total Price": 1100.0})],
    )
    events = detect_row(row, context(), BASELINE)
    assert [(e.type, e.violation, e.risk_level) for e in events] == [(EventType.CHANGE, False, None)] * 2


@pytest.mark.parametrize(
    ("when", "expected"),
    [("2026-11-09T06:00:00Z", "post_close_change"), ("2026-11-09T05:59:59Z", "locked_row_change")],
)
def test_week_closes_at_local_midnight_at_or_after(when, expected):
    # Week Ending 2026-11-08 in Chicago (CST, UTC-6) closes at 2026-11-09T06:00:00Z.
    row = timeline(billing_row(Status="Completed"), [(when, "a@example.com", {"Quantity": 11})])
    assert detect_row(row, context(), at("2026-11-09T00:00:00Z"))[0].type.value == expected


@pytest.mark.parametrize(
    ("week", "closes"),
    [
        ("2026-10-31", "2026-11-01T05:00:00Z"),  # still daylight time (CDT, UTC-5) at that midnight
        ("2026-11-01", "2026-11-02T06:00:00Z"),  # standard time after the fall-back
        ("2026-03-07", "2026-03-08T06:00:00Z"),  # midnight before the spring-forward is still CST
        ("2026-03-08", "2026-03-09T05:00:00Z"),
    ],
)
def test_week_close_follows_daylight_saving(week, closes):
    start = billing_row(**{"Week Ending": week})
    closing = at(closes)
    since = at("2026-01-01T00:00:00Z")
    before = timeline(
        start, [((closing - timedelta(seconds=1)).isoformat(), "a@x.com", {"Quantity": 11})], created_at=since
    )
    after = timeline(start, [(closing.isoformat(), "a@x.com", {"Quantity": 11})], created_at=since)
    assert detect_row(before, context(), since)[0].type is EventType.CHANGE
    assert detect_row(after, context(), since)[0].type is EventType.POST_CLOSE_CHANGE


def test_grace_hours_delay_the_close():
    policy = AuditPolicy(close_grace_hours=48)
    row = timeline(billing_row(), [("2026-11-11T05:59:59Z", "a@x.com", {"Quantity": 11})])
    assert detect_row(row, context(policy), BASELINE)[0].type is EventType.CHANGE
    row = timeline(billing_row(), [("2026-11-11T06:00:00Z", "a@x.com", {"Quantity": 11})])
    assert detect_row(row, context(policy), BASELINE)[0].type is EventType.POST_CLOSE_CHANGE


def test_quantity_impact_uses_unit_price_after_the_save():
    row = timeline(billing_row(), [("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": 12, "Unit Price": 150.0})])
    events = detect_row(row, context(), BASELINE)
    assert kinds(events)[0] == ("post_close_change", "Quantity", 300.0, RiskLevel.MEDIUM)


def test_quantity_impact_is_null_without_unit_price_column_or_number():
    no_column = COLUMNS - {"Unit Price"}
    row = timeline(
        billing_row(**{"Unit Price": None}), [("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": 12})], columns=no_column
    )
    assert detect_row(row, context(columns=no_column), BASELINE)[0].financial_impact is None
    row = timeline(billing_row(**{"Unit Price": "TBD"}), [("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": 12})])
    event = detect_row(row, context(), BASELINE)[0]
    assert event.financial_impact is None and event.risk_level is RiskLevel.LOW


def test_numeric_strings_count_as_numbers_but_are_reported_as_returned():
    row = timeline(billing_row(Quantity="10"), [("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": "13"})])
    event = detect_row(row, context(), BASELINE)[0]
    assert (event.old_value, event.new_value, event.financial_impact) == ("10", "13", 300.0)


def test_equal_numeric_write_makes_no_event():
    row = timeline(billing_row(), [("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": "10"})])
    assert detect_row(row, context(), BASELINE) == []


def test_untracked_columns_make_no_change_event_but_unit_price_can_mismatch():
    row = timeline(billing_row(), [("2026-11-12T10:00:00Z", "a@x.com", {"Foreman": "X", "Unit Price": 90.0})])
    assert kinds(detect_row(row, context(), BASELINE)) == [("price_mismatch", None, None, RiskLevel.LOW)]


def test_price_tolerance_is_the_larger_of_absolute_and_relative():
    policy = AuditPolicy(price_tolerance=PriceTolerance(absolute=0.02, relative=0.005))
    ok = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [("2026-11-10T10:00:00Z", "a@x.com", {"Redlined Total Price": 1004.99})],
    )
    bad = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [("2026-11-10T10:00:00Z", "a@x.com", {"Redlined Total Price": 1005.01})],
    )
    assert [e.type for e in detect_row(ok, context(policy), BASELINE)] == [EventType.CHANGE]
    assert [e.type for e in detect_row(bad, context(policy), BASELINE)] == [EventType.CHANGE, EventType.PRICE_MISMATCH]


def test_status_change_makes_no_event_but_locks_later_changes():
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [
            ("2026-11-10T10:00:00Z", "a@x.com", {"Status": "Completed"}),
            ("2026-11-10T11:00:00Z", "b@x.com", {"Quantity": 11, "Redlined Total Price": 1100.0}),
        ],
    )
    assert [e.type for e in detect_row(row, context(), BASELINE)] == [EventType.LOCKED_ROW_CHANGE] * 2


def test_every_cell_of_a_save_sees_the_row_before_the_save():
    # Locking and changing in one save: the change saw an unlocked row.
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [("2026-11-10T10:00:00Z", "a@x.com", {"Status": "Completed", "Quantity": 11, "Redlined Total Price": 1100.0})],
    )
    assert {e.type for e in detect_row(row, context(), BASELINE)} == {EventType.CHANGE}


def test_week_ending_moved_out_of_a_closed_week_and_implausible_together():
    row = timeline(billing_row(), [("2026-11-13T10:00:00Z", "b@x.com", {"Week Ending": "2035-11-15"})])
    events = detect_row(row, context(), BASELINE)
    assert kinds(events) == [
        ("week_ending_moved", "Week Ending", None, RiskLevel.MEDIUM),
        ("implausible_date", "Week Ending", None, RiskLevel.LOW),
    ]
    assert (events[0].old_value, events[0].new_value) == ("2026-11-08", "2035-11-15")


def test_week_ending_moved_into_a_closed_week():
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [("2026-11-12T10:00:00Z", "b@x.com", {"Week Ending": "2026-11-01"})],
    )
    assert kinds(detect_row(row, context(), BASELINE)) == [("week_ending_moved", "Week Ending", None, RiskLevel.MEDIUM)]


def test_week_ending_moved_between_open_weeks_is_nothing():
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [("2026-11-12T10:00:00Z", "b@x.com", {"Week Ending": "2026-11-22"})],
    )
    assert detect_row(row, context(), BASELINE) == []


@pytest.mark.parametrize(
    ("value", "implausible"),
    [
        ("soon", True),
        ("2026-13-40", True),
        ("2027-11-14", False),
        ("2027-11-16", True),
        ("", False),
        (None, False),
    ],
)
def test_implausible_dates(value, implausible):
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}), [("2026-11-13T10:00:00Z", "b@x.com", {"Week Ending": value})]
    )
    found = [e.type for e in detect_row(row, context(), BASELINE)]
    assert (EventType.IMPLAUSIBLE_DATE in found) is implausible


def test_implausible_distance_is_measured_from_the_local_date():
    # 2026-11-14T03:00Z is still 2026-11-13 in Chicago: 367 days to 2027-11-15 is too far, 366 is not.
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [("2026-11-14T03:00:00Z", "b@x.com", {"Week Ending": "2027-11-14"})],
    )
    assert detect_row(row, context(), BASELINE) == []
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15"}),
        [("2026-11-14T03:00:00Z", "b@x.com", {"Week Ending": "2027-11-15"})],
    )
    assert [e.type for e in detect_row(row, context(), BASELINE)] == [EventType.IMPLAUSIBLE_DATE]


def test_a_row_without_a_valid_week_ending_never_closes():
    row = timeline(billing_row(**{"Week Ending": None}), [("2026-11-13T10:00:00Z", "b@x.com", {"Quantity": 3})])
    assert detect_row(row, context(), BASELINE)[0].type is EventType.CHANGE


def test_added_backdated_row_and_no_change_events_for_its_creation_values():
    cells = billing_row(
        **{"Week Ending": "2026-11-08", "Quantity": 2, "Unit Price": 310.0, "Redlined Total Price": 620.0}
    )
    row = timeline({}, [], added=("2026-11-12T10:00:00Z", "carl@x.com", cells))
    events = detect_row(row, context(), BASELINE)
    assert kinds(events) == [("backdated_row_added", None, 620.0, RiskLevel.MEDIUM)]
    assert (events[0].new_value, events[0].changed_by) == (620.0, "carl@x.com")


@pytest.mark.parametrize("editor", ["carl@x.com", "d@x.com"])
def test_an_edit_in_the_second_a_row_was_added_is_an_edit_not_its_creation(editor):
    """History is to the second: the creator's first save of that second is the creation, any
    other save of it (the creator's next, or someone else's) an edit of the row it made."""
    cells = billing_row(**{"Week Ending": "2026-11-08", "Quantity": 2, "Unit Price": 100.0})
    cells["Redlined Total Price"] = 200.0
    second = "2026-11-12T10:00:00Z"
    row = timeline({}, [(second, editor, {"Quantity": 3})], added=(second, "carl@x.com", cells))
    events = detect_row(row, context(), BASELINE)
    assert kinds(events) == [
        ("backdated_row_added", None, 200.0, RiskLevel.MEDIUM),
        ("post_close_change", "Quantity", 100.0, RiskLevel.MEDIUM),
        ("price_mismatch", None, None, RiskLevel.LOW),
    ]
    assert (events[1].old_value, events[1].new_value, events[1].changed_by) == (2, 3, editor)


def test_added_row_in_open_week_with_mismatch_and_later_edit():
    cells = billing_row(**{"Week Ending": "2026-11-15", "Redlined Total Price": 900.0})
    row = timeline(
        {}, [("2026-11-12T11:00:00Z", "d@x.com", {"Quantity": 11})], added=("2026-11-12T10:00:00Z", "carl@x.com", cells)
    )
    events = detect_row(row, context(), BASELINE)
    assert kinds(events) == [
        ("price_mismatch", None, None, RiskLevel.LOW),
        ("change", "Quantity", 100.0, None),
        ("price_mismatch", None, None, RiskLevel.LOW),
    ]


def test_added_row_with_implausible_week():
    row = timeline({}, [], added=("2026-11-12T10:00:00Z", "c@x.com", billing_row(**{"Week Ending": "n/a"})))
    assert [e.type for e in detect_row(row, context(), BASELINE)] == [EventType.IMPLAUSIBLE_DATE]


def test_deleted_closed_row_and_deleted_open_row():
    ctx = context()
    closed = RowTimeline(sheet_id=1, sheet_name="S", row_id=9, start=billing_row(**{"Redlined Total Price": 300.0}))
    events = detect_deleted_row(closed, ctx, judged_at=BASELINE, reported_at=NOW, by=None)
    assert kinds(events) == [("closed_row_deleted", None, -300.0, RiskLevel.MEDIUM)]
    assert events[0].changed_at == NOW and events[0].old_value == 300.0 and events[0].changed_by is None
    open_row = RowTimeline(sheet_id=1, sheet_name="S", row_id=9, start=billing_row(**{"Week Ending": "2026-11-15"}))
    assert detect_deleted_row(open_row, ctx, judged_at=BASELINE, reported_at=NOW, by=None) == []


def test_deletion_id_is_the_same_whenever_it_is_noticed():
    row = RowTimeline(sheet_id=1, sheet_name="S", row_id=9, start=billing_row())
    first = detect_deleted_row(row, context(), judged_at=BASELINE, reported_at=NOW, by=None)
    second = detect_deleted_row(row, context(), judged_at=BASELINE, reported_at=BASELINE, by="a@x.com")
    assert first[0].event_id == second[0].event_id


def test_edits_at_or_before_the_start_are_not_reported():
    row = timeline(billing_row(), [(BASELINE.isoformat(), "a@x.com", {"Quantity": 11})])
    assert detect_row(row, context(), BASELINE) == []


def test_risk_level_thresholds_follow_policy():
    policy = AuditPolicy(high_impact=500, medium_impact=50)
    row = timeline(billing_row(), [("2026-11-12T10:00:00Z", "a@x.com", {"Redlined Total Price": 1060.0})])
    assert detect_row(row, context(policy), BASELINE)[0].risk_level is RiskLevel.MEDIUM
    row = timeline(billing_row(), [("2026-11-12T10:00:00Z", "a@x.com", {"Redlined Total Price": 1500.0})])
    assert detect_row(row, context(policy), BASELINE)[0].risk_level is RiskLevel.HIGH


def test_impact_rounds_to_cents():
    row = timeline(billing_row(**{"Unit Price": 12.345}), [("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": 11})])
    assert detect_row(row, context(), BASELINE)[0].financial_impact == 12.35


def test_two_saves_in_one_second_are_rebuilt_from_merged_column_histories():
    # One editor saves {Q 10→11, T 1000→1100} then {Q 11→12, T 1100→1200} within the same second.
    row = timeline(
        billing_row(Status="Completed", **{"Week Ending": "2026-11-15"}),
        [
            ("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": 11, "Redlined Total Price": 1100.0}),
            ("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": 12, "Redlined Total Price": 1200.0}),
        ],
    )
    # The adapter merges column by column: all Quantity entries, then all Total entries.
    row = row.model_copy(update={"history": sorted(row.history, key=lambda e: e.column)})
    events = detect_row(row, context(), BASELINE)
    assert [(e.column, e.old_value, e.new_value, e.financial_impact) for e in events] == [
        ("Quantity", 10, 11, 0.0),
        ("Redlined Total Price", 1000.0, 1100.0, 100.0),
        ("Quantity", 11, 12, 0.0),
        ("Redlined Total Price", 1100.0, 1200.0, 100.0),
    ]
    assert len({e.event_id for e in events}) == 4


def test_another_persons_save_in_the_same_second_does_not_split_a_save():
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15", "Status": "Approved"}),
        [
            ("2026-11-12T10:00:00Z", "bob@x.com", {"Quantity": 12, "Unit Price": 120.0}),
            ("2026-11-12T10:00:00Z", "carl@x.com", {"Redlined Total Price": 1440.0}),
        ],
    )
    row = row.model_copy(update={"history": sorted(row.history, key=lambda e: e.column)})
    events = detect_row(row, context(), BASELINE)
    bob = [e for e in events if e.changed_by == "bob@x.com"]
    assert [(e.type.value, e.column, e.financial_impact) for e in bob] == [
        ("locked_row_change", "Quantity", 240.0),
        ("price_mismatch", None, None),
    ]
    assert bob[1].old_value == 1440.0 and bob[1].new_value == 1000.0


# -- saves by two people in one second: the row's modifiedBy says whose came last ----------------


def _second_merged_first_saver_last(row: RowTimeline, second: str) -> RowTimeline:
    """The histories merged so that, within `second`, the first save's entries come last: a merge
    order that alone would replay the two saves backwards."""
    before = [entry for entry in row.history if entry.at != at(second)]
    within = [entry for entry in row.history if entry.at == at(second)]
    return row.model_copy(update={"history": before + within[::-1]})


@pytest.mark.parametrize(
    ("start", "first", "then", "expected"),
    [
        # Bob unlocks the row, then Ana edits it: an edit of an unlocked row.
        ({"Week Ending": "2026-11-15", "Status": "Completed"}, {"Status": "In Progress"}, {"Quantity": 11}, "change"),
        # Ana edits, then Bob locks the row: her edit came before the lock.
        ({"Week Ending": "2026-11-15"}, {"Quantity": 11}, {"Status": "Completed"}, "change"),
        # Bob locks the row, then Ana edits it.
        ({"Week Ending": "2026-11-15"}, {"Status": "Completed"}, {"Quantity": 11}, "locked_row_change"),
        # Bob moves the row into a closed week, then Ana edits it.
        ({"Week Ending": "2026-11-15"}, {"Week Ending": "2026-11-01"}, {"Quantity": 11}, "post_close_change"),
    ],
)
def test_saves_of_two_people_in_the_rows_last_second_replay_in_modified_by_order(start, first, then, expected):
    second = "2026-11-12T10:00:00Z"
    first_by, then_by = ("bob@x.com", "ana@x.com") if "Quantity" in then else ("ana@x.com", "bob@x.com")
    row = timeline(billing_row(**start), [(second, first_by, first), (second, then_by, then)])
    assert row.current_modified_by == then_by
    events = detect_row(_second_merged_first_saver_last(row, second), context(), BASELINE)
    quantity = [e for e in events if e.column == "Quantity"]
    assert [(e.type.value, e.changed_by) for e in quantity] == [(expected, "ana@x.com")]


def test_without_modified_by_in_that_second_saves_of_one_second_keep_the_merge_order():
    # A later save (another second) leaves nothing to say who came first in this one.
    second = "2026-11-12T10:00:00Z"
    row = timeline(
        billing_row(**{"Week Ending": "2026-11-15", "Status": "Completed"}),
        [(second, "bob@x.com", {"Status": "In Progress"}), (second, "ana@x.com", {"Quantity": 11})],
    )
    row = _second_merged_first_saver_last(row, second).model_copy(
        update={"current_modified_at": at("2026-11-12T11:00:00Z"), "current_modified_by": "carl@x.com"}
    )
    quantity = [e for e in detect_row(row, context(), BASELINE) if e.column == "Quantity"]
    assert [e.type.value for e in quantity] == ["locked_row_change"]  # merge order: Ana's save first


def test_a_checkbox_true_written_over_the_quantity_1_is_a_change():
    # Smartsheet keeps True and 1 apart (it makes a history entry), though Python says True == 1.
    row = timeline(billing_row(Quantity=1), [("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": True})])
    events = detect_row(row, context(), BASELINE)
    assert [(e.type.value, e.old_value, e.new_value) for e in events] == [("post_close_change", 1, True)]
