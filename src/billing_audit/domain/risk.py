"""Risk: the level FORMAT.md defines, a transparent rule score, and its blend with the anomaly score.

The rule score adds named factors (`RiskFactor`: code, label, weight), each a fact an auditor can
check, with weights from configuration (`RiskPolicy`), capped at 1.  Every event records the
factors that fired, so alerts and reports say why it ranks where it does.

The learned anomaly score (`anomaly_score`, 0..1, billing_audit.ml) is blended in by `blend`:
risk = (1 - w) * rule + w * anomaly, w = `RiskPolicy.anomaly_weight` (default 0.6, chosen on
`billing-audit ml evaluate`; README, "Risk scores").  Without a
usable model there is no blend: the risk is the rule score exactly and `anomaly_score` is 0.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from billing_audit.domain.models import AuditEvent, EventType, RiskFactor, RiskLevel
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.provenance import EventReportingPolicy
from billing_audit.domain.values import CellValue, is_blank, to_date, to_number

# Findings that are at least MEDIUM whatever their money impact.
_AT_LEAST_MEDIUM = frozenset({EventType.WEEK_ENDING_MOVED, EventType.CLOSED_ROW_DELETED, EventType.BACKDATED_ROW_ADDED})
# Findings that touch a week already closed (FORMAT.md's week close).
CLOSED_WEEK_TYPES = frozenset(
    {
        EventType.POST_CLOSE_CHANGE,
        EventType.CLOSED_ROW_DELETED,
        EventType.BACKDATED_ROW_ADDED,
        EventType.WEEK_ENDING_MOVED,
    }
)
# Findings that move a whole row's value at once: their change relative to the row is 100 %.
WHOLE_ROW_TYPES = frozenset({EventType.CLOSED_ROW_DELETED, EventType.BACKDATED_ROW_ADDED})
# The factors `rule_factors` adds from the clock and calendar: a change made off business hours.
OFF_HOURS_FACTORS = frozenset({"outside_business_hours", "weekend", "holiday"})


def _week(value: CellValue) -> str:
    """A Week Ending value as a factor's label shows it: its date, else the value itself, or blank."""
    found = to_date(value)
    if found is not None:
        return found.isoformat()
    return "blank" if is_blank(value) else repr(value)


def risk_level_for(event_type: EventType, impact: float | None, policy: AuditPolicy) -> RiskLevel:
    size = abs(impact) if impact is not None else 0.0
    if size >= policy.high_impact:
        level = RiskLevel.HIGH
    elif size >= policy.medium_impact:
        level = RiskLevel.MEDIUM
    else:
        level = RiskLevel.LOW
    if event_type in _AT_LEAST_MEDIUM and level is RiskLevel.LOW:
        level = RiskLevel.MEDIUM
    return level


@dataclass(frozen=True)
class RosterEntry:
    """The product's own view of a person (FORMAT.md `users`)."""

    email: str
    role: str | None = None
    access_level: int | None = None
    active: bool = True
    last_permission_review: date | None = None


class RiskWeights(BaseModel):
    """What each rule factor adds to the score (defaults: the earlier system's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outside_business_hours: float = Field(0.3, ge=0, le=1)
    weekend: float = Field(0.2, ge=0, le=1)
    holiday: float = Field(0.25, ge=0, le=1)
    low_access_level: float = Field(0.2, ge=0, le=1)
    permission_review_overdue: float = Field(0.25, ge=0, le=1)
    inactive_or_unknown_user: float = Field(0.4, ge=0, le=1)
    closed_week: float = Field(0.4, ge=0, le=1)
    large_change: float = Field(0.3, ge=0, le=1)
    burst: float = Field(0.35, ge=0, le=1)
    # A save from a source or IP outside the Event Reporting allow-lists (only where it is configured).
    outside_allowed_source: float = Field(0.3, ge=0, le=1)


class RiskPolicy(BaseModel):
    """The rule score's configuration (AuditConfig `risk`): weights, business calendar, thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: RiskWeights = RiskWeights()
    # Business hours in the business time zone, [start, end), Monday to Friday.
    business_hours_start: time = time(7, 0)
    business_hours_end: time = time(18, 0)
    holidays: list[date] = Field(default_factory=list)  # dates in the business time zone
    low_access_level: int = Field(2, ge=1, le=5)  # a roster access level at or below this is low
    large_change_ratio: float = Field(0.5, gt=0)  # |new - old| / |old| at or above this is large
    burst_minutes: float = Field(10, gt=0)  # saves by one person this close together ...
    burst_saves: int = Field(3, ge=2)  # ... this many or more (counting the event's own) are a burst
    # The anomaly score's share of a blended risk score (see `blend`).
    anomaly_weight: float = Field(0.6, ge=0, le=1)

    @model_validator(mode="after")
    def _hours_in_order(self) -> RiskPolicy:
        if self.business_hours_end <= self.business_hours_start:
            raise ValueError("business_hours_end must be after business_hours_start")
        return self


