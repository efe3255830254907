"""What a sheet backup holds, what a backup run records, how a restore lays rows out again, and how
a backup and a live sheet differ.  Pure: the Smartsheet adapter reads into these models, the
pipeline stores them, restores and compares them.

A backup is everything a restore needs: every column with its type and options, every row in the
sheet's display order with its parent (the hierarchy), every cell value (and formula), and the
lists of attachments and discussions (listed, not copied: their files and threads stay in
Smartsheet).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from billing_audit.domain.values import CellValue

FORMAT_VERSION = 1
MAX_ROWS_PER_WRITE = 500  # Smartsheet takes at most 500 rows in one add-rows request
BACKUP_PREFIX = "backups/"
MANIFEST_NAME = "manifest.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class BackupColumn(_Frozen):
    """A column as Smartsheet describes it; the fields a new sheet's column takes, and its id then."""

    id: int
    index: int
    title: str
    type: str = "TEXT_NUMBER"
    primary: bool = False
    options: list[str] | None = None
    symbol: str | None = None
    width: int | None = None
    description: str | None = None
    hidden: bool = False
    locked: bool = False
    validation: bool = False
    system_column_type: str | None = None  # AUTO_NUMBER, CREATED_BY, ...: Smartsheet fills these cells
    formula: str | None = None  # a column formula

    @property
    def is_system(self) -> bool:
        return self.system_column_type is not None

    def definition(self) -> dict[str, Any]:
        """The column as a new sheet's request names it (API field names), id and index left out."""
        fields: dict[str, Any] = {
            "title": self.title,
            "type": self.type,
            "primary": self.primary or None,
            "options": self.options,
            "symbol": self.symbol,
            "width": self.width,
            "description": self.description,
            "hidden": self.hidden or None,
            "locked": self.locked or None,
            "validation": self.validation or None,
            "systemColumnType": self.system_column_type,
            "formula": self.formula,
        }
        return {name: value for name, value in fields.items() if value is not None}


class BackupRow(_Frozen):
    id: int
    parent_id: int | None = None
    cells: dict[int, CellValue] = Field(default_factory=dict)  # by column id; empty cells left out
    formulas: dict[int, str] = Field(default_factory=dict)  # by column id: cells that hold a formula
    expanded: bool = True
    locked: bool = False
    created_at: datetime | None = None
    modified_at: datetime | None = None


class AttachmentInfo(_Frozen):
    id: int
    name: str
    attachment_type: str | None = None
    mime_type: str | None = None
    size_kb: int | None = None
    parent_type: str | None = None  # SHEET, ROW, COMMENT
    parent_id: int | None = None
    created_at: datetime | None = None
    created_by: str | None = None


class CommentInfo(_Frozen):
    text: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None


class DiscussionInfo(_Frozen):
    id: int
    title: str | None = None
    parent_type: str | None = None
    parent_id: int | None = None
    comment_count: int | None = None
    last_commented_at: datetime | None = None
    last_commented_by: str | None = None
    comments: list[CommentInfo] = Field(default_factory=list)


class SheetContent(_Frozen):
    """One consistent read of a whole sheet (one request, one version), with its attachment and
    discussion lists."""

    id: int
    name: str
    version: int
    columns: list[BackupColumn]
    rows: list[BackupRow]  # display order
    attachments: list[AttachmentInfo] = Field(default_factory=list)
    discussions: list[DiscussionInfo] = Field(default_factory=list)


class SheetBackup(_Frozen):
    """The JSON object a backup stores for one sheet."""

    format: int = FORMAT_VERSION
    taken_at: datetime
    sheet: SheetContent


class Tier(StrEnum):
    """How long a backup is kept: a day's (the default), or the month's first (kept for months)."""

    DAILY = "daily"
    MONTHLY = "monthly"


class Retention(_Frozen):
    daily_days: int = 30
    monthly_months: int = 12

    def days(self, tier: Tier) -> int:
        # A month counted as 31 days, so the twelfth-oldest monthly outlives the arrival of the next.
        return self.daily_days if tier is Tier.DAILY else self.monthly_months * 31

    def retain_until(self, day: date, tier: Tier) -> datetime:
        """Until when Object Lock keeps the objects of a backup taken on `day` (midnight UTC)."""
        until = day + timedelta(days=self.days(tier))
        return datetime(until.year, until.month, until.day, tzinfo=UTC)


class BackupObject(_Frozen):
    key: str
    sha256: str
    bytes: int
    content_type: str


class SheetEntry(_Frozen):
    """One sheet's backup in a run: what the manifest says of it."""

    sheet_id: int
    name: str
    version: int
    row_count: int
    taken_at: datetime
    objects: dict[str, BackupObject]  # "json", "xlsx"


