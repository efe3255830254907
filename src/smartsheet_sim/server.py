"""The loopback HTTP server of the simulator: routing, authentication, rate limits, injected faults.

A request target longer than `options.max_url_bytes` is answered first, 414 with an HTML body, as a
web server in front of an API does (counted, but before authentication and rate limits).

Quiet by design: nothing is logged (no tokens, no bodies).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import socket
import struct
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from smartsheet_sim.api import FILE_ROUTE, match_api
from smartsheet_sim.api.routing import RawResponse, Request, Route
from smartsheet_sim.backend import Backend
from smartsheet_sim.errors import ApiError
from smartsheet_sim.traffic import CallCounter, FaultDice, RateLimiter

API_PREFIX = "/2.0"
HTML_414 = (
    b"<html><head><title>414 Request-URI Too Large</title></head><body>"
    b"<center><h1>414 Request-URI Too Large</h1></center></body></html>"
)
HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


class SimulatorServer(ThreadingHTTPServer):
    """Serves `backend` on 127.0.0.1 (a free port) to the bearer of `token`, counting calls in `calls`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, backend: Backend, token: str, calls: CallCounter):
        self.backend = backend
        self.token = token
        self.calls = calls
        self.rate_limiter = RateLimiter()
        self.dice = FaultDice()
        super().__init__(("127.0.0.1", 0), _Handler)

    def roll(self) -> float:
        """A deterministic random number for fault injection (reseeded when options.seed changes)."""
        return self.dice.roll(self.backend.options.seed)


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

    def _reset(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0), answering nothing."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json;charset=UTF-8")

    def _send_error(self, status: int, error_code: int, message: str, extra: dict[str, str] | None = None) -> None:
        _, body, content_type = error_body(status, error_code, message)
        self._send(status, body, content_type, extra)

    def _handle(self, method: str) -> None:
        server = self.server
        backend = server.backend
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        body = self._read_body()
        route: Route | None
        path_params: dict[str, str] = {}
        path_exists = False
        if path.startswith(API_PREFIX + "/") or path == API_PREFIX:
            api_path = path[len(API_PREFIX) :] or "/"
            route, path_params, path_exists = match_api(method, api_path)
        else:
            api_path = path
            found = FILE_ROUTE.pattern.match(path) if method == "GET" else None
            route = FILE_ROUTE if found else None
            path_params = found.groupdict() if found else {}
        key = route.key if route is not None else f"{method} <unknown>"
        server.calls.count(key)

        url_limit = backend.options.max_url_bytes
        if url_limit is not None and len(self.path.encode()) > url_limit:
            self._send(414, HTML_414, "text/html")
            return

        if route is None or route.authenticated:
            auth = self.headers.get("Authorization")
            if not auth or not auth.startswith("Bearer "):
                self._send_error(401, 1004, "You are not authorized to perform this action.")
                return
            if not hmac.compare_digest(auth[len("Bearer ") :].encode(), server.token.encode()):
                self._send_error(401, 1002, "Your Access Token is invalid.")
                return

        options = backend.options
        if options.rate_limits and route is not None and route.authenticated:
            allowed = server.rate_limiter.allow(
                server.token,
                route.history_limited,
                options.requests_per_window,
                options.history_requests_per_window,
                options.rate_window_seconds,
                now=backend.state.now.timestamp(),
                history_weight=options.history_request_weight,
            )
            if not allowed:
                self._send_error(429, 4003, "Rate limit exceeded.")
                return

        if options.latency_ms:
            time.sleep(options.latency_ms / 1000)

        if options.fault_endpoints is None or key in options.fault_endpoints:
            if options.error_rate and server.roll() < options.error_rate:
                if options.error_status == 502:
                    self._send(502, HTML_502, "text/html")
                else:
                    self._send_error(500, 4004, "An unexpected error has occurred. Please retry your request.")
                return
            if options.timeout_rate and server.roll() < options.timeout_rate:
                time.sleep(options.timeout_seconds + 0.5)
            if options.reset_rate and server.roll() < options.reset_rate:
                self._reset()
                return

        if route is None:
            if path_exists:
                self._send_error(405, 1000, "HTTP 405 Method Not Allowed")
            else:
                self._send_error(404, 1000, "HTTP 404 Not Found")
            return

        host, port = server.server_address[0], server.server_address[1]
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
                with backend.state.lock:
                    result = route.handler(backend, request)
            else:
                result = route.handler(backend, request)
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
