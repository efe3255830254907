"""Detection: replay a row's cell histories in time order and apply the audit rules (FORMAT.md).

One function per kind of evidence, all pure:
- `detect_row` replays the saves of a row that existed at the start, or was added since;
- `detect_deleted_row` judges a deletion.
Every entry point (scan, webhook worker, demo) calls these and nothing else decides audit meaning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from billing_audit.domain.models import (
    AuditEvent,
    CellEntry,
    DetectedVia,
    EventType,
    RowTimeline,
    event_id_for,
)
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.risk import risk_level_for
from billing_audit.domain.values import (
    CellValue,
    cents,
    is_blank,
    is_closed,
    to_date,
    to_number,
    values_equal,
)


@dataclass(frozen=True)
class AuditContext:
    """What every rule needs besides the row: the policy, the business zone and the sheet's shape."""

    policy: AuditPolicy
    zone: ZoneInfo
    sheet_columns: frozenset[str]
    detected_at: datetime
    detected_via: DetectedVia

    def closed(self, week_ending: CellValue, at: datetime) -> bool:
        return is_closed(week_ending, at, self.zone, self.policy.close_grace_hours)

    def locked(self, row: Mapping[str, CellValue]) -> bool:
        return row.get(self.policy.status_column) in self.policy.locked_statuses

    def closed_or_locked(self, row: Mapping[str, CellValue], at: datetime) -> bool:
        """Whether a change to this row at `at` would be a violation (post-close or locked)."""
        return self.closed(row.get(self.policy.week_ending_column), at) or self.locked(row)


@dataclass(frozen=True)
class Save:
    """One save by one person: the cells it changed, all at one instant."""

    at: datetime
    by: str | None
    cells: dict[str, CellValue]


def group_saves(entries: Iterable[CellEntry]) -> list[Save]:
    """Cell-history entries sharing a timestamp and an editor are one save.

    Entries must come oldest first; histories of several columns are merged, so entries of one
    save need not stand together.  A column met again under the same timestamp and editor belongs
    to that person's next save in the same second: the k-th entry of each column goes to the k-th
    save.  (Saves by different people in one second keep the order their first entries came in;
    `_saves` then puts the row's last saver last, the only finer order the API gives.)
    """
    saves: list[Save] = []
    by_key: dict[tuple[datetime, str | None], list[Save]] = {}
    for entry in entries:
        bucket = by_key.setdefault((entry.at, entry.by), [])
        target = next((save for save in bucket if entry.column not in save.cells), None)
        if target is None:
            target = Save(at=entry.at, by=entry.by, cells={})
            bucket.append(target)
            saves.append(target)
        target.cells[entry.column] = entry.value
    return saves


def _saves(timeline: RowTimeline, entries: Iterable[CellEntry]) -> list[Save]:
    """`group_saves`, with the row's last saver's last save put last in the second of its `modifiedAt`.

    The merged histories order saves of one second only by the column their first entries came
    from; the row's `modifiedBy` says who saved last, so of two people in the row's last second,
    which came first is known.
    """
    saves = group_saves(entries)
    at, by = timeline.current_modified_at, (timeline.current_modified_by or "").lower()
    if at is None or not by:
        return saves
    at = at.replace(microsecond=0)
    in_second = [save for save in saves if save.at == at]
    last_saver = [save for save in in_second if (save.by or "").lower() == by]
    if not last_saver or last_saver[-1] is in_second[-1]:
        return saves
    moved = last_saver[-1]
    saves.remove(moved)
    saves.insert(saves.index(in_second[-1]) + 1, moved)
    return saves


def _ordered(history: Sequence[CellEntry]) -> list[CellEntry]:
    # sorted() is stable: entries with equal times keep the order the adapter gave them.
    return sorted(history, key=lambda entry: entry.at)


def _state_at(timeline: RowTimeline, entries: Sequence[CellEntry], moment: datetime) -> dict[str, CellValue]:
    """The row as it stood at `moment`, from history where read, else from what the product saw.

    A row added since has its whole history from its creation: a cell with no entry by then was
    empty.  A row that existed at the start is seeded with `start`, the values the product last saw:
    a copied or imported sheet serves no history from before the copy, so a cell never edited since
    has none, and its value is only known from what was seen.
    """
    if timeline.created is not None:
        state = dict(timeline.current)
        state.update(dict.fromkeys(timeline.history_columns))
    else:
        state = dict(timeline.start)
    for entry in entries:
        if entry.at > moment:
            break
        if entry.column in timeline.history_columns:
            state[entry.column] = entry.value
    return state


def _seen_prefix(start: Mapping[str, CellValue], saves: Sequence[Save]) -> int:
    """How many of these saves (all in the second of `start`'s read, in history order) `start` shows.

    History is to the second, so a save in the very second the product read the row may have
    landed before the read (its values are in `start`) or after it (they are not).  The ones
    before come first: the longest prefix whose last value of every cell `start` holds equals it.
    """
    for count in range(len(saves), 0, -1):
        last: dict[str, CellValue] = {}
        for save in saves[:count]:
            last.update(save.cells)
        if all(values_equal(value, start[column]) for column, value in last.items() if column in start):
            return count
    return 0


