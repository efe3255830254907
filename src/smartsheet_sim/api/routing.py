"""What an endpoint gets and gives: the parsed `Request`, a `RawResponse` for non-JSON answers, and
the `Route` that maps a method and an OpenAPI path template to the endpoint.

An endpoint takes the backend and a `Request` and returns a JSON-able value (HTTP 200) or a
`RawResponse`; it raises `ApiError` for error answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import bad_request


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

    def time_param(self, name: str) -> datetime | None:
        """A datetime query parameter as the SDK sends it (naive means UTC); None when absent."""
        raw = self.param(name)
        if not raw:
            return None
        text = raw.strip()
        # An unencoded "+01:00" arrives as " 01:00"; the SDK sends datetimes with a space for the "T".
        text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text).replace(" ", "T", 1).replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise bad_request(f"Invalid value for query parameter {name}: {raw!r}.") from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

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


Handler = Callable[[Backend, Request], Any]


@dataclass(frozen=True)
class Route:
    """An endpoint and how the server treats it.

    locked: the server holds the state's lock around the handler (False: it takes the lock itself,
    as it reaches out over the network meanwhile). authenticated: a bearer token is required (and
    rate limits apply). history_limited: it counts against the cell-history rate limit as well.
    """

    method: str
    template: str
    handler: Handler
    pattern: re.Pattern[str]
    locked: bool = True
    authenticated: bool = True
    history_limited: bool = False

    @property
    def key(self) -> str:
        """How call counts name the endpoint: "GET /sheets/{sheetId}"."""
        return f"{self.method} {self.template}"


def route(
    method: str,
    template: str,
    handler: Handler,
    *,
    locked: bool = True,
    authenticated: bool = True,
    history_limited: bool = False,
) -> Route:
    """A route for an OpenAPI path template; `{name}` matches an integer id, the path's case is ignored."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>-?\\d+)", re.escape(template))
    pattern = re.compile(f"^{regex}$", re.IGNORECASE)
    return Route(method, template, handler, pattern, locked, authenticated, history_limited)


def match(routes: Iterable[Route], method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for a request, its path parameters, and whether the path exists for another method."""
    path_exists = False
    for candidate in routes:
        found = candidate.pattern.match(path)
        if found is None:
            continue
        if candidate.method == method:
            return candidate, found.groupdict(), True
        path_exists = True
    return None, {}, path_exists
