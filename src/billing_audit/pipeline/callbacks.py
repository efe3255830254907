"""The webhook path: one Smartsheet callback in, the same detection as the scan, events out.

A callback names each changed cell's row, column, editor and time, never values.  With the row as
last seen (the row memory) and one read of the touched rows, a rule cell changed once in the
callback needs no cell history: its old value is the memory's, its new value the row's, its editor
and time the callback's.  That holds only while the memory is the row's state just before the
callback's first event, which the queue guarantees by handing a sheet's callbacks over in order
(FIFO, one message group per sheet) and this path checks row by row.  Cell history is read only:

- for a cell changed more than once in the callback (its values in between are nowhere else);
- for a cell whose editor the users list does not name (its history names the email);
- for the whole row when the memory is missing, deferred or from before the webhook was last
  enabled, when a rule cell differs from the memory with no event to explain it, or when the row
  has moved on past the callback (a later save whose callback is still to come).

History reads beyond what the invocation can afford are not made: the row is left to the scan (its
`modifiedAt` is past the scan's watermark, so the next run reads its history), and its memory is
marked deferred so no later callback derives changes from it.  Events get the ids the scan would
give them: a derived entry carries the callback's time to the second, as cell history does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from billing_audit.config import AuditConfig
from billing_audit.domain.detect import AuditContext, detect_deleted_row, detect_row
from billing_audit.domain.models import AuditEvent, CellEntry, DetectedVia, RowCreation, RowTimeline
from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
from billing_audit.domain.values import values_equal
from billing_audit.pipeline.alerting import AlertBatch
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.holds import column_hold
from billing_audit.pipeline.record import record_approvals, record_events
from billing_audit.pipeline.timelines import ADDED_SINCE_ANY_TIME, newest_seen
from billing_audit.resources import CHANGE_AGENT
from billing_audit.smartsheet.models import RowData, SheetData
from billing_audit.smartsheet.webhooks import CallbackEvent, WebhookCallback


class HistoryCause(StrEnum):
    """Why the webhook path read a cell's history (the burst benchmark reports reads by cause)."""

    REPEATED_CELL = "cell changed more than once in the callback"
    UNKNOWN_EDITOR = "editor not in the users list"
    NO_MEMORY = "row memory missing"
    STALE_MEMORY = "row memory not known to be current"
    MOVED_ON = "row changed again after the callback"


@dataclass
class CallbackResult:
    events: list[AuditEvent] = field(default_factory=list)
    history_reads: Counter[HistoryCause] = field(default_factory=Counter)
    rows_derived: int = 0  # rows audited with no history read
    rows_deferred: int = 0  # rows left to the scan (their history did not fit this invocation)


@dataclass
class _RowEvents:
    """What one callback says happened to one row, in the callback's order."""

    created: CallbackEvent | None = None
    cells: list[CallbackEvent] = field(default_factory=list)
    last_at: datetime | None = None

    def saw(self, event: CallbackEvent) -> None:
        at = _second(event.timestamp)
        self.last_at = at if self.last_at is None else max(self.last_at, at)


@dataclass
class _Touched:
    rows: dict[int, _RowEvents] = field(default_factory=dict)  # rows edited or created
    deleted: dict[int, tuple[datetime, int | None]] = field(default_factory=dict)  # row -> (when, user id)


def _second(moment: datetime) -> datetime:
    """Cell history is to the second; a callback's time may carry milliseconds."""
    return moment.replace(microsecond=0)


