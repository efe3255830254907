"""Sheets: the list, one sheet (with its rows, filters and includes), its version, its columns."""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import (
    get_sheet,
    paged,
    render_attachment,
    render_column,
    render_row,
    sheet_permalink,
    sheet_summary,
    workspace_id,
)
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request
from smartsheet_sim.model import iso


def list_sheets(backend: Backend, req: Request) -> Any:
    state = backend.state
    with_version = "sheetVersion" in req.list_param("include")
    sheets = sorted(state.sheets(), key=lambda s: s.name.lower())
    since = req.time_param("modifiedSince")
    if since is not None:
        sheets = [s for s in sheets if s.modified_at >= since]
    return paged(state, req, [sheet_summary(s, with_version) for s in sheets])


def read_sheet(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    after = req.int_param("ifVersionAfter")
    if after is not None and sheet.version <= after:
        return {"version": sheet.version}
    include = set(req.list_param("include"))
    exclude = set(req.list_param("exclude"))
    columns = sheet.columns
    column_ids = req.int_list_param("columnIds")
    if column_ids:
        wanted_columns = set(column_ids)
        columns = [c for c in sheet.columns if c.id in wanted_columns]
    numbered = [(index + 1, row) for index, row in enumerate(sheet.rows)]
    row_ids = req.int_list_param("rowIds")
    if row_ids:
        wanted_rows = set(row_ids)
        numbered = [(n, r) for n, r in numbered if r.id in wanted_rows]
    row_numbers = req.int_list_param("rowNumbers")
    if row_numbers:
        wanted_numbers = set(row_numbers)
        numbered = [(n, r) for n, r in numbered if n in wanted_numbers]
    since = req.time_param("rowsModifiedSince")
    if since is not None:
        numbered = [(n, r) for n, r in numbered if r.modified_at >= since]
    page_size = req.int_param("pageSize")
    page = req.int_param("page")
    if page_size is not None or page is not None:
        size = page_size or 100
        number = page or 1
        if size < 1 or number < 1:
            raise bad_request("page and pageSize must be positive.")
        numbered = numbered[(number - 1) * size : number * size]
    writer = "writerInfo" in include or "rowWriterInfo" in include
    out: dict[str, Any] = {
        "id": sheet.id,
        "name": sheet.name,
        "version": sheet.version,
        "totalRowCount": len(sheet.rows),
        "accessLevel": "OWNER",
        "permalink": sheet_permalink(sheet),
        "createdAt": iso(sheet.created_at),
        "modifiedAt": iso(sheet.modified_at),
        "ganttEnabled": False,
        "dependenciesEnabled": False,
        "resourceManagementEnabled": False,
        "cellImageUploadEnabled": True,
        "effectiveAttachmentOptions": ["FILE", "LINK"],
        "userSettings": {"criticalPathEnabled": False, "displaySummaryTasks": True},
        "userPermissions": {"summaryPermissions": "ADMIN"},
        "hasSummaryFields": False,
        "columns": [render_column(c) for c in columns],
        "rows": [
            render_row(
                state,
                sheet,
                row,
                number,
                columns,
                writer_info=writer,
                column_type="columnType" in include,
                skip_nonexistent="nonexistentCells" in exclude,
                attachments="attachments" in include,
            )
            for number, row in numbered
        ],
    }
    if sheet.workspace:
        out["workspace"] = {"id": workspace_id(sheet.workspace), "name": sheet.workspace}
    if "attachments" in include:
        out["attachments"] = [
            render_attachment(state, a)
            for a in state.attachments().values()
            if a.current and a.sheet_id == sheet.id and a.parent_type == "SHEET"
        ]
    return out


def sheet_version(backend: Backend, req: Request) -> Any:
    return {"version": get_sheet(backend.state, req).version}


def list_columns(backend: Backend, req: Request) -> Any:
    sheet = get_sheet(backend.state, req)
    return paged(backend.state, req, [render_column(c) for c in sheet.columns])
