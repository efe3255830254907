"""The Smartsheet simulator: scenario state, a controllable clock, and the loopback HTTP server."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from smartsheet_sim.model import (
    Attachment,
    CellValue,
    ChangeEvent,
    Column,
    HistoryEntry,
    Row,
    Sheet,
    normalize,
    same_value,
    stable_id,
)
from smartsheet_sim.options import SimulatorOptions
from smartsheet_sim.scenario import (
    Scenario,
    ScenarioEdit,
    ScenarioError,
    ScenarioSheet,
    ScenarioUser,
)
from smartsheet_sim.webhooks import DeliveryResult, WebhookManager


@dataclass
class _Change:
    """One save in progress: everything it does shares one timestamp, one user and one version bump."""

    sheet: Sheet
    at: datetime
    by: str | None
    change_agent: str | None
    source: str
    events: list[ChangeEvent] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


class Simulator:
    """A loopback Smartsheet API 2.0 built from a scenario (see the package docstring)."""

    def __init__(self, scenario: Scenario, options: SimulatorOptions | None = None, token: str = "sim-token"):  # noqa: S107 - a test token
        self.scenario = scenario
        self.options = options if options is not None else SimulatorOptions()
        self.token = token
        self._lock = threading.RLock()
        self._seq = 0
        self._id_counter = 0
        self._log: list[ChangeEvent] = []
        self._applied: set[int] = set()
        self._call_counts: Counter[str] = Counter()
        self._attachments: dict[int, Attachment] = {}
        self._users: dict[str, ScenarioUser] = {u.email.lower(): u for u in scenario.users}
        self._users_by_id: dict[int, ScenarioUser] = {u.id: u for u in scenario.users}
        self._server: object | None = None
        self._api_base: str | None = None
        self.webhooks = WebhookManager(self)
        starts = [scenario.baseline_at, *(edit.at for edit in scenario.edits)]
        self._now = min(starts).astimezone(UTC)
        self._sheets: dict[int, Sheet] = {}
        for spec in scenario.sheets:
            self._sheets[spec.id] = self._load_sheet(spec)

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
            folder=spec.folder,
            shares=[(share.email, share.access_level) for share in spec.shares],
        )

    def _column_id(self, sheet_id: int, index: int) -> int:
        taken = {c.id for s in getattr(self, "_sheets", {}).values() for c in s.columns}
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

    # ----- users ---------------------------------------------------------------------------------

    def user(self, email: str | None) -> ScenarioUser | None:
        return None if email is None else self._users.get(email.lower())

    def user_by_id(self, user_id: int) -> ScenarioUser | None:
        return self._users_by_id.get(user_id)

    def user_id_for(self, email: str) -> int:
        """The id of a scenario user; an unknown editor gets a stable id derived from the email."""
        known = self.user(email)
        return known.id if known is not None else stable_id("user", email.lower())

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

    # ----- state access --------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def sheets(self) -> list[Sheet]:
        return list(self._sheets.values())

    def sheet(self, sheet_id: int) -> Sheet | None:
        return self._sheets.get(sheet_id)

    def attachments(self) -> dict[int, Attachment]:
        return self._attachments

    def attachment_bytes(self, attachment_id: int) -> bytes:
        with self._lock:
            attachment = self._attachments.get(attachment_id)
            if attachment is None:
                raise KeyError(f"no attachment {attachment_id}")
            return attachment.data

    @property
    def change_log(self) -> list[ChangeEvent]:
        """Everything that happened since the sheets were loaded, in order (a copy)."""
        with self._lock:
            return list(self._log)

    # ----- call counting -------------------------------------------------------------------------

    @property
    def call_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._call_counts)

    def reset_call_counts(self) -> None:
        with self._lock:
            self._call_counts.clear()

    def count_call(self, key: str) -> None:
        with self._lock:
            self._call_counts[key] += 1

    # ----- scenario edits ------------------------------------------------------------------------

    def apply_edit(self, edit: ScenarioEdit) -> None:
        """Apply one scenario edit at `edit.at` (the clock moves there unless it is already later)."""
        with self._lock:
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
            change = _Change(sheet, at, edit.by, None, "scenario")
            if edit.kind == "add":
                assert edit.add is not None
                self._add_row(change, edit.add.id, cells)
            elif edit.kind == "delete":
                assert edit.row is not None
                self._delete_row(change, edit.row)
            else:
                assert edit.row is not None
                self._set_cells(change, edit.row, cells)
            self._commit(change)
            self._applied.add(id(edit))

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
            for edit in self.scenario.ordered_edits():
                if edit.at <= moment and id(edit) not in self._applied:
                    self.apply_edit(edit)
                    count += 1
            self._advance_to(moment)
        return count

    # ----- changes (shared by scenario edits and API writes) -------------------------------------

    def begin_api_change(self, sheet: Sheet, change_agent: str | None) -> _Change:
        return _Change(sheet, self._now, self.api_user_email, change_agent, "api")

    def _event(self, change: _Change, object_type: str, event_type: str, **ids: int | None) -> None:
        change.events.append(
            ChangeEvent(
                seq=self._next_seq(),
                sheet_id=change.sheet.id,
                object_type=object_type,
                event_type=event_type,
                at=change.at,
                by=change.by,
                user_id=None if change.by is None else self.user_id_for(change.by),
                change_agent=change.change_agent,
                source=change.source,
                **ids,
            )
        )

    def _set_cells(self, change: _Change, row_id: int, cells: dict[int, CellValue]) -> Row:
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

    def _add_row(self, change: _Change, row_id: int, cells: dict[int, CellValue], to_top: bool = False) -> Row:
        row = Row(
            id=row_id,
            created_at=change.at,
            created_by=change.by,
            modified_at=change.at,
            modified_by=change.by,
            version=change.sheet.version,
        )
        if to_top:
            change.sheet.rows.insert(0, row)
        else:
            change.sheet.rows.append(row)
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

    def _delete_row(self, change: _Change, row_id: int) -> None:
        change.sheet.rows = [r for r in change.sheet.rows if r.id != row_id]
        self._event(change, "row", "deleted", object_id=row_id)

    def record_attachment(self, change: _Change, attachment: Attachment, event_type: str = "created") -> None:
        self._attachments[attachment.id] = attachment
        self._event(change, "attachment", event_type, object_id=attachment.id)

    def _commit(self, change: _Change) -> None:
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
            user_id=None if change.by is None else self.user_id_for(change.by),
            object_id=sheet.id,
            change_agent=change.change_agent,
            source=change.source,
        )
        events = [sheet_event, *change.events]
        self._log.extend(events)
        self.webhooks.enqueue(sheet.id, events)

    # API-facing wrappers (the HTTP layer holds the lock around them).

    def api_set_cells(self, change: _Change, row_id: int, cells: dict[int, CellValue]) -> Row:
        return self._set_cells(change, row_id, cells)

    def api_add_row(self, change: _Change, cells: dict[int, CellValue], to_top: bool) -> Row:
        row_id = self.new_id("row")
        while change.sheet.row(row_id) is not None:
            row_id = self.new_id("row")
        return self._add_row(change, row_id, cells, to_top)

    def api_delete_row(self, change: _Change, row_id: int) -> None:
        self._delete_row(change, row_id)

    def commit(self, change: _Change) -> None:
        self._commit(change)

    # ----- webhooks --------------------------------------------------------------------------------

    def deliver_callbacks(self, duplicate: bool = False) -> list[DeliveryResult]:
        """Send pending webhook callbacks now, synchronously (see WebhookManager.deliver)."""
        return self.webhooks.deliver(duplicate=duplicate)

    def disable_webhook(self, webhook_id: int, status: str = "DISABLED_BY_OWNER") -> None:
        self.webhooks.disable(webhook_id, status)

    # ----- server ----------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve the API on 127.0.0.1 (a free port) in a daemon thread; returns the api_base."""
        from smartsheet_sim.server import SimulatorServer

        with self._lock:
            if self._api_base is not None:
                return self._api_base
            server = SimulatorServer(self)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="smartsheet-simulator", daemon=True
            )
            thread.start()
            self._server = server
            self._api_base = f"http://127.0.0.1:{server.server_address[1]}/2.0"
            return self._api_base

    def reset_rate_limits(self) -> None:
        """Forget the requests counted in the current rate-limit windows."""
        from smartsheet_sim.server import SimulatorServer

        server = self._server
        if isinstance(server, SimulatorServer):
            server.rate_limiter.reset()

    @property
    def api_base(self) -> str | None:
        return self._api_base

    def stop(self) -> None:
        from smartsheet_sim.server import SimulatorServer

        with self._lock:
            server = self._server
            self._server = None
            self._api_base = None
        if isinstance(server, SimulatorServer):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rows_of(self, sheet: Sheet, row_ids: Iterable[int]) -> list[Row]:
        wanted = set(row_ids)
        return [r for r in sheet.rows if r.id in wanted]
