"""What several endpoint families share: the sheet a path names, paging (page numbers, and the
`lastKey` cursor Smartsheet moved its list operations to), the success envelope, and the JSON
shapes (from the OpenAPI file) of cells, columns, rows, sheets and attachments."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from smartsheet_sim.api.routing import Request
from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import Attachment, CellValue, Column, Row, Sheet, display_value, iso, stable_id
from smartsheet_sim.state import SimulatorState

PERMALINK_BASE = "https://app.smartsheet.com"


def get_sheet(state: SimulatorState, req: Request) -> Sheet:
    """The sheet of the path's `{sheetId}` (404 when there is none)."""
    sheet = state.sheet(req.id("sheetId"))
    if sheet is None:
        raise not_found()
    return sheet


def success(result: Any = None, version: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"message": "SUCCESS", "resultCode": 0}
    if result is not None:
        out["result"] = result
    if version is not None:
        out["version"] = version
    return out


def paged(state: SimulatorState, req: Request, items: list[Any], default_size: int = 100) -> dict[str, Any]:
    """A page of `items` by `page`/`pageSize` (or all with `includeAll`), capped by `page_size_cap`."""
    total = len(items)
    if req.bool_param("includeAll"):
        return {"pageNumber": 1, "pageSize": total, "totalPages": 1, "totalCount": total, "data": items}
    size = req.int_param("pageSize") or default_size
    page = req.int_param("page") or 1
    if size < 1 or page < 1:
        raise bad_request("page and pageSize must be positive.")
    cap = state.options.page_size_cap
    if cap is not None:
        size = min(size, cap)
    pages = math.ceil(total / size)
    page = min(page, max(pages, 1))
    start = (page - 1) * size
    return {
        "pageNumber": page,
        "pageSize": size,
        "totalPages": pages,
        "totalCount": total,
        "data": items[start : start + size],
    }


CURSOR_SIZES = range(100, 1001, 100)
"""The `maxItems` Smartsheet accepts on cursor-paged lists: 100 to 1000 in steps of 100 (default 100)."""

Keyed = tuple[list[Any], Any]
"""An item of a cursor-paged list: its sort key (a JSON list, ascending) and its JSON."""


def _encode_key(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_key(raw: str) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        raise bad_request(f"Invalid value for query parameter lastKey: {raw!r}.") from None
    if not isinstance(key, list):
        raise bad_request(f"Invalid value for query parameter lastKey: {raw!r}.")
    return key


def wants_cursor(req: Request) -> bool:
    """Whether a list request pages by cursor: `lastKey`, `maxItems` or `paginationType=token` given."""
    return (
        req.param("lastKey") is not None or req.param("maxItems") is not None or req.param("paginationType") == "token"
    )


def cursor_page(state: SimulatorState, req: Request, items: list[Keyed]) -> dict[str, Any]:
    """A page by `lastKey`/`maxItems`: `{"data": [...], "lastKey": ...}`, `lastKey` only while more remain.

    `items` are sorted by key. The cursor is opaque to clients; it holds the key of the page's last
    item, so items added or deleted between pages neither repeat nor skip the others. `maxItems`
    outside 100..1000 in steps of 100 is refused; `page_size_cap` bounds the page (for small tests).
    """
    asked = req.int_param("maxItems")
    size = CURSOR_SIZES[0] if asked is None else asked
    if size not in CURSOR_SIZES:
        raise bad_request("maxItems must be a multiple of 100 from 100 to 1000.")
    cap = state.options.page_size_cap
    if cap is not None:
        size = min(size, cap)
    last = req.param("lastKey")
    if last:
        after = _decode_key(last)
        try:
            items = [item for item in items if item[0] > after]
        except TypeError:
            raise bad_request(f"Invalid value for query parameter lastKey: {last!r}.") from None
    page = items[:size]
    out: dict[str, Any] = {"data": [body for _, body in page]}
    if len(items) > size:
        out["lastKey"] = _encode_key(page[-1][0])
    return out


def legacy_page(state: SimulatorState, req: Request, items: list[Keyed], default_size: int = 100) -> dict[str, Any]:
    """A list operation paged the deprecated way (`page`, `pageSize`, `includeAll`) since Smartsheet
    moved it to the cursor: `totalPages` and `totalCount` are -1, a page past the end is empty (so
    clients page until a page comes back short), and `lastKey` continues by cursor after the page."""
    total = len(items)
    if req.bool_param("includeAll"):
        return {"pageNumber": 1, "pageSize": total, "totalPages": -1, "totalCount": -1, "data": [b for _, b in items]}
    size = req.int_param("pageSize") or default_size
    number = req.int_param("page") or 1
    if size < 1 or number < 1:
        raise bad_request("page and pageSize must be positive.")
    cap = state.options.page_size_cap
    if cap is not None:
        size = min(size, cap)
    start = (number - 1) * size
    page = items[start : start + size]
    out: dict[str, Any] = {
        "pageNumber": number,
        "pageSize": size,
        "totalPages": -1,
        "totalCount": -1,
        "data": [body for _, body in page],
    }
    if page and start + size < total:
        out["lastKey"] = _encode_key(page[-1][0])
    return out


def token_page(req: Request, items: list[Any], key: str) -> dict[str, Any]:
    """A page by `lastKey`/`maxItems` (token pagination): `items` under `key`, and the next `lastKey`."""
    start = req.int_param("lastKey") or 0
    size = req.int_param("maxItems") or 100
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["lastKey"] = str(start + size)
    return out


def user_ref(state: SimulatorState, email: str | None) -> dict[str, str] | None:
    if email is None:
        return None
    return {"email": email, "name": state.user_name_for(email)}


def sheet_permalink(sheet: Sheet) -> str:
    return f"{PERMALINK_BASE}/sheets/{sheet.id}"


def workspace_id(name: str) -> int:
    return stable_id("workspace", name)


def folder_id(workspace: str | None, path: str | tuple[str, ...]) -> int:
    """The id of a folder: by its name, or by its path of names from the outermost (nested folders)."""
    if isinstance(path, str):
        path = (path,)
    if len(path) == 1:
        return stable_id("folder", workspace or "", path[0])
    return stable_id("folder", workspace or "", len(path), *path)


def render_cell(column: Column, value: CellValue, column_type: bool) -> dict[str, Any]:
    cell: dict[str, Any] = {"columnId": column.id}
    if column_type:
        cell["columnType"] = column.type
    if value is not None:
        cell["value"] = value
        shown = display_value(value)
        if shown is not None:
            cell["displayValue"] = shown
    return cell


def render_column(column: Column) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": column.id,
        "version": 0,
        "index": column.index,
        "title": column.title,
        "type": column.type,
        "primary": column.primary,
        "validation": column.validation,
        "width": column.width,
    }
    if column.options is not None:
        out["options"] = list(column.options)
    optional = {
        "symbol": column.symbol,
        "description": column.description,
        "systemColumnType": column.system_column_type,
        "hidden": column.hidden or None,
        "locked": column.locked or None,
    }
    out.update({name: value for name, value in optional.items() if value is not None})
    return out


