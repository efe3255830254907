"""The batch feature extraction (ml/features.py) equals the per-event reference (domain/features.py)
on any events: times at the edges of the burst and revert windows and across offset changes, cells
of every kind, people in any case, stored neighbours sharing the batch's ids, and repeated ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_audit.domain.features import FEATURES, build_profiles, feature_rows
from billing_audit.domain.models import AuditEvent, DetectedVia, EventType
from billing_audit.domain.risk import RiskPolicy
from billing_audit.ml.features import feature_matrix

# Chicago leaves daylight time at 07:00 UTC on 2026-11-01; Lord Howe's offset moves by half an hour,
# at 15:00 UTC on 2026-04-04 and at 15:30 UTC (within an hour) on 2026-10-03; Kathmandu is +05:45.
ZONES = [ZoneInfo(name) for name in ("America/Chicago", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC")]
STARTS = [
    datetime(2026, 10, 31, 20, tzinfo=UTC),
    datetime(2026, 4, 4, 12, tzinfo=UTC),
    datetime(2026, 10, 3, 15, tzinfo=UTC),
]

values = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 1.5, 2.0, 1e308, -1e308, float("inf"), float("nan"), 3.0]),
    st.booleans(),
    st.sampled_from(["", "  ", "12", "2", "1,250.00", "$3", "abc", "nan", "inf", "1"]),
)
plain_values = st.sampled_from([None, 0, 1, 1.0, -0.0, 2.5, float("nan")])
# Minutes on a coarse grid so saves land exactly one burst window or one day apart; sometimes a
# few seconds or microseconds off it.
offsets = st.tuples(
    st.sampled_from([0, 5, 10, 20, 40, 60, 60 * 24, 60 * 24 + 10, 60 * 48, 60 * 11, 60 * 8]),
    st.integers(0, 3),
    st.sampled_from([0, 0, 0, 1, 59]),
    st.sampled_from([0, 0, 0, 1, 999_999]),
)


@dataclass(frozen=True)
class Batch:
    events: list[AuditEvent]
    neighbours: list[AuditEvent]
    history: list[AuditEvent]
    risk: RiskPolicy
    zone: ZoneInfo


@st.composite
def batches(draw: st.DrawFn, cell_values: st.SearchStrategy[object] = values) -> Batch:
    start = draw(st.sampled_from(STARTS))
    count = draw(st.integers(1, 30))

    def event(index: int) -> AuditEvent:
        minutes, days, seconds, micros = draw(offsets)
        at = start + timedelta(days=days, minutes=minutes, seconds=seconds, microseconds=micros)
        return AuditEvent(
            event_id=f"e{index}",
            sheet_id=draw(st.sampled_from([1, 2, 2**62])),
            sheet_name="Crew",
            row_id=draw(st.sampled_from([1, 2, 3])),
            column=draw(st.sampled_from(["Quantity", "Quantity", "Total", None, ""])),
            old_value=draw(cell_values),
            new_value=draw(cell_values),
            changed_at=at,
            changed_by=draw(st.sampled_from(["ana@x.com", "Ana@X.com", "bo@x.com", "new@x.com", None, ""])),
            type=draw(st.sampled_from(list(EventType))),
            violation=False,
            financial_impact=draw(st.sampled_from([None, 0.0, 120.5, -40.0])),
            week_ending=draw(st.sampled_from([None, "2026-10-25", "2026-11-01", "2026-04-04", "bad", 12])),
            detected_at=at,
            detected_via=DetectedVia.SCAN,
        )

    events = [event(index) for index in range(count)]
    if draw(st.booleans()):  # some of the batch already stored, and stored events of its own
        stored = draw(st.lists(st.sampled_from(events), max_size=5))
        neighbours = [*stored, *(event(1000 + index) for index in range(draw(st.integers(0, 8))))]
    else:
        neighbours = []
    if draw(st.integers(0, 9)) == 0 and count > 1:  # an id twice in one batch
        events.append(events[0].model_copy(update={"changed_at": events[-1].changed_at, "new_value": 99}))
    history = [event(2000 + index) for index in range(draw(st.integers(0, 20)))]
    holidays = draw(st.lists(st.sampled_from([date(2026, 11, 2), date(2026, 10, 31), date(2026, 4, 6)]), max_size=2))
    risk = RiskPolicy(holidays=holidays, burst_minutes=draw(st.sampled_from([10, 0.5, 7.3, 60 * 24])))
    zone = draw(st.sampled_from(ZONES))
    return Batch(events=events, neighbours=neighbours, history=history, risk=risk, zone=zone)


def _assert_same(batch: Batch) -> None:
    profiles = build_profiles(batch.history, batch.zone, batch.risk)
    expected = np.array(
        feature_rows(batch.events, batch.neighbours, profiles, batch.zone, batch.risk), dtype=np.float64
    )
    got = feature_matrix(batch.events, batch.neighbours, profiles, batch.zone, batch.risk)
    assert got.shape == (len(batch.events), len(FEATURES))
    for index, name in enumerate(FEATURES):
        np.testing.assert_allclose(got[:, index], expected[:, index], rtol=1e-12, atol=1e-12, err_msg=name)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_the_batch_features_equal_the_reference_on_any_events(batch: Batch) -> None:
    _assert_same(batch)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(plain_values))
def test_the_batch_features_equal_the_reference_on_plain_numbers(batch: Batch) -> None:
    # Only numbers and blanks: the array path for values rather than the one value at a time.
    _assert_same(batch)


def test_a_revert_burst_and_offset_change_are_seen_as_the_reference_sees_them() -> None:
    zone = ZoneInfo("America/Chicago")
    base = datetime(2026, 11, 1, 6, 55, tzinfo=UTC)  # five minutes before Chicago's clocks go back

    def at(minutes: float, old: float, new: float, by: str = "ana@x.com") -> AuditEvent:
        moment = base + timedelta(minutes=minutes)
        return AuditEvent(
            event_id=f"{minutes}-{by}",
            sheet_id=1,
            sheet_name="Crew",
            row_id=7,
            column="Quantity",
            old_value=old,
            new_value=new,
            changed_at=moment,
            changed_by=by,
            type=EventType.CHANGE,
            violation=False,
            week_ending="2026-10-25",
            detected_at=moment,
            detected_via=DetectedVia.SCAN,
        )

    # The last a day and more after the first two.
    events = [at(0, 10, 50), at(10, 50, 10), at(10, 3, 4, "BO@x.com"), at(60 * 24 + 10.5, 10, 50)]
    risk = RiskPolicy()
    got = feature_matrix(events, [], build_profiles([], zone, risk), zone, risk)
    revert, burst = FEATURES.index("revert"), FEATURES.index("burst")
    assert got[:, revert].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert np.exp(got[:, burst]).round().tolist() == [2.0, 2.0, 1.0, 1.0]  # 10 minutes apart: one burst
    hour = np.degrees(np.arctan2(got[:, 0], got[:, 1])) / 15 % 24
    assert hour.round(3).tolist()[:2] == [round(1 + 55 / 60, 3), round(1 + 5 / 60, 3)]  # 01:55 CDT, 01:05 CST
    np.testing.assert_allclose(got, np.array(feature_rows(events, [], build_profiles([], zone, risk), zone, risk)))
