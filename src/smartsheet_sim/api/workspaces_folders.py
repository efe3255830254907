"""Workspaces and folders, derived from the `workspace` and `folder` path the scenario gives each sheet.

The current way (NOTES.md, "Added 2026-12-01"): `/workspaces/{id}/metadata` and `/folders/{id}/metadata`
describe a container, `/workspaces/{id}/children` and `/folders/{id}/children` list its immediate
children (folders first, then sheets, each carrying `resourceType`) by `lastKey` cursor, and
`/sheets/{id}/path` gives a sheet's workspace and folders. The deprecated `GET /workspaces/{id}`
(the whole tree with `loadAll=true`, else immediate children) and `GET /folders/{id}` (immediate
children) are still served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from smartsheet_sim.api.common import (
    PERMALINK_BASE,
    Keyed,
    cursor_page,
    folder_id,
    get_sheet,
    legacy_page,
    sheet_permalink,
    sheet_summary,
    wants_cursor,
    workspace_id,
)
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import Sheet, iso
from smartsheet_sim.state import SimulatorState

CHILD_TYPES = ("sheets", "reports", "sights", "folders", "templates")
"""What `childrenResourceTypes` may name; the simulator has sheets and folders only."""


@dataclass
class Container:
    """A workspace (`path` empty) or a folder (its names from the outermost) and what is in it."""

    id: int
    workspace: str | None
    path: tuple[str, ...]
    sheets: list[Sheet] = field(default_factory=list)
    folders: list[Container] = field(default_factory=list)
    # Every sheet under it, sub-folders included (for its createdAt and modifiedAt).
    all_sheets: list[Sheet] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path[-1] if self.path else self.workspace or ""

    @property
    def is_folder(self) -> bool:
        return bool(self.path)

    @property
    def permalink(self) -> str:
        return f"{PERMALINK_BASE}/{'folders' if self.is_folder else 'workspaces'}/{self.id}"

    @property
    def created_at(self) -> datetime | None:
        return min((s.created_at for s in self.all_sheets), default=None)

    @property
    def modified_at(self) -> datetime | None:
        return max((s.modified_at for s in self.all_sheets), default=None)


@dataclass
class Tree:
    """Every workspace and folder of the account, by id."""

    workspaces: dict[int, Container]
    folders: dict[int, Container]

    def of_sheet(self, sheet: Sheet) -> list[Container]:
        """The containers a sheet sits in, outermost first (its workspace, then its folders)."""
        chain: list[Container] = []
        if sheet.workspace:
            chain.append(self.workspaces[workspace_id(sheet.workspace)])
        for depth in range(1, len(sheet.folder_path) + 1):
            chain.append(self.folders[folder_id(sheet.workspace, sheet.folder_path[:depth])])
        return chain


def build_tree(state: SimulatorState) -> Tree:
    workspaces: dict[int, Container] = {}
    folders: dict[int, Container] = {}
    for sheet in state.sheets():
        parent: Container | None = None
        if sheet.workspace:
            wid = workspace_id(sheet.workspace)
            parent = workspaces.setdefault(wid, Container(wid, sheet.workspace, ()))
            parent.all_sheets.append(sheet)
        for depth in range(1, len(sheet.folder_path) + 1):
            path = sheet.folder_path[:depth]
            fid = folder_id(sheet.workspace, path)
            folder = folders.get(fid)
            if folder is None:
                folder = folders[fid] = Container(fid, sheet.workspace, path)
                if parent is not None:
                    parent.folders.append(folder)
            folder.all_sheets.append(sheet)
            parent = folder
        if parent is not None:
            parent.sheets.append(sheet)
    return Tree(workspaces, folders)


def _by_name(containers: list[Container]) -> list[Container]:
    return sorted(containers, key=lambda c: (c.name.lower(), c.id))


def _sheets_by_name(sheets: list[Sheet]) -> list[Sheet]:
    return sorted(sheets, key=lambda s: (s.name.lower(), s.id))


def _workspace(tree: Tree, req: Request) -> Container:
    found = tree.workspaces.get(req.id("workspaceId"))
    if found is None:
        raise not_found()
    return found


def _folder(tree: Tree, req: Request) -> Container:
    found = tree.folders.get(req.id("folderId"))
    if found is None:
        raise not_found()
    return found


def _times(container: Container, out: dict[str, Any]) -> dict[str, Any]:
    if container.created_at is not None:
        out["createdAt"] = iso(container.created_at)
    if container.modified_at is not None:
        out["modifiedAt"] = iso(container.modified_at)
    return out


def _workspace_json(workspace: Container) -> dict[str, Any]:
    return {"id": workspace.id, "name": workspace.name, "accessLevel": "OWNER", "permalink": workspace.permalink}


def _folder_ref(folder: Container) -> dict[str, Any]:
    return {"id": folder.id, "name": folder.name, "permalink": folder.permalink, "favorite": False}


# ----- current: metadata, children, path ----------------------------------------------------------


def workspace_metadata(backend: Backend, req: Request) -> Any:
    workspace = _workspace(build_tree(backend.state), req)
    return _times(workspace, _workspace_json(workspace))


def folder_metadata(backend: Backend, req: Request) -> Any:
    folder = _folder(build_tree(backend.state), req)
    return _times(folder, {"id": folder.id, "name": folder.name, "permalink": folder.permalink})


def _children(backend: Backend, req: Request, container: Container) -> Any:
    wanted = req.list_param("childrenResourceTypes")
    unknown = [kind for kind in wanted if kind not in CHILD_TYPES]
    if unknown:
        raise bad_request(f"Invalid value for query parameter childrenResourceTypes: {unknown[0]!r}.")
    if "templates" in wanted and "sheets" not in wanted:
        raise bad_request("childrenResourceTypes must include sheets when it includes templates.")
    items: list[Keyed] = []
    if not wanted or "folders" in wanted:
        for folder in _by_name(container.folders):
            child = {"resourceType": "folder", "id": folder.id, "name": folder.name, "permalink": folder.permalink}
            items.append(([0, folder.name.lower(), folder.id], _times(folder, child)))
    if not wanted or "sheets" in wanted:
        for sheet in _sheets_by_name(container.sheets):
            child = {
                "resourceType": "sheet",
                "id": sheet.id,
                "name": sheet.name,
                "accessLevel": "OWNER",
                "permalink": sheet_permalink(sheet),
                "createdAt": iso(sheet.created_at),
                "modifiedAt": iso(sheet.modified_at),
            }
            items.append(([1, sheet.name.lower(), sheet.id], child))
    return cursor_page(backend.state, req, items)


def workspace_children(backend: Backend, req: Request) -> Any:
    return _children(backend, req, _workspace(build_tree(backend.state), req))


def folder_children(backend: Backend, req: Request) -> Any:
    return _children(backend, req, _folder(build_tree(backend.state), req))


def sheet_path(backend: Backend, req: Request) -> Any:
    """The sheet inside its folders inside its workspace: each node holds the next in `folders`,
    the innermost holds the sheet in `sheets` (a root without id and name for a sheet in no workspace)."""
    state = backend.state
    sheet = get_sheet(state, req)
    node: dict[str, Any] = {
        "sheets": [
            {
                "id": sheet.id,
                "name": sheet.name,
                "accessLevel": "OWNER",
                "permalink": sheet_permalink(sheet),
                "createdAt": iso(sheet.created_at),
                "modifiedAt": iso(sheet.modified_at),
            }
        ]
    }
    chain = build_tree(state).of_sheet(sheet)
    for container in reversed(chain):
        holder = {"id": container.id, "name": container.name, "accessLevel": "OWNER", "permalink": container.permalink}
        node = {**holder, **node}
        if container.is_folder:
            node = {"folders": [node]}
    return node


# ----- lists and the deprecated reads ----------------------------------------------------------------


def list_workspaces(backend: Backend, req: Request) -> Any:
    workspaces = sorted(build_tree(backend.state).workspaces.values(), key=lambda w: (w.name.lower(), w.id))
    items: list[Keyed] = [([w.name.lower(), w.id], _workspace_json(w)) for w in workspaces]
    if wants_cursor(req):
        return cursor_page(backend.state, req, items)
    return legacy_page(backend.state, req, items)


def _folder_json(folder: Container, load_all: bool) -> dict[str, Any]:
    out = _folder_ref(folder)
    if load_all:
        out["sheets"] = [sheet_summary(s) for s in _sheets_by_name(folder.sheets)]
        out["folders"] = [_folder_json(f, True) for f in _by_name(folder.folders)]
    return out


def get_workspace(backend: Backend, req: Request) -> Any:
    """Deprecated: the workspace's sheets and folders; their contents too (the whole tree) with `loadAll=true`."""
    workspace = _workspace(build_tree(backend.state), req)
    load_all = req.bool_param("loadAll")
    out = _workspace_json(workspace)
    out["sheets"] = [sheet_summary(s) for s in _sheets_by_name(workspace.sheets)]
    out["folders"] = [_folder_json(f, load_all) for f in _by_name(workspace.folders)]
    return out


def get_folder(backend: Backend, req: Request) -> Any:
    """Deprecated: the folder's sheets and its sub-folders (immediate children only)."""
    folder = _folder(build_tree(backend.state), req)
    out = _folder_ref(folder)
    out["sheets"] = [sheet_summary(s) for s in _sheets_by_name(folder.sheets)]
    out["folders"] = [_folder_json(f, False) for f in _by_name(folder.folders)]
    return out
