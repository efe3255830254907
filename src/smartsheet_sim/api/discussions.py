"""Discussions: start one on a sheet or a row, and list a sheet's (its rows' included), by page number."""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import get_sheet, paged, success, user_ref
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import Discussion, iso
from smartsheet_sim.state import SimulatorState


def render_discussion(state: SimulatorState, discussion: Discussion, comments: bool) -> dict[str, Any]:
    last = discussion.comments[-1]
    out: dict[str, Any] = {
        "id": discussion.id,
        "title": discussion.title,
        "parentType": discussion.parent_type,
        "parentId": discussion.parent_id,
        "commentCount": len(discussion.comments),
        "accessLevel": "OWNER",
        "readOnly": False,
        "lastCommentedAt": iso(last.created_at),
    }
    first_by, last_by = user_ref(state, discussion.comments[0].created_by), user_ref(state, last.created_by)
    if first_by is not None:
        out["createdBy"] = first_by
    if last_by is not None:
        out["lastCommentedUser"] = last_by
    if comments:
        out["comments"] = [
            {
                "id": discussion.id + index,
                "discussionId": discussion.id,
                "text": comment.text,
                "createdAt": iso(comment.created_at),
                "modifiedAt": iso(comment.created_at),
                **({"createdBy": by} if (by := user_ref(state, comment.created_by)) is not None else {}),
            }
            for index, comment in enumerate(discussion.comments)
        ]
    return out


def _comment_text(req: Request) -> str:
    body = req.json()
    comment = body.get("comment") if isinstance(body, dict) else None
    text = comment.get("text") if isinstance(comment, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise bad_request("Required object attribute(s) are missing from your request: comment.text.", 1012)
    return text


def _start(backend: Backend, req: Request, parent_type: str) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    parent_id = sheet.id
    if parent_type == "ROW":
        parent_id = req.id("rowId")
        if sheet.row(parent_id) is None:
            raise not_found()
    text = _comment_text(req)
    change = state.begin_api_change(sheet, req.headers.get("Smartsheet-Change-Agent"))
    discussion = state.add_discussion(change, parent_type, parent_id, text)
    state.commit(change)
    return success(render_discussion(state, discussion, comments=True), sheet.version)


def start_on_sheet(backend: Backend, req: Request) -> Any:
    return _start(backend, req, "SHEET")


def start_on_row(backend: Backend, req: Request) -> Any:
    return _start(backend, req, "ROW")


def list_discussions(backend: Backend, req: Request) -> Any:
    state = backend.state
    sheet = get_sheet(state, req)
    row_ids = {row.id for row in sheet.rows}
    comments = "comments" in set(req.list_param("include"))
    found = [
        render_discussion(state, d, comments)
        for d in state.discussions().values()
        if d.sheet_id == sheet.id and (d.parent_type == "SHEET" or d.parent_id in row_ids)
    ]
    return paged(state, req, found)
