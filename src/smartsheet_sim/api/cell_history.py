"""Cell history: every value a cell has held, newest first (it has a rate limit of its own).

A sheet copied or imported at its `history_from` serves no entry dated before then: Smartsheet
copies no cell history, so a cell never edited since has none at all.
"""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import get_sheet, paged, render_cell, user_ref
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import not_found
from smartsheet_sim.model import Column, HistoryEntry, iso
from smartsheet_sim.state import SimulatorState


def _history_item(state: SimulatorState, column: Column, entry: HistoryEntry, column_type: bool) -> dict[str, Any]:
    item = render_cell(column, entry.value, column_type)
    item["modifiedAt"] = iso(entry.modified_at)
    by = user_ref(state, entry.by)
    if by is not None:
        item["modifiedBy"] = by
    return item


def cell_history(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    row = sheet.row(req.id("rowId"))
    if row is None:
        raise not_found()
    column = sheet.column(req.id("columnId"))
    if column is None:
        raise not_found()
    column_type = "columnType" in req.list_param("include")
    entries = sorted(row.history.get(column.id, []), key=lambda e: (e.modified_at, e.seq), reverse=True)
    if sheet.history_from is not None:
        since = sheet.history_from
        entries = [e for e in entries if e.modified_at >= since]
    return paged(state, req, [_history_item(state, column, e, column_type) for e in entries])
