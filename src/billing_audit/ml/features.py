"""`domain.features.FEATURES` for a whole batch at once, on numpy columns.

`domain.features.feature_rows` says what each feature is, one event at a time, and stays the
reference: tests/unit/test_feature_matrix.py holds `feature_matrix` equal to it on random events.
Here each event is read once into plain columns and everything else is array work:

- times become integer microseconds; the business zone's offset is looked up once per UTC hour
  present in the batch (one event at a time only in an hour where the offset changes), so local
  hour, minute, weekday and date are integer arithmetic;
- people, sheets, weeks and values are numbered through a dict (their distinct values are few)
  and their figures looked up once per distinct value;
- bursts and reverts are counts in a time window within a group (a person; a cell with the
  reverse change): the groups' times ranked, each (group, rank) one sorted integer key, and a
  window's count the distance between two binary searches.

It lives in ml/ rather than domain/ because it needs numpy, which the webhook function (whose
asset holds domain/) must not load.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from types import NoneType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from billing_audit.domain.features import (
    FEATURES,
    REVERT_WINDOW,
    Profiles,
    comparable_value,
    finite_number,
    person_figures,
    revert_flags,
)
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.risk import WHOLE_ROW_TYPES, RiskPolicy, burst_sizes
from billing_audit.domain.values import week_close

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)  # a Thursday: weekday 3
_US = timedelta(microseconds=1)
_MINUTE = 60_000_000
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_DAYS_OPEN = -14.0
_DAYS_CAP = 60.0
_RATIO_CAP = 100.0
_PLAIN_NUMBERS = {int, float, NoneType}

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


class _Columns:
    """The attributes the features read, one list each, in a single pass over the events."""

    def __init__(self, events: Iterable[AuditEvent]) -> None:
        self.ids: list[str] = []
        self.at: list[datetime] = []
        self.by: list[str | None] = []
        self.sheet: list[int] = []
        self.row: list[int] = []
        self.column: list[str | None] = []
        self.old: list[Any] = []
        self.new: list[Any] = []
        self.kind: list[Any] = []
        self.week: list[Any] = []
        # Bound once: this loop is most of what is left of per-event Python work.
        ids, at, by, sheet, row = self.ids.append, self.at.append, self.by.append, self.sheet.append, self.row.append
        column, old, new, kind, week = (
            self.column.append,
            self.old.append,
            self.new.append,
            self.kind.append,
            self.week.append,
        )
        for event in events:
            ids(event.event_id)
            at(event.changed_at)
            by(event.changed_by)
            sheet(event.sheet_id)
            row(event.row_id)
            column(event.column)
            old(event.old_value)
            new(event.new_value)
            kind(event.type)
            week(event.week_ending)


def feature_matrix(
    events: Sequence[AuditEvent],
    neighbours: Iterable[AuditEvent],
    profiles: Profiles,
    zone: ZoneInfo,
    risk: RiskPolicy,
) -> FloatArray:
    """One row of FEATURES per event, as `domain.features.feature_rows` computes them."""
    count = len(events)
    matrix = np.zeros((count, len(FEATURES)))
    if not count:
        return matrix
    cols = _Columns(events)
    distinct_ids = len(set(cols.ids)) == count
    around = list(neighbours)
    pool = _Pool(cols, around if distinct_ids else [])
    at = pool.at[:count]
    local = at + _utc_offsets(at, zone)
    hour = local // _HOUR % 24
    minute = local // _MINUTE % 60
    day = local // _DAY
    angle = 2 * math.pi * (hour + minute / 60) / 24
    off_calendar = (day + 3) % 7 >= 5
    if risk.holidays:
        off_calendar |= np.isin(day, [(holiday - _EPOCH_DAY).days for holiday in risk.holidays])
    absolute, ratio = _changes(events, cols, pool)

    raw_codes, raw_names = _factorize(cols.by)
    people: dict[str, int] = {}
    person_of_raw = np.array([people.setdefault((name or "").lower(), len(people)) for name in raw_names])
    person = person_of_raw[raw_codes]
    figures = [person_figures(profiles, who) for who in people]
    rarity = np.array([rarities for rarities, _rate, _usual in figures])
    sheet_rates = np.array(
        [math.log1p(profiles.sheet_saves.get(str(sheet), 0) / profiles.days) for sheet in pool.sheet_ids]
    )

    if distinct_ids:
        named = np.array([bool(name) for name in raw_names])[raw_codes]
        burst = _bursts(pool, np.where(named, person, -1), people, risk.burst_minutes)
        revert = _reverts(pool)
    else:
        # One id twice in a batch: the reference keeps one answer per id; so do we, through it.
        sizes = burst_sizes(events, around, risk.burst_minutes)
        flags = revert_flags(events, around)
        burst = np.array([sizes[event_id] for event_id in cols.ids])
        revert = np.array([flags[event_id] for event_id in cols.ids])
    log_burst = np.log(np.maximum(burst, 1))

    matrix[:, 0] = np.sin(angle)
    matrix[:, 1] = np.cos(angle)
    matrix[:, 2] = off_calendar
    matrix[:, 3] = np.log1p(absolute)
    matrix[:, 4] = np.where(np.isnan(ratio), 0.0, np.log1p(np.minimum(ratio, _RATIO_CAP)))
    matrix[:, 5] = _days_after_close(cols.week, at, zone)
    matrix[:, 6] = rarity[person, hour]
    matrix[:, 7] = np.array([rate for _rarities, rate, _usual in figures])[person]
    matrix[:, 8] = sheet_rates[pool.sheet_codes[:count]]
    matrix[:, 9] = revert
    matrix[:, 10] = log_burst
    matrix[:, 11] = log_burst - np.array([usual for _rarities, _rate, usual in figures])[person]
    return matrix


class _Pool:
    """The batch, then the neighbours that count as the reference counts them (an id once, its
    first appearance): for bursts those with a person, for reverts those with a column.  Columns
    both need are computed once over all of it."""

    def __init__(self, cols: _Columns, neighbours: list[AuditEvent]) -> None:
        self.count = len(cols.ids)
        self.cols = cols
        saving: list[AuditEvent] = []
        changing: list[AuditEvent] = []
        if neighbours:
            by_seen = {event_id for event_id, by in zip(cols.ids, cols.by, strict=True) if by}
            column_seen = {
                event_id for event_id, column in zip(cols.ids, cols.column, strict=True) if column is not None
            }
            for event in neighbours:
                if event.changed_by and event.event_id not in by_seen:
                    by_seen.add(event.event_id)
                    saving.append(event)
                if event.column is not None and event.event_id not in column_seen:
                    column_seen.add(event.event_id)
                    changing.append(event)
        self.saving, self.changing = saving, changing
        self.more = more = _Columns([*saving, *changing])
        self.at = np.concatenate([_micros(cols.at), _micros(more.at)]) if more.ids else _micros(cols.at)
        self.moments, self.rank = np.unique(self.at, return_inverse=True)
        self.width = len(self.moments) + 1
        self.column_codes, self.column_names = _factorize(cols.column + more.column)
        self.old = cols.old + more.old
        self.new = cols.new + more.new
        both = _floats(self.old + self.new)  # one pass for both: almost always all numbers or blanks
        if both is None:
            self.old_floats, self.new_floats = _floats(self.old), _floats(self.new)
        else:
            self.old_floats, self.new_floats = both[: len(self.old)], both[len(self.old) :]
        self.sheet_codes, self.sheet_ids = _factorize(cols.sheet + more.sheet)
        # Rows are numbered by (sheet, row) over the whole pool.
        self.place = _pack(self.sheet_codes, _dense(_ints(cols.row + more.row)))

    def count_within(self, keys: IntArray, groups: IntArray, span: int) -> IntArray:
        """For each batch event: how many `keys` (group * width + time rank, sorted) share its
        group (negative: none) with a time within `span` microseconds of its own, ends included."""
        # Searched once per distinct time, in order (cheap), then spread to the events by rank.
        rank = self.rank[: self.count]
        low = groups * self.width + np.searchsorted(self.moments, self.moments - span, side="left")[rank]
        high = groups * self.width + np.searchsorted(self.moments, self.moments + span, side="right")[rank]
        counts: IntArray = np.searchsorted(keys, high) - np.searchsorted(keys, low)
        return np.where(groups >= 0, counts, 0)


def _micros(times: list[datetime]) -> IntArray:
    """Microseconds since the epoch.  `timestamp()` is exact to well under half a microsecond for
    any instant between 1834 and 2106, so rounding recovers the integer; a naive time is read as
    local time, as `astimezone` reads it."""
    seconds = np.fromiter(map(datetime.timestamp, times), dtype=float, count=len(times))
    return np.rint(seconds * 1e6).astype(np.int64)


def _utc_offsets(at: IntArray, zone: ZoneInfo) -> IntArray:
    """The zone's UTC offset (microseconds) at each instant.  Offsets change rarely and never twice
    within an hour: asked at the start and end of each UTC hour present, and one event at a time
    only within an hour where the two differ."""
    hours, where = np.unique(at // _HOUR, return_inverse=True)  # few distinct hours: cheap to ask
    offsets = np.empty(len(hours), dtype=np.int64)
    changing = []
    for index, hour in enumerate(hours.tolist()):
        start = _EPOCH + timedelta(microseconds=hour * _HOUR)
        first = start.astimezone(zone).utcoffset()
        last = (start + timedelta(microseconds=_HOUR - 1)).astimezone(zone).utcoffset()
        offsets[index] = _offset_micros(first)
        if first != last:
            changing.append(index)
    result = offsets[where]
    if changing:
        for position in np.flatnonzero(np.isin(where, changing)).tolist():
            moment = _EPOCH + timedelta(microseconds=int(at[position]))
            result[position] = _offset_micros(moment.astimezone(zone).utcoffset())
    return result


def _offset_micros(offset: timedelta | None) -> int:
    return offset // _US if offset is not None else 0


def _factorize(values: list[Any]) -> tuple[IntArray, list[Any]]:
    """(each value's number, the distinct values in order), equality as a dict key's (1 == 1.0)."""
    numbers: dict[Hashable, int] = dict.fromkeys(values, 0)
    for index, value in enumerate(numbers):
        numbers[value] = index
    codes = np.fromiter(map(numbers.__getitem__, values), dtype=np.int64, count=len(values))
    return codes, list(numbers)


def _dense(values: IntArray) -> IntArray:
    """Numbers from 0 of the distinct values, equal where the values are."""
    return np.unique(values, return_inverse=True)[1].astype(np.int64, copy=False)


def _pack(first: IntArray, second: IntArray) -> IntArray:
    """One non-negative integer per pair of non-negative integers, equal where both are."""
    if not len(first):
        return first
    size = int(second.max()) + 1
    if (int(first.max()) + 1) * size >= 2**62:
        first, second = _dense(first), _dense(second)
        size = int(second.max()) + 1
    return first * size + second


def _ints(values: list[int]) -> IntArray:
    """Ids as int64, renumbered when one does not fit (only equality is asked of them)."""
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return _factorize(values)[0]


def _floats(values: list[Any]) -> FloatArray | None:
    """The values as floats (None as NaN, infinities kept) when all are numbers or None, else None."""
    return np.array(values, dtype=float) if set(map(type, values)) <= _PLAIN_NUMBERS else None


def _numbers(values: list[Any], floats: FloatArray | None) -> FloatArray:
    """`finite_number` of each value, NaN for None."""
    if floats is not None:
        return np.where(np.isfinite(floats), floats, np.nan)
    return np.array([math.nan if (number := finite_number(value)) is None else number for value in values])


def _changes(events: Sequence[AuditEvent], cols: _Columns, pool: _Pool) -> tuple[FloatArray, FloatArray]:
    """(|new - old|, relative change, NaN where it has none) as `domain.features._change` reads them."""
    count = len(events)
    old_floats = pool.old_floats[:count] if pool.old_floats is not None else _floats(cols.old)
    new_floats = pool.new_floats[:count] if pool.new_floats is not None else _floats(cols.new)
    old, new = _numbers(cols.old, old_floats), _numbers(cols.new, new_floats)
    kind_codes, kinds = _factorize(cols.kind)
    whole = np.isin(kind_codes, [index for index, kind in enumerate(kinds) if kind in WHOLE_ROW_TYPES])
    no_column = np.array([name is None for name in pool.column_names])[pool.column_codes[:count]]
    impact = np.zeros(count)
    for index in np.flatnonzero(whole | no_column).tolist():  # few: whole rows and row-level findings
        impact[index] = events[index].financial_impact or 0.0
    numeric = ~whole & ~no_column & ~np.isnan(old) & ~np.isnan(new)
    with np.errstate(all="ignore"):
        difference = np.abs(new - old)
        absolute = np.where(numeric, np.where(old == 0, np.abs(new), difference), 0.0)
        ratio = np.where(numeric, np.where(old == 0, np.where(new == 0, 0.0, np.inf), difference / np.abs(old)), np.nan)
    absolute = np.where(~whole & ~numeric & no_column & (impact != 0), np.abs(impact), absolute)
    absolute = np.where(whole, np.abs(impact), absolute)
    ratio = np.where(whole, 1.0, ratio)
    return absolute, ratio


def _days_after_close(weeks: list[Any], at: IntArray, zone: ZoneInfo) -> FloatArray:
    codes, distinct = _factorize(weeks)
    closes = [week_close(week, zone) if isinstance(week, str) else None for week in distinct]
    closed = np.array([close is not None for close in closes])[codes]
    close_at = np.array([(close - _EPOCH) // _US if close is not None else 0 for close in closes], dtype=np.int64)
    days = (at - close_at[codes]) / 1e6 / 86_400
    return np.where(closed, np.clip(days, _DAYS_OPEN, _DAYS_CAP), _DAYS_OPEN)


def _bursts(pool: _Pool, person: IntArray, people: dict[str, int], minutes: float) -> IntArray:
    """`risk.burst_sizes` for a batch whose ids are distinct: each event's person's saves (sheet,
    row, time; a save's several cells once) within the window around it.  `person` is -1 for an
    event without one (its size is 1)."""
    extra = [people.setdefault(event.changed_by.lower(), len(people)) for event in pool.saving if event.changed_by]
    saver = np.concatenate([person, np.array(extra, dtype=np.int64), np.full(len(pool.changing), -1)])
    saving = saver >= 0
    saves = _pack(_pack(saver[saving], pool.place[saving]), pool.rank[saving])
    order = np.argsort(saves)
    ordered = saves[order]
    first = order[np.concatenate([np.ones(min(1, len(ordered)), dtype=bool), ordered[1:] != ordered[:-1]])]
    keys = np.sort(saver[saving][first] * pool.width + pool.rank[saving][first])
    counts = pool.count_within(keys, person, timedelta(minutes=minutes) // _US)
    return np.where(person >= 0, counts, 1)


def _reverts(pool: _Pool) -> BoolArray:
    """`revert_flags` for a batch whose ids are distinct: whether the same cell holds, within the
    window, another change from this one's new value back to its old."""
    count = len(pool.cols.ids)
    old, new, valid = _comparable_codes(pool)
    in_cell = np.array([bool(name) for name in pool.column_names])[pool.column_codes]  # "" names no cell
    entry = in_cell & valid
    entry[count : count + len(pool.saving)] = False  # neighbours counted for bursts only
    asking = entry[:count]
    cell = _pack(pool.place, pool.column_codes)
    # Entries are (cell, old, new); each event asks for (cell, its new, its old).
    groups = _dense(
        _pack(
            _pack(np.concatenate([cell[entry], cell[:count]]), np.concatenate([old[entry], new[:count]])),
            np.concatenate([new[entry], old[:count]]),
        )
    )
    entries = int(entry.sum())
    keys = np.sort(groups[:entries] * pool.width + pool.rank[entry])
    counts = pool.count_within(keys, np.where(asking, groups[entries:], -1), REVERT_WINDOW // _US)
    itself = asking & (old[:count] == new[:count])  # a change to an equal value is its own reverse
    return (counts - itself) > 0


def _comparable_codes(pool: _Pool) -> tuple[IntArray, IntArray, BoolArray]:
    """(old codes, new codes, valid) over the pool: codes (from 0) equal exactly where the
    `comparable_value`s are ==; a NaN equals nothing, so a change with one can neither undo nor be
    undone (invalid)."""
    half = len(pool.old)
    if pool.old_floats is not None and pool.new_floats is not None:
        numbers = np.concatenate([pool.old_floats, pool.new_floats])
        missing = np.isnan(numbers)  # None, or a NaN: told apart one by one (there are few)
        values = pool.old + pool.new
        blank = missing.copy()
        for index in np.flatnonzero(missing).tolist():
            blank[index] = values[index] is None
        codes = np.where(blank, 0, _dense(np.where(missing, 0.0, numbers)) + 1)
        nan = missing & ~blank
    else:
        comparable = [comparable_value(value) for value in pool.old + pool.new]
        codes = _factorize(comparable)[0]
        nan = np.array([isinstance(value, float) and math.isnan(value) for value in comparable])
    invalid = nan[:half] | nan[half:]
    return codes[:half], codes[half:], ~invalid