class _EventFactory:
    """Fills the fields every event of one row shares."""

    def __init__(self, ctx: AuditContext, timeline: RowTimeline) -> None:
        self.ctx = ctx
        self.timeline = timeline
        self._seen: Counter[tuple[EventType, str | None, datetime]] = Counter()

    def make(
        self,
        event_type: EventType,
        *,
        at: datetime,
        by: str | None,
        state: dict[str, CellValue],
        column: str | None = None,
        old: CellValue = None,
        new: CellValue = None,
        impact: Decimal | None = None,
        week: CellValue = None,
    ) -> AuditEvent:
        violation = event_type is not EventType.CHANGE
        occurrence = self._seen[(event_type, column, at)]
        self._seen[(event_type, column, at)] += 1
        amount = cents(impact) if impact is not None else None
        work_request = state.get(self.ctx.policy.work_request_column)
        week_ending = week if week is not None else state.get(self.ctx.policy.week_ending_column)
        return AuditEvent(
            event_id=event_id_for(self.timeline.sheet_id, self.timeline.row_id, event_type, column, at, occurrence),
            sheet_id=self.timeline.sheet_id,
            sheet_name=self.timeline.sheet_name,
            row_id=self.timeline.row_id,
            work_request=None if is_blank(work_request) else str(work_request),
            column=column,
            old_value=old,
            new_value=new,
            changed_at=at,
            changed_by=by,
            type=event_type,
            violation=violation,
            financial_impact=amount,
            risk_level=risk_level_for(event_type, amount, self.ctx.policy) if violation else None,
            week_ending=None if is_blank(week_ending) else week_ending,
            detected_at=self.ctx.detected_at,
            detected_via=self.ctx.detected_via,
        )


def detect_row(timeline: RowTimeline, ctx: AuditContext, since: datetime) -> list[AuditEvent]:
    """Every event of one row after `since` (the baseline or the previous scan)."""
    entries = _ordered(timeline.history)
    factory = _EventFactory(ctx, timeline)
    events: list[AuditEvent] = []
    created = timeline.created
    if created is not None and created.at > since:
        # The second the row was created may hold later saves too (history is to the second): the
        # creator's first save is the creation, and any other save of that second is an edit of it.
        state = _state_at(timeline, [], created.at)
        second = _saves(timeline, (e for e in entries if e.at == created.at and e.column in timeline.history_columns))
        creator = (created.by or "").lower()
        creation = next((save for save in second if (save.by or "").lower() == creator), second[0] if second else None)
        if creation is not None:
            state.update(creation.cells)
        events.extend(_added_row_findings(factory, state, created.at, created.by))
        for save in second:
            if save is not creation:
                events.extend(_save_findings(factory, state, save))
        start = created.at
    elif timeline.start_modified_at is not None and timeline.start_modified_at == since:
        # `start` was read in the second of the row's last save: a later save of that same second
        # is in the history at `since` but not in `start`.
        start = since
        state = _state_at(timeline, [entry for entry in entries if entry.at < since], since)
        boundary = _saves(timeline, (e for e in entries if e.at == since and e.column in timeline.history_columns))
        seen = _seen_prefix(timeline.start, boundary)
        for save in boundary[:seen]:
            # Audited when `start` was read: replayed only to reach the row as it was seen and to
            # number the later saves of that second as a replay of the whole second does.
            _save_findings(factory, state, save)
        for save in boundary[seen:]:
            events.extend(_save_findings(factory, state, save))
    else:
        start = since
        state = _state_at(timeline, entries, since)
    later = [entry for entry in entries if entry.at > start and entry.column in timeline.history_columns]
    for save in _saves(timeline, later):
        events.extend(_save_findings(factory, state, save))
    return events


def _save_findings(factory: _EventFactory, state: dict[str, CellValue], save: Save) -> list[AuditEvent]:
    """Findings of one save; `state` is the row before it and is advanced to the row after it."""
    ctx, policy = factory.ctx, factory.ctx.policy
    before = dict(state)
    changed = {col: new for col, new in save.cells.items() if not values_equal(before.get(col), new)}
    if not changed:
        return []
    state.update(changed)
    after = state
    week_closed = ctx.closed(before.get(policy.week_ending_column), save.at)
    locked = ctx.locked(before)
    total_changed = policy.total_price_column in changed and policy.total_price_column in policy.tracked_columns

    make = partial(factory.make, at=save.at, by=save.by, state=after, week=before.get(policy.week_ending_column))

    events: list[AuditEvent] = []
    for column in policy.tracked_columns:
        if column not in changed:
            continue
        if week_closed:
            kind = EventType.POST_CLOSE_CHANGE
        elif locked:
            kind = EventType.LOCKED_ROW_CHANGE
        else:
            kind = EventType.CHANGE
        impact = _change_impact(policy, ctx, column, before, after, total_changed)
        events.append(make(kind, column=column, old=before.get(column), new=changed[column], impact=impact))

    week_column = policy.week_ending_column
    if week_column in changed:
        old_week, new_week = before.get(week_column), changed[week_column]
        if week_closed or ctx.closed(new_week, save.at):
            events.append(make(EventType.WEEK_ENDING_MOVED, column=week_column, old=old_week, new=new_week))
        if _implausible(ctx, new_week, save.at):
            events.append(make(EventType.IMPLAUSIBLE_DATE, column=week_column, old=old_week, new=new_week))

    price_columns = (policy.quantity_column, policy.unit_price_column, policy.total_price_column)
    if any(column in changed for column in price_columns):
        events.extend(_mismatch_findings(make, ctx, after))
    return events


