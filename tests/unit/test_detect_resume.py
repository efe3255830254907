"""Where a replay starts: from what the product last saw of a row, wherever history says nothing.

A copied or imported sheet serves no cell history from before the copy; and Smartsheet's times are
to the second, so a save in the second the product read a row may be missing from what it saw.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_audit.domain.detect import detect_row
from billing_audit.domain.models import CellEntry, RiskLevel, RowTimeline
from tests.unit.builders import BASELINE, COLUMNS, at, billing_row, context, timeline


def copied(start, saves):
    """A row of a sheet copied before the start: history only for the saves given, none for the copy."""
    history = [
        CellEntry(column=column, value=value, at=at(when), by=by)
        for when, by, cells in saves
        for column, value in cells.items()
    ]
    current = dict(start)
    for _, _, cells in saves:
        current.update(cells)
    return RowTimeline(
        sheet_id=4001,
        sheet_name="Crew 12 Billing",
        row_id=1,
        start=dict(start),
        current=current,
        history_columns=COLUMNS,
        history=history,
    )


def summary(events):
    return [(e.type.value, e.column, e.old_value, e.new_value, e.financial_impact, e.risk_level) for e in events]


def test_a_cell_never_edited_since_the_copy_keeps_the_value_last_seen():
    row = copied(billing_row(), [("2026-11-12T10:00:00Z", "a@x.com", {"Redlined Total Price": 1100.0})])
    assert summary(detect_row(row, context(), BASELINE)) == [
        ("post_close_change", "Redlined Total Price", 1000.0, 1100.0, 100.0, RiskLevel.MEDIUM),
        ("price_mismatch", None, 1000.0, 1100.0, None, RiskLevel.LOW),
    ]


def test_a_copied_row_locked_by_a_status_last_seen_is_still_locked():
    start = billing_row(**{"Week Ending": "2026-11-15", "Status": "Approved"})
    row = copied(start, [("2026-11-10T16:00:00Z", "b@x.com", {"Quantity": 11, "Redlined Total Price": 1100.0})])
    assert summary(detect_row(row, context(), BASELINE)) == [
        ("locked_row_change", "Quantity", 10, 11, 0.0, RiskLevel.LOW),
        ("locked_row_change", "Redlined Total Price", 1000.0, 1100.0, 100.0, RiskLevel.MEDIUM),
    ]


def test_edits_after_the_copy_and_before_the_start_are_history_not_findings():
    row = copied(
        billing_row(Quantity=12, **{"Redlined Total Price": 1200.0}),
        [
            ("2026-11-05T10:00:00Z", "a@x.com", {"Quantity": 12, "Redlined Total Price": 1200.0}),
            ("2026-11-12T10:00:00Z", "a@x.com", {"Quantity": 13}),
        ],
    )
    assert summary(detect_row(row, context(), BASELINE)) == [
        ("post_close_change", "Quantity", 12, 13, 100.0, RiskLevel.MEDIUM),
        ("price_mismatch", None, 1300.0, 1200.0, None, RiskLevel.LOW),
    ]


def test_a_copied_row_with_no_history_at_all_has_nothing_to_report():
    assert detect_row(copied(billing_row(), []), context(), BASELINE) == []


# Distinct instants after the start, as in test_detect_properties.
saves = st.lists(
    st.tuples(
        st.integers(1, 20 * 24 * 60),
        st.sampled_from(["a@x.com", "b@x.com"]),
        st.one_of(
            st.fixed_dictionaries({"Quantity": st.integers(0, 50)}),
            st.fixed_dictionaries({"Redlined Total Price": st.integers(0, 5000).map(float)}),
            st.fixed_dictionaries({"Status": st.sampled_from(["In Progress", "Completed"])}),
            st.fixed_dictionaries({"Week Ending": st.sampled_from(["2026-11-08", "2026-11-15", "bad"])}),
        ),
    ),
    max_size=8,
    unique_by=lambda save: save[0],
)


@settings(max_examples=150, deadline=None)
@given(saves, st.sampled_from(["2026-11-08", "2026-11-15"]), st.sampled_from(["In Progress", "Approved"]))
def test_a_copy_at_or_before_the_start_finds_exactly_what_full_history_finds(raw, week, status):
    later = [
        ((BASELINE + timedelta(minutes=m)).isoformat(), who, cells) for m, who, cells in sorted(raw, key=lambda s: s[0])
    ]
    start = billing_row(**{"Week Ending": week, "Status": status})
    full = detect_row(timeline(start, later), context(), BASELINE)
    assert detect_row(copied(start, later), context(), BASELINE) == full


# -- a save in the second of the read ------------------------------------------------------------

SECOND = "2026-11-12T10:00:00Z"


def same_second(seen: int):
    """Two saves of one row in one second, of which the product's read saw `seen`."""
    saves = [
        (SECOND, "a@x.com", {"Quantity": 11, "Redlined Total Price": 1100.0}),
        (SECOND, "b@x.com", {"Redlined Total Price": 1150.0}),
    ]
    start = billing_row()
    for _, _, cells in saves[:seen]:
        start.update(cells)
    row = timeline(billing_row(), saves)
    return row.model_copy(update={"start": start, "start_modified_at": at(SECOND)})


def test_a_save_in_the_second_of_the_read_after_it_is_reported_from_the_value_seen():
    events = detect_row(same_second(seen=1), context(), at(SECOND))
    assert summary(events) == [
        ("post_close_change", "Redlined Total Price", 1100.0, 1150.0, 50.0, RiskLevel.LOW),
        ("price_mismatch", None, 1100.0, 1150.0, None, RiskLevel.LOW),
    ]
    # The same ids as a replay of the whole second (the webhook path's, or a scan from earlier).
    whole = detect_row(same_second(seen=0), context(), BASELINE)
    assert {e.event_id for e in events} <= {e.event_id for e in whole}
    assert len(whole) == 4  # Quantity and Total of the first save; Total and a mismatch of the second


def test_saves_of_that_second_the_read_saw_are_not_reported_again():
    assert detect_row(same_second(seen=2), context(), at(SECOND)) == []
