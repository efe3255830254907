"""Shares: who a sheet is shared with, by the sheet's path and by `/shares?assetType=sheet`, and the
groups shares may name (`GET /groups/{groupId}` with its members).

A sheet's own shares have scope ITEM; with `include=workspaceShares` (`sharingInclude=WORKSPACE` on
`/shares`) the shares of the workspace it sits in follow, with scope WORKSPACE.  A group share
carries `groupId` and the group's name, never an email: who is in it is `GET /groups/{groupId}`.
"""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import get_sheet, paged, token_page
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request, not_found
from smartsheet_sim.model import Sheet, iso, stable_id
from smartsheet_sim.state import SimulatorState


def group_id(name: str) -> int:
    return stable_id("group", name)


def _user_share(state: SimulatorState, sheet: Sheet, email: str, access_level: str, scope: str) -> dict[str, Any]:
    user = state.user(email)
    prefix = "share" if scope == "ITEM" else "wshare"
    share: dict[str, Any] = {
        "id": f"{prefix}-{state.user_id_for(email)}",
        "type": "USER",
        "userId": state.user_id_for(email),
        "email": email,
        "accessLevel": access_level,
        "scope": scope,
        "createdAt": iso(sheet.created_at),
        "modifiedAt": iso(sheet.created_at),
    }
    if user is not None and user.name:
        share["name"] = user.name
    return share


def _group_share(sheet: Sheet, name: str, access_level: str, scope: str) -> dict[str, Any]:
    prefix = "gshare" if scope == "ITEM" else "wgshare"
    return {
        "id": f"{prefix}-{group_id(name)}",
        "type": "GROUP",
        "groupId": group_id(name),
        "name": name,
        "accessLevel": access_level,
        "scope": scope,
        "createdAt": iso(sheet.created_at),
        "modifiedAt": iso(sheet.created_at),
    }


def _shares(state: SimulatorState, sheet: Sheet, workspace_too: bool = False) -> list[dict[str, Any]]:
    shares = [_user_share(state, sheet, email, level, "ITEM") for email, level in sheet.shares]
    shares += [_group_share(sheet, name, level, "ITEM") for name, level in sheet.group_shares]
    if workspace_too and sheet.workspace:
        for workspace in state.scenario.workspaces:
            if workspace.name != sheet.workspace:
                continue
            for spec in workspace.shares:
                if spec.email is not None:
                    shares.append(_user_share(state, sheet, spec.email, spec.access_level, "WORKSPACE"))
                elif spec.group is not None:
                    shares.append(_group_share(sheet, spec.group, spec.access_level, "WORKSPACE"))
    return shares


def list_shares(backend: Backend, req: Request) -> Any:
    state = backend.state
    workspace_too = "workspaceShares" in req.list_param("include")
    return paged(state, req, _shares(state, get_sheet(state, req), workspace_too))


def list_asset_shares(backend: Backend, req: Request) -> Any:
    """`GET /shares?assetType=sheet&assetId=N` (SDK 4.x `Sharing.list_asset_shares`; ids as strings)."""
    if (req.param("assetType") or "").lower() != "sheet":
        raise bad_request("Only assetType=sheet is supported by the simulator.")
    asset_id = req.int_param("assetId")
    if asset_id is None:
        raise bad_request("Required query parameter assetId is missing.", 1012)
    req.path_params["sheetId"] = str(asset_id)
    state = backend.state
    workspace_too = (req.param("sharingInclude") or "").upper() == "WORKSPACE"
    shares = _shares(state, get_sheet(state, req), workspace_too)
    items = []
    for share in shares:
        item = dict(share)
        for key in ("userId", "groupId"):
            if key in item:
                item[key] = str(item[key])
        items.append(item)
    return token_page(req, items, "items")


def get_group(backend: Backend, req: Request) -> Any:
    """`GET /groups/{groupId}`: the group and its members (members not in `users` are still listed)."""
    state = backend.state
    wanted = req.id("groupId")
    for group in state.scenario.groups:
        if group_id(group.name) != wanted:
            continue
        owner = state.api_user_email
        members = []
        for email in group.members:
            member: dict[str, Any] = {"id": state.user_id_for(email), "email": email}
            user = state.user(email)
            if user is not None and user.name:
                first, _, last = user.name.partition(" ")
                member.update(name=user.name, firstName=first, lastName=last)
            members.append(member)
        return {
            "id": wanted,
            "name": group.name,
            "owner": owner,
            "ownerId": state.user_id_for(owner),
            "members": members,
        }
    raise not_found(f"Group {wanted} not found.")
