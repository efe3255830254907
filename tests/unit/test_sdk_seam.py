"""The places the product reaches inside smartsheet-python-sdk (smartsheet/sdk_seam.py).

A real SDK client sends through a fake transport (no sockets): if a release moves the session or
the token, these tests fail instead of production silently losing its timeout or token rotation.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import pytest
import requests
import smartsheet
from requests.adapters import BaseAdapter

from billing_audit.smartsheet.sdk_seam import (
    get_json,
    lazy_response_log,
    quiet_handled_error_responses,
    replace_token,
    set_request_timeout,
    settle_environment,
)


class Recording(BaseAdapter):
    def __init__(self, status: int = 200, body: bytes | None = None, content_type: str = "application/json") -> None:
        super().__init__()
        self.status = status
        self.body = body
        self.content_type = content_type
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        # The header as sent: the SDK's response hook redacts it on the request object afterwards.
        self.sent.append((str(request.headers.get("Authorization")), kwargs))
        self.requests.append(request.copy())
        response = requests.Response()
        response.status_code = self.status
        response.headers["Content-Type"] = self.content_type
        body = {"version": 7} if self.status == 200 else {"errorCode": 1006, "message": "Not Found"}
        response._content = self.body if self.body is not None else json.dumps(body).encode()
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def _client(adapter: Recording) -> smartsheet.Smartsheet:
    client = smartsheet.Smartsheet(access_token="first-token", api_base="https://sdk-seam.invalid/2.0")
    client.errors_as_exceptions(True)
    client._session.mount("https://", adapter)
    return client


def test_every_request_gets_the_timeout_and_the_current_token() -> None:
    adapter = Recording()
    client = _client(adapter)
    set_request_timeout(client, 7.5)
    assert client.Sheets.get_sheet_version(1).version == 7
    replace_token(client, "rotated-token")
    client.Sheets.get_sheet_version(1)
    (first, first_kwargs), (second, second_kwargs) = adapter.sent
    assert first_kwargs["timeout"] == 7.5 and second_kwargs["timeout"] == 7.5
    assert first == "Bearer first-token" and second == "Bearer rotated-token"


def test_proxies_are_read_once_when_the_client_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    adapter = Recording()
    client = _client(adapter)
    settle_environment(client, "https://sdk-seam.invalid/2.0")
    monkeypatch.delenv("HTTPS_PROXY")  # read already: later changes reach no request
    client.Sheets.get_sheet_version(1)
    assert adapter.sent[0][1]["proxies"].get("https") == "http://proxy.invalid:3128"
    assert client._session.trust_env is False


def test_a_host_the_environment_exempts_gets_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "sdk-seam.invalid")
    adapter = Recording()
    client = _client(adapter)
    settle_environment(client, "https://sdk-seam.invalid/2.0")
    client.Sheets.get_sheet_version(1)
    assert not adapter.sent[0][1]["proxies"].get("https")


def test_only_the_sdks_handled_error_dumps_are_dropped(caplog: Any) -> None:
    client = _client(Recording(status=404))
    quiet_handled_error_responses()
    quiet_handled_error_responses()  # idempotent
    sdk_logger = logging.getLogger("smartsheet.smartsheet")
    assert len(sdk_logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="smartsheet"):
        with contextlib.suppress(smartsheet.exceptions.ApiError):
            client.Sheets.get_sheet_version(1)
        sdk_logger.error("something else went wrong")
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("smartsheet")]
    assert not any(message.startswith('{"response"') and "Not Found" in message for message in messages)
    assert "something else went wrong" in messages
    assert any('"request"' in message for message in messages)  # the SDK's own INFO lines still pass


def test_get_json_sends_as_the_sdk_does_and_returns_the_body() -> None:
    adapter = Recording(body=json.dumps({"id": 1, "rows": [{"id": 2, "createdAt": "2026-11-16T15:00:00Z"}]}).encode())
    client = _client(adapter)
    client.with_change_agent("billing-audit-test")
    set_request_timeout(client, 4.0)
    body = get_json(client, "/sheets/1", {"include": "writerInfo", "rowIds": [3, 4], "level": None})
    assert body == {"id": 1, "rows": [{"id": 2, "createdAt": "2026-11-16T15:00:00Z"}]}  # strings, not models
    (sent,) = adapter.requests
    assert sent.url == "https://sdk-seam.invalid/2.0/sheets/1?include=writerInfo&rowIds=3%2C4"
    assert sent.headers["Smartsheet-Change-Agent"] == "billing-audit-test"
    assert sent.headers["Authorization"] == "Bearer first-token"
    assert adapter.sent[0][1]["timeout"] == 4.0


def test_get_json_fails_as_the_sdk_would() -> None:
    client = _client(Recording(status=404))
    with pytest.raises(smartsheet.exceptions.ApiError) as raised:
        get_json(client, "/sheets/1", {})
    assert raised.value.error.result.status_code == 404 and raised.value.error.result.code == 1006
    # A 2xx whose body is not JSON (a proxy's page) is an error, not a crash.
    client = _client(Recording(body=b"<html>maintenance</html>", content_type="text/html"))
    with pytest.raises(smartsheet.exceptions.ApiError):
        get_json(client, "/sheets/1", {})


def test_the_response_log_decodes_a_body_only_for_debug(caplog: Any) -> None:
    # Invalid JSON under a JSON content type: the SDK's own logger would raise decoding it.
    client = _client(Recording(body=b"{not json", content_type="application/json"))
    lazy_response_log(client)
    with caplog.at_level(logging.INFO, logger="smartsheet"), pytest.raises(smartsheet.exceptions.ApiError):
        get_json(client, "/sheets/1", {})
    assert any('"request"' in record.getMessage() for record in caplog.records)  # the INFO line stays
    client = _client(Recording())
    lazy_response_log(client)
    with caplog.at_level(logging.DEBUG, logger="smartsheet"):
        get_json(client, "/sheets/1", {})
    assert any('"statusCode": 200' in record.getMessage() for record in caplog.records)  # DEBUG: the SDK's own
