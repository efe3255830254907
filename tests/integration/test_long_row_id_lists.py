"""Long `rowIds=` lists: the simulator answers an over-long URL 414 with an HTML body, as Smartsheet
does past about a thousand ids (NOTES.md), and the adapter reads many rows in chunks of ids, through
the real SDK, merging them into one read."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from smartsheet.exceptions import ApiError

from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.sdk_client import ROW_IDS_PER_REQUEST, SdkSmartsheet
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import small_scenario
from tests.integration.simulator_support import TOKEN, sdk

SHEET = 4100
ROWS = 2_100
# Row ids as long as Smartsheet's (16 digits): joined by "%2C", 2,000 of them make ~38 KB of query.
ROW_IDS = [4_503_599_627_370_496 + 7_919 * n for n in range(ROWS)]


def _scenario() -> dict[str, Any]:
    data = small_scenario()
    data["sheets"].append(
        {
            "id": SHEET,
            "name": "Big Paste",
            "columns": [{"title": "Work Request #", "primary": True}, {"title": "Quantity"}],
            "rows": [
                {"id": row_id, "cells": {"Work Request #": f"WR-{n}", "Quantity": n}}
                for n, row_id in enumerate(ROW_IDS)
            ],
        }
    )
    return data


@pytest.fixture(scope="module")
def big() -> Iterator[Simulator]:
    simulator = Simulator(parse_scenario(_scenario()), token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def fresh(big: Simulator) -> Simulator:
    big.reset_rate_limits()
    big.reset_call_counts()
    return big


# ----- the simulator --------------------------------------------------------------------------------


def test_an_over_long_url_is_answered_414_with_html(fresh: Simulator) -> None:
    limit = fresh.options.max_url_bytes
    assert limit == 8192
    path = f"/sheets/{SHEET}"
    base = len(f"/2.0{path}?rowIds=")
    fits = ",".join(str(i) for i in ROW_IDS)[: limit - base]
    fits = fits[: fits.rfind(",")]  # whole ids only, unencoded commas: exactly within the limit or under
    url = f"{fresh.api_base}{path}"
    ok = requests.get(f"{url}?rowIds={fits}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert ok.status_code == 200 and len(ok.json()["rows"]) == fits.count(",") + 1
    too_long = ",".join(str(i) for i in ROW_IDS[:1000])
    answer = requests.get(f"{url}?rowIds={too_long}", timeout=10)  # no token: the front answers first
    assert answer.status_code == 414
    assert answer.headers["Content-Type"].startswith("text/html") and "<html>" in answer.text
    assert fresh.call_counts == {"GET /sheets/{sheetId}": 2}


def test_the_sdk_does_not_retry_a_414(fresh: Simulator) -> None:
    client = sdk(fresh)
    assert len(client.Sheets.get_sheet(SHEET, row_ids=ROW_IDS[:300]).rows) == 300  # ~5.7 KB: fits
    with pytest.raises(ApiError) as caught:
        client.Sheets.get_sheet(SHEET, row_ids=ROW_IDS[:1000])
    assert caught.value.error.result.status_code == 414
    assert fresh.call_counts == {"GET /sheets/{sheetId}": 2}  # the 414 once, not retried


# ----- the adapter ----------------------------------------------------------------------------------


def _gateway(sim: Simulator) -> SdkSmartsheet:
    return SdkSmartsheet(token=TOKEN, api_base=sim.api_base or "")


def test_many_rows_are_read_in_chunks_merged_into_one_read(fresh: Simulator) -> None:
    wanted = ROW_IDS[50:2050]  # 2,000 ids
    gateway = _gateway(fresh)
    sheet = gateway.rows(SHEET, wanted)
    requests_made = math.ceil(len(wanted) / ROW_IDS_PER_REQUEST)
    assert ROW_IDS_PER_REQUEST == 100 and requests_made == 20
    assert gateway.call_counts() == {"GET /sheets/{sheetId}": requests_made}
    assert fresh.call_counts == {"GET /sheets/{sheetId}": requests_made}  # none refused, none retried
    assert [row.id for row in sheet.rows] == wanted
    assert [row.values["Quantity"] for row in sheet.rows[:3]] == [50, 51, 52]
    assert (sheet.id, sheet.name, sheet.total_row_count) == (SHEET, "Big Paste", ROWS)
    assert set(sheet.columns.ids_by_title) == {"Work Request #", "Quantity"}
    assert sheet.primary_column_id == sheet.columns.ids_by_title["Work Request #"]


def test_repeated_ids_are_asked_once_and_a_short_list_is_one_request(fresh: Simulator) -> None:
    gateway = _gateway(fresh)
    ids = [ROW_IDS[3], ROW_IDS[1], ROW_IDS[3], 999]  # 999: no such row, simply absent
    assert [row.id for row in gateway.rows(SHEET, ids).rows] == [ROW_IDS[1], ROW_IDS[3]]  # sheet order
    assert gateway.call_counts() == {"GET /sheets/{sheetId}": 1}
    exactly = ROW_IDS[: ROW_IDS_PER_REQUEST * 2]
    assert len(gateway.rows(SHEET, exactly).rows) == len(exactly)
    assert gateway.call_counts() == {"GET /sheets/{sheetId}": 3}


def test_unchunked_the_same_read_fails_as_smartsheet_would(fresh: Simulator) -> None:
    gateway = _gateway(fresh)
    with pytest.raises(SmartsheetError, match="HTTP 414"):
        gateway.call("GET /sheets/{sheetId}", gateway.client.Sheets.get_sheet, SHEET, row_ids=ROW_IDS[:2000])
