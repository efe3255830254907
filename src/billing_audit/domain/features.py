"""What the anomaly model sees of an event: a fixed list of numbers, computed without any ML library.

`FEATURES` names them in order (the model is saved with this list and refused if it differs):

| feature | meaning |
| --- | --- |
| `hour_sin`, `hour_cos` | time of day in the business zone, on a circle (23:59 is next to 00:00) |
| `off_calendar` | 1 on a weekend or a configured holiday, else 0 |
| `log_abs_change` | log(1 + |new - old|) of a numeric change; of the row's value for a row added or deleted whole |
| `log_rel_change` | log(1 + |new - old| / |old|), capped at 100x (row added or deleted whole: 1) |
| `days_after_close` | days from the close of the row's week to the change, clipped to [-14, 60] (-14 when unknown) |
| `person_hour_rarity` | -log of how often this person saved in this hour (± 1 h) in the training window |
| `person_rate` | log(1 + the person's saves a day in the training window); 0 for someone never seen |
| `sheet_rate` | log(1 + the sheet's saves a day in the training window) |
| `revert` | 1 when the change undoes, or is undone by, a change of the same cell within 24 hours |
| `burst` | log of the saves this person made within the burst window around this one |
| `burst_vs_usual` | `burst` less the person's mean `burst` in training (one sitting's entries are no burst) |

The per-person and per-sheet figures come from `Profiles`, built from the training window and
saved beside the model, so scoring needs no history read beyond the stored neighbours of a batch.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from billing_audit.domain.models import AuditEvent
from billing_audit.domain.risk import WHOLE_ROW_TYPES, RiskPolicy, burst_sizes, save_key
from billing_audit.domain.values import CellValue, is_blank, to_number, week_close

FEATURES: tuple[str, ...] = (
    "hour_sin",
    "hour_cos",
    "off_calendar",
    "log_abs_change",
    "log_rel_change",
    "days_after_close",
    "person_hour_rarity",
    "person_rate",
    "sheet_rate",
    "revert",
    "burst",
    "burst_vs_usual",
)
REVERT_WINDOW = timedelta(hours=24)
_DAYS_OPEN = -14.0
_DAYS_CAP = 60.0
_RATIO_CAP = 100.0
_UNSEEN_RARITY = [-math.log(1 / 25)] * 24  # never seen: as rare as an hour with no save at all


class Profiles(BaseModel):
    """How people and sheets usually edit, from the training window (saves, not cells)."""

    model_config = ConfigDict(frozen=True)

    days: float = 1.0
    person_hours: dict[str, list[int]] = {}  # person -> saves by local hour (24 counts)
    person_saves: dict[str, int] = {}
    sheet_saves: dict[str, int] = {}
    person_burst: dict[str, float] = {}  # person -> mean log(burst size) of their saves


def build_profiles(events: Iterable[AuditEvent], zone: ZoneInfo, risk: RiskPolicy) -> Profiles:
    """Profiles of a training window's events."""
    window = list(events)
    saves: dict[tuple[int, int, datetime], AuditEvent] = {}
    for event in window:
        saves.setdefault(save_key(event), event)
    if not saves:
        return Profiles()
    times = [key[2] for key in saves]
    days = max(1.0, (max(times) - min(times)).total_seconds() / 86_400)
    hours: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    person: Counter[str] = Counter()
    sheet: Counter[str] = Counter()
    bursts = burst_sizes(list(saves.values()), window, risk.burst_minutes)
    burst_sum: defaultdict[str, float] = defaultdict(float)
    for (sheet_id, _row, at), event in saves.items():
        sheet[str(sheet_id)] += 1
        if event.changed_by:
            who = event.changed_by.lower()
            person[who] += 1
            hours[who][at.astimezone(zone).hour] += 1
            burst_sum[who] += math.log(bursts[event.event_id])
    return Profiles(
        days=days,
        person_hours=dict(hours),
        person_saves=dict(person),
        sheet_saves=dict(sheet),
        person_burst={who: burst_sum[who] / count for who, count in person.items()},
    )


def revert_flags(events: Sequence[AuditEvent], neighbours: Iterable[AuditEvent]) -> dict[str, bool]:
    """Whether each event undoes a change of the same cell within REVERT_WINDOW, or is undone by one
    (values compared as `values_equal` reads them: 12 and "12" are one quantity, blanks are equal)."""
    by_cell: dict[tuple[int, int, str], list[tuple[datetime, str, object, object]]] = defaultdict(list)
    seen: set[str] = set()
    for event in [*events, *neighbours]:
        if event.column is None or event.event_id in seen:
            continue
        seen.add(event.event_id)
        by_cell[(event.sheet_id, event.row_id, event.column)].append(
            (event.changed_at, event.event_id, comparable_value(event.old_value), comparable_value(event.new_value))
        )
    times: dict[tuple[int, int, str], list[datetime]] = {}
    for key, cell in by_cell.items():
        if len(cell) > 1:  # a cell changed once has nothing to undo
            cell.sort(key=lambda entry: entry[0])
            times[key] = [entry[0] for entry in cell]
    flags: dict[str, bool] = {}
    for event in events:
        key = (event.sheet_id, event.row_id, event.column or "")
        moments = times.get(key) if event.column else None
        if moments is None:
            flags[event.event_id] = False
            continue
        old, new = comparable_value(event.old_value), comparable_value(event.new_value)
        low = bisect_left(moments, event.changed_at - REVERT_WINDOW)
        high = bisect_right(moments, event.changed_at + REVERT_WINDOW)
        flags[event.event_id] = any(
            other_id != event.event_id and other_old == new and other_new == old
            for _at, other_id, other_old, other_new in by_cell[key][low:high]
        )
    return flags