class FailedSheet(_Frozen):
    sheet_id: int
    error: str


class Manifest(_Frozen):
    """A day's backup: every sheet's entry with its objects' keys and SHA-256 checksums."""

    format: int = FORMAT_VERSION
    day: date
    tier: Tier
    started_at: datetime
    completed_at: datetime
    sheets: list[SheetEntry]
    failed: list[FailedSheet] = Field(default_factory=list)

    def objects(self) -> Iterator[tuple[SheetEntry, BackupObject]]:
        for entry in self.sheets:
            for stored in entry.objects.values():
                yield entry, stored

    def entry(self, sheet_id: int) -> SheetEntry | None:
        return next((entry for entry in self.sheets if entry.sheet_id == sheet_id), None)


def day_prefix(day: date) -> str:
    return f"{BACKUP_PREFIX}{day.isoformat()}/"


def manifest_key(day: date) -> str:
    return f"{day_prefix(day)}{MANIFEST_NAME}"


def object_key(day: date, sheet_id: int, extension: str) -> str:
    return f"{day_prefix(day)}{sheet_id}/sheet.{extension}"


# ----- restore ---------------------------------------------------------------------------------


class NewRow(_Frozen):
    """A row as a restore writes it: cells keyed by the new sheet's column ids."""

    cells: dict[int, CellValue] = Field(default_factory=dict)
    formulas: dict[int, str] = Field(default_factory=dict)
    expanded: bool = True
    locked: bool = False


class RowBatch(_Frozen):
    """Rows added in one request, in order, as the last children of one parent (None: the sheet's
    bottom).  A parent is always added in an earlier batch than its children."""

    parent_id: int | None  # the backed-up parent's id
    rows: list[BackupRow]


def restore_batches(rows: Sequence[BackupRow]) -> list[RowBatch]:
    """The fewest add-rows requests that rebuild the rows' order and hierarchy in a new sheet.

    Level by level: the top-level rows first, then each parent's children, each group added to the
    bottom of its parent in backup order.  Siblings keep their order and every subtree lands under
    its parent, so the flat order comes out as it was.  A group over 500 rows is split.
    """
    children: dict[int | None, list[BackupRow]] = {}
    known = {row.id for row in rows}
    for row in rows:
        parent = row.parent_id if row.parent_id in known else None
        children.setdefault(parent, []).append(row)
    batches: list[RowBatch] = []
    pending: list[int | None] = [None]
    while pending:
        parent = pending.pop(0)
        group = children.get(parent, [])
        for start in range(0, len(group), MAX_ROWS_PER_WRITE):
            batches.append(RowBatch(parent_id=parent, rows=group[start : start + MAX_ROWS_PER_WRITE]))
        pending.extend(row.id for row in group if row.id in children)
    return batches


# ----- differences -----------------------------------------------------------------------------

COMPARED_COLUMN_FIELDS = (
    "title",
    "type",
    "primary",
    "options",
    "symbol",
    "width",
    "description",
    "hidden",
    "locked",
    "validation",
    "system_column_type",
    "formula",
)


class Difference(_Frozen):
    kind: Literal["column", "row", "cell"]
    where: str  # "column 2 (Quantity)", "row 14", "row 14, Quantity"
    what: str  # the attribute or value that differs
    backup: Any = None
    live: Any = None

    def line(self) -> str:
        return f"{self.where}: {self.what}: backup {_shown(self.backup)}, live {_shown(self.live)}"


def _shown(value: Any) -> str:
    return "(none)" if value is None else repr(value)


def same_cell(left: CellValue, right: CellValue) -> bool:
    """Equal as stored: blank equals blank, 12 equals 12.0; "12" is not 12 and True is not 1."""
    left = None if left == "" else left
    right = None if right == "" else right
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and left == right