def _added_row_findings(
    factory: _EventFactory, state: dict[str, CellValue], at: datetime, by: str | None
) -> list[AuditEvent]:
    """A row added since the start makes no change events, only these row-level findings."""
    ctx, policy = factory.ctx, factory.ctx.policy
    week = state.get(policy.week_ending_column)
    total = state.get(policy.total_price_column)
    events: list[AuditEvent] = []

    make = partial(factory.make, at=at, by=by, state=state)

    if ctx.closed(week, at):
        events.append(make(EventType.BACKDATED_ROW_ADDED, new=total, impact=to_number(total)))
    if _implausible(ctx, week, at):
        events.append(make(EventType.IMPLAUSIBLE_DATE, column=policy.week_ending_column, new=week))
    events.extend(_mismatch_findings(make, ctx, state))
    return events


def detect_deleted_row(
    timeline: RowTimeline, ctx: AuditContext, judged_at: datetime, reported_at: datetime, by: str | None
) -> list[AuditEvent]:
    """A deleted row is a finding when its week had closed at `judged_at`.

    The webhook path knows the deletion's time and passes it as both instants; a scan can only
    judge it as of the previous scan and report it at its own time (FORMAT.md, "Scan mode").
    """
    state = timeline.start
    policy = ctx.policy
    if not ctx.closed(state.get(policy.week_ending_column), judged_at):
        return []
    total = state.get(policy.total_price_column)
    amount = to_number(total)
    factory = _EventFactory(ctx, timeline)
    return [
        factory.make(
            EventType.CLOSED_ROW_DELETED,
            at=reported_at,
            by=by,
            state=state,
            old=total,
            impact=-amount if amount is not None else None,
        )
    ]


def _change_impact(
    policy: AuditPolicy,
    ctx: AuditContext,
    column: str,
    before: dict[str, CellValue],
    after: dict[str, CellValue],
    total_changed: bool,
) -> Decimal | None:
    """Money impact of one tracked cell change, attributed once per save."""
    if column == policy.total_price_column:
        return _delta(before.get(column), after.get(column))
    if column == policy.quantity_column:
        if total_changed:
            return Decimal(0)
        if policy.unit_price_column not in ctx.sheet_columns:
            return None
        unit_price = to_number(after.get(policy.unit_price_column))
        if unit_price is None:
            return None
        return _delta(before.get(column), after.get(column)) * unit_price
    return None


def _delta(old: CellValue, new: CellValue) -> Decimal:
    """New minus old, an empty or non-numeric side counting as zero dollars."""
    return (to_number(new) or Decimal(0)) - (to_number(old) or Decimal(0))


def _implausible(ctx: AuditContext, week: CellValue, at: datetime) -> bool:
    if is_blank(week):
        return False
    day = to_date(week)
    if day is None:
        return True
    local_day = at.astimezone(ctx.zone).date()
    return abs((day - local_day).days) > ctx.policy.implausible_date_days


def _mismatch_findings(
    make: Callable[..., AuditEvent], ctx: AuditContext, state: dict[str, CellValue]
) -> list[AuditEvent]:
    """A price_mismatch for the row as it stands: old value the expected total, new the row's total."""
    mismatch = _price_mismatch(ctx, state)
    if mismatch is None:
        return []
    expected, total = mismatch
    return [make(EventType.PRICE_MISMATCH, old=expected, new=total)]


def _price_mismatch(ctx: AuditContext, state: dict[str, CellValue]) -> tuple[float, CellValue] | None:
    """(expected total, actual total) when the row's total is off by more than the tolerance."""
    policy = ctx.policy
    columns = (policy.quantity_column, policy.unit_price_column, policy.total_price_column)
    if not all(column in ctx.sheet_columns for column in columns):
        return None
    quantity, unit_price, total = (to_number(state.get(column)) for column in columns)
    if quantity is None or unit_price is None or total is None:
        return None
    expected = quantity * unit_price
    tolerance = max(
        Decimal(str(policy.price_tolerance.absolute)),
        Decimal(str(policy.price_tolerance.relative)) * abs(expected),
    )
    if abs(total - expected) <= tolerance:
        return None
    return cents(expected), state.get(policy.total_price_column)
