"""Rows: read one; add, update and delete in bulk (each request is one save)."""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import get_sheet, render_row, success
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import CellValue, Row, Sheet
from smartsheet_sim.state import SimulatorState

MAX_ROWS_PER_REQUEST = 500


def read_row(backend: Backend, req: Request) -> Any:
    sheet = get_sheet(backend.state, req)
    row_id = req.id("rowId")
    for index, row in enumerate(sheet.rows):
        if row.id == row_id:
            include = set(req.list_param("include"))
            return render_row(
                backend.state,
                sheet,
                row,
                index + 1,
                sheet.columns,
                writer_info="writerInfo" in include or "rowWriterInfo" in include,
                column_type="columnType" in include,
                skip_nonexistent="nonexistentCells" in set(req.list_param("exclude")),
            )
    raise not_found()


def _rows_body(req: Request) -> list[dict[str, Any]]:
    body = req.json()
    rows = [body] if isinstance(body, dict) else body
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise bad_request("The request body must be a Row object or an array of Row objects.", 1008)
    if not rows:
        raise bad_request("At least one row is required.")
    if len(rows) > MAX_ROWS_PER_REQUEST:
        raise bad_request(f"At most {MAX_ROWS_PER_REQUEST} rows can be written in one request.")
    return rows


def _row_cells(sheet: Sheet, row: dict[str, Any]) -> dict[int, CellValue]:
    cells = row.get("cells") or []
    if not isinstance(cells, list):
        raise bad_request("cells must be an array.")
    out: dict[int, CellValue] = {}
    for cell in cells:
        if not isinstance(cell, dict) or "columnId" not in cell:
            raise bad_request("Required object attribute(s) are missing from your request: cell.columnId.", 1012)
        try:
            column_id = int(cell["columnId"])
        except (TypeError, ValueError):
            raise bad_request(f"Invalid columnId {cell['columnId']!r}.") from None
        if sheet.column(column_id) is None:
            raise bad_request(f"Invalid column specified: {column_id}.", 1036)
        if "formula" in cell:
            raise bad_request("Formulas are not supported by the simulator.")
        value = cell.get("value")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise bad_request(f"Invalid value for column {column_id}.")
        if isinstance(value, str) and len(value) > 4000:
            raise bad_request("The value exceeds the 4000 character limit.", 1032)
        if column_id in out:
            raise bad_request(f"Column {column_id} appears twice in one row.")
        out[column_id] = value
    return out


def _row_result(state: SimulatorState, sheet: Sheet, row: Row) -> dict[str, Any]:
    number = next(i + 1 for i, r in enumerate(sheet.rows) if r.id == row.id)
    return render_row(state, sheet, row, number, [c for c in sheet.columns if c.id in row.cells])


_LOCATION_FIELDS = ("toTop", "toBottom", "parentId", "siblingId", "above")


def _location(sheet: Sheet, rows: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    """Where rows added in one request go: (flat index of the first, the parent they are indented under).

    Smartsheet takes one location for a whole request: every row must name the same location
    fields.  `toTop`/`toBottom` alone: the sheet's top or bottom; with `parentId`: the parent's first
    or last children; `siblingId`: just below the sibling (and its children), or just above it with
    `above`.
    """
    spec = {name: rows[0].get(name) for name in _LOCATION_FIELDS}
    if any({name: row.get(name) for name in _LOCATION_FIELDS} != spec for row in rows[1:]):
        raise bad_request("Invalid row location: every row of a request must have the same location.", 1062)
    to_top, above = bool(spec["toTop"]), bool(spec["above"])
    parent_id, sibling_id = spec["parentId"], spec["siblingId"]
    if sum(1 for flag in (to_top, bool(spec["toBottom"]), sibling_id is not None) if flag) > 1:
        raise bad_request("Invalid row location: toTop, toBottom and siblingId exclude each other.", 1062)
    if sibling_id is not None:
        sibling = sheet.row(_row_id(sibling_id))
        if sibling is None:
            raise bad_request(f"Invalid siblingId: {sibling_id}.", 1062)
        if parent_id is not None and _row_id(parent_id) != sibling.parent_id:
            raise bad_request("Invalid row location: siblingId is not a child of parentId.", 1062)
        start = next(index for index, row in enumerate(sheet.rows) if row.id == sibling.id)
        return (start if above else sheet.subtree_end(sibling.id)), sibling.parent_id
    if above:
        raise bad_request("Invalid row location: above needs siblingId.", 1062)
    if parent_id is not None:
        parent = sheet.row(_row_id(parent_id))
        if parent is None:
            raise bad_request(f"Invalid parentId: {parent_id}.", 1062)
        first_child = next(index for index, row in enumerate(sheet.rows) if row.id == parent.id) + 1
        return (first_child if to_top else sheet.subtree_end(parent.id)), parent.id
    return (0 if to_top else None), None


def _row_id(raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise bad_request(f"Invalid row id {raw!r}.") from None


def add_rows(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    rows = _rows_body(req)
    parsed = [_row_cells(sheet, r) for r in rows]
    index, parent_id = _location(sheet, rows)
    change = state.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    added = [
        state.add_row(change, cells, index=None if index is None else index + offset, parent_id=parent_id)
        for offset, cells in enumerate(parsed)
    ]
    state.commit(change)
    return success([_row_result(state, sheet, r) for r in added], sheet.version)


def update_rows(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    rows = _rows_body(req)
    parsed: list[tuple[int, dict[int, CellValue]]] = []
    for row in rows:
        try:
            row_id = int(row["id"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("Required object attribute(s) are missing from your request: row.id.", 1012) from None
        if sheet.row(row_id) is None:
            raise not_found(f"Row not found: {row_id}")
        parsed.append((row_id, _row_cells(sheet, row)))
    change = state.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    updated = [state.set_cells(change, row_id, cells) for row_id, cells in parsed]
    state.commit(change)
    return success([_row_result(state, sheet, r) for r in updated], sheet.version)


def delete_rows(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    ids = req.int_list_param("ids")
    if not ids:
        raise bad_request("Required query parameter ids is missing.", 1012)
    existing = [i for i in dict.fromkeys(ids) if sheet.row(i) is not None]
    if len(existing) != len(set(ids)) and not req.bool_param("ignoreRowsNotFound"):
        missing = next(i for i in ids if sheet.row(i) is None)
        raise not_found(f"Row not found: {missing}")
    change = state.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    for row_id in existing:
        state.delete_row(change, row_id)
    state.commit(change)
    return success(existing, sheet.version)
