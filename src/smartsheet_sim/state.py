"""The simulated account's data: sheets loaded from a scenario, its people, a controllable clock,
and every change (scenario edits and API writes) recorded as one save with its events.

Knows nothing of HTTP or webhooks: whoever needs to hear about saves (the webhook registry)
subscribes with `on_commit`. Endpoints and the webhook code hold `lock` while they read or write.
Kept in one module on purpose: loading, the clock and saves all change the same account state
under one lock, and splitting them would only spread that lock's rules across files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from smartsheet_sim.model import (
    Attachment,
    CellValue,
    ChangeEvent,
    Column,
    Comment,
    Discussion,
    HistoryEntry,
    Row,
    Sheet,
    normalize,
    same_value,
    stable_id,
)
from smartsheet_sim.options import SimulatorOptions
from smartsheet_sim.scenario import Scenario, ScenarioEdit, ScenarioError, ScenarioSheet, ScenarioUser

CommitListener = Callable[[int, list[ChangeEvent]], None]
"""Told, under the lock, of each save: the sheet id and its events (the sheet event first)."""


@dataclass
class Change:
    """One save in progress: everything it does shares one timestamp, one user and one version bump."""

    sheet: Sheet
    at: datetime
    by: str | None
    change_agent: str | None
    source: str
    events: list[ChangeEvent] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    # Where Event Reporting says the save came from (a scenario edit's `source`/`ip`, or its defaults).
    reported_source: str | None = None
    reported_ip: str | None = None


@dataclass(frozen=True)
class Save:
    """One committed save, as Event Reporting reports it."""

    seq: int
    sheet_id: int
    at: datetime
    by: str | None
    origin: str  # scenario or api
    source: str | None
    ip: str | None


def change_save(change: Change, seq: int) -> Save:
    return Save(
        seq=seq,
        sheet_id=change.sheet.id,
        at=change.at,
        by=change.by,
        origin=change.source,
        source=change.reported_source,
        ip=change.reported_ip,
    )


class SimulatorState:
    """Sheets, users, attachments, the clock and the change log of one scenario run."""

    def __init__(self, scenario: Scenario, options: SimulatorOptions):
        self.scenario = scenario
        self.options = options
        self._lock = threading.RLock()
        self._seq = 0
        self._id_counter = 0
        self._log: list[ChangeEvent] = []
        self._saves: list[Save] = []  # every committed save, for Event Reporting
        self._listeners: list[CommitListener] = []
        # The scenario's edits in time order (stable), those applied (by position), and how far the
        # clock has applied them all: every edit before `_next_edit` is applied.
        self._ordered_edits = scenario.ordered_edits()
        self._edit_position = {id(edit): index for index, edit in enumerate(self._ordered_edits)}
        self._applied: set[int] = set()
        self._next_edit = 0
        self._elapsed = timedelta(0)
        self._attachments: dict[int, Attachment] = {}
        self._discussions: dict[int, Discussion] = {}
        self._users: dict[str, ScenarioUser] = {u.email.lower(): u for u in scenario.users}
        self._users_by_id: dict[int, ScenarioUser] = {u.id: u for u in scenario.users}
        starts = [scenario.baseline_at, *(edit.at for edit in scenario.edits)]
        self._now = min(starts).astimezone(UTC)
        self._sheets: dict[int, Sheet] = {}
        self._inaccessible: set[int] = set()  # deleted or shared away: the API no longer shows them
        for spec in scenario.sheets:
            self._sheets[spec.id] = self._load_sheet(spec)

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def on_commit(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    # ----- loading -------------------------------------------------------------------------------

    def _load_sheet(self, spec: ScenarioSheet) -> Sheet:
        columns = [
            Column(
                id=self._column_id(spec.id, index),
                index=index,
                title=col.title,
                type=col.type,
                primary=col.primary,
                options=list(col.options) if col.options is not None else None,
            )
            for index, col in enumerate(spec.columns)
        ]
        if not any(c.primary for c in columns):
            columns[0].primary = True
        by_title = {c.title: c for c in columns}
        rows: list[Row] = []
        baseline = self.scenario.baseline_at.astimezone(UTC)
        for row_spec in spec.rows:
            created_at = (row_spec.created_at or baseline).astimezone(UTC)
            row = Row(
                id=row_spec.id,
                created_at=created_at,
                created_by=row_spec.created_by,
                modified_at=created_at,
                modified_by=row_spec.created_by,
                version=1,
            )
            for title, value in row_spec.cells.items():
                stored = normalize(value)
                if stored is None:
                    continue
                column_id = by_title[title].id
                row.cells[column_id] = stored
                row.history[column_id] = [HistoryEntry(stored, created_at, row_spec.created_by, self._next_seq())]
            rows.append(row)
        created = min((r.created_at for r in rows), default=baseline)
        modified = max((r.modified_at for r in rows), default=created)
        return Sheet(
            id=spec.id,
            name=spec.name,
            columns=columns,
            rows=rows,
            created_at=min(created, baseline),
            modified_at=modified,
            workspace=spec.workspace,
            folder_path=spec.folder_path,
            shares=[(share.email, share.access_level) for share in spec.shares if share.email is not None],
            group_shares=[(share.group, share.access_level) for share in spec.shares if share.group is not None],
            history_from=None if spec.history_from is None else spec.history_from.astimezone(UTC),
        )

    def _column_id(self, sheet_id: int, index: int) -> int:
        taken = {c.id for s in self._sheets.values() for c in s.columns}
        salt = 0
        while True:
            candidate = stable_id("column", sheet_id, index, salt)
            if candidate not in taken:
                return candidate
            salt += 1

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def new_id(self, kind: str) -> int:
        """A fresh large id (deterministic for a given seed and call order)."""
        with self._lock:
            self._id_counter += 1
            return stable_id(kind, self.options.seed, self._id_counter)

    # ----- clock ---------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self._now

    def set_time(self, moment: datetime) -> None:
        """Move the clock; it never goes backwards."""
        if moment.tzinfo is None:
            raise ValueError("the simulator clock needs an aware datetime")
        moment = moment.astimezone(UTC)
        with self._lock:
            if moment < self._now:
                raise ValueError(f"the simulator clock cannot go back from {self._now} to {moment}")
            self._now = moment

    def _advance_to(self, moment: datetime) -> None:
        moment = moment.astimezone(UTC)
        if moment > self._now:
            self._now = moment

    def advance_to(self, moment: datetime) -> int:
        """Wait until `moment` on the discrete-event clock: every not-yet-applied scenario edit with
        `at <= moment` is applied at its own `at`, in time order, and the clock ends at `moment`
        (a moment already past moves nothing but still applies edits due by then).

        The time the clock moves counts towards `virtual_elapsed`. Returns how many edits were applied.
        """
        if moment.tzinfo is None:
            raise ValueError("the simulator clock needs an aware datetime")
        with self._lock:
            before = self._now
            count = self.apply_edits_through(moment)
            self._elapsed += self._now - before
            return count

    def sleep(self, seconds: float) -> int:
        """Wait `seconds` of virtual time from now (see `advance_to`); returns how many edits were applied."""
        if seconds < 0:
            raise ValueError("cannot sleep a negative time")
        with self._lock:
            return self.advance_to(self._now + timedelta(seconds=seconds))

    @property
    def virtual_elapsed(self) -> timedelta:
        """How far the clock has moved through `advance_to` and `sleep` (a client's waits)."""
        return self._elapsed

    def reset_virtual_elapsed(self) -> None:
        with self._lock:
            self._elapsed = timedelta(0)

    # ----- users ---------------------------------------------------------------------------------

    def user(self, email: str | None) -> ScenarioUser | None:
        return None if email is None else self._users.get(email.lower())

    def user_by_id(self, user_id: int) -> ScenarioUser | None:
        return self._users_by_id.get(user_id)

    def user_id_for(self, email: str) -> int:
        """The id of a scenario user; an unknown editor gets a stable id derived from the email."""
        known = self.user(email)
        return known.id if known is not None else stable_id("user", email.lower())

    def editor_id_for(self, email: str) -> int:
        """The id a callback names for a save by `email`.  A scenario may write a roster user's email
        in another case; cell history then names the editor as written, and so does this id: that of
        the roster user only for their email exactly, else one of its own, so a client that reads
        callbacks learns the same email as one that reads cell history."""
        known = self.user(email)
        if known is None or known.email == email:
            return self.user_id_for(email)
        return stable_id("user", email)

    def user_name_for(self, email: str) -> str:
        known = self.user(email)
        return known.name if known is not None and known.name else email

    @property
    def api_user_email(self) -> str:
        """The token owner: writes through the API are attributed to this email."""
        if self.options.api_user:
            return self.options.api_user
        if self.scenario.users:
            return self.scenario.users[0].email
        return "api-user@simulator.invalid"

    # ----- reading -------------------------------------------------------------------------------

    def all_sheets(self) -> list[Sheet]:
        """Every sheet of the scenario, those the token's owner can no longer reach included."""
        return list(self._sheets.values())

    def sheets(self) -> list[Sheet]:
        """The sheets the token's owner can reach (what the API shows)."""
        return [sheet for sheet in self._sheets.values() if sheet.id not in self._inaccessible]

    def sheet(self, sheet_id: int, *, inaccessible_too: bool = False) -> Sheet | None:
        """A sheet the token's owner can reach; with `inaccessible_too`, also one it no longer can."""
        if sheet_id in self._inaccessible and not inaccessible_too:
            return None
        return self._sheets.get(sheet_id)

    def set_accessible(self, sheet_id: int, accessible: bool) -> None:
        """Deleting or sharing away a sheet hides it from the API (its edits by others still happen)."""
        with self._lock:
            if sheet_id not in self._sheets:
                raise KeyError(f"no sheet {sheet_id}")
            if accessible:
                self._inaccessible.discard(sheet_id)
            else:
                self._inaccessible.add(sheet_id)

    def attachments(self) -> dict[int, Attachment]:
        return self._attachments

    def discussions(self) -> dict[int, Discussion]:
        return self._discussions

    def attachment_bytes(self, attachment_id: int) -> bytes:
        with self._lock:
            attachment = self._attachments.get(attachment_id)
            if attachment is None:
                raise KeyError(f"no attachment {attachment_id}")
            return attachment.data

    def saves(self) -> list[Save]:
        """Every committed save so far, in commit order."""
        with self._lock:
            return list(self._saves)

    @property
    def change_log(self) -> list[ChangeEvent]:
        """Everything that happened since the sheets were loaded, in order (a copy)."""
        with self._lock:
            return list(self._log)

    # ----- scenario edits ------------------------------------------------------------------------

    def apply_edit(self, edit: ScenarioEdit) -> bool:
        """Apply one edit at `edit.at` (the clock moves there unless it is already later).

        An edit of the scenario is applied once: applying it again (say, after the clock already did
        while a client waited) does nothing and returns False. Edits made up by a caller always apply.
        """
        with self._lock:
            position = self._edit_position.get(id(edit))
            if position is not None and self._ordered_edits[position] is not edit:
                position = None  # an edit made up by the caller, at the address of a scenario edit
            if position is not None and position in self._applied:
                return False
            sheet = self._sheets.get(edit.sheet)
            if sheet is None:
                raise ScenarioError(f"edit at {edit.at.isoformat()} names unknown sheet {edit.sheet}")
            at = edit.at.astimezone(UTC)
            if edit.kind == "add":
                assert edit.add is not None
                if sheet.row(edit.add.id) is not None:
                    raise ScenarioError(f"edit at {edit.at.isoformat()} adds row {edit.add.id} that already exists")
                cells = self._cells_by_title(sheet, edit.add.cells, edit)
            else:
                assert edit.row is not None
                if sheet.row(edit.row) is None:
                    raise ScenarioError(
                        f"edit at {edit.at.isoformat()} names unknown row {edit.row} of sheet {sheet.id}"
                    )
                cells = self._cells_by_title(sheet, edit.set_ or {}, edit)
            self._advance_to(at)
            change = Change(sheet, at, edit.by, None, "scenario", reported_source=edit.source, reported_ip=edit.ip)
            if edit.kind == "add":
                assert edit.add is not None
                self._add_row(change, edit.add.id, cells)
            elif edit.kind == "delete":
                assert edit.row is not None
                self.delete_row(change, edit.row)
            else:
                assert edit.row is not None
                self.set_cells(change, edit.row, cells)
            self.commit(change)
            if position is not None:
                self._applied.add(position)
            return True

    def _cells_by_title(self, sheet: Sheet, cells: dict[str, CellValue], edit: ScenarioEdit) -> dict[int, CellValue]:
        out: dict[int, CellValue] = {}
        for title, value in cells.items():
            column = sheet.column_by_title(title)
            if column is None:
                raise ScenarioError(f"edit at {edit.at.isoformat()} names unknown column {title!r} of sheet {sheet.id}")
            out[column.id] = value
        return out

    def apply_edits_through(self, moment: datetime) -> int:
        """Apply the scenario's not-yet-applied edits with `at <= moment` in time order (stable).

        The clock ends at `moment` (or later, if it already was). Returns how many were applied.
        """
        count = 0
        with self._lock:
            edits = self._ordered_edits
            while self._next_edit < len(edits) and edits[self._next_edit].at <= moment:
                if self.apply_edit(edits[self._next_edit]):
                    count += 1
                self._next_edit += 1
            self._advance_to(moment)
        return count

    # ----- changes (scenario edits and API writes; callers hold the lock) ------------------------

    def begin_api_change(self, sheet: Sheet, change_agent: str | None) -> Change:
        """A save through the API: now, by the token owner."""
        return Change(sheet, self._now, self.api_user_email, change_agent, "api")

    def _event(self, change: Change, object_type: str, event_type: str, **ids: int | None) -> None:
        change.events.append(
            ChangeEvent(
                seq=self._next_seq(),
                sheet_id=change.sheet.id,
                object_type=object_type,
                event_type=event_type,
                at=change.at,
                by=change.by,
                user_id=None if change.by is None else self.editor_id_for(change.by),
                change_agent=change.change_agent,
                source=change.source,
                **ids,
            )
        )

    def set_cells(self, change: Change, row_id: int, cells: dict[int, CellValue]) -> Row:
        """Write cells of a row; a value equal to the stored one is no change and leaves no history."""
        row = change.sheet.row(row_id)
        if row is None:
            raise KeyError(row_id)
        changed = False
        for column_id, value in cells.items():
            stored = normalize(value)
            if same_value(row.cells.get(column_id), stored):
                continue
            changed = True
            if stored is None:
                row.cells.pop(column_id, None)
            else:
                row.cells[column_id] = stored
            row.history.setdefault(column_id, []).append(HistoryEntry(stored, change.at, change.by, self._next_seq()))
            self._event(change, "cell", "updated", row_id=row.id, column_id=column_id)
        if changed:
            row.modified_at = change.at
            row.modified_by = change.by
            self._event(change, "row", "updated", object_id=row.id)
            change.rows.append(row)
        return row

    def add_row(
        self, change: Change, cells: dict[int, CellValue], *, index: int | None = None, parent_id: int | None = None
    ) -> Row:
        """Add a row with a fresh id (the API's way; scenario rows bring their own ids) at flat
        position `index` (the end when None), indented under `parent_id` when given."""
        row_id = self.new_id("row")
        while change.sheet.row(row_id) is not None:
            row_id = self.new_id("row")
        return self._add_row(change, row_id, cells, index=index, parent_id=parent_id)

    def _add_row(
        self,
        change: Change,
        row_id: int,
        cells: dict[int, CellValue],
        *,
        index: int | None = None,
        parent_id: int | None = None,
    ) -> Row:
        row = Row(
            id=row_id,
            created_at=change.at,
            created_by=change.by,
            modified_at=change.at,
            modified_by=change.by,
            version=change.sheet.version,
            parent_id=parent_id,
        )
        if index is None:
            change.sheet.rows.append(row)
        else:
            change.sheet.rows.insert(index, row)
        self._event(change, "row", "created", object_id=row.id)
        for column_id, value in cells.items():
            stored = normalize(value)
            if stored is None:
                continue
            row.cells[column_id] = stored
            row.history[column_id] = [HistoryEntry(stored, change.at, change.by, self._next_seq())]
            self._event(change, "cell", "updated", row_id=row.id, column_id=column_id)
        change.rows.append(row)
        return row

    def delete_row(self, change: Change, row_id: int) -> None:
        """Delete a row and, as Smartsheet does, every row indented below it."""
        sheet = change.sheet
        if sheet.row(row_id) is None:
            return
        start = next(index for index, row in enumerate(sheet.rows) if row.id == row_id)
        gone = sheet.rows[start : sheet.subtree_end(row_id)]
        del sheet.rows[start : start + len(gone)]
        for row in gone:
            self._event(change, "row", "deleted", object_id=row.id)

    def create_sheet(self, name: str, columns: list[Column]) -> Sheet:
        """A new, empty sheet in the token owner's home (columns get their ids here)."""
        with self._lock:
            sheet_id = self.new_id("sheet")
            while sheet_id in self._sheets:
                sheet_id = self.new_id("sheet")
            for index, column in enumerate(columns):
                column.index = index
                column.id = self._column_id(sheet_id, index)
            sheet = Sheet(id=sheet_id, name=name, columns=columns, rows=[], created_at=self._now, modified_at=self._now)
            self._sheets[sheet_id] = sheet
            return sheet

    def add_discussion(self, change: Change, parent_type: str, parent_id: int, text: str) -> Discussion:
        discussion = Discussion(
            id=self.new_id("discussion"),
            sheet_id=change.sheet.id,
            parent_type=parent_type,
            parent_id=parent_id,
            title=text,
            comments=[Comment(text, change.at, change.by)],
        )
        self._discussions[discussion.id] = discussion
        self._event(change, "discussion", "created", object_id=discussion.id)
        return discussion

    def record_attachment(self, change: Change, attachment: Attachment, event_type: str = "created") -> None:
        self._attachments[attachment.id] = attachment
        self._event(change, "attachment", event_type, object_id=attachment.id)

    def commit(self, change: Change) -> None:
        """End a save: one version bump, a sheet event ahead of the others, listeners told."""
        if not change.events:
            return
        sheet = change.sheet
        sheet.version += 1
        if change.at > sheet.modified_at:
            sheet.modified_at = change.at
        for row in change.rows:
            row.version = sheet.version
        sheet_event = ChangeEvent(
            seq=self._next_seq(),
            sheet_id=sheet.id,
            object_type="sheet",
            event_type="updated",
            at=change.at,
            by=change.by,
            user_id=None if change.by is None else self.editor_id_for(change.by),
            object_id=sheet.id,
            change_agent=change.change_agent,
            source=change.source,
        )
        events = [sheet_event, *change.events]
        self._log.extend(events)
        self._saves.append(change_save(change, sheet_event.seq))
        for listener in self._listeners:
            listener(sheet.id, events)
