"""The webhook path: one Smartsheet callback in, the same detection as the scan, events out.

A callback names rows and cells, never values.  For each touched row the worker reads the row and
the full history of its rule columns, and replays it from the row's state at the last scan, so a
callback processed twice, late or out of order gives the same events with the same ids.  Deletions
are judged at their own time, from the latest values this path (or the scan) saw of the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from billing_audit.config import AuditConfig
from billing_audit.domain.detect import AuditContext, detect_deleted_row, detect_row
from billing_audit.domain.models import AuditEvent, DetectedVia, RowTimeline
from billing_audit.domain.snapshot import RowSnapshot
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.holds import column_hold
from billing_audit.pipeline.record import record_events
from billing_audit.pipeline.timelines import ADDED_SINCE_ANY_TIME, build_timeline, newest_seen, snapshot_rows
from billing_audit.resources import CHANGE_AGENT
from billing_audit.smartsheet.webhooks import WebhookCallback


@dataclass
class _Touched:
    rows: dict[int, None] = field(default_factory=dict)  # ordered set of rows edited or created
    deleted: dict[int, tuple[datetime, int | None]] = field(default_factory=dict)  # row -> (when, user id)


def _touched(callback: WebhookCallback, columns: Mapping[str, int], rule_columns: Sequence[str]) -> _Touched:
    """Rows the callback says were created, deleted, or edited in a column the rules read.

    An edit only to other columns (a Foreman, a comment column) cannot change any finding, so it
    costs no read; a column the last scan did not know is read, in case it is a renamed rule column.
    """
    touched = _Touched()
    known = set(columns.values())
    rule_ids = {columns[title] for title in rule_columns if title in columns}

    def _may_matter(column_id: int | None) -> bool:
        return column_id is None or column_id in rule_ids or column_id not in known

    for event in callback.events:
        if event.change_agent == CHANGE_AGENT:
            continue  # the product's own writes are not audit findings
        if event.object_type == "row" and event.event_type == "deleted" and event.id is not None:
            touched.deleted[event.id] = (event.timestamp, event.user_id)
        elif event.object_type == "row" and event.event_type == "created" and event.id is not None:
            touched.rows[event.id] = None
        elif event.object_type == "cell" and event.row_id is not None and _may_matter(event.column_id):
            touched.rows[event.row_id] = None
    for row_id in touched.deleted:
        touched.rows.pop(row_id, None)
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


def process_callback(callback: WebhookCallback, config: AuditConfig, deps: AuditDeps) -> list[AuditEvent]:
    """Detect, score, store and alert the events of one callback; returns the events it detected."""
    sheet_id = callback.scope_object_id
    if sheet_id is None or not callback.events:
        return []
    snapshot = deps.state.load(sheet_id)
    if snapshot is None:
        # No baseline yet: there is nothing to compare against; the first scan takes it.
        return []
    touched = _touched(callback, snapshot.columns, config.policy.rule_columns)
    if not (touched.rows or touched.deleted):
        return []
    now = deps.clock()
    events: list[AuditEvent] = []
    ctx: AuditContext | None = None
    sheet = deps.smartsheet.rows(sheet_id, list(touched.rows)) if touched.rows else None
    if sheet is not None and column_hold(snapshot, sheet.columns, config.policy) is not None:
        # A rule column was renamed, deleted or re-created: the scan alerts and holds the sheet, and
        # audits these rows from its snapshot once the hold ends; nothing is decided on them here.
        sheet = None
    if sheet is not None:
        ctx = _context(config, frozenset(sheet.columns.ids_by_title), now)
        present = [title for title in config.policy.rule_columns if sheet.columns.has(title)]
        for row in sheet.rows:
            known = snapshot.rows.get(row.id)
            timeline = build_timeline(sheet, row, deps.smartsheet, present, known=known)
            # A row the snapshot does not know was added since it was taken, whatever the clocks say.
            since = (known.modified_at or snapshot.taken_at) if known is not None else ADDED_SINCE_ANY_TIME
            events.extend(detect_row(timeline, ctx, since=since))
    if touched.deleted:
        ctx = ctx or _context(config, frozenset(snapshot.columns), now)
        events.extend(_deletions(sheet_id, snapshot.sheet_name, touched.deleted, snapshot.rows, ctx, deps))
    events.sort(key=lambda event: event.changed_at)
    record_events(events, config, deps)
    if sheet is not None:
        # Only now, with every event stored: the scan trusts this memory to skip these rows.
        deps.state.remember_rows(sheet_id, snapshot_rows(sheet.rows, config.policy.snapshot_columns))
    return events


def _context(config: AuditConfig, columns: frozenset[str], now: datetime) -> AuditContext:
    return AuditContext(
        policy=config.policy, zone=config.zone, sheet_columns=columns, detected_at=now, detected_via=DetectedVia.WEBHOOK
    )


def _deletions(
    sheet_id: int,
    sheet_name: str,
    deleted: Mapping[int, tuple[datetime, int | None]],
    baseline_rows: Mapping[int, RowSnapshot],
    ctx: AuditContext,
    deps: AuditDeps,
) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    remembered = deps.state.recall_rows(sheet_id, list(deleted))
    for row_id, (when, user_id) in deleted.items():
        latest = newest_seen(remembered.get(row_id), baseline_rows.get(row_id))
        if latest is None:
            continue  # a row never seen: neither the scan nor this path knows what it held
        gone = RowTimeline(sheet_id=sheet_id, sheet_name=sheet_name, row_id=row_id, start=latest.values)
        by = _USERS.email(deps, user_id)
        events.extend(detect_deleted_row(gone, ctx, judged_at=when, reported_at=when, by=by))
    return events