def _touched(callback: WebhookCallback, columns: Mapping[str, int], rule_columns: Sequence[str]) -> _Touched:
    """Rows the callback says were created, deleted, or edited in a column the rules read.

    An edit only to other columns (a Foreman, a comment column) cannot change any finding, so it
    costs no read; a column the last scan did not know is read, in case it is a renamed rule column.
    """
    touched = _Touched()
    known = set(columns.values())
    rule_ids = {columns[title] for title in rule_columns if title in columns}
    every: dict[int, _RowEvents] = {}

    def _may_matter(column_id: int | None) -> bool:
        return column_id is None or column_id in rule_ids or column_id not in known

    for event in callback.events:
        row_id = event.row_id if event.object_type == "cell" else event.id
        if event.object_type in ("row", "cell") and row_id is not None:
            # Every event of the row counts for "moved on", whichever column it touched.
            every.setdefault(row_id, _RowEvents()).saw(event)
        if event.change_agent == CHANGE_AGENT:
            continue  # the product's own writes are not audit findings
        if event.object_type == "row" and event.event_type == "deleted" and event.id is not None:
            touched.deleted[event.id] = (event.timestamp, event.user_id)
        elif event.object_type == "row" and event.event_type == "created" and event.id is not None:
            touched.rows.setdefault(event.id, _RowEvents()).created = event
        elif event.object_type == "cell" and event.row_id is not None and _may_matter(event.column_id):
            touched.rows.setdefault(event.row_id, _RowEvents()).cells.append(event)
    for row_id in touched.deleted:
        touched.rows.pop(row_id, None)
    for row_id, row in touched.rows.items():
        row.last_at = every[row_id].last_at
    return touched


