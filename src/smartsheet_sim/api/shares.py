"""Shares: who a sheet is shared with, by the sheet's path and by `/shares?assetType=sheet`."""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import get_sheet, paged, token_page
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request
from smartsheet_sim.model import Sheet, iso
from smartsheet_sim.state import SimulatorState


def _shares(state: SimulatorState, sheet: Sheet) -> list[dict[str, Any]]:
    shares: list[dict[str, Any]] = []
    for email, access_level in sheet.shares:
        user = state.user(email)
        share: dict[str, Any] = {
            "id": f"share-{state.user_id_for(email)}",
            "type": "USER",
            "userId": state.user_id_for(email),
            "email": email,
            "accessLevel": access_level,
            "scope": "ITEM",
            "createdAt": iso(sheet.created_at),
            "modifiedAt": iso(sheet.created_at),
        }
        if user is not None and user.name:
            share["name"] = user.name
        shares.append(share)
    return shares


def list_shares(backend: Backend, req: Request) -> Any:
    state = backend.state
    return paged(state, req, _shares(state, get_sheet(state, req)))


def list_asset_shares(backend: Backend, req: Request) -> Any:
    """`GET /shares?assetType=sheet&assetId=N` (SDK 4.x `Sharing.list_asset_shares`; ids as strings)."""
    if (req.param("assetType") or "").lower() != "sheet":
        raise bad_request("Only assetType=sheet is supported by the simulator.")
    asset_id = req.int_param("assetId")
    if asset_id is None:
        raise bad_request("Required query parameter assetId is missing.", 1012)
    req.path_params["sheetId"] = str(asset_id)
    state = backend.state
    shares = _shares(state, get_sheet(state, req))
    items = [{**share, "userId": str(share["userId"])} for share in shares]
    return token_page(req, items, "items")