def render_row(
    state: SimulatorState,
    sheet: Sheet,
    row: Row,
    number: int,
    columns: list[Column],
    *,
    writer_info: bool = False,
    column_type: bool = False,
    skip_nonexistent: bool = False,
    attachments: bool = False,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "sheetId": sheet.id,
        "rowNumber": number,
        "version": row.version,
        **({"parentId": row.parent_id} if row.parent_id is not None else {}),
        "expanded": True,
        "accessLevel": "OWNER",
        "createdAt": iso(row.created_at),
        "modifiedAt": iso(row.modified_at),
    }
    if writer_info:
        created = user_ref(state, row.created_by)
        modified = user_ref(state, row.modified_by)
        if created is not None:
            out["createdBy"] = created
        if modified is not None:
            out["modifiedBy"] = modified
    cells = []
    for column in columns:
        value = row.cells.get(column.id)
        if skip_nonexistent and value is None and column.id not in row.history:
            continue
        cells.append(render_cell(column, value, column_type))
    out["cells"] = cells
    if attachments:
        found = [
            render_attachment(state, a)
            for a in state.attachments().values()
            if a.current and a.sheet_id == sheet.id and a.parent_type == "ROW" and a.parent_id == row.id
        ]
        if found:
            out["attachments"] = found
    return out


def sheet_summary(sheet: Sheet, with_version: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": sheet.id,
        "name": sheet.name,
        "accessLevel": "OWNER",
        "permalink": sheet_permalink(sheet),
        "createdAt": iso(sheet.created_at),
        "modifiedAt": iso(sheet.modified_at),
    }
    if with_version:
        out["version"] = sheet.version
    return out


def render_attachment(
    state: SimulatorState, attachment: Attachment, with_url: bool = False, req: Request | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": attachment.id,
        "name": attachment.name,
        "attachmentType": "FILE",
        "mimeType": attachment.mime_type,
        "sizeInKb": max(1, math.ceil(len(attachment.data) / 1024)),
        "parentType": attachment.parent_type,
        "parentId": attachment.parent_id,
        "createdAt": iso(attachment.created_at),
    }
    by = user_ref(state, attachment.created_by)
    if by is not None:
        out["createdBy"] = by
    if with_url and req is not None:
        out["url"] = f"http://{req.host}:{req.port}/files/{attachment.id}"
        out["urlExpiresInMillis"] = 120000
    return out
