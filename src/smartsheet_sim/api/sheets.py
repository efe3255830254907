"""Sheets: the list, one sheet (with its rows, filters and includes), its version, its columns, a new sheet."""

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
    success,
    workspace_id,
)
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request
from smartsheet_sim.model import Column, iso


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


COLUMN_TYPES = frozenset(
    {
        "ABSTRACT_DATETIME",
        "CHECKBOX",
        "CONTACT_LIST",
        "DATE",
        "DATETIME",
        "DURATION",
        "MULTI_CONTACT_LIST",
        "MULTI_PICKLIST",
        "PICKLIST",
        "PREDECESSOR",
        "TEXT_NUMBER",
    }
)
SYSTEM_COLUMN_TYPES = frozenset({"AUTO_NUMBER", "CREATED_BY", "CREATED_DATE", "MODIFIED_BY", "MODIFIED_DATE"})


def _new_column(spec: Any) -> Column:
    if not isinstance(spec, dict) or not isinstance(spec.get("title"), str) or not spec["title"].strip():
        raise bad_request("Required object attribute(s) are missing from your request: column.title.", 1012)
    kind = spec.get("type", "TEXT_NUMBER")
    if kind not in COLUMN_TYPES:
        raise bad_request(f"Invalid column type {kind!r}.", 1018)
    system = spec.get("systemColumnType")
    if system is not None and system not in SYSTEM_COLUMN_TYPES:
        raise bad_request(f"Invalid systemColumnType {system!r}.", 1018)
    options = spec.get("options")
    if options is not None and (not isinstance(options, list) or not all(isinstance(o, str) for o in options)):
        raise bad_request("options must be an array of strings.")
    width = spec.get("width", 150)
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise bad_request("width must be a positive integer.")
    return Column(
        id=0,
        index=0,
        title=spec["title"],
        type=kind,
        primary=bool(spec.get("primary")),
        options=list(options) if options is not None else None,
        symbol=spec.get("symbol"),
        width=width,
        description=spec.get("description"),
        hidden=bool(spec.get("hidden")),
        locked=bool(spec.get("locked")),
        validation=bool(spec.get("validation")),
        system_column_type=system,
    )


def create_sheet(backend: Backend, req: Request) -> Any:
    """`POST /sheets`: a sheet from scratch in the token owner's home (templates are not simulated)."""
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise bad_request("Required object attribute(s) are missing from your request: sheet.name.", 1012)
    if "fromId" in body:
        raise bad_request("Creating a sheet from a template is not simulated.")
    specs = body.get("columns")
    if not isinstance(specs, list) or not specs:
        raise bad_request("Required object attribute(s) are missing from your request: sheet.columns.", 1012)
    columns = [_new_column(spec) for spec in specs]
    if sum(1 for c in columns if c.primary) != 1:
        raise bad_request("A sheet needs exactly one primary column.", 1073)
    primary = next(c for c in columns if c.primary)
    if primary.type != "TEXT_NUMBER" or primary.system_column_type is not None:
        raise bad_request("The primary column must be of type TEXT_NUMBER.", 1073)
    titles = [c.title for c in columns]
    if len(set(titles)) != len(titles):
        raise bad_request("Column titles must be unique.", 1073)
    sheet = backend.state.create_sheet(body["name"], columns)
    created = {
        "id": sheet.id,
        "name": sheet.name,
        "accessLevel": "OWNER",
        "permalink": sheet_permalink(sheet),
        "columns": [render_column(c) for c in sheet.columns],
    }
    return success(created)
