"""Event Reporting: `GET /2.0/events`, the account's event stream (a premium add-on).

Served only where the scenario turns `event_reporting` on; otherwise 403, as for a plan without the
add-on.  Events are the committed saves (objectType SHEET, action UPDATE, by the saving user, from
its `source` and, per Smartsheet's 2026-06-08 changelog, `eventDetails.sourceIpAddress`) and each
user's logins (objectType USER, action LOGIN: `last_login` and any scenario `logins`), up to the
simulator's clock.  Paging as the OpenAPI file defines it: `since` (rounded down to the hour, as
Smartsheet resolves it) or `streamPosition` (never both), `maxCount` 1 to 10,000 (default 1,000);
the answer carries `nextStreamPosition` and `moreAvailable`.  The time is served as
`eventTimestamp` (Smartsheet's documentation and SDK) and `eventTimeStamp` (the OpenAPI file's
spelling).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from smartsheet_sim.api.routing import Request
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import ApiError, bad_request
from smartsheet_sim.model import iso
from smartsheet_sim.state import SimulatorState

MAX_COUNT = 10_000
DEFAULT_COUNT = 1_000
API_SOURCE = "API_INTEGRATED_APP"
# Where the product's own API calls come from, as the simulator reports them.
API_IP = "203.0.113.250"

Key = tuple[str, int, int]  # (time, 0 for a login or 1 for a save, its order among those)
Keyed = tuple[Key, dict[str, Any]]


def _event_id(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _event(
    kind: str, action: str, object_id: object, at: datetime, user_id: int | None, source: str, ip: str | None
) -> dict[str, Any]:
    stamp = iso(at)
    event: dict[str, Any] = {
        "eventId": _event_id(kind, action, object_id, stamp, user_id),
        "objectType": kind,
        "action": action,
        "objectId": str(object_id),
        "eventTimestamp": stamp,
        "eventTimeStamp": stamp,
        "source": source,
        "additionalDetails": {},
    }
    if user_id is not None:
        event["userId"] = user_id
        event["requestUserId"] = user_id
    if ip is not None:
        event["eventDetails"] = {"sourceIpAddress": ip}
    return event


def stream(state: SimulatorState) -> list[Keyed]:
    """Every event so far, keyed (time, order) so a stream position stays put as events are added."""
    config = state.scenario.event_reporting
    assert config is not None
    now = state.now
    keyed: list[Keyed] = []
    for save in state.saves():
        if save.at > now:
            continue
        user_id = None if save.by is None else state.user_id_for(save.by)
        if save.origin == "api":
            source, ip = API_SOURCE, API_IP
        else:
            source, ip = save.source or config.source, save.ip or config.ip
        event = _event("SHEET", "UPDATE", save.sheet_id, save.at, user_id, source, ip)
        keyed.append(((iso(save.at), 1, save.seq), event))
    for user in state.scenario.users:
        logins = {moment.astimezone(UTC) for moment in [*user.logins, *([user.last_login] if user.last_login else [])]}
        for index, moment in enumerate(sorted(logins)):
            if moment <= now:
                event = _event("USER", "LOGIN", user.id, moment, user.id, config.source, config.ip)
                keyed.append(((iso(moment), 0, user.id * 1000 + index), event))
    keyed.sort(key=lambda item: item[0])
    return keyed


def _position(key: Key) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(raw: str) -> Key:
    try:
        key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return str(key[0]), int(key[1]), int(key[2])
    except (ValueError, binascii.Error, IndexError, TypeError, KeyError):
        raise bad_request(f"Invalid value for query parameter streamPosition: {raw!r}.") from None


def list_events(backend: Backend, req: Request) -> Any:
    state = backend.state
    if state.scenario.event_reporting is None or not state.scenario.event_reporting.enabled:
        raise ApiError(403, 1004, "You are not authorized to perform this action.")
    since, position = req.param("since"), req.param("streamPosition")
    if (since is None) == (position is None):
        raise bad_request("Exactly one of since or streamPosition is required.", 1012)
    if req.bool_param("numericDates"):
        raise bad_request("numericDates is not supported by the simulator.")
    count = req.int_param("maxCount") or DEFAULT_COUNT
    if not 1 <= count <= MAX_COUNT:
        raise bad_request(f"maxCount must be between 1 and {MAX_COUNT}.")
    events = stream(state)
    if since is not None:
        start = req.time_param("since")
        assert start is not None
        hour = iso(start.astimezone(UTC).replace(minute=0, second=0, microsecond=0))
        chosen = [item for item in events if item[0][0] >= hour]
    else:
        after = _after(position or "")
        chosen = [item for item in events if item[0] > after]
    page = chosen[:count]
    # An empty page keeps the position: the events still to come are after it.
    last = page[-1][0] if page else (_after(position) if position else (iso(state.now), 2, 0))
    return {
        "nextStreamPosition": _position(last),
        "moreAvailable": len(chosen) > len(page),
        "data": [event for _, event in page],
    }
