"""Errors the simulated API answers with (Smartsheet's Error object: errorCode, message, refId)."""

from __future__ import annotations


class ApiError(Exception):
    """Raised by an endpoint to answer with an HTTP error and a Smartsheet error body."""

    def __init__(self, status: int, error_code: int, message: str):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def not_found(what: str = "Not Found") -> ApiError:
    return ApiError(404, 1006, what)


def bad_request(message: str, error_code: int = 1018) -> ApiError:
    return ApiError(400, error_code, message)
