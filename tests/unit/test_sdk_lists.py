"""Following a Smartsheet list to its end, whichever paging the endpoint speaks (no sockets)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

from billing_audit.smartsheet.sdk_client import ListPage, SdkSmartsheet, every_item
from billing_audit.smartsheet.webhook_api import SmartsheetWebhooks


def _pages(*pages: ListPage):
    asked: list[tuple[str | None, int]] = []

    def fetch(last_key: str | None, number: int) -> ListPage:
        asked.append((last_key, number))
        return pages[min(len(asked), len(pages)) - 1]

    return fetch, asked


def _ids(items):
    return [item["id"] for item in items]


def test_a_cursor_is_followed_until_a_page_comes_without_one():
    fetch, asked = _pages(
        ListPage(items=[{"id": 1}, {"id": 2}], last_key="k1"),
        ListPage(items=[], last_key="k2"),  # a page may come back empty before the end
        ListPage(items=[{"id": 3}]),
    )
    assert _ids(every_item(fetch, key=lambda i: i["id"])) == [1, 2, 3]
    assert asked == [(None, 1), ("k1", 2), ("k2", 3)]


def test_totalpages_minus_one_pages_until_a_page_comes_back_short():
    full = ListPage(items=[{"id": n} for n in range(3)], total_pages=-1, page_size=3)
    second = ListPage(items=[{"id": n} for n in range(3, 6)], total_pages=-1, page_size=3)
    short = ListPage(items=[{"id": 6}], total_pages=-1, page_size=3)
    fetch, asked = _pages(full, second, short)
    assert _ids(every_item(fetch, key=lambda i: i["id"])) == list(range(7))
    assert [number for _, number in asked] == [1, 2, 3]


def test_an_exactly_full_last_page_ends_on_the_empty_page_after_it():
    fetch, asked = _pages(
        ListPage(items=[{"id": 1}, {"id": 2}], total_pages=-1, page_size=2), ListPage(items=[], total_pages=-1)
    )
    assert _ids(every_item(fetch, key=lambda i: i["id"])) == [1, 2] and len(asked) == 2


def test_known_total_pages_are_read_to_the_last():
    fetch, asked = _pages(
        ListPage(items=[{"id": 1}], total_pages=2, page_size=1), ListPage(items=[{"id": 2}], total_pages=2)
    )
    assert _ids(every_item(fetch, key=lambda i: i["id"])) == [1, 2] and len(asked) == 2


def test_a_server_that_ignores_the_page_number_or_repeats_a_cursor_does_not_loop():
    same = ListPage(items=[{"id": 1}, {"id": 2}], total_pages=-1, page_size=2)
    fetch, asked = _pages(same)
    assert _ids(every_item(fetch, key=lambda i: i["id"])) == [1, 2] and len(asked) == 2
    stuck = ListPage(items=[{"id": 1}], last_key="again")
    fetch, asked = _pages(stuck)
    assert _ids(every_item(fetch, key=lambda i: i["id"])) == [1] and len(asked) == 2


class Pages(BaseAdapter):
    """Answers GET /webhooks the deprecated way: page numbers, totalPages -1, no cursor."""

    def __init__(self, hooks: list[dict[str, Any]]) -> None:
        super().__init__()
        self.hooks = hooks
        self.queries: list[dict[str, list[str]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        query = parse_qs(urlsplit(request.url or "").query)
        self.queries.append(query)
        size, number = 2, int(query["page"][0])  # the server caps pageSize at 2
        body = {
            "pageNumber": number,
            "pageSize": size,
            "totalPages": -1,
            "totalCount": -1,
            "data": self.hooks[(number - 1) * size : number * size],
        }
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(body).encode()
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def test_webhooks_listed_the_deprecated_way_are_all_read():
    hooks = [
        {"id": n, "name": f"billing-audit:{n}", "callbackUrl": "https://x.invalid/h", "scope": "sheet",
         "scopeObjectId": 4000 + n, "enabled": True, "status": "ENABLED"}
        for n in range(5)
    ]  # fmt: skip
    adapter = Pages(hooks)
    gateway = SdkSmartsheet(token="t", api_base="https://lists.invalid/2.0")
    gateway.client._session.mount("https://", adapter)
    listed = SmartsheetWebhooks(gateway).list()
    assert [(hook.id, hook.sheet_id, hook.is_enabled) for hook in listed] == [(n, 4000 + n, True) for n in range(5)]
    assert [q["page"] for q in adapter.queries] == [["1"], ["2"], ["3"]]
    assert all(q["maxItems"] == ["1000"] and "lastKey" not in q for q in adapter.queries)
    assert gateway.call_counts() == {"GET /webhooks": 3}
