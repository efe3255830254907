"""The SmartsheetGateway over the real smartsheet-python-sdk (NOTES.md lists the quirks handled here).

One cohesive thing, kept whole on purpose: every request the product makes goes through
`SdkSmartsheet.call` (paced by the shared budget, counted, its failures turned into one-line
errors, a refused token renewed), and the readers beside it turn the SDK's answers into ours.
Sheet rows and cell histories, the reads whose size grows with the sheet, are parsed from the
JSON body straight into our models (`sdk_seam.get_json`: the SDK's session, headers, retries and
errors, without its model classes); the rest use the SDK's models.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import requests
import smartsheet
from pydantic import TypeAdapter
from smartsheet.exceptions import ApiError, HttpError, SmartsheetException, UnexpectedRequestError

from billing_audit.budget import Priority, cost_of
from billing_audit.bulk import prevalidated
from billing_audit.clock import Sleeper, system_sleep
from billing_audit.domain.models import CellEntry
from billing_audit.domain.values import CellValue
from billing_audit.resources import (
    CHANGE_AGENT,
    SMARTSHEET_REQUEST_TIMEOUT_SECONDS,
    SMARTSHEET_RETRY_ATTEMPTS,
    SMARTSHEET_RETRY_BUDGET_SECONDS,
)
from billing_audit.smartsheet.gateway import RequestBudget, SmartsheetError
from billing_audit.smartsheet.models import RowData, SheetData, SheetRef, UserData
from billing_audit.smartsheet.sdk_seam import (
    get_json,
    lazy_response_log,
    quiet_handled_error_responses,
    replace_token,
    set_request_timeout,
    settle_environment,
)

API_BASES = {
    "us": "https://api.smartsheet.com/2.0",
    "eu": "https://api.smartsheet.eu/2.0",
    "gov": "https://api.smartsheetgov.com/2.0",
}
HISTORY_PAGE_SIZE = 100
# Lists page by a `lastKey` cursor of 100 to 1000 items (NOTES.md); the largest costs fewest calls.
LIST_PAGE_SIZE = 1000
# Row ids a `GET /sheets/{id}?rowIds=` request names at most. Past about a thousand Smartsheet answers
# 414 with an HTML body, which the SDK does not retry (NOTES.md). An id has up to 19 digits and the SDK
# joins them with "," (sent as "%2C"), so 100 ids make at most ~2.2 KB of query: a quarter of the
# common 8 KB web-server limit (the simulator's), under the 4 KB some proxies allow, whatever else
# the URL carries. Each chunk is one request against the token's budget: 2,000 rows cost 20.
ROW_IDS_PER_REQUEST = 100
_CELL_ENTRIES = TypeAdapter(list[CellEntry])
RETRYABLE_CODES = frozenset({4001, 4002, 4003, 4004})
RATE_LIMITED = 4003


class ExponentialBackoff(smartsheet.smartsheet.AbstractUserCalcBackoff):
    """Back off on 4001-4004; `base_seconds=0` makes retries instant for tests.

    A rate-limit answer (4003) waits at least `rate_limit_seconds`, as Smartsheet advises: its
    limits are per minute, so a shorter wait only spends another request.

    With a `sleep` (the injected clock's), the wait happens here and the SDK retries at once, so a
    virtual clock sees every wait.  Then a rate limit means waiting, never failing: its retries do
    not count toward `max_retry_seconds`, only toward `max_rate_limit_attempts`.
    """

    def __init__(
        self,
        max_retry_seconds: float = SMARTSHEET_RETRY_BUDGET_SECONDS,
        base_seconds: float = 1.0,
        max_attempts: int = SMARTSHEET_RETRY_ATTEMPTS,
        rate_limit_seconds: float = 60.0,
        *,
        sleep: Sleeper | None = None,
        max_rate_limit_attempts: int = 30,
    ) -> None:
        self.max_retry_seconds = max_retry_seconds
        self.base_seconds = base_seconds
        self.max_attempts = max_attempts
        self.rate_limit_seconds = rate_limit_seconds
        self.sleep = sleep
        self.max_rate_limit_attempts = max_rate_limit_attempts
        self.retries = 0
        self._waited = 0.0  # this request's waits other than rate limits (sleep mode)

    def calc_backoff(self, previous_attempts: int, total_elapsed_time: float, error_result: Any) -> float:
        rate_limited = getattr(error_result, "code", None) == RATE_LIMITED
        if self.sleep is None:
            return self._sdk_waits(previous_attempts, total_elapsed_time, rate_limited)
        if previous_attempts == 1:
            self._waited = 0.0
        if previous_attempts > (self.max_rate_limit_attempts if rate_limited else self.max_attempts):
            return -1
        backoff = self.base_seconds * (2 ** (previous_attempts - 1))
        if rate_limited:
            backoff = max(backoff, self.rate_limit_seconds)
        elif self._waited + backoff > self.max_retry_seconds:
            return -1
        else:
            self._waited += backoff
        self.retries += 1
        self.sleep(backoff)
        return 0.0

    def _sdk_waits(self, previous_attempts: int, total_elapsed_time: float, rate_limited: bool) -> float:
        if previous_attempts > self.max_attempts:
            return -1
        backoff = self.base_seconds * (2 ** (previous_attempts - 1))
        if rate_limited:
            backoff = max(backoff, self.rate_limit_seconds)
        if total_elapsed_time + backoff > self.max_retry_seconds:
            return -1
        self.retries += 1
        return backoff


class _Unauthorized(Exception):
    pass


@dataclass(frozen=True)
class ListPage:
    """One page of a Smartsheet list, in whichever paging its endpoint speaks."""

    items: list[Any]
    last_key: str | None = None
    total_pages: int | None = None  # the older page numbers: -1 where Smartsheet no longer counts
    page_size: int | None = None


def every_item(fetch: Callable[[str | None, int], ListPage], key: Callable[[Any], Hashable]) -> list[Any]:
    """Every item of a list, `fetch(last_key, page_number)` reading one page.

    A `lastKey` is followed until a page comes without one (a page before that may be short, even
    empty).  Without a cursor, the older page numbers are read up to `totalPages`, or, where that
    is -1 (`GET /webhooks` since 2025-08-04), until a page comes back short.  A cursor that does
    not move, or a numbered page that brings nothing new (a page number the server ignored), ends
    the list rather than looping; items are kept once each, by `key`.
    """
    items: dict[Hashable, Any] = {}
    last_key: str | None = None
    number = 1
    while True:
        page = fetch(last_key, number)
        known = len(items)
        for item in page.items:
            items.setdefault(key(item), item)
        grew = len(items) > known
        if page.last_key:
            if page.last_key == last_key:
                break  # a cursor that does not move (a page may be short, even empty, mid-list)
            last_key, number = page.last_key, number + 1
            continue
        if last_key is not None or page.total_pages is None:
            break  # the end of a cursor, or a list that is not paged
        if page.total_pages > 0:
            done = number >= page.total_pages
        else:
            done = len(page.items) < (page.page_size or LIST_PAGE_SIZE)
        if done or not grew:
            break
        number += 1
    return list(items.values())


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


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
        timeout_seconds: float = SMARTSHEET_REQUEST_TIMEOUT_SECONDS,
        backoff: ExponentialBackoff | None = None,
        renew_token: Callable[[], str] | None = None,
        budget: RequestBudget | None = None,
        priority: Priority = Priority.SCAN,
        sleep: Sleeper = system_sleep,
    ) -> None:
        """`renew_token` re-reads the token after a 401: a rotated secret reaches warm containers.
        `budget` paces every request at the token's limits (shared by every user of the token);
        `sleep` is how this adapter waits, for the budget and for Smartsheet's retry answers."""
        self.renew_token = renew_token
        self.budget = budget
        self.priority = priority
        self.sleep = sleep
        self.waited_seconds = 0.0
        if not token:
            raise SmartsheetError("no Smartsheet token")
        self.api_base = resolve_api_base(api_base)
        self.backoff = backoff or ExponentialBackoff(sleep=sleep)
        self.client = smartsheet.Smartsheet(
            access_token=token, api_base=self.api_base, max_retry_time=self.backoff, user_agent="billing-audit"
        )
        self.client.errors_as_exceptions(True)
        self.client.with_change_agent(CHANGE_AGENT)
        set_request_timeout(self.client, timeout_seconds)
        settle_environment(self.client, self.api_base)
        lazy_response_log(self.client)
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

    def _pace(self, endpoint: str) -> None:
        """Wait until the shared budget grants this request, so Smartsheet seldom answers 429."""
        if self.budget is None:
            return
        cost = cost_of(endpoint)
        while (wait := self.budget.take(cost, self.priority)) > 0:
            self.waited_seconds += wait
            self.sleep(wait)

    def _call_once(self, endpoint: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        self._pace(endpoint)
        self._calls[endpoint] += 1
        try:
            return func(*args, **kwargs)
        except ApiError as exc:
            error = exc.error.result
            if error.status_code == HTTPStatus.UNAUTHORIZED:
                raise _Unauthorized from None
            raise SmartsheetError(
                f"Smartsheet {endpoint} failed: HTTP {error.status_code} code {error.code}: {error.message}",
                status=error.status_code,
            ) from None
        except (UnexpectedRequestError, HttpError, requests.RequestException) as exc:
            raise SmartsheetError(
                f"Smartsheet {endpoint} unreachable: {type(exc).__name__} ({self.api_base})"
            ) from None
        except SmartsheetException as exc:
            raise SmartsheetError(f"Smartsheet {endpoint} failed: {type(exc).__name__} ({self.api_base})") from None
        except ValueError as exc:
            # Named by type alone: http.client's message for a header it cannot send quotes the
            # header, and the Authorization header is the token.
            raise SmartsheetError(f"Smartsheet {endpoint} failed: {type(exc).__name__} ({self.api_base})") from None

    def call_counts(self) -> dict[str, int]:
        return dict(self._calls)

    # -- reads ------------------------------------------------------------------------------------
    def _get(self, endpoint: str, path: str, query: dict[str, Any]) -> Any:
        """One GET whose JSON body we parse ourselves (see the module's docstring)."""
        return self.call(endpoint, get_json, self.client, path, query)

    def _get_sheet(self, sheet_id: int, **query: Any) -> dict[str, Any]:
        body = self._get("GET /sheets/{sheetId}", f"/sheets/{int(sheet_id)}", query)
        if not isinstance(body, dict):
            raise SmartsheetError(f"Smartsheet GET /sheets/{{sheetId}} failed: not a sheet ({self.api_base})")
        return body

    def sheet_changes(
        self,
        sheet_id: int,
        *,
        after_version: int | None,
        modified_since: datetime | None,
        columns: Collection[str] | None = None,
    ) -> SheetData | None:
        query: dict[str, Any] = {"include": "writerInfo"}
        if after_version is not None:
            query["ifVersionAfter"] = after_version
        if modified_since is not None:
            # An ISO string with a "T": a datetime would be sent with a space instead.
            query["rowsModifiedSince"] = modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        every_column: list[dict[str, Any]] | None = None
        if columns is not None and after_version is None and modified_since is None:
            # A whole-sheet read: its size is rows x columns, so ask only the wanted columns' cells
            # (`columnIds`, which also narrows the response's column list) after listing every
            # column, which a column hold compares.  A read of changed rows only is small: it
            # stays one request, its cells filtered here.
            every_column = self._columns(sheet_id)
            wanted = set(columns)
            query["columnIds"] = sorted({int(c["id"]) for c in every_column if c.get("title") in wanted})
        body = self._get_sheet(sheet_id, **query)
        if after_version is not None and "id" not in body:
            return None  # only {"version": N}: nothing moved
        return _sheet_from_json(body, columns, every_column)

    def _columns(self, sheet_id: int) -> list[dict[str, Any]]:
        """Every column of the sheet (JSON), every page of them."""
        listed = self.list_all("GET /sheets/{sheetId}/columns", f"/sheets/{int(sheet_id)}/columns")
        return [item for item in listed if "id" in item and "title" in item]

    def row_ids(self, sheet_id: int, primary_column_id: int | None) -> set[int]:
        column_ids = [primary_column_id] if primary_column_id is not None else None
        body = self._get_sheet(sheet_id, columnIds=column_ids)
        return {int(row["id"]) for row in body.get("rows") or []}

    def rows(self, sheet_id: int, row_ids: Sequence[int]) -> SheetData:
        """The given rows, read `ROW_IDS_PER_REQUEST` ids a request and merged into one SheetData.

        Ids are asked once each, in the order given. The merged read has the first chunk's columns
        and the lowest version any chunk saw (a save between two chunks is then read again by
        whoever trusts the version), rows in the order the chunks returned them.
        """
        ids = list(dict.fromkeys(int(row_id) for row_id in row_ids))
        chunks = [ids[start : start + ROW_IDS_PER_REQUEST] for start in range(0, len(ids), ROW_IDS_PER_REQUEST)]
        reads = [
            _sheet_from_json(self._get_sheet(sheet_id, include="writerInfo", rowIds=chunk)) for chunk in chunks or [ids]
        ]
        if len(reads) == 1:
            return reads[0]
        first = reads[0]
        rows = {row.id: row for read in reads for row in read.rows}
        return first.model_copy(update={"version": min(read.version for read in reads), "rows": list(rows.values())})

    def cell_history(self, sheet_id: int, row_id: int, column_id: int, column_title: str) -> list[CellEntry]:
        entries: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self._get(
                "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history",
                f"/sheets/{int(sheet_id)}/rows/{int(row_id)}/columns/{int(column_id)}/history",
                {"pageSize": HISTORY_PAGE_SIZE, "page": page},
            )
            body = body if isinstance(body, dict) else {}
            for item in body.get("data") or []:
                by = item.get("modifiedBy")
                entries.append(
                    {
                        "column": column_title,
                        "value": _value(item.get("value")),
                        "at": item.get("modifiedAt"),
                        "by": by.get("email") if isinstance(by, dict) else None,
                    }
                )
            if page >= (_count(body.get("totalPages")) or 1):
                break
            page += 1
        # Smartsheet lists newest first; the replay wants oldest first, equal times in save order.
        entries.reverse()
        return _CELL_ENTRIES.validate_python(entries)

    def workspace_sheets(self, workspace_id: int) -> list[SheetRef]:
        return self._sheets_below(self._workspace_children, workspace_id)

    def folder_sheets(self, folder_id: int) -> list[SheetRef]:
        return self._sheets_below(self._folder_children, folder_id)

    def _workspace_children(self, workspace_id: int) -> list[Any]:
        return self._children(
            "GET /workspaces/{workspaceId}/children", self.client.Workspaces.get_workspace_children, workspace_id
        )

    def _folder_children(self, folder_id: int) -> list[Any]:
        return self._children("GET /folders/{folderId}/children", self.client.Folders.get_folder_children, folder_id)

    def _children(self, endpoint: str, list_children: Any, container_id: int) -> list[Any]:
        """The sheets and folders right inside a workspace or folder, every cursor page of them."""

        def fetch(last_key: str | None, _number: int) -> ListPage:
            page = self.call(
                endpoint,
                list_children,
                int(container_id),
                children_resource_types=["sheets", "folders"],
                last_key=last_key,
                max_items=LIST_PAGE_SIZE,
            )
            return ListPage(items=list(page.data or []), last_key=page.last_key or None)

        return every_item(fetch, key=lambda child: (type(child).__name__, getattr(child, "id", None)))

    def _sheets_below(self, children: Callable[[int], list[Any]], container_id: int) -> list[SheetRef]:
        """Sheets of a workspace or folder and of every folder below it: `/children` lists one level,
        so the tree is walked folder by folder (each folder once)."""
        refs: list[SheetRef] = []
        pending, seen = [children(container_id)], set()
        while pending:
            for child in pending.pop(0):
                if isinstance(child, smartsheet.models.Sheet) and child.id is not None:
                    refs.append(SheetRef(id=int(child.id), name=str(child.name or "")))
                elif isinstance(child, smartsheet.models.Folder) and child.id is not None and child.id not in seen:
                    seen.add(child.id)
                    pending.append(self._folder_children(int(child.id)))
        return refs

    def list_all(self, endpoint: str, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item (JSON) of a list endpoint the SDK gives no cursor for (`GET /webhooks`, `GET /users`).

        The first page asks by cursor and by page number at once, so an endpoint answers in the
        paging it speaks; a returned `lastKey` is then followed alone (see `every_item`).
        """

        def fetch(last_key: str | None, number: int) -> ListPage:
            query: dict[str, Any] = {**(params or {}), "maxItems": LIST_PAGE_SIZE}
            if last_key is not None:
                query["lastKey"] = last_key
            else:
                query.update(page=number, pageSize=LIST_PAGE_SIZE)
            body = self.call(endpoint, self.client.Passthrough.get, path, query).data or {}
            return ListPage(
                items=[item for item in body.get("data") or [] if isinstance(item, dict)],
                last_key=body.get("lastKey") or None,
                total_pages=_count(body.get("totalPages")),
                page_size=_count(body.get("pageSize")),
            )

        return every_item(fetch, key=lambda item: item.get("id"))

    def users(self) -> list[UserData]:
        users = [smartsheet.models.User(item) for item in self.list_all("GET /users", "/users")]
        return [
            UserData(
                id=u.id,
                email=u.email,
                name=u.name,
                status=str(u.status) if u.status is not None else None,
                last_login=u.last_login,
            )
            for u in users
        ]


def _value(value: Any) -> CellValue:
    if isinstance(value, str | int | float | bool):
        return value
    return None


def _email(user: Any) -> str | None:
    return user.get("email") if isinstance(user, dict) else None


def _sheet_from_json(
    body: dict[str, Any], keep: Collection[str] | None = None, every_column: list[dict[str, Any]] | None = None
) -> SheetData:
    """A sheet read's JSON as our SheetData, validated once (pydantic parses the timestamps).

    `keep`: the titles whose cells the rows carry (all when None).  `every_column`: the sheet's
    columns (listed apart) when the read asked for only some of them.
    """
    columns = every_column if every_column is not None else body.get("columns") or []
    titles = {int(column["id"]): str(column["title"]) for column in columns}
    primary = next((int(column["id"]) for column in columns if column.get("primary")), None)
    wanted = titles if keep is None else {cid: title for cid, title in titles.items() if title in keep}
    rows = []
    moments: dict[str, datetime | None] = {}  # a read's rows share a few timestamps: each parsed once
    for row in body.get("rows") or []:
        values: dict[str, CellValue] = {}
        for cell in row.get("cells") or ():
            title = wanted.get(cell.get("columnId"))
            if title is not None:
                value = cell.get("value")
                values[title] = value if type(value) in _PLAIN_CELL else _value(value)
        rows.append(
            _row(
                row["id"],
                row.get("createdAt"),
                _email(row.get("createdBy")),
                row.get("modifiedAt"),
                _email(row.get("modifiedBy")),
                values,
                moments,
            )
        )
    sheet = SheetData.model_validate(
        {
            "id": body["id"],
            "name": body.get("name") or "",
            "version": body.get("version") or 0,
            "total_row_count": body.get("totalRowCount") or len(rows),
            "columns": {"ids_by_title": {title: column_id for column_id, title in titles.items()}},
            "primary_column_id": primary,
        }
    )
    return sheet.model_copy(update={"rows": rows})


def _row(
    row_id: Any,
    created: Any,
    created_by: str | None,
    modified: Any,
    modified_by: str | None,
    values: dict[str, CellValue],
    moments: dict[str, datetime | None],
) -> RowData:
    """One row, its fields checked here rather than by pydantic: a baseline reads every row of every
    sheet, and validating each through the model cost more than the HTTP exchange that brought it.
    The values are already `_value`s and the emails `_email`s; anything not exactly as Smartsheet
    sends it (an id that is not an integer, a timestamp that is not ISO 8601 text with its offset)
    goes through the model, which accepts it as it always did or raises its usual ValidationError.
    `moments` holds the timestamps parsed so far (None: not one this shortcut takes)."""
    if type(row_id) is int:
        created_at, modified_at = _moment(created, moments), _moment(modified, moments)
        if created_at is not _NOT_PARSED and modified_at is not _NOT_PARSED:
            return _build_row(
                id=row_id,
                created_at=created_at,
                created_by=created_by,
                modified_at=modified_at,
                modified_by=modified_by,
                values=values,
            )
    return RowData.model_validate(
        {
            "id": row_id,
            "created_at": created,
            "created_by": created_by,
            "modified_at": modified,
            "modified_by": modified_by,
            "values": values,
        }
    )


def _moment(text: Any, moments: dict[str, datetime | None]) -> Any:
    """An ISO 8601 timestamp with its offset as an aware datetime, None as None; `_NOT_PARSED` for
    anything else (which the model then judges)."""
    if text is None:
        return None
    if type(text) is not str:
        return _NOT_PARSED
    known = moments.get(text, _NOT_PARSED)
    if known is _NOT_PARSED:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        known = moments[text] = parsed if parsed is not None and parsed.tzinfo is not None else None
    return known if known is not None else _NOT_PARSED


_NOT_PARSED: Any = object()
_PLAIN_CELL = {str, int, float, bool}  # a cell value taken as it is (_value: anything else)
_build_row = prevalidated(RowData)