@dataclass(frozen=True)
class RiskContext:
    """What the rules need besides the event: policy, business zone, roster."""

    risk: RiskPolicy
    zone: ZoneInfo
    roster: Mapping[str, RosterEntry]
    # A permission review older than this (or none) is overdue: the access review's own threshold
    # (AccessReviewPolicy.review_days), so the factor and the review's finding agree on who is overdue.
    review_days: int
    # Event Reporting's allow-lists, where it is configured (domain/provenance.py).
    sources: EventReportingPolicy | None = None


def relative_change(event: AuditEvent) -> float | None:
    """|new - old| / |old| for a numeric cell change; 1.0 for a row added or deleted whole; an old
    value of 0 changed to anything else counts as infinitely large; None where not numeric."""
    if event.type in WHOLE_ROW_TYPES:
        return 1.0
    old, new = to_number(event.old_value), to_number(event.new_value)
    if old is None or new is None or event.column is None:
        return None
    if old == 0:
        return 0.0 if new == 0 else float("inf")
    return float(abs(new - old) / abs(old))


def save_key(event: AuditEvent) -> tuple[int, int, datetime]:
    """The save an event belongs to: one save's cells are one change for counting bursts."""
    return (event.sheet_id, event.row_id, event.changed_at)


def burst_sizes(events: Sequence[AuditEvent], neighbours: Iterable[AuditEvent], minutes: float) -> dict[str, int]:
    """For each event, how many saves its person made within `minutes` either side of it (its own
    included), counting `events` and any stored `neighbours` (deduplicated by event id)."""
    span = timedelta(minutes=minutes)
    by_person: dict[str, set[tuple[int, int, datetime]]] = defaultdict(set)
    seen: set[str] = set()
    timed = [event.changed_at for event in events if event.changed_by]
    if not timed:
        return dict.fromkeys((event.event_id for event in events), 1)
    # Neighbours come for the anomaly model's day-long revert window; only those within the
    # burst window of some event can count, and a scan asks for a replayed row's few events.
    low, high = min(timed) - span, max(timed) + span
    near = (event for event in neighbours if low <= event.changed_at <= high)
    for event in [*events, *near]:
        if event.event_id in seen or not event.changed_by:
            continue
        seen.add(event.event_id)
        by_person[event.changed_by.lower()].add(save_key(event))
    times = {person: sorted(save[2] for save in saves) for person, saves in by_person.items()}
    sizes: dict[str, int] = {}
    for event in events:
        if not event.changed_by:
            sizes[event.event_id] = 1
            continue
        moments = times[event.changed_by.lower()]
        at = event.changed_at
        sizes[event.event_id] = bisect_right(moments, at + span) - bisect_left(moments, at - span)
    return sizes


