"""The two things smartsheet-python-sdk 4.x offers no public way to do, done in one place.

1. A per-request timeout: the SDK sends with none, and a Lambda must never hang on one request.
   The client's `requests.Session` (`client._session`) gets a `send` that supplies a timeout
   whenever the caller gave none; the SDK's own TLS adapter stays mounted.
2. Replacing the token of a live client after Smartsheet refused it (401): a rotated token must
   reach warm containers without rebuilding the client.  The SDK reads `client._access_token`
   on every request.

`tests/unit/test_sdk_seam.py` drives a real client through both seams with a fake transport, so an
SDK release that moves either attribute fails that test loudly instead of silently losing the
timeout or the rotation.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
import smartsheet

_SDK_LOGGER = "smartsheet.smartsheet"


def set_request_timeout(client: smartsheet.Smartsheet, seconds: float) -> None:
    session = client._session
    if not isinstance(session, requests.Session):
        raise TypeError(f"smartsheet-python-sdk changed: client._session is {type(session).__name__}")
    send = session.send

    def send_with_timeout(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = seconds
        return send(request, **kwargs)

    session.send = send_with_timeout  # type: ignore[method-assign]


def replace_token(client: smartsheet.Smartsheet, token: str) -> None:
    if not hasattr(client, "_access_token"):
        raise TypeError("smartsheet-python-sdk changed: the client keeps no _access_token")
    client._access_token = token


class _HandledErrorResponses(logging.Filter):
    """The SDK logs every non-2xx response at ERROR with its body, retried or not.  The adapter
    turns each failure into one `SmartsheetError` line without the body, so these records only
    duplicate it (and could carry cell values).  Everything else the SDK logs passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and str(record.msg).startswith('{"response"'))


_FILTER = _HandledErrorResponses()


def quiet_handled_error_responses() -> None:
    """Idempotent: the filter is installed once on the SDK's request logger."""
    logger = logging.getLogger(_SDK_LOGGER)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
