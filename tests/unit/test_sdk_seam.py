"""The two places the product reaches inside smartsheet-python-sdk (smartsheet/sdk_seam.py).

A real SDK client sends through a fake transport (no sockets): if a release moves the session or
the token, these tests fail instead of production silently losing its timeout or token rotation.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import requests
import smartsheet
from requests.adapters import BaseAdapter

from billing_audit.smartsheet.sdk_seam import quiet_handled_error_responses, replace_token, set_request_timeout


class Recording(BaseAdapter):
    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.status = status
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        # The header as sent: the SDK's response hook redacts it on the request object afterwards.
        self.sent.append((str(request.headers.get("Authorization")), kwargs))
        response = requests.Response()
        response.status_code = self.status
        response.headers["Content-Type"] = "application/json"
        body = {"version": 7} if self.status == 200 else {"errorCode": 1006, "message": "Not Found"}
        response._content = json.dumps(body).encode()
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
