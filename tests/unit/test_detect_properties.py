"""Properties the replay must keep for any sequence of saves."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_audit.domain.detect import detect_row
from billing_audit.domain.values import week_close
from tests.unit.builders import BASELINE, billing_row, context, timeline

START = BASELINE + timedelta(hours=1)

cell_change = st.one_of(
    st.fixed_dictionaries({"Quantity": st.integers(0, 50)}),
    st.fixed_dictionaries({"Redlined Total Price": st.integers(0, 5000).map(float)}),
    st.fixed_dictionaries({"Unit Price": st.sampled_from([45.0, 100.0, 125.0])}),
    st.fixed_dictionaries({"Status": st.sampled_from(["In Progress", "Completed", "Approved"])}),
    st.fixed_dictionaries({"Week Ending": st.sampled_from(["2026-11-08", "2026-11-15", "2026-11-22", "bad"])}),
    st.fixed_dictionaries({"Quantity": st.integers(0, 50), "Redlined Total Price": st.integers(0, 5000).map(float)}),
)
# Distinct instants: two saves by one person in the same second are one save in the cell history.
saves = st.lists(
    st.tuples(st.integers(1, 20 * 24 * 60), st.sampled_from(["a@x.com", "b@x.com"]), cell_change),
    min_size=1,
    max_size=12,
    unique_by=lambda save: save[0],
)


def _as_saves(raw):
    ordered = sorted(raw, key=lambda item: item[0])
    return [((START + timedelta(minutes=m)).isoformat(), who, cells) for m, who, cells in ordered]


def _key(event):
    return (event.event_id, event.type, event.financial_impact, event.risk_level, event.old_value, event.new_value)


@settings(max_examples=200, deadline=None)
@given(saves, st.sampled_from(["2026-11-08", "2026-11-15"]), st.sampled_from(["In Progress", "Completed"]))
def test_an_event_never_depends_on_edits_after_it(raw, week, status):
    history = _as_saves(raw)
    start = billing_row(**{"Week Ending": week, "Status": status})
    full = {_key(e) for e in detect_row(timeline(start, history), context(), BASELINE)}
    for cut in range(len(history)):
        prefix = detect_row(timeline(start, history[:cut]), context(), BASELINE)
        assert {_key(e) for e in prefix} <= full


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.sampled_from(["Quantity", "Redlined Total Price"]), st.integers(1, 600))
def test_a_change_and_its_revert_sum_to_zero(new_value, column, minutes):
    start = billing_row()
    old = start[column]
    first = (START + timedelta(minutes=minutes)).isoformat()
    second = (START + timedelta(minutes=minutes + 5)).isoformat()
    events = detect_row(
        timeline(start, [(first, "a@x.com", {column: new_value}), (second, "a@x.com", {column: old})]),
        context(),
        BASELINE,
    )
    impacts = [e.financial_impact for e in events if e.column == column]
    assert len(impacts) == (2 if new_value != old else 0)
    assert round(sum(i or 0.0 for i in impacts), 2) == 0.0


zones = st.sampled_from(
    [
        "UTC",
        "America/Chicago",
        "America/New_York",
        "Europe/London",
        "Australia/Sydney",
        "Asia/Kolkata",
        "America/Los_Angeles",
    ]
)


@given(st.dates(date(2020, 1, 1), date(2035, 12, 31)), zones, zones)
def test_moving_the_zone_moves_the_close_by_the_offset_difference(day, first, second):
    a, b = ZoneInfo(first), ZoneInfo(second)
    close_a = week_close(day.isoformat(), a)
    close_b = week_close(day.isoformat(), b)
    assert close_a is not None and close_b is not None
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time())
    offset_a = midnight.replace(tzinfo=a).utcoffset()
    offset_b = midnight.replace(tzinfo=b).utcoffset()
    assert offset_a is not None and offset_b is not None
    assert close_a - close_b == offset_b - offset_a
    assert close_a.tzinfo is not None and close_a.astimezone(UTC).astimezone(a).hour == 0


@settings(max_examples=100, deadline=None)
@given(saves)
def test_event_ids_are_unique_and_stable(raw):
    history = _as_saves(raw)
    first = detect_row(timeline(billing_row(), history), context(), BASELINE)
    again = detect_row(timeline(billing_row(), history), context(), BASELINE)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == len(first)


huge = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e308, max_value=1e308),
    st.integers(-(10**120), 10**120),
    st.sampled_from(["1e30", "-1e99", "1e100", "1e400", "$99,999,999,999,999,999,999,999,999"]),
)


@settings(max_examples=150, deadline=None)
@given(huge, huge, huge)
def test_any_number_a_cell_can_hold_gives_finite_impacts_or_none(quantity, price, total):
    """A typo of 1e27 in a cell must not stop the audit: amounts stay finite floats or are not numbers."""
    start = billing_row(**{"Week Ending": "2026-11-08"})
    saves = [((START + timedelta(minutes=10)).isoformat(), "a@x.com", {"Quantity": quantity, "Unit Price": price})]
    saves.append(((START + timedelta(minutes=20)).isoformat(), "a@x.com", {"Redlined Total Price": total}))
    for event in detect_row(timeline(start, saves), context(), BASELINE):
        assert event.financial_impact is None or math.isfinite(event.financial_impact)
        assert math.isfinite(event.risk_score)
        event.to_record()
