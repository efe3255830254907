"""Users: the account's list, the token owner (`/users/me`) and one user's profile."""

from __future__ import annotations

from typing import Any

from smartsheet_sim.api.common import paged
from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import not_found
from smartsheet_sim.model import iso, stable_id
from smartsheet_sim.state import SimulatorState


def _names(name: str | None) -> tuple[str, str]:
    if not name:
        return "", ""
    first, _, last = name.partition(" ")
    return first, last


def render_user(state: SimulatorState, email: str) -> dict[str, Any]:
    user = state.user(email)
    out: dict[str, Any] = {"id": state.user_id_for(email), "email": email}
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


def list_users(backend: Backend, req: Request) -> Any:
    state = backend.state
    emails = [u.email for u in state.scenario.users]
    wanted = {e.lower() for e in req.list_param("email")}
    if wanted:
        emails = [e for e in emails if e.lower() in wanted]
    return paged(state, req, [render_user(state, e) for e in emails])


def _profile(state: SimulatorState, email: str) -> dict[str, Any]:
    user = state.user(email)
    out: dict[str, Any] = {
        "id": state.user_id_for(email),
        "email": email,
        "locale": "en_US",
        "timeZone": state.scenario.timezone,
        "account": {"id": stable_id("account", "simulator"), "name": "Simulated account"},
        "admin": user is not None and user.access_level is not None and user.access_level >= 4,
        "licensedSheetCreator": True,
        "groupAdmin": False,
        "resourceViewer": False,
        "sheetCount": len(state.sheets()),
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


def current_user(backend: Backend, req: Request) -> Any:
    return _profile(backend.state, backend.state.api_user_email)


def get_user(backend: Backend, req: Request) -> Any:
    state = backend.state
    user_id = req.id("userId")
    user = state.user_by_id(user_id)
    if user is not None:
        return _profile(state, user.email)
    if user_id == state.user_id_for(state.api_user_email):
        return _profile(state, state.api_user_email)
    raise not_found(f"User {user_id} not found.")
