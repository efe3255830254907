"""The loopback HTTP server of the simulator: routing, authentication, rate limits, injected faults.

Quiet by design: nothing is logged (no tokens, no bodies).
"""

from __future__ import annotations

import hmac
import json
import random
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from smartsheet_sim.api import FILE_ROUTE, RawResponse, Request, Route, match
from smartsheet_sim.errors import ApiError

if TYPE_CHECKING:
    from smartsheet_sim.core import Simulator

API_PREFIX = "/2.0"
HISTORY_TEMPLATE = "/sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"
HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


class RateLimiter:
    """Sliding windows of wall-clock request times per token (general and cell history)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._general: dict[str, deque[float]] = {}
        self._history: dict[str, deque[float]] = {}

    def reset(self) -> None:
        with self._lock:
            self._general.clear()
            self._history.clear()

    def allow(self, token: str, is_history: bool, limit: int, history_limit: int, window: float) -> bool:
        now = time.monotonic()
        with self._lock:
            general = self._general.setdefault(token, deque())
            history = self._history.setdefault(token, deque())
            for times in (general, history):
                while times and now - times[0] >= window:
                    times.popleft()
            if len(general) >= limit or (is_history and len(history) >= history_limit):
                return False
            general.append(now)
            if is_history:
                history.append(now)
            return True


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sim: Simulator):
        self.sim = sim
        self.rate_limiter = RateLimiter()
        self._rng_lock = threading.Lock()
        self._rng_seed: int | None = None
        self._rng = random.Random(0)
        super().__init__(("127.0.0.1", 0), _Handler)

    def roll(self) -> float:
        """A deterministic random number for fault injection (reseeded when options.seed changes)."""
        with self._rng_lock:
            seed = self.sim.options.seed
            if seed != self._rng_seed:
                self._rng = random.Random(f"faults:{seed}")
                self._rng_seed = seed
            return self._rng.random()


def error_body(status: int, error_code: int, message: str) -> tuple[int, bytes, str]:
    body = {"errorCode": error_code, "message": message, "refId": uuid.uuid4().hex[:12]}
    return status, json.dumps(body).encode(), "application/json;charset=UTF-8"


class _Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.0"
    server_version = "SmartsheetSimulator/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json;charset=UTF-8")

    def _send_error(self, status: int, error_code: int, message: str, extra: dict[str, str] | None = None) -> None:
        _, body, content_type = error_body(status, error_code, message)
        self._send(status, body, content_type, extra)

    def _handle(self, method: str) -> None:
        sim = self.server.sim
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        body = self._read_body()
        route: Route | None
        path_params: dict[str, str] = {}
        path_exists = False
        if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
            api_path = path[len(API_PREFIX) :] or "/"
            route, path_params, path_exists = match(method, api_path)
        else:
            api_path = path
            found = FILE_ROUTE.pattern.match(path) if method == "GET" else None
            route = FILE_ROUTE if found else None
            path_params = found.groupdict() if found else {}
        key = route.key if route is not None else f"{method} <unknown>"
        sim.count_call(key)

        if route is None or route.authenticated:
            auth = self.headers.get("Authorization")
            if not auth or not auth.startswith("Bearer "):
                self._send_error(401, 1004, "You are not authorized to perform this action.")
                return
            if not hmac.compare_digest(auth[len("Bearer ") :].encode(), sim.token.encode()):
                self._send_error(401, 1002, "Your Access Token is invalid.")
                return

        options = sim.options
        if options.rate_limits and route is not None and route.authenticated:
            allowed = self.server.rate_limiter.allow(
                sim.token,
                route.template == HISTORY_TEMPLATE,
                options.requests_per_window,
                options.history_requests_per_window,
                options.rate_window_seconds,
            )
            if not allowed:
                self._send_error(429, 4003, "Rate limit exceeded.")
                return

        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)

        if options.fault_endpoints is None or key in options.fault_endpoints:
            if options.error_rate and self.server.roll() < options.error_rate:
                if options.error_status == 502:
                    self._send(502, HTML_502, "text/html")
                else:
                    self._send_error(500, 4004, "An unexpected error has occurred. Please retry your request.")
                return
            if options.timeout_rate and self.server.roll() < options.timeout_rate:
                time.sleep(options.timeout_seconds + 0.5)

        if route is None:
            if path_exists:
                self._send_error(405, 1000, "HTTP 405 Method Not Allowed")
            else:
                self._send_error(404, 1000, "HTTP 404 Not Found")
            return

        host, port = self.server.server_address[0], self.server.server_address[1]
        request = Request(
            method=method,
            path=api_path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            path_params=path_params,
            host=str(host),
            port=int(port),
        )
        try:
            if route.locked:
                with sim.lock:
                    result = route.handler(sim, request)
            else:
                result = route.handler(sim, request)
        except ApiError as exc:
            self._send_error(exc.status, exc.error_code, exc.message)
            return
        except Exception as exc:  # a simulator bug: answer it rather than drop the connection
            self._send_error(500, 4000, f"Simulator error: {type(exc).__name__}")
            return
        if isinstance(result, RawResponse):
            self._send(result.status, result.body, result.content_type, result.headers)
        else:
            self._send_json(200, result)
