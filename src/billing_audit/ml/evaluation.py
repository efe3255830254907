"""A labelled evaluation of the risk score (`billing-audit ml evaluate`).

Normal editing is simulated from these patterns, in the business zone (America/Chicago):
- 10 foremen (access level 2), each on a home sheet (four of them enter the day's work in one
  sitting at its end, a save every 1 to 3 minutes), and 3 billing admins (level 4) on every sheet;
  each person has a usual start (06:00 to 09:30) and day (7 to 10 h), and a pace (3 to 14 saves a
  working day).  A save changes a row's Quantity by a few units and its total with it (two events).
- Almost every save goes to a row of the open week.  Honest exceptions, which the rules may
  flag: 6 % of saves are late (up to 3 h after the person's day), a foreman works one Saturday in
  ten, admins correct a closed or locked row in office hours (8 % of their saves), 3 % of saves
  are a typo fixed within ten minutes, 3 % are a large but honest change, a quarter of the
  roster is overdue for its permission review, and two foremen join (reviewed) on the first day
  of the test window, so the model has never seen them.
Misconduct is injected at the same rate into training and test windows, three incidents of each
kind a week (bursts by people who do not batch their entries), and every event of an incident is labelled:
- `after_hours_closed_week_increase`: a closed week's row raised by 20 to 150 % in the evening;
- `change_and_revert`: a value raised 40 to 100 % and put back 1 to 6 hours later;
- `backdated_row`: a row added to a week that closed one to three weeks ago;
- `inactive_account`: ordinary-looking saves, in office hours, by an account whose owner left
  (two foremen worked normally for the first two weeks, then were marked inactive) or by an
  unknown account;
- `unusual_magnitude`: a quantity multiplied by 5 to 20 in office hours;
- `burst`: 5 to 8 saves on different rows within five minutes.

The model is retrained each week on the 28 days before it, as the weekly schedule does, and four
weeks are measured after a first 28 days, in each of three simulated companies (replicates drawn
from the seed): ROC AUC and recall over all their events, precision at 10 within each week (an
auditor's weekly look at the top of the list), averaged over the twelve weeks.  Scores that tie
are ordered by event id (a fixed, label-blind order).  A fixed seed gives identical output.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from billing_audit.domain.access import AccessReviewPolicy
from billing_audit.domain.features import build_profiles, feature_rows
from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskLevel, event_id_for
from billing_audit.domain.risk import RiskContext, RiskPolicy, RosterEntry, blend, score_with_rules
from billing_audit.ml.model import train

ZONE = ZoneInfo("America/Chicago")
FIRST_DAY = date(2026, 9, 7)  # a Monday
TRAIN_DAYS = 28
TEST_WEEKS = 4
LEFT_ON = FIRST_DAY + timedelta(days=14)  # the two inactive accounts' owners worked until then
INCIDENTS_PER_WEEK = 2  # of each kind
REPLICATES = 3  # simulated companies per evaluation: one company's four weeks are too few top-10s
HIGH_RISK = 0.7  # a risk score at or above this is HIGH for the recall figure
MISCONDUCT_KINDS = (
    "after_hours_closed_week_increase",
    "change_and_revert",
    "backdated_row",
    "inactive_account",
    "unusual_magnitude",
    "burst",
)
_PRICES = (12.5, 45.0, 88.0, 100.0, 125.0, 310.0, 742.5)


@dataclass
class _Person:
    email: str
    role: str
    access_level: int
    active: bool
    review: date
    start: float
    length: float
    pace: float
    home: int
    batcher: bool = False  # enters the day's work in one sitting at the end of the day
    joined: date = FIRST_DAY


@dataclass
class _Row:
    row_id: int
    sheet_id: int
    week: date
    quantity: int
    price: float
    locked: bool = False

    @property
    def total(self) -> float:
        return round(self.quantity * self.price, 2)


@dataclass
class _World:
    rng: random.Random
    people: list[_Person]
    sheets: list[int]
    rows: dict[tuple[int, date], list[_Row]] = field(default_factory=dict)
    next_row: int = 100_000
    events: list[tuple[AuditEvent, str | None]] = field(default_factory=list)  # (event, misconduct kind)

    def week_rows(self, sheet: int, week: date) -> list[_Row]:
        key = (sheet, week)
        if key not in self.rows:
            rows = []
            for _ in range(40):
                self.next_row += 1
                rows.append(_Row(self.next_row, sheet, week, self.rng.randint(2, 40), self.rng.choice(_PRICES)))
            self.rows[key] = rows
        return self.rows[key]


def _week_ending(day: date) -> date:
    return day + timedelta(days=(6 - day.weekday()) % 7)


def _closed(week: date, at: datetime) -> bool:
    return at >= datetime.combine(week + timedelta(days=1), time(0), ZONE)


def _at(day: date, hours: float) -> datetime:
    hours = min(max(hours, 0.0), 23.99)
    local = datetime.combine(day, time(0), ZONE) + timedelta(hours=hours)
    return local.astimezone(UTC).replace(microsecond=0)


def _event(
    row: _Row, at: datetime, by: str, column: str | None, old: object, new: object, kind: EventType,
    impact: float | None,
) -> AuditEvent:  # fmt: skip
    violation = kind is not EventType.CHANGE
    level = None
    if violation:
        size = abs(impact or 0.0)
        level = RiskLevel.HIGH if size >= 1000 else RiskLevel.MEDIUM if size >= 100 else RiskLevel.LOW
        if kind is EventType.BACKDATED_ROW_ADDED and level is RiskLevel.LOW:
            level = RiskLevel.MEDIUM
    return AuditEvent(
        event_id=event_id_for(row.sheet_id, row.row_id, kind, column, at),
        sheet_id=row.sheet_id,
        sheet_name=f"Crew {row.sheet_id} Billing",
        row_id=row.row_id,
        work_request=f"WR-{row.row_id}",
        column=column,
        old_value=old,
        new_value=new,
        changed_at=at,
        changed_by=by,
        type=kind,
        violation=violation,
        financial_impact=impact,
        risk_level=level,
        week_ending=row.week.isoformat(),
        detected_at=at,
        detected_via=DetectedVia.SCAN,
    )


def _save(world: _World, row: _Row, at: datetime, by: str, quantity: int, label: str | None) -> None:
    """One save of Quantity and total (FORMAT: the total carries the impact, the quantity 0)."""
    if quantity == row.quantity:
        quantity += 1
    kind = (
        EventType.POST_CLOSE_CHANGE
        if _closed(row.week, at)
        else EventType.LOCKED_ROW_CHANGE
        if row.locked
        else EventType.CHANGE
    )
    old_quantity, old_total = row.quantity, row.total
    row.quantity = quantity
    world.events.append((_event(row, at, by, "Quantity", old_quantity, quantity, kind, 0.0), label))
    impact = round(row.total - old_total, 2)
    world.events.append((_event(row, at, by, "Redlined Total Price", old_total, row.total, kind, impact), label))


def _normal_day(world: _World, day: date) -> None:
    rng = world.rng
    week = _week_ending(day)
    for person in world.people:
        if (not person.active and day >= LEFT_ON) or day < person.joined:
            continue
        weekend = day.weekday() >= 5
        if weekend and not (person.role == "foreman" and rng.random() < 0.1):
            continue
        sitting = person.start + person.length - rng.uniform(0.2, 1.0)
        for index in range(max(0, round(rng.gauss(person.pace, person.pace / 3)))):
            late = rng.random() < 0.06
            hours = person.start + (person.length + rng.uniform(0, 3) if late else rng.uniform(0, person.length))
            if person.batcher:
                hours = sitting + index * rng.uniform(1, 3) / 60
            at = _at(day, hours)
            sheet = rng.choice(world.sheets) if person.role == "billing_admin" else person.home
            if person.role == "billing_admin" and rng.random() < 0.08:
                # An honest correction of a closed or locked row, in office hours.
                row = rng.choice(world.week_rows(sheet, week - timedelta(days=7)))
                at = _at(day, rng.uniform(9, 16))
            else:
                row = rng.choice(world.week_rows(sheet, week))
            step = rng.choice((-3, -2, -1, 1, 1, 2, 2, 3))
            quantity = max(1, row.quantity + step)
            if rng.random() < 0.03:
                quantity = row.quantity * rng.choice((2, 3))  # large but honest
            before = row.quantity
            _save(world, row, at, person.email, quantity, None)
            if rng.random() < 0.03:
                _save(world, row, at + timedelta(minutes=rng.uniform(1, 10)), person.email, before, None)
            if rng.random() < 0.02:
                row.locked = True


def _misconduct(world: _World, day: date, kind: str) -> None:
    rng = world.rng
    foremen = [p for p in world.people if p.role == "foreman" and p.active and not p.batcher and p.joined <= day]
    person = rng.choice(foremen)
    week = _week_ending(day)
    if kind == "after_hours_closed_week_increase":
        row = rng.choice(world.week_rows(person.home, week - timedelta(days=rng.choice((7, 14)))))
        at = _at(day, rng.uniform(19, 23.5))
        _save(world, row, at, person.email, math.ceil(row.quantity * rng.uniform(1.2, 2.5)), kind)
    elif kind == "change_and_revert":
        row = rng.choice(world.week_rows(person.home, week))
        at = _at(day, person.start + rng.uniform(0, person.length))
        before = row.quantity
        _save(world, row, at, person.email, math.ceil(before * rng.uniform(1.4, 2.0)), kind)
        _save(world, row, at + timedelta(hours=rng.uniform(1, 6)), person.email, before, kind)
    elif kind == "backdated_row":
        world.next_row += 1
        old_week = week - timedelta(days=7 * rng.randint(1, 3))
        row = _Row(world.next_row, person.home, old_week, rng.randint(2, 40), rng.choice(_PRICES))
        world.rows.setdefault((person.home, old_week), []).append(row)
        at = _at(day, rng.uniform(6, 22))
        world.events.append(
            (_event(row, at, person.email, None, None, row.total, EventType.BACKDATED_ROW_ADDED, row.total), kind)
        )
    elif kind == "inactive_account":
        ghosts = [p for p in world.people if not p.active]
        who = person.email
        if day >= LEFT_ON:
            who = rng.choice([*(g.email for g in ghosts), "former.crew@example.com"])
        for _ in range(rng.randint(1, 3)):
            row = rng.choice(world.week_rows(rng.choice(world.sheets), week))
            at = _at(day, rng.uniform(8, 17))
            _save(world, row, at, who, max(1, row.quantity + rng.choice((-2, -1, 1, 2))), kind)
    elif kind == "unusual_magnitude":
        row = rng.choice(world.week_rows(person.home, week))
        at = _at(day, person.start + rng.uniform(0, person.length))
        _save(world, row, at, person.email, row.quantity * rng.randint(5, 20), kind)
    elif kind == "burst":
        at = _at(day, rng.uniform(6, 22))
        rows = rng.sample(world.week_rows(person.home, week), rng.randint(5, 8))
        for index, row in enumerate(rows):
            moment = at + timedelta(seconds=int(index * 300 / len(rows)))
            _save(world, row, moment, person.email, max(1, row.quantity + rng.choice((-2, -1, 1, 2))), kind)


def _world(seed: int) -> _World:
    rng = random.Random(seed)
    sheets = [4001, 4002, 4003, 4004]
    people: list[_Person] = []
    for index in range(10):
        foreman = _person(rng, f"foreman{index}@example.com", "foreman", 2, True, sheets[index % 4])
        foreman.batcher = index % 5 < 2
        people.append(foreman)
    for index in range(3):
        people.append(_person(rng, f"billing{index}@example.com", "billing_admin", 4, True, sheets[0]))
    for index in range(2):
        people.append(_person(rng, f"retired{index}@example.com", "foreman", 2, False, sheets[index]))
    for week in range(TEST_WEEKS):
        hire = _person(rng, f"newhire{week}@example.com", "foreman", 2, True, sheets[week % 4])
        hire.joined = FIRST_DAY + timedelta(days=TRAIN_DAYS + 7 * week)
        hire.review = hire.joined - timedelta(days=3)
        people.append(hire)
    return _World(rng=rng, people=people, sheets=sheets)


def _person(rng: random.Random, email: str, role: str, level: int, active: bool, home: int) -> _Person:
    overdue = rng.random() < 0.25
    review = FIRST_DAY - timedelta(days=rng.randint(200, 400) if overdue else rng.randint(10, 150))
    return _Person(
        email=email,
        role=role,
        access_level=level,
        active=active,
        review=review,
        start=rng.uniform(6, 9.5),
        length=rng.uniform(7, 10),
        pace=rng.uniform(3, 14),
        home=home,
    )


@dataclass(frozen=True)
class EvaluationWeek:
    train: list[AuditEvent]  # the 28 days before the week: what the weekly retraining sees
    test: list[AuditEvent]
    labels: list[bool]  # per test event: part of an injected misconduct
    kinds: list[str | None]


@dataclass(frozen=True)
class EvaluationSet:
    weeks: list[EvaluationWeek]
    roster: dict[str, RosterEntry]


def build_set(seed: int) -> EvaluationSet:
    world = _world(seed)
    days = [FIRST_DAY + timedelta(days=offset) for offset in range(TRAIN_DAYS + 7 * TEST_WEEKS)]
    weeks: dict[date, list[date]] = {}
    for day in days:
        weeks.setdefault(_week_ending(day), []).append(day)
    for day in days:
        _normal_day(world, day)
    for week_days in weeks.values():
        for kind in MISCONDUCT_KINDS:
            for _ in range(INCIDENTS_PER_WEEK):
                _misconduct(world, world.rng.choice(week_days), kind)
    ordered = sorted(world.events, key=lambda pair: (pair[0].changed_at, pair[0].event_id))
    unique: dict[str, tuple[AuditEvent, str | None]] = {}
    for event, label in ordered:
        unique.setdefault(event.event_id, (event, label))
    pairs = list(unique.values())
    result = []
    for week in range(TEST_WEEKS):
        start = datetime.combine(FIRST_DAY + timedelta(days=TRAIN_DAYS + 7 * week), time(0), ZONE)
        end, train_start = start + timedelta(days=7), start - timedelta(days=TRAIN_DAYS)
        test = [(event, kind) for event, kind in pairs if start <= event.changed_at < end]
        result.append(
            EvaluationWeek(
                train=[event for event, _ in pairs if train_start <= event.changed_at < start],
                test=[event for event, _ in test],
                labels=[kind is not None for _, kind in test],
                kinds=[kind for _, kind in test],
            )
        )
    roster = {
        p.email: RosterEntry(
            email=p.email, role=p.role, access_level=p.access_level, active=p.active, last_permission_review=p.review
        )
        for p in world.people
    }
    return EvaluationSet(weeks=result, roster=roster)


def _ranking(scores: Sequence[float], events: Sequence[AuditEvent]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: (-scores[i], events[i].event_id))


def _roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The probability that a misconduct event outranks a normal one (ties count half)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([int(label) for label in labels], list(scores)))


def _measure(weekly: Sequence[Sequence[float]], data: EvaluationSet) -> dict[str, float]:
    """ROC AUC and recall over every test event; precision at 10 per week (an auditor's weekly
    look at the top of the list), averaged."""
    scores = [score for week in weekly for score in week]
    labels = [label for week in data.weeks for label in week.labels]
    tops = []
    for week_scores, week in zip(weekly, data.weeks, strict=True):
        order = _ranking(week_scores, week.test)
        tops.append(sum(week.labels[i] for i in order[:10]) / 10)
    positives = sum(labels)
    high = [i for i in range(len(scores)) if scores[i] >= HIGH_RISK]
    caught = sum(1 for i in high if labels[i])
    return {
        "roc_auc": round(_roc_auc(scores, labels), 4),
        "precision_at_10": round(sum(tops) / len(tops), 4),
        "recall_high": round(caught / positives, 4) if positives else 0.0,
        "precision_high": round(caught / len(high), 4) if high else 0.0,
        "high_events": len(high),
    }


def evaluate(seed: int = 7, risk: RiskPolicy | None = None, replicates: int = REPLICATES) -> dict[str, object]:
    """Rules alone, model alone and their blend on `replicates` simulated companies drawn from one
    seed: in each, the model retrained every week on the 28 days before it, as the weekly schedule
    does.  Figures pool every test week of every replicate."""
    risk = risk or RiskPolicy()
    weeks: list[EvaluationWeek] = []
    rules: list[list[float]] = []
    anomaly: list[list[float]] = []
    for replicate in range(replicates):
        replicate_seed = seed * 1000 + replicate
        data = build_set(replicate_seed)
        ctx = RiskContext(risk=risk, zone=ZONE, roster=data.roster, review_days=AccessReviewPolicy().review_days)
        for index, week in enumerate(data.weeks):
            profiles = build_profiles(week.train, ZONE, risk)
            model = train(
                feature_rows(week.train, [], profiles, ZONE, risk),
                profiles,
                version=f"evaluation-{replicate + 1}-week-{index + 1}",
                trained_at=min(event.changed_at for event in week.test),
                seed=replicate_seed,
            )
            rules.append([event.risk_score for event in score_with_rules(week.test, ctx)])
            anomaly.append(model.scores(feature_rows(week.test, [], profiles, ZONE, risk)))
        weeks.extend(data.weeks)
    blended = [
        [blend(r, a, risk.anomaly_weight) for r, a in zip(week_rules, week_anomaly, strict=True)]
        for week_rules, week_anomaly in zip(rules, anomaly, strict=True)
    ]
    pooled = EvaluationSet(weeks=weeks, roster={})
    kinds = [kind for week in weeks for kind in week.kinds]
    return {
        "seed": seed,
        "replicates": replicates,
        "test_weeks": len(weeks),
        "train_events_per_week": [len(week.train) for week in weeks],
        "test_events": sum(len(week.test) for week in weeks),
        "misconduct_events": sum(sum(week.labels) for week in weeks),
        "misconduct_by_kind": {kind: kinds.count(kind) for kind in MISCONDUCT_KINDS},
        "high_risk_threshold": HIGH_RISK,
        "anomaly_weight": risk.anomaly_weight,
        "rules": _measure(rules, pooled),
        "model": _measure(anomaly, pooled),
        "blend": _measure(blended, pooled),
    }
