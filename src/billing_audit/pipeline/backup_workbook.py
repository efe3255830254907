"""The people's copy of a sheet backup: an XLSX workbook (write-only, so a 20,000-row sheet streams).

`Rows` holds every row in display order, its level in the hierarchy (the primary column indented by
it) and every cell as the backup holds it; `Columns`, `Attachments` and `Discussions` hold the
lists.  A text beginning with "=" stays text: a cell value is never run as a formula.  The JSON
beside it is what a restore reads; this copy is for reading.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from billing_audit.domain.backup import SheetBackup

MAX_CELL_CHARS = 32_767  # Excel's limit
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters XLSX cannot hold


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # XLSX has no time zones: times are UTC
    if isinstance(value, str):
        return _ILLEGAL.sub("", value)[:MAX_CELL_CHARS]
    return value


def _cell(ws: WriteOnlyWorksheet, value: Any, *, bold: bool = False, indent: int = 0) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=_value(value))
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    if indent:
        cell.alignment = Alignment(indent=min(indent, 250))
    return cell


def _table(book: Workbook, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    ws = book.create_sheet(title)
    ws.append([_cell(ws, name, bold=True) for name in header])
    for row in rows:
        ws.append([_cell(ws, value) for value in row])


def render_backup_workbook(backup: SheetBackup) -> bytes:
    sheet = backup.sheet
    book = Workbook(write_only=True)
    columns = sorted(sheet.columns, key=lambda column: column.index)
    rows_ws = book.create_sheet("Rows")
    rows_ws.freeze_panes = "D2"
    # "Row #" is the row's place in the sheet, as Smartsheet numbers it; "Row id" is what the audit's
    # events and links name (text: Excel keeps 15 digits of a number, and ids run to 16).
    header = ("Row #", "Row id", "Level", *(c.title for c in columns))
    rows_ws.append([_cell(rows_ws, name, bold=True) for name in header])
    levels: dict[int, int] = {}
    for number, row in enumerate(sheet.rows, start=1):
        level = levels.get(row.parent_id, -1) + 1 if row.parent_id is not None else 0
        levels[row.id] = level
        values = [
            _cell(
                rows_ws,
                row.formulas.get(column.id, row.cells.get(column.id)),
                indent=level if column.primary else 0,
            )
            for column in columns
        ]
        rows_ws.append([_cell(rows_ws, number), _cell(rows_ws, str(row.id)), _cell(rows_ws, level), *values])
    _table(
        book,
        "Columns",
        ("Index", "Title", "Type", "Primary", "Options", "System column", "Column id"),
        [
            (c.index, c.title, c.type, c.primary, ", ".join(c.options or []), c.system_column_type, str(c.id))
            for c in columns
        ],
    )
    _table(
        book,
        "Attachments",
        ("Name", "Type", "MIME type", "Size (KB)", "On", "Parent id", "Added", "By"),
        [
            (
                a.name,
                a.attachment_type,
                a.mime_type,
                a.size_kb,
                a.parent_type,
                str(a.parent_id),
                a.created_at,
                a.created_by,
            )
            for a in sheet.attachments
        ],
    )
    _table(
        book,
        "Discussions",
        ("Title", "On", "Parent id", "Comments", "Last comment", "By"),
        [
            (d.title, d.parent_type, str(d.parent_id), d.comment_count, d.last_commented_at, d.last_commented_by)
            for d in sheet.discussions
        ],
    )
    _table(
        book,
        "About",
        ("Sheet", "Sheet id", "Version", "Rows", "Taken at (UTC)"),
        [(sheet.name, str(sheet.id), sheet.version, len(sheet.rows), backup.taken_at)],
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