def diff_sheets(backup: SheetContent, live: SheetContent, *, match: Literal["id", "position"]) -> list[Difference]:
    """Every difference between a backup and a live sheet, column by column, row by row, cell by cell.

    `match="id"`: the live sheet is the one backed up, so columns and rows are matched by id (moved
    rows are told as moved).  `match="position"`: the live sheet is another (a restored copy),
    whose ids are new, so columns are matched by index and rows by their place in display order.
    Cells of system columns (filled by Smartsheet) are not compared.  Rows are named by their
    number in the backup (1-based, display order).
    """
    differences: list[Difference] = []
    columns = _match_columns(backup, live, match, differences)
    rows = _match_rows(backup, live, match, differences)
    titles = {column.id: column.title for column in backup.columns}
    backup_numbers = _numbers(backup)
    live_numbers = _numbers(live)
    for number, backed, current in rows:
        where = f"row {number}"
        backed_parent = backup_numbers.get(backed.parent_id) if backed.parent_id is not None else None
        current_parent = live_numbers.get(current.parent_id) if current.parent_id is not None else None
        if match == "position":
            # Parents by place: the parent's row number in each sheet.
            if backed_parent != current_parent:
                differences.append(
                    Difference(kind="row", where=where, what="parent row", backup=backed_parent, live=current_parent)
                )
        elif backed.parent_id != current.parent_id:
            differences.append(
                Difference(kind="row", where=where, what="parent row", backup=backed_parent, live=current_parent)
            )
        for backed_column, live_column in columns:
            if backed_column.is_system:
                continue
            left, right = backed.cells.get(backed_column.id), current.cells.get(live_column.id)
            if not same_cell(left, right):
                differences.append(
                    Difference(
                        kind="cell", where=f"{where}, {titles[backed_column.id]}", what="value", backup=left, live=right
                    )
                )
            left_formula, right_formula = backed.formulas.get(backed_column.id), current.formulas.get(live_column.id)
            if left_formula != right_formula:
                differences.append(
                    Difference(
                        kind="cell",
                        where=f"{where}, {titles[backed_column.id]}",
                        what="formula",
                        backup=left_formula,
                        live=right_formula,
                    )
                )
    return differences


def _match_columns(
    backup: SheetContent, live: SheetContent, match: str, differences: list[Difference]
) -> list[tuple[BackupColumn, BackupColumn]]:
    key = (lambda column: column.id) if match == "id" else (lambda column: column.index)
    live_by_key = {key(column): column for column in live.columns}
    pairs = []
    for column in backup.columns:
        where = f"column {column.index + 1} ({column.title})"
        current = live_by_key.pop(key(column), None)
        if current is None:
            differences.append(
                Difference(kind="column", where=where, what="missing from the live sheet", backup=column.title)
            )
            continue
        pairs.append((column, current))
        for name in COMPARED_COLUMN_FIELDS:
            left, right = getattr(column, name), getattr(current, name)
            if left != right:
                differences.append(Difference(kind="column", where=where, what=name, backup=left, live=right))
        if match == "id" and column.index != current.index:
            differences.append(
                Difference(kind="column", where=where, what="position", backup=column.index + 1, live=current.index + 1)
            )
    for current in live_by_key.values():
        differences.append(
            Difference(
                kind="column",
                where=f"column {current.index + 1} ({current.title})",
                what="not in the backup",
                live=current.title,
            )
        )
    return pairs


def _match_rows(
    backup: SheetContent, live: SheetContent, match: str, differences: list[Difference]
) -> list[tuple[int, BackupRow, BackupRow]]:
    if match == "position":
        pairs = [
            (index + 1, backed, current)
            for index, (backed, current) in enumerate(zip(backup.rows, live.rows, strict=False))
        ]
        for index in range(len(live.rows), len(backup.rows)):
            differences.append(
                Difference(
                    kind="row",
                    where=f"row {index + 1}",
                    what="missing from the live sheet",
                    backup=backup.rows[index].id,
                )
            )
        for index in range(len(backup.rows), len(live.rows)):
            differences.append(
                Difference(
                    kind="row", where=f"live row {index + 1}", what="not in the backup", live=live.rows[index].id
                )
            )
        return pairs
    live_by_id = {row.id: row for row in live.rows}
    backup_ids = {row.id for row in backup.rows}
    pairs = []
    for index, backed in enumerate(backup.rows):
        current = live_by_id.get(backed.id)
        if current is None:
            differences.append(
                Difference(kind="row", where=f"row {index + 1}", what="missing from the live sheet", backup=backed.id)
            )
        else:
            pairs.append((index + 1, backed, current))
    for index, current in enumerate(live.rows):
        if current.id not in backup_ids:
            differences.append(
                Difference(kind="row", where=f"live row {index + 1}", what="not in the backup", live=current.id)
            )
    # Order: the rows both hold, in each one's order; a row whose place among them moved is told.
    common_live = [row.id for row in live.rows if row.id in backup_ids]
    live_place = {row_id: place for place, row_id in enumerate(common_live)}
    for place, (number, backed, _current) in enumerate(pairs):
        if live_place[backed.id] != place:
            differences.append(
                Difference(
                    kind="row", where=f"row {number}", what="moved", backup=place + 1, live=live_place[backed.id] + 1
                )
            )
    return pairs


def _numbers(sheet: SheetContent) -> dict[int, int]:
    """Each row's number (1-based, display order) in its own sheet, by row id."""
    return {row.id: index + 1 for index, row in enumerate(sheet.rows)}
