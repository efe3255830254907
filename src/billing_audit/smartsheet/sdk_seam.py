"""What smartsheet-python-sdk 4.x offers no public way to do, done in one place.

1. A per-request timeout: the SDK sends with none, and a Lambda must never hang on one request.
   The client's `requests.Session` (`client._session`) gets a `send` that supplies a timeout
   whenever the caller gave none; the SDK's own TLS adapter stays mounted.
2. Replacing the token of a live client after Smartsheet refused it (401): a rotated token must
   reach warm containers without rebuilding the client.  The SDK reads `client._access_token`
   on every request.
3. A sheet read without the SDK's models: they parse every timestamp with dateutil and wrap every
   cell in an object, some 20x the cost of the HTTP exchange itself for a 2,000-row sheet.
   `get_json` sends through the SDK's own request pipeline (`prepare_request`: token, user agent,
   change agent; `request_with_retry`: the configured backoff; the session: its timeout) and
   returns the JSON body, failing exactly as the SDK's `request` would.
4. The SDK decodes and re-encodes every successful JSON body for a debug log line before asking
   whether anyone listens: `lazy_response_log` skips that when its logger is not at DEBUG.
5. The SDK sends through `session.send`, where requests re-reads the proxy variables (and, as it
   prepares, looks for a .netrc) for every request: milliseconds each, more than a cell-history
   exchange's own parsing.  `settle_environment` reads the proxies for the API's host once, when
   the client is built, and turns the per-request lookups off; a proxy the environment names is
   still used.  The token goes in the SDK's own header, so .netrc never applied.

`tests/unit/test_sdk_seam.py` drives a real client through both seams with a fake transport, so an
SDK release that moves either attribute fails that test loudly instead of silently losing the
timeout or the rotation.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
import smartsheet
import smartsheet.exceptions
from smartsheet.smartsheet import OperationErrorResult, OperationResult
from smartsheet.util import fresh_operation

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


def settle_environment(client: smartsheet.Smartsheet, api_base: str) -> None:
    session = client._session
    if not isinstance(session, requests.Session):
        raise TypeError(f"smartsheet-python-sdk changed: client._session is {type(session).__name__}")
    session.proxies.update(requests.utils.get_environ_proxies(api_base))
    session.trust_env = False


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


def get_json(client: smartsheet.Smartsheet, path: str, query: dict[str, Any]) -> Any:
    """GET `path` (below the API base) as the SDK's `Passthrough.get` sends it, the body parsed as
    plain JSON.  Lists in `query` are joined with commas, as the SDK joins them.  A failure raises
    the `ApiError` subclass the SDK's own `request` raises for it."""
    operation = fresh_operation("get_json")
    operation["method"] = "GET"
    operation["path"] = path
    operation["query_params"] = {key: value for key, value in query.items() if value is not None}
    result = client.request_with_retry(client.prepare_request(operation), operation)
    if isinstance(result, OperationResult):
        try:
            return result.resp.json()
        except ValueError:  # a 2xx that is not JSON: the SDK makes it an error result too
            result = OperationErrorResult(result.op_result, result.resp)
    error = result.native("Error")
    kind = getattr(smartsheet.exceptions, error.result.name, smartsheet.exceptions.ApiError)
    raise kind(error, f"{error.result.code}: {error.result.message or 'Unknown error'}")


def lazy_response_log(client: smartsheet.Smartsheet) -> None:
    """The SDK's request log, without decoding a successful body nobody logs.  Error responses and
    a logger at DEBUG go through the SDK's own `_log_request` unchanged."""
    log_request = client._log_request
    logger = client._log
    if not callable(log_request) or not isinstance(logger, logging.Logger):
        raise TypeError("smartsheet-python-sdk changed: the client has no _log_request or _log")

    def log_lazily(operation: dict[str, Any], response: requests.Response) -> None:
        if not 200 <= response.status_code <= 299 or logger.isEnabledFor(logging.DEBUG):
            log_request(operation, response)
        elif logger.isEnabledFor(logging.INFO):
            logger.info('{"request": {"command": "%s %s"}}', response.request.method, response.request.url)

    client._log_request = log_lazily