def comparable_value(value: CellValue) -> object:
    """A cell value in a form where == is `values_equal`: its number if it has one, "" if blank."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if is_blank(value):
        return None
    number = to_number(value)
    return float(number) if number is not None else value


def finite_number(value: CellValue) -> float | None:
    """A cell's number as a float, None when it has none or it is not finite."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    number = to_number(value)
    return float(number) if number is not None else None


def feature_rows(
    events: Sequence[AuditEvent],
    neighbours: Iterable[AuditEvent],
    profiles: Profiles,
    zone: ZoneInfo,
    risk: RiskPolicy,
) -> list[list[float]]:
    """One row of FEATURES per event.  Per-person, per-sheet and per-week figures are worked out once
    per call, not once per event: scoring a large batch costs little beyond the forest itself."""
    around = list(neighbours)
    bursts = burst_sizes(events, around, risk.burst_minutes)
    reverts = revert_flags(events, around)
    holidays = set(risk.holidays)
    people: dict[str, tuple[list[float], float, float]] = {}
    sheets: dict[int, float] = {}
    closes: dict[str, datetime | None] = {}
    rows = []
    for event in events:
        who = (event.changed_by or "").lower()
        person = people.get(who)
        if person is None:
            person = people[who] = person_figures(profiles, who)
        rarity, rate, usual_burst = person
        sheet_rate = sheets.get(event.sheet_id)
        if sheet_rate is None:
            sheet_rate = sheets[event.sheet_id] = math.log1p(
                profiles.sheet_saves.get(str(event.sheet_id), 0) / profiles.days
            )
        local = event.changed_at.astimezone(zone)
        angle = 2 * math.pi * (local.hour + local.minute / 60) / 24
        off_calendar = local.weekday() >= 5 or (bool(holidays) and local.date() in holidays)
        absolute, ratio = _change(event)
        burst = math.log(max(bursts.get(event.event_id, 1), 1))
        rows.append(
            [
                math.sin(angle),
                math.cos(angle),
                1.0 if off_calendar else 0.0,
                math.log1p(absolute),
                math.log1p(min(ratio, _RATIO_CAP)) if ratio is not None else 0.0,
                _days_after_close(event, zone, closes),
                rarity[local.hour],
                rate,
                sheet_rate,
                1.0 if reverts[event.event_id] else 0.0,
                burst,
                burst - usual_burst,
            ]
        )
    return rows


def person_figures(profiles: Profiles, who: str) -> tuple[list[float], float, float]:
    """(rarity by local hour, log save rate, usual log burst) of one person."""
    counts = profiles.person_hours.get(who)
    if counts is None:
        rarity = _UNSEEN_RARITY
    else:
        total = sum(counts) + 3
        rarity = [
            -math.log((counts[hour] + counts[(hour - 1) % 24] + counts[(hour + 1) % 24] + 1 / 8) / total)
            for hour in range(24)
        ]
    rate = math.log1p(profiles.person_saves.get(who, 0) / profiles.days)
    return rarity, rate, profiles.person_burst.get(who, 0.0)


def _change(event: AuditEvent) -> tuple[float, float | None]:
    """(|new - old|, relative change as `risk.relative_change` defines it) of a numeric change; a
    row-level finding's absolute change is its impact."""
    old, new = finite_number(event.old_value), finite_number(event.new_value)
    if event.type in WHOLE_ROW_TYPES:
        return abs(event.financial_impact or 0.0), 1.0
    if old is None or new is None or event.column is None:
        absolute = abs(event.financial_impact) if event.column is None and event.financial_impact else 0.0
        return absolute, None
    if old == 0:
        return abs(new), 0.0 if new == 0 else math.inf
    return abs(new - old), abs(new - old) / abs(old)


def _days_after_close(event: AuditEvent, zone: ZoneInfo, closes: dict[str, datetime | None]) -> float:
    if event.week_ending is None:
        return _DAYS_OPEN
    key = str(event.week_ending)
    if key not in closes:
        closes[key] = week_close(event.week_ending, zone)
    closed = closes[key]
    if closed is None:
        return _DAYS_OPEN
    days = (event.changed_at - closed).total_seconds() / 86_400
    return max(_DAYS_OPEN, min(_DAYS_CAP, days))
