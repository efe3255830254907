"""A local stand-in for API Gateway (REST, Lambda proxy integration) in front of functions/webhook.

Each HTTP request to 127.0.0.1 becomes a version 1.0 proxy event (resource, path, httpMethod,
headers, multiValueHeaders, query strings, requestContext with requestId, stage and
identity.sourceIp, body, isBase64Encoded) and is handed to the webhook handler in process with a
LambdaContext (billing_audit_local.lambdas); the handler's proxy response becomes the HTTP
response.  Like one Lambda container (a cold start per front), the handler serves one request at
a time.  Like API Gateway, only POST /webhook is
routed (anything else gets 403 "Missing Authentication Token"), payloads over 10 MB get 413, and
a handler crash gets 502.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from billing_audit import resources as res
from billing_audit_local.environment import REGION
from billing_audit_local.lambdas import ACCOUNT_ID, Handler, LocalLambdaContext, load_handler

STAGE = "prod"
RESOURCE = "/webhook"
API_ID = "local0api1"
# functions/webhook's timeout and memory (infra/constructs/ingest.py; the memory is the default).
TIMEOUT_SECONDS = 10.0
MEMORY_MB = 256

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invocation:
    """One request the front passed to the handler (for tests; never the body)."""

    request_id: str
    status_code: int
    base64: bool
    body_bytes: int
    seconds: float


class WebhookFront:
    """`start()` returns the webhook URL; `base64_bodies` makes every event `isBase64Encoded`."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        base64_bodies: bool = False,
        max_payload_bytes: int = res.API_GATEWAY_MAX_BODY_BYTES,
        function_name: str = f"{res.APP_NAME}-webhook",
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self.base64_bodies = base64_bodies
        self.max_payload_bytes = max_payload_bytes
        self.function_name = function_name
        self.invocations: list[Invocation] = []
        self._container_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def handler(self) -> Handler:
        if self._handler is None:
            self._handler = load_handler("webhook", fresh=True).handler
        return self._handler

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the front is not running")
        return f"http://{self.host}:{self._server.server_address[1]}{RESOURCE}"

    def start(self) -> str:
        if self._server is not None:
            return self.url
        self.handler  # noqa: B018 - load the handler module now, not on the first request
        front = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _any(self) -> None:
                front._serve(self)

            do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _any

        server = ThreadingHTTPServer((self.host, self.port), RequestHandler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="webhook-front", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> WebhookFront:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one request ------------------------------------------------------------------------------
    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if length > self.max_payload_bytes:
            _reply(request, 413, {"message": "Request Too Long"}, close=True)
            return
        body = request.rfile.read(length) if length else b""
        split = urlsplit(request.path)
        if split.path.rstrip("/") != RESOURCE or request.command != "POST":
            _reply(request, 403, {"message": "Missing Authentication Token"})
            return
        event = self.event(request, split.query, body)
        context = LocalLambdaContext(self.function_name, timeout_seconds=TIMEOUT_SECONDS, memory_limit_in_mb=MEMORY_MB)
        started = time.monotonic()
        try:
            with self._container_lock:
                response = self.handler(event, context)
            status, headers, payload = _proxy_response(response)
        except Exception as exc:  # a crash or a malformed proxy answer: API Gateway says 502
            _log.error("webhook handler failed: %s", type(exc).__name__)
            status, headers, payload = (
                502,
                {"Content-Type": "application/json"},
                b'{"message": "Internal server error"}',
            )
        self.invocations.append(
            Invocation(
                event["requestContext"]["requestId"],
                status,
                bool(event["isBase64Encoded"]),
                len(body),
                time.monotonic() - started,
            )
        )
        _reply_raw(request, status, headers, payload)

    def event(self, request: BaseHTTPRequestHandler, query: str, body: bytes) -> dict[str, Any]:
        multi: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            multi.setdefault(name, []).append(value)
        queries = parse_qs(query, keep_blank_values=True) if query else {}
        encoded = self.base64_bodies
        text: str | None = None
        if body:
            if not encoded:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    encoded = True  # API Gateway passes bytes it cannot carry as text in base64
            if encoded:
                text = base64.b64encode(body).decode("ascii")
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        source_ip = request.client_address[0]
        return {
            "resource": RESOURCE,
            "path": RESOURCE,
            "httpMethod": request.command,
            "headers": {name: values[-1] for name, values in multi.items()},
            "multiValueHeaders": multi,
            "queryStringParameters": {k: v[-1] for k, v in queries.items()} or None,
            "multiValueQueryStringParameters": queries or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "whk001",
                "resourcePath": RESOURCE,
                "httpMethod": request.command,
                "extendedRequestId": request_id.replace("-", "")[:16] + "=",
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{STAGE}{RESOURCE}",
                "accountId": ACCOUNT_ID,
                "protocol": request.request_version,
                "stage": STAGE,
                "domainPrefix": API_ID,
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": request.headers.get("User-Agent"),
                    "user": None,
                },
                "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
                "apiId": API_ID,
            },
            "body": text,
            "isBase64Encoded": encoded,
        }


def _proxy_response(response: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        raise ValueError("malformed Lambda proxy response")
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if values:
            headers[str(name)] = ", ".join(str(v) for v in values)
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(response["statusCode"]), headers, payload


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any], *, close: bool = False) -> None:
    headers = {"Content-Type": "application/json"}
    if close:
        headers["Connection"] = "close"
        request.close_connection = True
    _reply_raw(request, status, headers, json.dumps(body).encode())


def _reply_raw(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes) -> None:
    request.send_response(status)
    for name, value in headers.items():
        if name.lower() not in ("content-length", "connection"):
            request.send_header(name, value)
    request.send_header("x-amzn-RequestId", str(uuid.uuid4()))
    request.send_header("Content-Length", str(len(payload)))
    if request.close_connection:
        request.send_header("Connection", "close")
    request.end_headers()
    request.wfile.write(payload)
