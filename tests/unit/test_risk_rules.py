"""The rule score: one test per factor, and properties of the sum (capped, monotone)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from billing_audit.config import AuditConfig
from billing_audit.domain.access import AccessReviewPolicy
from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskFactor, event_id_for
from billing_audit.domain.risk import (
    RiskContext,
    RiskPolicy,
    RiskWeights,
    RosterEntry,
    blend,
    rule_factors,
    rule_score,
    score_with_rules,
)

ZONE = ZoneInfo("America/Chicago")
ANA = RosterEntry("ana@example.com", access_level=4, active=True, last_permission_review=date(2026, 10, 1))
# Tuesday 2026-11-10, 10:00 in Chicago: business hours on a working day.
TUESDAY_10 = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)


def _ctx(risk: RiskPolicy | None = None, review_days: int = 90, **roster: RosterEntry) -> RiskContext:
    people = {"ana@example.com": ANA, **{entry.email: entry for entry in roster.values()}}
    return RiskContext(risk=risk or RiskPolicy(), zone=ZONE, roster=people, review_days=review_days)


def _event(
    at: datetime = TUESDAY_10,
    by: str | None = "ana@example.com",
    kind: EventType = EventType.CHANGE,
    old: object = 100.0,
    new: object = 110.0,
    row: int = 1,
    column: str | None = "Redlined Total Price",
) -> AuditEvent:
    return AuditEvent(
        event_id=event_id_for(1, row, kind, column, at),
        sheet_id=1,
        sheet_name="Crew",
        row_id=row,
        column=column,
        old_value=old,  # type: ignore[arg-type]
        new_value=new,  # type: ignore[arg-type]
        changed_at=at,
        changed_by=by,
        type=kind,
        violation=kind is not EventType.CHANGE,
        week_ending="2026-11-08",
        detected_at=at,
        detected_via=DetectedVia.SCAN,
    )


def _codes(event: AuditEvent, ctx: RiskContext | None = None, burst: int = 1) -> list[str]:
    return [factor.code for factor in rule_factors(event, ctx or _ctx(), burst)]


def test_an_ordinary_change_has_no_factor_and_scores_zero() -> None:
    assert _codes(_event()) == []
    assert rule_score(rule_factors(_event(), _ctx())) == 0


def test_outside_business_hours_in_the_business_zone() -> None:
    evening = datetime(2026, 11, 11, 0, 40, tzinfo=UTC)  # 18:40 in Chicago
    factors = rule_factors(_event(at=evening), _ctx())
    assert factors == [
        RiskFactor(code="outside_business_hours", label="Outside business hours (18:40 local)", weight=0.3)
    ]
    assert _codes(_event(at=datetime(2026, 11, 10, 23, 59, tzinfo=UTC))) == []  # 17:59 local


def test_weekend() -> None:
    saturday_10 = TUESDAY_10 + timedelta(days=4)
    assert _codes(_event(at=saturday_10)) == ["weekend"]


def test_holiday_from_the_configured_calendar_in_the_business_zone() -> None:
    risk = RiskPolicy(holidays=[date(2026, 11, 26)])
    thanksgiving_10 = datetime(2026, 11, 26, 16, tzinfo=UTC)
    assert _codes(_event(at=thanksgiving_10), _ctx(risk)) == ["holiday"]
    # 01:00 UTC on the 27th is still the 26th in Chicago.
    assert "holiday" in _codes(_event(at=datetime(2026, 11, 27, 1, tzinfo=UTC)), _ctx(risk))
    assert _codes(_event(at=thanksgiving_10)) == []


def test_unknown_and_inactive_users() -> None:
    assert _codes(_event(by="stranger@example.com")) == ["inactive_or_unknown_user"]
    gone = RosterEntry("dana@example.com", access_level=3, active=False, last_permission_review=date(2026, 10, 1))
    assert _codes(_event(by="Dana@Example.com"), _ctx(dana=gone)) == ["inactive_or_unknown_user"]
    assert _codes(_event(by=None)) == []  # a deletion the scan cannot attribute


def test_low_access_level() -> None:
    bob = RosterEntry("bob@example.com", access_level=2, last_permission_review=date(2026, 10, 1))
    assert _codes(_event(by="bob@example.com"), _ctx(bob=bob)) == ["low_access_level"]
    assert _codes(_event(by="bob@example.com"), _ctx(RiskPolicy(low_access_level=1), bob=bob)) == []


def test_permission_review_overdue_or_never_done() -> None:
    old = RosterEntry("carl@example.com", access_level=3, last_permission_review=date(2026, 3, 1))
    never = RosterEntry("eve@example.com", access_level=3)
    assert _codes(_event(by="carl@example.com"), _ctx(carl=old)) == ["permission_review_overdue"]
    assert rule_factors(_event(by="eve@example.com"), _ctx(eve=never))[0].label.endswith("(never reviewed)")
    assert _codes(_event(by="carl@example.com"), _ctx(review_days=365, carl=old)) == []


def test_the_factor_and_the_access_review_agree_on_who_is_overdue() -> None:
    """One threshold: the access review's `review_days`.  The factor used a 180-day one of its own,
    so the review flagged a person at 105 days whose changes did not carry the factor."""
    config = AuditConfig(access_review=AccessReviewPolicy(review_days=100))
    reviewed = TUESDAY_10.date() - timedelta(days=101)
    carl = RosterEntry("carl@example.com", access_level=3, last_permission_review=reviewed)
    ctx = replace(config.risk_context(), zone=ZONE, roster={"carl@example.com": carl})
    (factor,) = rule_factors(_event(by="carl@example.com"), ctx)
    assert factor.code == "permission_review_overdue" and factor.label.endswith("over 100 days)")
    review = replace(ctx, review_days=101)
    assert rule_factors(_event(by="carl@example.com"), review) == []


def test_a_deletion_the_scan_found_has_no_time_factors() -> None:
    saturday_night = datetime(2026, 11, 15, 4, tzinfo=UTC)
    deleted = _event(at=saturday_night, by=None, kind=EventType.CLOSED_ROW_DELETED, column=None, old=300.0, new=None)
    assert _codes(deleted) == ["closed_week", "large_change"]
    seen_live = deleted.model_copy(update={"detected_via": DetectedVia.WEBHOOK})
    assert _codes(seen_live)[:2] == ["outside_business_hours", "weekend"]


def test_closed_week_findings() -> None:
    for kind in (EventType.POST_CLOSE_CHANGE, EventType.WEEK_ENDING_MOVED):
        assert "closed_week" in _codes(_event(kind=kind))
    deleted = _event(kind=EventType.CLOSED_ROW_DELETED, column=None, old=300.0, new=None)
    assert _codes(deleted) == ["closed_week", "large_change"]
    assert "closed_week" not in _codes(_event(kind=EventType.LOCKED_ROW_CHANGE))


def test_a_moved_week_ending_names_both_ends_of_the_move_not_only_the_week_it_left() -> None:
    def label(old: object, new: object) -> str:
        moved = _event(kind=EventType.WEEK_ENDING_MOVED, column="Week Ending", old=old, new=new)
        [factor] = [f for f in rule_factors(moved, _ctx(), 1) if f.code == "closed_week"]
        return factor.label

    # Into a closed week from the open one the row sat in: the closed week is the new value.
    assert (
        label("2026-11-22", "2025-11-10T00:00:00")
        == "Change to a closed week (Week Ending moved 2026-11-22 to 2025-11-10)"
    )
    assert label(None, "2025-11-10") == "Change to a closed week (Week Ending moved blank to 2025-11-10)"
    assert (
        label("2025-11-10", "next Friday") == "Change to a closed week (Week Ending moved 2025-11-10 to 'next Friday')"
    )


def test_large_change_relative_to_the_value() -> None:
    assert _codes(_event(old=1000.0, new=1499.0)) == []
    assert _codes(_event(old=1000.0, new=1500.0)) == ["large_change"]
    assert _codes(_event(old=1000.0, new=400.0)) == ["large_change"]
    assert _codes(_event(old=0, new=5)) == ["large_change"]
    assert _codes(_event(old="1,000.00", new="$2,000")) == ["large_change"]  # numbers as FORMAT reads them
    assert _codes(_event(old="n/a", new=5)) == []


def test_several_saves_by_one_person_within_minutes() -> None:
    saves = [_event(at=TUESDAY_10 + timedelta(minutes=3 * i), row=i) for i in range(3)]
    scored = score_with_rules(saves, _ctx())
    assert [e.risk_factors[0].code for e in scored] == ["burst"] * 3
    # Two cells of one save are one change; saves 20 minutes apart are not a burst.
    one_save = [_event(row=1), _event(row=1, column="Quantity", old=1, new=1.05)]
    spread = [_event(at=TUESDAY_10 + timedelta(minutes=20 * i), row=i) for i in range(3)]
    assert all(not e.risk_factors for e in score_with_rules(one_save + spread, _ctx()))


def test_a_burst_counts_stored_neighbours_too() -> None:
    stored = [_event(at=TUESDAY_10 - timedelta(minutes=2 * i), row=10 + i) for i in range(1, 3)]
    [scored] = score_with_rules([_event()], _ctx(), neighbours=stored)
    assert [f.code for f in scored.risk_factors] == ["burst"]
    assert scored.risk_factors[0].label == "3 changes within 10 minutes by one person"


def test_weights_come_from_configuration_and_zero_switches_a_factor_off() -> None:
    risk = RiskPolicy(weights=RiskWeights(weekend=0.5, outside_business_hours=0))
    saturday_night = datetime(2026, 11, 15, 4, tzinfo=UTC)  # Saturday 22:00 in Chicago
    factors = rule_factors(_event(at=saturday_night), _ctx(risk))
    assert [(f.code, f.weight) for f in factors] == [("weekend", 0.5)]


def test_the_example_weeks_after_hours_closed_week_change_scores_one() -> None:
    carl = RosterEntry("carl@example.com", access_level=2, last_permission_review=date(2026, 8, 1))
    event = _event(
        at=datetime(2026, 11, 11, 2, 30, tzinfo=UTC), by="carl@example.com", kind=EventType.POST_CLOSE_CHANGE,
        old=1000.0, new=2400.0,
    )  # fmt: skip
    factors = rule_factors(event, _ctx(carl=carl))
    assert [f.code for f in factors] == [
        "outside_business_hours",
        "low_access_level",
        "permission_review_overdue",  # reviewed 2026-08-01: 102 days before, over the review's 90
        "closed_week",
        "large_change",
    ]
    assert rule_score(factors) == 1.0


_factor = st.builds(
    RiskFactor, code=st.sampled_from(["a", "b", "c"]), label=st.just("x"), weight=st.floats(0, 1, allow_nan=False)
)


@given(st.lists(_factor, max_size=12), _factor)
def test_the_score_is_capped_at_one_and_never_falls_when_a_factor_is_added(
    factors: list[RiskFactor], extra: RiskFactor
) -> None:
    score = rule_score(factors)
    assert 0 <= score <= 1
    assert rule_score([*factors, extra]) >= score


@given(
    st.floats(0, 1, allow_nan=False), st.floats(0, 1, allow_nan=False), st.floats(0, 1, allow_nan=False),
    st.floats(0, 1, allow_nan=False),
)  # fmt: skip
def test_the_blend_stays_in_range_and_rises_with_either_part(
    rule: float, anomaly: float, more: float, w: float
) -> None:
    value = blend(rule, anomaly, w)
    assert 0 <= value <= 1
    assert blend(min(1.0, rule + more), anomaly, w) >= value
    assert blend(rule, min(1.0, anomaly + more), w) >= value
    assert blend(rule, anomaly, 0.0) == round(rule, 4)