def rule_factors(event: AuditEvent, ctx: RiskContext, burst_size: int = 1) -> list[RiskFactor]:
    """The factors that fire for one event, in a fixed order."""
    risk, weights = ctx.risk, ctx.risk.weights
    local = event.changed_at.astimezone(ctx.zone)
    factors: list[RiskFactor] = []

    def add(code: str, label: str) -> None:
        weight = getattr(weights, code)
        if weight > 0:
            factors.append(RiskFactor(code=code, label=label, weight=weight))

    # A deletion a scan found carries the time the scan noticed it: the clock says nothing of it.
    if not event.noticed_between_scans:
        clock = local.time().replace(tzinfo=None)
        if not risk.business_hours_start <= clock < risk.business_hours_end:
            add("outside_business_hours", f"Outside business hours ({local:%H:%M} local)")
        if local.weekday() >= 5:
            add("weekend", f"Weekend ({local:%A})")
        if local.date() in risk.holidays:
            add("holiday", f"Holiday ({local.date().isoformat()})")
    editor = (event.changed_by or "").lower()
    person = ctx.roster.get(editor) if editor else None
    if editor and person is None:
        add("inactive_or_unknown_user", f"Unknown user ({event.changed_by})")
    elif person is not None and not person.active:
        add("inactive_or_unknown_user", f"Inactive user ({person.email})")
    if person is not None and person.access_level is not None and person.access_level <= risk.low_access_level:
        add("low_access_level", f"Low access level ({person.access_level})")
    if person is not None:
        reviewed = person.last_permission_review
        if reviewed is None:
            add("permission_review_overdue", "Permission review overdue (never reviewed)")
        elif (local.date() - reviewed).days > ctx.review_days:
            add(
                "permission_review_overdue",
                f"Permission review overdue (last {reviewed.isoformat()}, over {ctx.review_days} days)",
            )
    if event.type is EventType.WEEK_ENDING_MOVED:
        # The row's week is the one it left; the closed week may be either end of the move.
        add(
            "closed_week",
            f"Change to a closed week (Week Ending moved {_week(event.old_value)} to {_week(event.new_value)})",
        )
    elif event.type in CLOSED_WEEK_TYPES:
        week = to_date(event.week_ending) if event.week_ending is not None else None
        add("closed_week", f"Change to a closed week (week ending {week})" if week else "Change to a closed week")
    ratio = relative_change(event)
    if ratio is not None and ratio >= risk.large_change_ratio:
        add("large_change", "Large change (whole row)" if event.type in WHOLE_ROW_TYPES else _ratio_label(ratio))
    if burst_size >= risk.burst_saves:
        add("burst", f"{burst_size} changes within {risk.burst_minutes:g} minutes by one person")
    if ctx.sources is not None:
        outside = ctx.sources.outside(event.source, event.ip_address)
        if outside:
            add("outside_allowed_source", f"Saved from outside the allow-list ({', '.join(outside)})")
    return factors


def _ratio_label(ratio: float) -> str:
    if ratio == float("inf"):
        return "Large change (from zero)"
    return f"Large change ({ratio:.0%} of the value)"


def rule_score(factors: Iterable[RiskFactor]) -> float:
    return round(min(1.0, sum(factor.weight for factor in factors)), 4)


def blend(rule: float, anomaly: float, anomaly_weight: float) -> float:
    """risk = (1 - w) * rule + w * anomaly: both in [0, 1], so the risk is too.  The rules, capped
    at 1, tie many events at the top; the anomaly orders them, and the roster facts the model
    cannot see (an inactive account behaving normally) keep their weight."""
    return round(min(1.0, max(0.0, (1.0 - anomaly_weight) * rule + anomaly_weight * anomaly)), 4)


def score_with_rules(
    events: Sequence[AuditEvent], ctx: RiskContext, neighbours: Iterable[AuditEvent] = ()
) -> list[AuditEvent]:
    """Each event with its rule factors and rule score (`risk_score`, anomaly not yet blended)."""
    bursts = burst_sizes(events, neighbours, ctx.risk.burst_minutes)
    scored = []
    for event in events:
        factors = rule_factors(event, ctx, bursts.get(event.event_id, 1))
        scored.append(event.model_copy(update={"risk_factors": factors, "risk_score": rule_score(factors)}))
    return scored
