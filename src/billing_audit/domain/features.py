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
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from billing_audit.domain.models import AuditEvent
from billing_audit.domain.risk import RiskPolicy, burst_sizes, relative_change, save_key
from billing_audit.domain.values import to_number, values_equal, week_close

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
    """Whether each event undoes a change of the same cell within REVERT_WINDOW, or is undone by one."""
    by_cell: dict[tuple[int, int, str], list[AuditEvent]] = defaultdict(list)
    seen: set[str] = set()
    for event in [*events, *neighbours]:
        if event.column is None or event.event_id in seen:
            continue
        seen.add(event.event_id)
        by_cell[(event.sheet_id, event.row_id, event.column)].append(event)
    flags: dict[str, bool] = {}
    for event in events:
        if event.column is None:
            flags[event.event_id] = False
            continue
        flags[event.event_id] = any(
            other.event_id != event.event_id
            and abs(other.changed_at - event.changed_at) <= REVERT_WINDOW
            and values_equal(other.old_value, event.new_value)
            and values_equal(other.new_value, event.old_value)
            for other in by_cell[(event.sheet_id, event.row_id, event.column)]
        )
    return flags


def feature_rows(
    events: Sequence[AuditEvent],
    neighbours: Iterable[AuditEvent],
    profiles: Profiles,
    zone: ZoneInfo,
    risk: RiskPolicy,
) -> list[list[float]]:
    """One row of FEATURES per event."""
    around = list(neighbours)
    bursts = burst_sizes(events, around, risk.burst_minutes)
    reverts = revert_flags(events, around)
    holidays = set(risk.holidays)
    return [
        _features(event, profiles, zone, holidays, bursts.get(event.event_id, 1), reverts[event.event_id])
        for event in events
    ]


def _features(
    event: AuditEvent, profiles: Profiles, zone: ZoneInfo, holidays: set[date], burst: int, revert: bool
) -> list[float]:
    local = event.changed_at.astimezone(zone)
    hour = local.hour + local.minute / 60
    angle = 2 * math.pi * hour / 24
    off_calendar = local.weekday() >= 5 or local.date() in holidays
    ratio = relative_change(event)
    who = (event.changed_by or "").lower()
    counts = profiles.person_hours.get(who)
    if counts is None:
        rarity = -math.log(1 / 25)  # never seen: as rare as an hour with no save at all
    else:
        near = counts[local.hour] + counts[(local.hour - 1) % 24] + counts[(local.hour + 1) % 24]
        rarity = -math.log((near + 1 / 8) / (sum(counts) + 3))
    return [
        math.sin(angle),
        math.cos(angle),
        1.0 if off_calendar else 0.0,
        math.log1p(_abs_change(event)),
        math.log1p(min(ratio, _RATIO_CAP)) if ratio is not None else 0.0,
        _days_after_close(event, zone),
        rarity,
        math.log1p(profiles.person_saves.get(who, 0) / profiles.days),
        math.log1p(profiles.sheet_saves.get(str(event.sheet_id), 0) / profiles.days),
        1.0 if revert else 0.0,
        math.log(max(burst, 1)),
        math.log(max(burst, 1)) - profiles.person_burst.get(who, 0.0),
    ]


def _abs_change(event: AuditEvent) -> float:
    old, new = to_number(event.old_value), to_number(event.new_value)
    if old is not None and new is not None:
        return float(abs(new - old))
    if event.column is None and event.financial_impact is not None:
        return abs(event.financial_impact)
    return 0.0


def _days_after_close(event: AuditEvent, zone: ZoneInfo) -> float:
    closes = week_close(event.week_ending, zone) if event.week_ending is not None else None
    if closes is None:
        return _DAYS_OPEN
    days = (event.changed_at - closes).total_seconds() / 86_400
    return max(_DAYS_OPEN, min(_DAYS_CAP, days))
