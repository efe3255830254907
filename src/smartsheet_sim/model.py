"""In-memory Smartsheet state: sheets, rows, cells, cell history, attachments and the change log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

CellValue = str | bool | int | float | None
"""A cell's value as the API carries it in JSON (None: an empty cell)."""

# Smartsheet ids are 16-digit numbers; keep ours below 2**53 so JSON readers keep them exact.
_ID_LOW = 1_000_000_000_000_000
_ID_SPAN = 9_000_000_000_000_000 - _ID_LOW


def stable_id(*parts: object) -> int:
    """A large id derived from `parts`: the same parts always give the same id."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return _ID_LOW + int.from_bytes(digest[:8], "big") % _ID_SPAN


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with `Z`, to the second (Smartsheet's own format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize(value: CellValue) -> CellValue:
    """A stored value: an empty string clears the cell as it does in Smartsheet."""
    if isinstance(value, str) and value == "":
        return None
    return value


def same_value(left: CellValue, right: CellValue) -> bool:
    """Equal as stored values: same kind and equal (12 and 12.0 equal; 12 and "12" not; True and 1 not)."""
    left, right = normalize(left), normalize(right)
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and left == right


def display_value(value: CellValue) -> str | None:
    """The displayValue Smartsheet shows for a value (None for an empty cell or a checkbox)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


@dataclass
class Column:
    id: int
    index: int
    title: str
    type: str
    primary: bool
    options: list[str] | None = None
    symbol: str | None = None
    width: int = 150
    description: str | None = None
    hidden: bool = False
    locked: bool = False
    validation: bool = False
    system_column_type: str | None = None  # AUTO_NUMBER, CREATED_BY, ...: Smartsheet fills the values


@dataclass
class HistoryEntry:
    value: CellValue
    modified_at: datetime
    by: str | None
    seq: int


@dataclass
class Row:
    id: int
    created_at: datetime
    created_by: str | None
    modified_at: datetime
    modified_by: str | None
    version: int
    cells: dict[int, CellValue] = field(default_factory=dict)
    history: dict[int, list[HistoryEntry]] = field(default_factory=dict)
    parent_id: int | None = None  # an indented row's parent; `Sheet.rows` keeps the flat display order


@dataclass
class Attachment:
    id: int
    sheet_id: int
    parent_type: str  # SHEET or ROW
    parent_id: int
    name: str
    mime_type: str
    data: bytes
    created_at: datetime
    created_by: str | None
    group: int  # id of the first version; later versions share it
    current: bool = True


@dataclass
class Comment:
    text: str
    created_at: datetime
    created_by: str | None


@dataclass
class Discussion:
    id: int
    sheet_id: int
    parent_type: str  # SHEET or ROW
    parent_id: int
    title: str
    comments: list[Comment] = field(default_factory=list)


@dataclass
class Sheet:
    id: int
    name: str
    columns: list[Column]
    rows: list[Row]
    created_at: datetime
    modified_at: datetime
    version: int = 1
    workspace: str | None = None
    folder_path: tuple[str, ...] = ()  # folder names, outermost first
    shares: list[tuple[str, str]] = field(default_factory=list)  # (email, accessLevel)
    group_shares: list[tuple[str, str]] = field(default_factory=list)  # (group name, accessLevel)
    history_from: datetime | None = None  # copied or imported then: no cell history served before it

    def row(self, row_id: int) -> Row | None:
        for row in self.rows:
            if row.id == row_id:
                return row
        return None

    def column(self, column_id: int) -> Column | None:
        for column in self.columns:
            if column.id == column_id:
                return column
        return None

    def subtree_end(self, row_id: int) -> int:
        """The flat position just past a row and every row indented below it."""
        start = next(index for index, row in enumerate(self.rows) if row.id == row_id)
        inside = {row_id}
        end = start + 1
        while end < len(self.rows) and self.rows[end].parent_id in inside:
            inside.add(self.rows[end].id)
            end += 1
        return end

    def column_by_title(self, title: str) -> Column | None:
        for column in self.columns:
            if column.title == title:
                return column
        return None


@dataclass(frozen=True)
class ChangeEvent:
    """One thing that happened to a sheet, as a webhook event would name it."""

    seq: int
    sheet_id: int
    object_type: str  # sheet, row, cell, attachment
    event_type: str  # created, updated, deleted
    at: datetime
    by: str | None
    user_id: int | None
    object_id: int | None = None  # row id for rows, attachment id for attachments
    row_id: int | None = None  # cells
    column_id: int | None = None  # cells
    change_agent: str | None = None
    source: str = "scenario"  # scenario or api

    def to_callback_event(self) -> dict[str, object]:
        event: dict[str, object] = {"objectType": self.object_type, "eventType": self.event_type}
        if self.object_type == "cell":
            event["rowId"] = self.row_id
            event["columnId"] = self.column_id
        elif self.object_type == "sheet":
            event["id"] = self.sheet_id
        else:
            event["id"] = self.object_id
        if self.user_id is not None:
            event["userId"] = self.user_id
        event["timestamp"] = iso(self.at)
        if self.change_agent is not None:
            event["changeAgent"] = self.change_agent
        return event