class _UserDirectory:
    """Smartsheet user ids to emails, read once per container (callbacks carry ids only).

    An id the list does not hold (a system user: automation, form submission, cell link) is not
    worth another read of the whole list until the cache is an hour old.
    """

    REFRESH = timedelta(hours=1)

    def __init__(self) -> None:
        self._emails: dict[int, str] = {}
        self._read_at: datetime | None = None
        self._source: object | None = None  # the gateway the cache was read from

    def email(self, deps: AuditDeps, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        now = deps.clock()
        if self._source is not deps.smartsheet:
            self._emails, self._read_at, self._source = {}, None, deps.smartsheet
        stale = self._read_at is None or not (self._read_at <= now < self._read_at + self.REFRESH)
        if user_id not in self._emails and stale:
            self._emails = {user.id: user.email for user in deps.smartsheet.users()}
            self._read_at = now
        return self._emails.get(user_id)


_USERS = _UserDirectory()


@dataclass(frozen=True)
class _RowPlan:
    """How one touched row is audited: entries derived from the callback, cells whose history is read."""

    start: RowSnapshot | None  # None: a row created in this callback
    derived: list[CellEntry]
    history: dict[str, HistoryCause]  # column title -> why its history is read
    skip: bool = False  # the memory already holds this row as it is now

    @property
    def reads(self) -> int:
        return len(self.history)


def _plan_row(
    row: RowData,
    seen: _RowEvents,
    memory: RowSnapshot | None,
    trusted: bool,
    sheet: SheetData,
    rule_columns: Sequence[str],
    email_of: Mapping[int, str | None],
) -> _RowPlan:
    present = [title for title in rule_columns if sheet.columns.has(title)]
    whole_row = dict.fromkeys(present)

    def _all(cause: HistoryCause) -> _RowPlan:
        return _RowPlan(start=memory, derived=[], history=dict.fromkeys(whole_row, cause))

    if seen.created is None:
        if memory is None:
            return _all(HistoryCause.NO_MEMORY)
        last_seen, now = memory.modified_at, row.modified_at
        audited = last_seen is not None and now is not None and last_seen >= now
        if audited and all(values_equal(memory.values.get(c), row.values.get(c)) for c in present):
            return _RowPlan(start=memory, derived=[], history={}, skip=True)  # a retry, or the scan was first
        if memory.deferred or not trusted:
            return _all(HistoryCause.STALE_MEMORY)
    if row.modified_at is not None and seen.last_at is not None and _second(row.modified_at) > seen.last_at:
        return _all(HistoryCause.MOVED_ON)
    by_column: dict[str, list[CallbackEvent]] = {}
    titles = sheet.columns.titles_by_id
    for event in seen.cells:
        title = titles.get(event.column_id) if event.column_id is not None else None
        if title in whole_row:
            by_column.setdefault(title, []).append(event)
    derived: list[CellEntry] = []
    history: dict[str, HistoryCause] = {}
    for title in present:
        events = by_column.get(title, [])
        if len(events) > 1:
            history[title] = HistoryCause.REPEATED_CELL
        elif events:
            event = events[0]
            email = email_of.get(event.user_id) if event.user_id is not None else None
            if event.user_id is not None and email is None:
                history[title] = HistoryCause.UNKNOWN_EDITOR
            else:
                at = _second(event.timestamp)
                derived.append(CellEntry(column=title, value=row.values.get(title), at=at, by=email))
        elif memory is not None and not values_equal(memory.values.get(title), row.values.get(title)):
            return _all(HistoryCause.STALE_MEMORY)  # a change no callback of ours carried
        elif memory is None and row.values.get(title) is not None:
            return _all(HistoryCause.NO_MEMORY)  # a created row's value the callback does not explain
    return _RowPlan(start=None if seen.created is not None else memory, derived=derived, history=history)


def process_callback(
    callback: WebhookCallback,
    config: AuditConfig,
    deps: AuditDeps,
    *,
    history_allowance: int | None = None,
    batch: AlertBatch | None = None,
) -> CallbackResult:
    """Detect, score, store and alert the events of one callback.

    `history_allowance` is how many cell-history reads this call may make (None: no limit); rows
    needing more are left to the scan.  With `batch` (one per processed batch of callbacks), the
    violations are alerted when the batch ends, together; without, at once.
    """
    result = CallbackResult()
    sheet_id = callback.scope_object_id
    if sheet_id is None or not callback.events:
        return result
    header = deps.state.load_header(sheet_id)
    if header is None:
        # No baseline yet: there is nothing to compare against; the first scan takes it.
        return result
    touched = _touched(callback, header.columns, config.policy.rule_columns)
    if not (touched.rows or touched.deleted):
        return result
    now = deps.clock()
    ctx: AuditContext | None = None
    sheet = deps.smartsheet.rows(sheet_id, list(touched.rows)) if touched.rows else None
    if sheet is not None and column_hold(header, sheet.columns, config.policy) is not None:
        # A rule column was renamed, deleted or re-created: the scan alerts and holds the sheet, and
        # audits these rows from its snapshot once the hold ends; nothing is decided on them here.
        sheet = None
    memory = _row_memory(deps, header, [*touched.rows, *touched.deleted])
    remembered: dict[int, RowSnapshot] = {}
    if sheet is not None:
        ctx = _context(config, frozenset(sheet.columns.ids_by_title), now)
        live_since = deps.state.webhook_live_since(sheet_id)
        users = _editors(deps, touched)
        allowance = history_allowance
        for row in sheet.rows:
            known = memory.get(row.id)
            trusted = known is not None and live_since is not None and (known.seen_at or header.taken_at) >= live_since
            plan = _plan_row(row, touched.rows[row.id], known, trusted, sheet, config.policy.rule_columns, users)
            if plan.skip:
                continue
            if allowance is not None and plan.reads > allowance:
                result.rows_deferred += 1
                if known is not None and not known.deferred:
                    remembered[row.id] = known.model_copy(update={"deferred": True})
                continue
            if allowance is not None:
                allowance -= plan.reads
            result.events.extend(_audit_row(sheet, row, plan, touched.rows[row.id], header, ctx, config, deps))
            result.history_reads.update(plan.history.values())
            result.rows_derived += not plan.history
            remembered[row.id] = RowSnapshot(
                modified_at=row.modified_at,
                values={c: row.values[c] for c in config.policy.snapshot_columns if c in row.values},
                seen_at=now,
            )
    if touched.deleted:
        ctx = ctx or _context(config, frozenset(header.columns), now)
        result.events.extend(_deletions(sheet_id, header.sheet_name, touched.deleted, memory, ctx, deps))
    result.events.sort(key=lambda event: event.changed_at)
    record_events(result.events, config, deps, batch=batch)
    if remembered:
        # Only now, with every event stored: the scan trusts this memory to skip these rows.
        deps.state.remember_rows(sheet_id, remembered)
    return result


def _row_memory(deps: AuditDeps, header: SheetSnapshot, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
    """Each row as last seen: the newer of the webhook path's memory and the scan's snapshot row."""
    remembered = deps.state.recall_rows(header.sheet_id, row_ids)
    scanned = deps.state.load_rows(header.sheet_id, row_ids)
    memory: dict[int, RowSnapshot] = {}
    for row_id in row_ids:
        latest = newest_seen(remembered.get(row_id), scanned.get(row_id))
        if latest is not None:
            memory[row_id] = latest
    return memory


def _editors(deps: AuditDeps, touched: _Touched) -> dict[int, str | None]:
    ids = {event.user_id for row in touched.rows.values() for event in row.cells if event.user_id is not None}
    for row in touched.rows.values():
        if row.created is not None and row.created.user_id is not None:
            ids.add(row.created.user_id)
    return {user_id: _USERS.email(deps, user_id) for user_id in sorted(ids)}


def _audit_row(
    sheet: SheetData,
    row: RowData,
    plan: _RowPlan,
    seen: _RowEvents,
    header: SheetSnapshot,
    ctx: AuditContext,
    config: AuditConfig,
    deps: AuditDeps,
) -> list[AuditEvent]:
    entries = list(plan.derived)
    for title in plan.history:
        column_id = sheet.columns.id_of(title)
        if column_id is not None:
            entries.extend(deps.smartsheet.cell_history(sheet.id, row.id, column_id, title))
    present = frozenset(title for title in ctx.policy.rule_columns if sheet.columns.has(title))
    created = None
    start = plan.start
    if start is None:
        # Created since the row was last seen: from the callback's creation event, else Smartsheet's.
        at = _second(seen.created.timestamp) if seen.created is not None else row.created_at
        by = row.created_by
        if seen.created is not None and seen.created.user_id is not None:
            by = _USERS.email(deps, seen.created.user_id) or by
        if at is not None:
            created = RowCreation(at=at, by=by)
    timeline = RowTimeline(
        sheet_id=sheet.id,
        sheet_name=sheet.name,
        row_id=row.id,
        start=dict(start.values) if start is not None else {},
        start_modified_at=start.modified_at if start is not None else None,
        current=row.values,
        current_modified_at=row.modified_at,
        current_modified_by=row.modified_by,
        history_columns=present,
        history=entries,
        created=created,
    )
    # A row the memory does not know was added since it was taken, whatever the clocks say.
    since = (start.modified_at or header.taken_at) if start is not None else ADDED_SINCE_ANY_TIME
    record_approvals(timeline, since, config, deps)
    return detect_row(timeline, ctx, since=since)


def _context(config: AuditConfig, columns: frozenset[str], now: datetime) -> AuditContext:
    return AuditContext(
        policy=config.policy, zone=config.zone, sheet_columns=columns, detected_at=now, detected_via=DetectedVia.WEBHOOK
    )


def _deletions(
    sheet_id: int,
    sheet_name: str,
    deleted: Mapping[int, tuple[datetime, int | None]],
    memory: Mapping[int, RowSnapshot],
    ctx: AuditContext,
    deps: AuditDeps,
) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for row_id, (when, user_id) in deleted.items():
        latest = memory.get(row_id)
        if latest is None:
            continue  # a row never seen: neither the scan nor this path knows what it held
        gone = RowTimeline(sheet_id=sheet_id, sheet_name=sheet_name, row_id=row_id, start=latest.values)
        by = _USERS.email(deps, user_id)
        events.extend(detect_deleted_row(gone, ctx, judged_at=when, reported_at=when, by=by))
    return events
