"""Attachments: upload to a sheet or a row, new versions, lists, one attachment, and the download
URL it hands out (served outside /2.0, without a token, like Smartsheet's temporary file URLs)."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from typing import Any

from smartsheet_sim.api.common import get_sheet, paged, render_attachment, success
from smartsheet_sim.api.routing import RawResponse, Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import Attachment
from smartsheet_sim.state import SimulatorState


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
    found = re.search(r'filename="?([^";]+)"?', disposition)
    if found and req.body is not None:
        return found.group(1), content_type or "application/octet-stream", req.body
    raise bad_request("Attach a file as multipart/form-data or with a Content-Disposition filename.")


def _attach(
    state: SimulatorState, req: Request, parent_type: str, parent_id: int, group: int | None = None
) -> Attachment:
    sheet = get_sheet(state, req)
    name, mime_type, data = _uploaded_file(req)
    change = state.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    attachment_id = state.new_id("attachment")
    attachment = Attachment(
        id=attachment_id,
        sheet_id=sheet.id,
        parent_type=parent_type,
        parent_id=parent_id,
        name=name,
        mime_type=mime_type,
        data=data,
        created_at=state.now,
        created_by=state.api_user_email,
        group=group if group is not None else attachment_id,
    )
    state.record_attachment(change, attachment, "created" if group is None else "updated")
    state.commit(change)
    return attachment


def attach_to_sheet(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    attachment = _attach(state, req, "SHEET", sheet.id)
    return success(render_attachment(state, attachment), sheet.version)


def attach_to_row(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    row_id = req.id("rowId")
    if sheet.row(row_id) is None:
        raise not_found()
    attachment = _attach(state, req, "ROW", row_id)
    return success(render_attachment(state, attachment), sheet.version)


def _sheet_attachment(state: SimulatorState, req: Request) -> Attachment:
    sheet = get_sheet(state, req)
    attachment = state.attachments().get(req.id("attachmentId"))
    if attachment is None or attachment.sheet_id != sheet.id:
        raise not_found()
    return attachment


def attach_version(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    previous = _sheet_attachment(state, req)
    if not previous.current:
        raise bad_request("Only the newest version of an attachment can get a new version.")
    attachment = _attach(state, req, previous.parent_type, previous.parent_id, previous.group)
    for other in state.attachments().values():
        if other.group == previous.group and other.id != attachment.id:
            other.current = False
    return success(render_attachment(state, attachment), sheet.version)


def list_attachments(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    found = [render_attachment(state, a) for a in state.attachments().values() if a.current and a.sheet_id == sheet.id]
    return paged(state, req, found)


def list_row_attachments(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    row_id = req.id("rowId")
    if sheet.row(row_id) is None:
        raise not_found()
    found = [
        render_attachment(state, a)
        for a in state.attachments().values()
        if a.current and a.sheet_id == sheet.id and a.parent_type == "ROW" and a.parent_id == row_id
    ]
    return paged(state, req, found)


def get_attachment(backend: Backend, req: Request) -> Any:
    return render_attachment(backend.state, _sheet_attachment(backend.state, req), with_url=True, req=req)


def download_file(backend: Backend, req: Request) -> Any:
    attachment = backend.state.attachments().get(req.id("attachmentId"))
    if attachment is None:
        raise not_found()
    return RawResponse(
        200,
        attachment.data,
        attachment.mime_type,
        {"Content-Disposition": f'attachment; filename="{attachment.name}";'},
    )
