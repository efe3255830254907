"""Helpers for tests that drive the simulator: a callback receiver, SDK backoffs that never sleep in
wall time (one retries at once, one waits on the simulator's virtual clock), a small scenario, and
validation of responses against Smartsheet's OpenAPI file.

Optional dependencies, imported inside the helpers that need them so that importing this module
(or the simulator) never requires them: the smartsheet SDK (`no_sleep_backoff`), and `jsonschema`
and `referencing` (dev dependencies; OpenAPI validation).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smartsheet_sim.simulator import Simulator

OPENAPI_URN = "urn:smartsheet-openapi"


# ----- a small scenario -------------------------------------------------------------------------


def small_scenario() -> dict[str, Any]:
    """Three sheets (two in a workspace, one of those in a folder), four users, a few edits."""
    columns = [
        {"title": "Work Request #", "type": "TEXT_NUMBER", "primary": True},
        {"title": "Week Ending", "type": "DATE"},
        {"title": "Status", "type": "PICKLIST", "options": ["In Progress", "Completed", "Approved", "Invoiced"]},
        {"title": "Quantity", "type": "TEXT_NUMBER"},
        {"title": "Unit Price", "type": "TEXT_NUMBER"},
        {"title": "Redlined Total Price", "type": "TEXT_NUMBER"},
        {"title": "Foreman", "type": "TEXT_NUMBER"},
    ]

    def row(row_id: int, wr: str, week: str, status: str, qty: Any, price: float, **extra: Any) -> dict[str, Any]:
        cells = {
            "Work Request #": wr,
            "Week Ending": week,
            "Status": status,
            "Quantity": qty,
            "Unit Price": price,
            "Redlined Total Price": (qty if isinstance(qty, int | float) else float(qty)) * price,
        }
        out: dict[str, Any] = {"id": row_id, "cells": cells}
        out.update(extra)
        return out

    created = {"created_at": "2026-11-03T15:00:00Z", "created_by": "ana@example.com"}
    return {
        "name": "simulator test scenario",
        "timezone": "America/Chicago",
        "baseline_at": "2026-11-09T12:00:00Z",
        "now": "2026-11-20T15:00:00Z",
        "users": [
            {
                "id": 5001,
                "email": "ana@example.com",
                "name": "Ana Ortiz",
                "role": "billing_admin",
                "access_level": 4,
                "last_login": "2026-11-19T14:00:00Z",
                "active": True,
            },
            {
                "id": 5002,
                "email": "bob@example.com",
                "name": "Bob Kline",
                "role": "foreman",
                "access_level": 2,
                "last_login": "2026-11-18T22:00:00Z",
                "active": True,
            },
            {"id": 5003, "email": "carl@example.com", "name": "Carl Wu", "role": "foreman", "active": True},
            {
                "id": 5004,
                "email": "dana@example.com",
                "name": "Dana Reyes",
                "role": "auditor",
                "last_login": "2026-06-01T15:00:00Z",
                "active": False,
            },
        ],
        "sheets": [
            {
                "id": 4001,
                "name": "Crew 12 Billing",
                "workspace": "Billing",
                "folder": "Crews",
                "columns": columns,
                "shares": [
                    {"email": "ana@example.com", "access_level": "ADMIN"},
                    {"email": "bob@example.com", "access_level": "EDITOR"},
                    {"email": "zed@outside.example", "access_level": "VIEWER"},
                ],
                "rows": [
                    row(1, "WR-1001", "2026-11-08", "Completed", 10, 125.0, **created),
                    row(2, "WR-1002", "2026-11-15", "In Progress", 4, 100.0, **created),
                    row(3, "WR-1003", "2026-11-15", "In Progress", "12", 50.0),
                    {"id": 4, "cells": {"Work Request #": "WR-1004"}, **created},
                    row(5, "WR-1005", "2026-11-01", "Invoiced", 2, 45.5, **created),
                ],
            },
            {
                "id": 4002,
                "name": "Crew 7 Billing",
                "workspace": "Billing",
                "columns": columns,
                "rows": [row(21, "WR-2001", "2026-11-08", "Approved", 3, 10.0, **created)],
            },
            {
                "id": 4003,
                "name": "Archive",
                "columns": columns[:2],
                "rows": [{"id": 31, "cells": {"Work Request #": "WR-0001", "Week Ending": "2026-10-04"}}],
            },
        ],
        "edits": [
            {
                "at": "2026-11-10T15:00:00Z",
                "by": "bob@example.com",
                "sheet": 4001,
                "row": 1,
                "set": {"Quantity": 12, "Redlined Total Price": 1500.0},
            },
            {"at": "2026-11-10T16:00:00Z", "by": "bob@example.com", "sheet": 4001, "row": 1, "set": {"Quantity": 12.0}},
            {"at": "2026-11-11T09:00:00Z", "by": "ana@example.com", "sheet": 4001, "row": 2, "delete": True},
            {
                "at": "2026-11-12T10:00:00Z",
                "by": "eve@contractor.example",
                "sheet": 4001,
                "add": {"id": 77, "cells": {"Work Request #": "WR-1077", "Week Ending": "2026-11-01", "Quantity": 3}},
            },
        ],
    }


# ----- SDK backoff without sleeping ---------------------------------------------------------------


def no_sleep_backoff(max_attempts: int = 3, on_retry: Callable[[int, Any], None] | None = None) -> Any:
    """An `AbstractUserCalcBackoff` for `smartsheet.Smartsheet(max_retry_time=...)`: retries at once.

    `on_retry(attempt, error_result)` runs before each retry (tests use it to reset rate windows).
    The SDK passes the instance as `max_retry_time`; it then sleeps the returned 0 seconds.
    """
    from smartsheet.smartsheet import AbstractUserCalcBackoff  # optional: the SDK is the client's, not ours

    class _NoSleep(AbstractUserCalcBackoff):
        def __init__(self) -> None:
            self.attempts: list[int] = []

        def calc_backoff(self, previous_attempts: int, total_elapsed_time: float, error_result: Any) -> float:
            if previous_attempts > max_attempts:
                return -1
            self.attempts.append(previous_attempts)
            if on_retry is not None:
                on_retry(previous_attempts, error_result)
            return 0.0

    return _NoSleep()


def virtual_clock_backoff(sim: Simulator, max_attempts: int = 3, seconds: float = 60.0) -> Any:
    """An `AbstractUserCalcBackoff` that waits on the simulator's clock: before each retry it calls
    `sim.sleep(seconds)` (Smartsheet advises at least 60 s after a 429), then lets the SDK retry at
    once. The edits due meanwhile happen while it waits; `attempts` records each retry.
    """
    from smartsheet.smartsheet import AbstractUserCalcBackoff  # optional: the SDK is the client's, not ours

    class _VirtualWait(AbstractUserCalcBackoff):
        def __init__(self) -> None:
            self.attempts: list[int] = []

        def calc_backoff(self, previous_attempts: int, total_elapsed_time: float, error_result: Any) -> float:
            if previous_attempts > max_attempts:
                return -1
            self.attempts.append(previous_attempts)
            sim.sleep(seconds)
            return 0.0

    return _VirtualWait()


# ----- a webhook receiver -------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_challenge(self) -> bool:
        return "Smartsheet-Hook-Challenge" in self.headers


@dataclass
class CallbackReceiver:
    """A tiny HTTP endpoint that answers challenges and records every POST it gets.

    `status` is the HTTP status for callbacks (challenges get 200 unless `answer_challenges` is
    False); `statuses`, when not empty, is consumed first, one status per callback. `delay_seconds`
    (wall time) passes before a callback is answered: past the simulator's
    `callback_timeout_seconds`, the callback times out.
    """

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    answer_challenges: bool = True
    echo_in_body: bool = False
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/callback"

    @property
    def callbacks(self) -> list[Received]:
        return [r for r in self.received if not r.is_challenge]

    @property
    def challenges(self) -> list[Received]:
        return [r for r in self.received if r.is_challenge]

    def start(self) -> CallbackReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = Received({k: v for k, v in self.headers.items()}, body)
                receiver.received.append(record)
                challenge = self.headers.get("Smartsheet-Hook-Challenge")
                headers: dict[str, str] = {}
                payload = b""
                if challenge is not None:
                    status = 200 if receiver.answer_challenges else 403
                    if receiver.answer_challenges:
                        if receiver.echo_in_body:
                            payload = json.dumps({"smartsheetHookResponse": challenge}).encode()
                        else:
                            headers["Smartsheet-Hook-Response"] = challenge
                else:
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                    if receiver.delay_seconds:
                        time.sleep(receiver.delay_seconds)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the simulator gave up waiting (a timeout)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# ----- OpenAPI validation -------------------------------------------------------------------------


def shared_dir() -> Path:
    """$BILLING_AUDIT_SHARED, else the `shared` folder beside the working directory (the repository, under pytest)."""
    env = os.environ.get("BILLING_AUDIT_SHARED")
    if env:
        return Path(env)
    return Path.cwd().resolve().parent / "shared"


def openapi_path() -> Path:
    return shared_dir() / "smartsheet" / "smartsheet-openapi-v2.json"


@lru_cache(maxsize=1)
def _registry() -> Any:
    # optional dev dependencies, only for OpenAPI validation
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    document = json.loads(openapi_path().read_text(encoding="utf-8"))
    return Registry().with_resource(OPENAPI_URN, Resource.from_contents(document, default_specification=DRAFT202012))


def escape_pointer(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def response_pointer(path: str, method: str, status: str = "200") -> str:
    """The JSON pointer of an operation's JSON response schema, e.g. for ("/sheets", "get")."""
    return f"#/paths/{escape_pointer(path)}/{method}/responses/{status}/content/application~1json/schema"


SHEET_POINTER = "#/components/schemas/Folder/properties/sheets/items"
VERSION_POINTER = response_pointer("/sheets/{sheetId}", "get") + "/oneOf/1"
ERROR_POINTER = "#/components/schemas/BulkItemFailure/properties/error"


def openapi_errors(instance: Any, pointer: str) -> list[str]:
    """Validation errors of `instance` against the schema at `pointer` in the OpenAPI file."""
    from jsonschema import Draft202012Validator  # optional dev dependency, only for OpenAPI validation

    validator = Draft202012Validator({"$ref": f"{OPENAPI_URN}{pointer}"}, registry=_registry())
    return [f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def assert_valid(instance: Any, pointer: str) -> None:
    errors = openapi_errors(instance, pointer)
    assert not errors, f"response does not match {pointer}: {errors[:5]}"
