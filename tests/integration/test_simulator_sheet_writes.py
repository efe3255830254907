"""What a restore writes, as the simulator serves it: a new sheet, rows placed by location (hierarchy
included), and discussions; every answer checked against Smartsheet's OpenAPI file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import ERROR_POINTER, SHEET_POINTER, assert_valid, response_pointer, small_scenario
from tests.integration.simulator_support import TOKEN

CREATED_POINTER = (
    response_pointer("/folders/{folderId}/sheets", "post") + "/allOf/1/properties/result/oneOf/0"
)  # the spec's oneOf (from scratch | from a template) matches both for any sheet: check the first


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(parse_scenario(small_scenario()), token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


def call(sim: Simulator, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
    answer = requests.request(
        method, f"{sim.api_base}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10, **kwargs
    )
    assert answer.status_code == status, answer.text
    return answer.json()


def new_sheet(sim: Simulator) -> tuple[int, list[int]]:
    body = {
        "name": "Restored",
        "columns": [
            {"title": "Item", "primary": True, "type": "TEXT_NUMBER"},
            {"title": "Status", "type": "PICKLIST", "options": ["Open", "Invoiced"], "width": 90},
            {"title": "Done", "type": "CHECKBOX", "symbol": "STAR"},
        ],
    }
    created = call(sim, "POST", "/sheets", json=body)
    assert_valid(created, response_pointer("/sheets", "post") + "/allOf/0")
    assert_valid(created["result"], CREATED_POINTER)
    result = created["result"]
    assert [c["title"] for c in result["columns"]] == ["Item", "Status", "Done"]
    assert result["columns"][1]["options"] == ["Open", "Invoiced"] and result["columns"][1]["width"] == 90
    assert result["columns"][2]["symbol"] == "STAR"
    return int(result["id"]), [int(c["id"]) for c in result["columns"]]


def add(sim: Simulator, sheet_id: int, rows: list[dict[str, Any]]) -> list[int]:
    answer = call(sim, "POST", f"/sheets/{sheet_id}/rows", json=rows)
    assert_valid(answer, response_pointer("/sheets/{sheetId}/rows", "post"))
    return [int(row["id"]) for row in answer["result"]]


def layout(sim: Simulator, sheet_id: int) -> list[tuple[str, str | None]]:
    """(primary value, parent's primary value) of every row in display order, as the API reads them."""
    sheet = call(sim, "GET", f"/sheets/{sheet_id}")
    assert_valid(sheet, SHEET_POINTER)
    names = {row["id"]: row["cells"][0].get("value") for row in sheet["rows"]}
    return [(names[row["id"]], names.get(row.get("parentId"))) for row in sheet["rows"]]


def test_rows_land_where_their_location_says(sim: Simulator) -> None:
    sheet_id, (item, status, _done) = new_sheet(sim)

    def cells(name: str) -> list[dict[str, Any]]:
        return [{"columnId": item, "value": name}, {"columnId": status, "value": "Open"}]

    a, b = add(sim, sheet_id, [{"toBottom": True, "cells": cells("A")}, {"toBottom": True, "cells": cells("B")}])
    add(sim, sheet_id, [{"parentId": a, "toBottom": True, "cells": cells(n)} for n in ("A1", "A2")])
    (a0,) = add(sim, sheet_id, [{"parentId": a, "toTop": True, "cells": cells("A0")}])
    add(sim, sheet_id, [{"parentId": a0, "cells": cells("A0x")}])
    add(sim, sheet_id, [{"siblingId": a0, "cells": cells("A0.5")}])
    add(sim, sheet_id, [{"siblingId": b, "above": True, "cells": cells("before B")}])
    add(sim, sheet_id, [{"toTop": True, "cells": cells("top")}])
    assert layout(sim, sheet_id) == [
        ("top", None),
        ("A", None),
        ("A0", "A"),
        ("A0x", "A0"),
        ("A0.5", "A"),
        ("A1", "A"),
        ("A2", "A"),
        ("before B", None),
        ("B", None),
    ]
    # Deleting a parent deletes what is indented below it, as in Smartsheet.
    call(sim, "DELETE", f"/sheets/{sheet_id}/rows?ids={a0}")
    assert [name for name, _ in layout(sim, sheet_id)] == ["top", "A", "A0.5", "A1", "A2", "before B", "B"]


def test_one_request_takes_one_location(sim: Simulator) -> None:
    sheet_id, (item, _status, _done) = new_sheet(sim)
    (a,) = add(sim, sheet_id, [{"cells": [{"columnId": item, "value": "A"}]}])
    mixed = [
        {"parentId": a, "cells": [{"columnId": item, "value": "x"}]},
        {"cells": [{"columnId": item, "value": "y"}]},
    ]
    refused = call(sim, "POST", f"/sheets/{sheet_id}/rows", status=400, json=mixed)
    assert_valid(refused, ERROR_POINTER)
    call(sim, "POST", f"/sheets/{sheet_id}/rows", status=400, json=[{"parentId": 42, "cells": []}])


def test_a_new_sheet_needs_one_text_primary_column(sim: Simulator) -> None:
    call(sim, "POST", "/sheets", status=400, json={"name": "x", "columns": [{"title": "A", "type": "TEXT_NUMBER"}]})
    two = [{"title": "A", "primary": True}, {"title": "A"}]
    call(sim, "POST", "/sheets", status=400, json={"name": "x", "columns": two})
    call(
        sim,
        "POST",
        "/sheets",
        status=400,
        json={"name": "x", "columns": [{"title": "A", "primary": True, "type": "DATE"}]},
    )


def test_discussions_on_sheet_and_rows(sim: Simulator) -> None:
    started = call(sim, "POST", "/sheets/4001/discussions", json={"comment": {"text": "Week closed"}})
    assert_valid(started, response_pointer("/sheets/{sheetId}/discussions", "post"))
    on_row = call(sim, "POST", "/sheets/4001/rows/1/discussions", json={"comment": {"text": "Why 12?"}})
    assert_valid(on_row, response_pointer("/sheets/{sheetId}/rows/{rowId}/discussions", "post"))
    listed = call(sim, "GET", "/sheets/4001/discussions?include=comments")
    assert_valid(listed, response_pointer("/sheets/{sheetId}/discussions", "get"))
    assert {(d["parentType"], d["title"], d["commentCount"]) for d in listed["data"]} == {
        ("SHEET", "Week closed", 1),
        ("ROW", "Why 12?", 1),
    }
    assert all(d["comments"][0]["text"] == d["title"] for d in listed["data"])
    paged = call(sim, "GET", "/sheets/4001/discussions?pageSize=1&page=2")
    assert paged["totalPages"] == 2 and len(paged["data"]) == 1 and "comments" not in paged["data"][0]
