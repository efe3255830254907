"""Workspaces and folders, derived from the `workspace` and `folder` the scenario gives each sheet."""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import PERMALINK_BASE, folder_id, paged, sheet_summary, token_page, workspace_id
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import not_found
from smartsheet_sim.state import SimulatorState


def _containers(state: SimulatorState) -> tuple[dict[int, str], dict[int, tuple[str | None, str]]]:
    workspaces: dict[int, str] = {}
    folders: dict[int, tuple[str | None, str]] = {}
    for sheet in state.sheets():
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


def _folder_json(state: SimulatorState, workspace: str | None, name: str) -> dict[str, Any]:
    fid = folder_id(workspace, name)
    return {
        "id": fid,
        "name": name,
        "permalink": f"{PERMALINK_BASE}/folders/{fid}",
        "favorite": False,
        "sheets": [sheet_summary(s) for s in state.sheets() if s.workspace == workspace and s.folder == name],
        "folders": [],
    }


def list_workspaces(backend: Backend, req: Request) -> Any:
    workspaces, _ = _containers(backend.state)
    items = [_workspace_json(wid, name) for wid, name in sorted(workspaces.items(), key=lambda kv: kv[1].lower())]
    if req.param("paginationType") == "token":
        return token_page(req, items, "data")
    return paged(backend.state, req, items)


def get_workspace(backend: Backend, req: Request) -> Any:
    state = backend.state
    workspaces, folders = _containers(state)
    wid = req.id("workspaceId")
    name = workspaces.get(wid)
    if name is None:
        raise not_found()
    out = _workspace_json(wid, name)
    out["sheets"] = [sheet_summary(s) for s in state.sheets() if s.workspace == name and not s.folder]
    out["folders"] = [_folder_json(state, ws, fname) for ws, fname in folders.values() if ws == name]
    return out


def get_folder(backend: Backend, req: Request) -> Any:
    _, folders = _containers(backend.state)
    found = folders.get(req.id("folderId"))
    if found is None:
        raise not_found()
    return _folder_json(backend.state, *found)
