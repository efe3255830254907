"""Endpoints of the simulated Smartsheet API 2.0, answering with the shapes of the OpenAPI file.

Each endpoint takes the simulator and a parsed `Request` and returns a JSON-able value (HTTP 200)
or a `RawResponse`; it raises `ApiError` for error answers. The server holds the simulator's lock
around every endpoint except those marked `locked=False` (they reach out over the network).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Any

from smartsheet_sim.core import Simulator
from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import Attachment, CellValue, Column, HistoryEntry, Row, Sheet, display_value, iso, stable_id

MAX_ROWS_PER_REQUEST = 500
PERMALINK_BASE = "https://app.smartsheet.com"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def int_param(self, name: str) -> int | None:
        raw = self.param(name)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"Invalid value for query parameter {name}: {raw!r}.") from None

    def list_param(self, name: str) -> list[str]:
        raw = self.param(name)
        if not raw:
            return []
        return [part.strip() for part in raw.split(",") if part.strip()]

    def int_list_param(self, name: str) -> list[int]:
        out: list[int] = []
        for part in self.list_param(name):
            try:
                out.append(int(part))
            except ValueError:
                raise bad_request(f"Invalid id in query parameter {name}: {part!r}.") from None
        return out

    def bool_param(self, name: str) -> bool:
        raw = self.param(name)
        return raw is not None and raw.lower() in ("true", "1", "yes")

    def id(self, name: str) -> int:
        return int(self.path_params[name])

    def json(self) -> Any:
        if not self.body:
            raise bad_request("A request body is required.", 1008)
        try:
            return json.loads(self.body)
        except ValueError:
            raise bad_request("Unable to parse request. The following error occurred: malformed JSON.", 1008) from None


@dataclass
class RawResponse:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Simulator, Request], Any]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    pattern: re.Pattern[str]
    locked: bool = True
    authenticated: bool = True

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


# ----- helpers --------------------------------------------------------------------------------------


def parse_time(raw: str, name: str) -> datetime:
    text = raw.strip()
    # An unencoded "+01:00" arrives as " 01:00"; the SDK sends datetimes with a space for the "T".
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text).replace(" ", "T", 1).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"Invalid value for query parameter {name}: {raw!r}.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def success(result: Any = None, version: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"message": "SUCCESS", "resultCode": 0}
    if result is not None:
        out["result"] = result
    if version is not None:
        out["version"] = version
    return out


def paged(sim: Simulator, req: Request, items: list[Any], default_size: int = 100) -> dict[str, Any]:
    total = len(items)
    if req.bool_param("includeAll"):
        return {"pageNumber": 1, "pageSize": total, "totalPages": 1, "totalCount": total, "data": items}
    size = req.int_param("pageSize") or default_size
    page = req.int_param("page") or 1
    if size < 1 or page < 1:
        raise bad_request("page and pageSize must be positive.")
    cap = sim.options.page_size_cap
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


def user_ref(sim: Simulator, email: str | None) -> dict[str, str] | None:
    if email is None:
        return None
    return {"email": email, "name": sim.user_name_for(email)}


def get_sheet(sim: Simulator, req: Request) -> Sheet:
    sheet = sim.sheet(req.id("sheetId"))
    if sheet is None:
        raise not_found()
    return sheet


def sheet_permalink(sheet: Sheet) -> str:
    return f"{PERMALINK_BASE}/sheets/{sheet.id}"


def workspace_id(name: str) -> int:
    return stable_id("workspace", name)


def folder_id(workspace: str | None, name: str) -> int:
    return stable_id("folder", workspace or "", name)


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
        "validation": False,
        "width": 150,
    }
    if column.options is not None:
        out["options"] = list(column.options)
    return out


def render_row(
    sim: Simulator,
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
        "expanded": True,
        "accessLevel": "OWNER",
        "createdAt": iso(row.created_at),
        "modifiedAt": iso(row.modified_at),
    }
    if writer_info:
        created = user_ref(sim, row.created_by)
        modified = user_ref(sim, row.modified_by)
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
            render_attachment(sim, a)
            for a in sim.attachments().values()
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


# ----- sheets ---------------------------------------------------------------------------------------


def list_sheets(sim: Simulator, req: Request) -> Any:
    with_version = "sheetVersion" in req.list_param("include")
    sheets = sorted(sim.sheets(), key=lambda s: s.name.lower())
    modified_since = req.param("modifiedSince")
    if modified_since:
        since = parse_time(modified_since, "modifiedSince")
        sheets = [s for s in sheets if s.modified_at >= since]
    return paged(sim, req, [sheet_summary(s, with_version) for s in sheets])


def read_sheet(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
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
    since_raw = req.param("rowsModifiedSince")
    if since_raw:
        since = parse_time(since_raw, "rowsModifiedSince")
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
                sim,
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
            render_attachment(sim, a)
            for a in sim.attachments().values()
            if a.current and a.sheet_id == sheet.id and a.parent_type == "SHEET"
        ]
    return out


def sheet_version(sim: Simulator, req: Request) -> Any:
    return {"version": get_sheet(sim, req).version}


def list_columns(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    return paged(sim, req, [render_column(c) for c in sheet.columns])


def read_row(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    row_id = req.id("rowId")
    for index, row in enumerate(sheet.rows):
        if row.id == row_id:
            include = set(req.list_param("include"))
            return render_row(
                sim,
                sheet,
                row,
                index + 1,
                sheet.columns,
                writer_info="writerInfo" in include or "rowWriterInfo" in include,
                column_type="columnType" in include,
                skip_nonexistent="nonexistentCells" in set(req.list_param("exclude")),
            )
    raise not_found()


def _history_item(sim: Simulator, column: Column, entry: HistoryEntry, column_type: bool) -> dict[str, Any]:
    item = render_cell(column, entry.value, column_type)
    item["modifiedAt"] = iso(entry.modified_at)
    by = user_ref(sim, entry.by)
    if by is not None:
        item["modifiedBy"] = by
    return item


def cell_history(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    row = sheet.row(req.id("rowId"))
    if row is None:
        raise not_found()
    column = sheet.column(req.id("columnId"))
    if column is None:
        raise not_found()
    column_type = "columnType" in req.list_param("include")
    entries = sorted(row.history.get(column.id, []), key=lambda e: (e.modified_at, e.seq), reverse=True)
    return paged(sim, req, [_history_item(sim, column, e, column_type) for e in entries])


# ----- row writes ---------------------------------------------------------------------------------


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


def _row_result(sim: Simulator, sheet: Sheet, row: Row) -> dict[str, Any]:
    number = next(i + 1 for i, r in enumerate(sheet.rows) if r.id == row.id)
    return render_row(sim, sheet, row, number, [c for c in sheet.columns if c.id in row.cells])


def add_rows(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    rows = _rows_body(req)
    parsed = [(_row_cells(sheet, r), bool(r.get("toTop"))) for r in rows]
    change = sim.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    added = [sim.api_add_row(change, cells, to_top) for cells, to_top in parsed]
    sim.commit(change)
    return success([_row_result(sim, sheet, r) for r in added], sheet.version)


def update_rows(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
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
    change = sim.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    updated = [sim.api_set_cells(change, row_id, cells) for row_id, cells in parsed]
    sim.commit(change)
    return success([_row_result(sim, sheet, r) for r in updated], sheet.version)


def delete_rows(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    ids = req.int_list_param("ids")
    if not ids:
        raise bad_request("Required query parameter ids is missing.", 1012)
    existing = [i for i in dict.fromkeys(ids) if sheet.row(i) is not None]
    if len(existing) != len(set(ids)) and not req.bool_param("ignoreRowsNotFound"):
        missing = next(i for i in ids if sheet.row(i) is None)
        raise not_found(f"Row not found: {missing}")
    change = sim.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    for row_id in existing:
        sim.api_delete_row(change, row_id)
    sim.commit(change)
    return success(existing, sheet.version)


# ----- attachments ------------------------------------------------------------------------------


def render_attachment(
    sim: Simulator, attachment: Attachment, with_url: bool = False, req: Request | None = None
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
    by = user_ref(sim, attachment.created_by)
    if by is not None:
        out["createdBy"] = by
    if with_url and req is not None:
        out["url"] = f"http://{req.host}:{req.port}/files/{attachment.id}"
        out["urlExpiresInMillis"] = 120000
    return out


def _uploaded_file(req: Request) -> tuple[str, str, bytes]:
    content_type = req.headers.get("Content-Type", "")
    if content_type.startswith("multipart/form-data"):
        raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + req.body
        message = BytesParser(policy=policy.HTTP).parsebytes(raw)
        if message.is_multipart():
            for part in message.iter_parts():
                filename = part.get_filename()
                if filename is None:
                    continue
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
                return filename, part.get_content_type(), data
        raise bad_request("The multipart body holds no file.")
    disposition = req.headers.get("Content-Disposition", "")
    match = re.search(r'filename="?([^";]+)"?', disposition)
    if match and req.body is not None:
        return match.group(1), content_type or "application/octet-stream", req.body
    raise bad_request("Attach a file as multipart/form-data or with a Content-Disposition filename.")


def _attach(sim: Simulator, req: Request, parent_type: str, parent_id: int, group: int | None = None) -> Attachment:
    sheet = get_sheet(sim, req)
    name, mime_type, data = _uploaded_file(req)
    change = sim.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    attachment_id = sim.new_id("attachment")
    attachment = Attachment(
        id=attachment_id,
        sheet_id=sheet.id,
        parent_type=parent_type,
        parent_id=parent_id,
        name=name,
        mime_type=mime_type,
        data=data,
        created_at=sim.now,
        created_by=sim.api_user_email,
        group=group if group is not None else attachment_id,
    )
    sim.record_attachment(change, attachment, "created" if group is None else "updated")
    sim.commit(change)
    return attachment


def attach_to_sheet(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    attachment = _attach(sim, req, "SHEET", sheet.id)
    return success(render_attachment(sim, attachment), sheet.version)


def attach_to_row(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    row_id = req.id("rowId")
    if sheet.row(row_id) is None:
        raise not_found()
    attachment = _attach(sim, req, "ROW", row_id)
    return success(render_attachment(sim, attachment), sheet.version)


def _sheet_attachment(sim: Simulator, req: Request) -> Attachment:
    sheet = get_sheet(sim, req)
    attachment = sim.attachments().get(req.id("attachmentId"))
    if attachment is None or attachment.sheet_id != sheet.id:
        raise not_found()
    return attachment


def attach_version(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    previous = _sheet_attachment(sim, req)
    if not previous.current:
        raise bad_request("Only the newest version of an attachment can get a new version.")
    attachment = _attach(sim, req, previous.parent_type, previous.parent_id, previous.group)
    for other in sim.attachments().values():
        if other.group == previous.group and other.id != attachment.id:
            other.current = False
    return success(render_attachment(sim, attachment), sheet.version)


def list_attachments(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    found = [render_attachment(sim, a) for a in sim.attachments().values() if a.current and a.sheet_id == sheet.id]
    return paged(sim, req, found)


def list_row_attachments(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    row_id = req.id("rowId")
    if sheet.row(row_id) is None:
        raise not_found()
    found = [
        render_attachment(sim, a)
        for a in sim.attachments().values()
        if a.current and a.sheet_id == sheet.id and a.parent_type == "ROW" and a.parent_id == row_id
    ]
    return paged(sim, req, found)


def get_attachment(sim: Simulator, req: Request) -> Any:
    return render_attachment(sim, _sheet_attachment(sim, req), with_url=True, req=req)


def download_file(sim: Simulator, req: Request) -> Any:
    attachment = sim.attachments().get(req.id("attachmentId"))
    if attachment is None:
        raise not_found()
    return RawResponse(
        200,
        attachment.data,
        attachment.mime_type,
        {"Content-Disposition": f'attachment; filename="{attachment.name}";'},
    )


# ----- shares, users, workspaces, folders ---------------------------------------------------------


def list_shares(sim: Simulator, req: Request) -> Any:
    sheet = get_sheet(sim, req)
    shares: list[dict[str, Any]] = []
    for email, access_level in sheet.shares:
        user = sim.user(email)
        share: dict[str, Any] = {
            "id": f"share-{sim.user_id_for(email)}",
            "type": "USER",
            "userId": sim.user_id_for(email),
            "email": email,
            "accessLevel": access_level,
            "scope": "ITEM",
            "createdAt": iso(sheet.created_at),
            "modifiedAt": iso(sheet.created_at),
        }
        if user is not None and user.name:
            share["name"] = user.name
        shares.append(share)
    return paged(sim, req, shares)


def list_asset_shares(sim: Simulator, req: Request) -> Any:
    """`GET /shares?assetType=sheet&assetId=N` (SDK 4.x `Sharing.list_asset_shares`; ids as strings)."""
    if (req.param("assetType") or "").lower() != "sheet":
        raise bad_request("Only assetType=sheet is supported by the simulator.")
    asset_id = req.int_param("assetId")
    if asset_id is None:
        raise bad_request("Required query parameter assetId is missing.", 1012)
    req.path_params["sheetId"] = str(asset_id)
    shares = list_shares(sim, req)["data"]
    items = [{**share, "userId": str(share["userId"])} for share in shares]
    start = req.int_param("lastKey") or 0
    size = req.int_param("maxItems") or 100
    out: dict[str, Any] = {"items": items[start : start + size]}
    if start + size < len(items):
        out["lastKey"] = str(start + size)
    return out


def _names(name: str | None) -> tuple[str, str]:
    if not name:
        return "", ""
    first, _, last = name.partition(" ")
    return first, last


def render_user(sim: Simulator, email: str) -> dict[str, Any]:
    user = sim.user(email)
    out: dict[str, Any] = {"id": sim.user_id_for(email), "email": email}
    if user is not None:
        if user.name:
            first, last = _names(user.name)
            out.update(name=user.name, firstName=first, lastName=last)
        out["status"] = "ACTIVE" if user.active else "DEACTIVATED"
        out["admin"] = user.access_level is not None and user.access_level >= 4
        out["licensedSheetCreator"] = True
        if user.last_login is not None:
            out["lastLogin"] = iso(user.last_login)
    return out


def list_users(sim: Simulator, req: Request) -> Any:
    emails = [u.email for u in sim.scenario.users]
    wanted = {e.lower() for e in req.list_param("email")}
    if wanted:
        emails = [e for e in emails if e.lower() in wanted]
    return paged(sim, req, [render_user(sim, e) for e in emails])


def _profile(sim: Simulator, email: str) -> dict[str, Any]:
    user = sim.user(email)
    out: dict[str, Any] = {
        "id": sim.user_id_for(email),
        "email": email,
        "locale": "en_US",
        "timeZone": sim.scenario.timezone,
        "account": {"id": stable_id("account", "simulator"), "name": "Simulated account"},
        "admin": user is not None and user.access_level is not None and user.access_level >= 4,
        "licensedSheetCreator": True,
        "groupAdmin": False,
        "resourceViewer": False,
        "sheetCount": len(sim.sheets()),
    }
    if user is not None:
        first, last = _names(user.name)
        if first:
            out["firstName"] = first
        if last:
            out["lastName"] = last
        if user.last_login is not None:
            out["lastLogin"] = iso(user.last_login)
    return out


def current_user(sim: Simulator, req: Request) -> Any:
    return _profile(sim, sim.api_user_email)


def get_user(sim: Simulator, req: Request) -> Any:
    user_id = req.id("userId")
    user = sim.user_by_id(user_id)
    if user is not None:
        return _profile(sim, user.email)
    if user_id == sim.user_id_for(sim.api_user_email):
        return _profile(sim, sim.api_user_email)
    raise not_found(f"User {user_id} not found.")


def _containers(sim: Simulator) -> tuple[dict[int, str], dict[int, tuple[str | None, str]]]:
    workspaces: dict[int, str] = {}
    folders: dict[int, tuple[str | None, str]] = {}
    for sheet in sim.sheets():
        if sheet.workspace:
            workspaces.setdefault(workspace_id(sheet.workspace), sheet.workspace)
        if sheet.folder:
            folders.setdefault(folder_id(sheet.workspace, sheet.folder), (sheet.workspace, sheet.folder))
    return workspaces, folders


def _workspace_json(workspace: int, name: str) -> dict[str, Any]:
    return {
        "id": workspace,
        "name": name,
        "accessLevel": "OWNER",
        "permalink": f"{PERMALINK_BASE}/workspaces/{workspace}",
    }


def _folder_json(sim: Simulator, workspace: str | None, name: str) -> dict[str, Any]:
    fid = folder_id(workspace, name)
    return {
        "id": fid,
        "name": name,
        "permalink": f"{PERMALINK_BASE}/folders/{fid}",
        "favorite": False,
        "sheets": [sheet_summary(s) for s in sim.sheets() if s.workspace == workspace and s.folder == name],
        "folders": [],
    }


def list_workspaces(sim: Simulator, req: Request) -> Any:
    workspaces, _ = _containers(sim)
    items = [_workspace_json(wid, name) for wid, name in sorted(workspaces.items(), key=lambda kv: kv[1].lower())]
    if req.param("paginationType") == "token":
        start = req.int_param("lastKey") or 0
        size = req.int_param("maxItems") or 100
        out: dict[str, Any] = {"data": items[start : start + size]}
        if start + size < len(items):
            out["lastKey"] = str(start + size)
        return out
    return paged(sim, req, items)


def get_workspace(sim: Simulator, req: Request) -> Any:
    workspaces, folders = _containers(sim)
    wid = req.id("workspaceId")
    name = workspaces.get(wid)
    if name is None:
        raise not_found()
    out = _workspace_json(wid, name)
    out["sheets"] = [sheet_summary(s) for s in sim.sheets() if s.workspace == name and not s.folder]
    out["folders"] = [_folder_json(sim, ws, fname) for ws, fname in folders.values() if ws == name]
    return out


def get_folder(sim: Simulator, req: Request) -> Any:
    _, folders = _containers(sim)
    found = folders.get(req.id("folderId"))
    if found is None:
        raise not_found()
    return _folder_json(sim, *found)


# ----- webhooks ---------------------------------------------------------------------------------


def list_webhooks(sim: Simulator, req: Request) -> Any:
    return paged(sim, req, [sim.webhooks.to_json(h) for h in sim.webhooks.all()])


def create_webhook(sim: Simulator, req: Request) -> Any:
    hook = sim.webhooks.create(req.json())
    return success(sim.webhooks.to_json(hook))


def get_webhook(sim: Simulator, req: Request) -> Any:
    return sim.webhooks.to_json(sim.webhooks.get(req.id("webhookId")))


def update_webhook(sim: Simulator, req: Request) -> Any:
    """Not run under the lock: enabling performs the verification challenge synchronously."""
    webhook_id = req.id("webhookId")
    body = req.json()
    with sim.lock:
        hook, enabled = sim.webhooks.update_fields(webhook_id, body)
        if enabled is False and hook.status == "ENABLED":
            sim.webhooks.disable(webhook_id, "DISABLED_BY_OWNER", notify=False)
    if enabled is True:
        sim.webhooks.enable(webhook_id)
    with sim.lock:
        return success(sim.webhooks.to_json(sim.webhooks.get(webhook_id)))


def delete_webhook(sim: Simulator, req: Request) -> Any:
    sim.webhooks.delete(req.id("webhookId"))
    return success()


def reset_shared_secret(sim: Simulator, req: Request) -> Any:
    hook = sim.webhooks.reset_secret(req.id("webhookId"))
    return success({"sharedSecret": hook.shared_secret, "webhookId": hook.id})


# ----- routing ----------------------------------------------------------------------------------


def _route(method: str, template: str, handler: Handler, *, locked: bool = True, authenticated: bool = True) -> Route:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>-?\\d+)", re.escape(template))
    return Route(method, template, handler, re.compile(f"^{regex}$", re.IGNORECASE), locked, authenticated)


ROUTES: list[Route] = [
    _route("GET", "/sheets", list_sheets),
    _route("GET", "/sheets/{sheetId}", read_sheet),
    _route("GET", "/sheets/{sheetId}/version", sheet_version),
    _route("GET", "/sheets/{sheetId}/columns", list_columns),
    _route("GET", "/sheets/{sheetId}/rows/{rowId}", read_row),
    _route("GET", "/sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history", cell_history),
    _route("POST", "/sheets/{sheetId}/rows", add_rows),
    _route("PUT", "/sheets/{sheetId}/rows", update_rows),
    _route("DELETE", "/sheets/{sheetId}/rows", delete_rows),
    _route("GET", "/sheets/{sheetId}/attachments", list_attachments),
    _route("POST", "/sheets/{sheetId}/attachments", attach_to_sheet),
    _route("GET", "/sheets/{sheetId}/attachments/{attachmentId}", get_attachment),
    _route("POST", "/sheets/{sheetId}/attachments/{attachmentId}/versions", attach_version),
    _route("GET", "/sheets/{sheetId}/rows/{rowId}/attachments", list_row_attachments),
    _route("POST", "/sheets/{sheetId}/rows/{rowId}/attachments", attach_to_row),
    _route("GET", "/sheets/{sheetId}/shares", list_shares),
    _route("GET", "/shares", list_asset_shares),
    _route("GET", "/users", list_users),
    _route("GET", "/users/me", current_user),
    _route("GET", "/users/{userId}", get_user),
    _route("GET", "/workspaces", list_workspaces),
    _route("GET", "/workspaces/{workspaceId}", get_workspace),
    _route("GET", "/folders/{folderId}", get_folder),
    _route("GET", "/webhooks", list_webhooks),
    _route("POST", "/webhooks", create_webhook),
    _route("GET", "/webhooks/{webhookId}", get_webhook),
    _route("PUT", "/webhooks/{webhookId}", update_webhook, locked=False),
    _route("DELETE", "/webhooks/{webhookId}", delete_webhook),
    _route("POST", "/webhooks/{webhookId}/resetSharedSecret", reset_shared_secret),
]

# Served outside /2.0 without a token: the temporary download URL of an attachment.
FILE_ROUTE = _route("GET", "/files/{attachmentId}", download_file, authenticated=False)


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for a request, its path parameters, and whether the path exists for another method."""
    path_exists = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict(), True
        path_exists = True
    return None, {}, path_exists
