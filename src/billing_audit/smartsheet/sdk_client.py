"""The SmartsheetGateway over the real smartsheet-python-sdk (NOTES.md lists the quirks handled here)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import requests
import smartsheet
from smartsheet.exceptions import ApiError, HttpError, SmartsheetException, UnexpectedRequestError

from billing_audit.domain.models import CellEntry, ColumnMap
from billing_audit.domain.values import CellValue
from billing_audit.resources import CHANGE_AGENT
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.models import RowData, SheetData, SheetRef, UserData
from billing_audit.smartsheet.sdk_seam import quiet_handled_error_responses, replace_token, set_request_timeout

API_BASES = {
    "us": "https://api.smartsheet.com/2.0",
    "eu": "https://api.smartsheet.eu/2.0",
    "gov": "https://api.smartsheetgov.com/2.0",
}
DEFAULT_TIMEOUT_SECONDS = 20.0
HISTORY_PAGE_SIZE = 100
RETRYABLE_CODES = frozenset({4001, 4002, 4003, 4004})
RATE_LIMITED = 4003


class ExponentialBackoff(smartsheet.smartsheet.AbstractUserCalcBackoff):
    """Back off on 4001-4004; `base_seconds=0` makes retries instant for tests.

    A rate-limit answer (4003) waits at least `rate_limit_seconds`, as Smartsheet advises: its
    limits are per minute, so a shorter wait only spends another request.
    """

    def __init__(
        self,
        max_retry_seconds: float = 150.0,
        base_seconds: float = 1.0,
        max_attempts: int = 6,
        rate_limit_seconds: float = 60.0,
    ) -> None:
        self.max_retry_seconds = max_retry_seconds
        self.base_seconds = base_seconds
        self.max_attempts = max_attempts
        self.rate_limit_seconds = rate_limit_seconds
        self.retries = 0

    def calc_backoff(self, previous_attempts: int, total_elapsed_time: float, error_result: Any) -> float:
        if previous_attempts > self.max_attempts:
            return -1
        backoff = self.base_seconds * (2 ** (previous_attempts - 1))
        if getattr(error_result, "code", None) == RATE_LIMITED:
            backoff = max(backoff, self.rate_limit_seconds)
        if total_elapsed_time + backoff > self.max_retry_seconds:
            return -1
        self.retries += 1
        return backoff


class _Unauthorized(Exception):
    pass


def resolve_api_base(value: str) -> str:
    """`us`, `eu`, `gov` or a URL ending in /2.0 (the simulator's)."""
    base = value.strip()
    base = API_BASES.get(base.lower(), base)
    if not base.rstrip("/").endswith("/2.0"):
        raise SmartsheetError(f"Smartsheet API base must end in /2.0: {base}")
    return base.rstrip("/")


class SdkSmartsheet:
    """Every Smartsheet read and write the product makes, counted by endpoint."""

    def __init__(
        self,
        token: str,
        api_base: str = "us",
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        backoff: ExponentialBackoff | None = None,
        renew_token: Callable[[], str] | None = None,
    ) -> None:
        """`renew_token` re-reads the token after a 401: a rotated secret reaches warm containers."""
        self.renew_token = renew_token
        if not token:
            raise SmartsheetError("no Smartsheet token")
        self.api_base = resolve_api_base(api_base)
        self.backoff = backoff or ExponentialBackoff()
        self.client = smartsheet.Smartsheet(
            access_token=token, api_base=self.api_base, max_retry_time=self.backoff, user_agent="billing-audit"
        )
        self.client.errors_as_exceptions(True)
        self.client.with_change_agent(CHANGE_AGENT)
        set_request_timeout(self.client, timeout_seconds)
        quiet_handled_error_responses()
        self._calls: Counter[str] = Counter()

    # -- plumbing ---------------------------------------------------------------------------------
    def call(self, endpoint: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """One SDK operation, counted under `endpoint`; failures become one-line `SmartsheetError`s
        and a refused token is renewed once.  Every Smartsheet request of the product goes through here."""
        try:
            return self._call_once(endpoint, func, *args, **kwargs)
        except _Unauthorized:
            if self.renew_token is None:
                raise SmartsheetError(f"Smartsheet {endpoint} failed: HTTP 401: the token was refused") from None
            # The SDK keeps the token it was built with; a rotated one replaces it in place.
            replace_token(self.client, self.renew_token())
            try:
                return self._call_once(endpoint, func, *args, **kwargs)
            except _Unauthorized:
                raise SmartsheetError(f"Smartsheet {endpoint} failed: HTTP 401: the token was refused") from None

    def _call_once(self, endpoint: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        self._calls[endpoint] += 1
        try:
            return func(*args, **kwargs)
        except ApiError as exc:
            error = exc.error.result
            if error.status_code == HTTPStatus.UNAUTHORIZED:
                raise _Unauthorized from None
            raise SmartsheetError(
                f"Smartsheet {endpoint} failed: HTTP {error.status_code} code {error.code}: {error.message}"
            ) from None
        except (UnexpectedRequestError, HttpError, requests.RequestException) as exc:
            raise SmartsheetError(
                f"Smartsheet {endpoint} unreachable: {type(exc).__name__} ({self.api_base})"
            ) from None
        except SmartsheetException as exc:
            raise SmartsheetError(f"Smartsheet {endpoint} failed: {type(exc).__name__} ({self.api_base})") from None

    def call_counts(self) -> dict[str, int]:
        return dict(self._calls)

    # -- reads ------------------------------------------------------------------------------------
    def sheet_changes(
        self, sheet_id: int, *, after_version: int | None, modified_since: datetime | None
    ) -> SheetData | None:
        kwargs: dict[str, Any] = {"include": "writerInfo"}
        if after_version is not None:
            kwargs["if_version_after"] = after_version
        if modified_since is not None:
            # An ISO string: the SDK would send a datetime with a space instead of "T".
            kwargs["rows_modified_since"] = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sheet = self.call("GET /sheets/{sheetId}", self.client.Sheets.get_sheet, sheet_id, **kwargs)
        if after_version is not None and not sheet.columns and sheet.id is None:
            return None  # only {"version": N}: nothing moved
        return _sheet_data(sheet)

    def row_ids(self, sheet_id: int, primary_column_id: int | None) -> set[int]:
        column_ids = [primary_column_id] if primary_column_id is not None else None
        sheet = self.call("GET /sheets/{sheetId}", self.client.Sheets.get_sheet, sheet_id, column_ids=column_ids)
        return {int(row.id) for row in sheet.rows}

    def rows(self, sheet_id: int, row_ids: Sequence[int]) -> SheetData:
        sheet = self.call(
            "GET /sheets/{sheetId}",
            self.client.Sheets.get_sheet,
            sheet_id,
            include="writerInfo",
            row_ids=list(row_ids),
        )
        return _sheet_data(sheet)

    def cell_history(self, sheet_id: int, row_id: int, column_id: int, column_title: str) -> list[CellEntry]:
        entries: list[CellEntry] = []
        page = 1
        while True:
            result = self.call(
                "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history",
                self.client.Cells.get_cell_history,
                sheet_id,
                row_id,
                column_id,
                page_size=HISTORY_PAGE_SIZE,
                page=page,
            )
            for item in result.data:
                by = item.modified_by.email if item.modified_by is not None else None
                entries.append(CellEntry(column=column_title, value=_value(item.value), at=item.modified_at, by=by))
            if page >= (result.total_pages or 1):
                break
            page += 1
        # Smartsheet lists newest first; the replay wants oldest first, equal times in save order.
        entries.reverse()
        return entries

    def workspace_sheets(self, workspace_id: int) -> list[SheetRef]:
        # SDK 4.x only wraps /children and /metadata; the spec's GET /workspaces/{id}?loadAll=true
        # returns the whole tree in one call, so it goes through the SDK's passthrough.
        tree = self.call(
            "GET /workspaces/{workspaceId}",
            self.client.Passthrough.get,
            f"/workspaces/{int(workspace_id)}",
            {"loadAll": "true"},
        )
        return _container_sheets(tree.data or {})

    def folder_sheets(self, folder_id: int) -> list[SheetRef]:
        tree = self.call("GET /folders/{folderId}", self.client.Passthrough.get, f"/folders/{int(folder_id)}", None)
        return _container_sheets(tree.data or {})

    def users(self) -> list[UserData]:
        result = self.call("GET /users", self.client.Users.list_users, include_all=True)
        return [
            UserData(
                id=u.id,
                email=u.email,
                name=u.name,
                status=str(u.status) if u.status is not None else None,
                last_login=u.last_login,
            )
            for u in result.data
        ]


def _value(value: Any) -> CellValue:
    if isinstance(value, str | int | float | bool):
        return value
    return None


def _container_sheets(container: dict[str, Any]) -> list[SheetRef]:
    """Sheets of a workspace or folder JSON, sub-folders included."""
    refs = [SheetRef(id=s["id"], name=s["name"]) for s in container.get("sheets") or []]
    for folder in container.get("folders") or []:
        refs.extend(_container_sheets(folder))
    return refs


def _sheet_data(sheet: Any) -> SheetData:
    titles = {int(column.id): str(column.title) for column in sheet.columns}
    primary = next((int(c.id) for c in sheet.columns if c.primary), None)
    rows = []
    for row in sheet.rows:
        values: dict[str, CellValue] = {}
        for cell in row.cells:
            title = titles.get(int(cell.column_id))
            if title is not None:
                values[title] = _value(cell.value)
        rows.append(
            RowData(
                id=row.id,
                created_at=row.created_at,
                created_by=row.created_by.email if row.created_by is not None else None,
                modified_at=row.modified_at,
                modified_by=row.modified_by.email if row.modified_by is not None else None,
                values=values,
            )
        )
    return SheetData(
        id=sheet.id,
        name=sheet.name,
        version=sheet.version,
        total_row_count=sheet.total_row_count or len(rows),
        columns=ColumnMap(ids_by_title={title: column_id for column_id, title in titles.items()}),
        primary_column_id=primary,
        rows=rows,
    )
