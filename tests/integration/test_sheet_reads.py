"""Sheet reads parsed from JSON (sdk_seam.get_json) against the SDK's own models, over real HTTP:
the same rows, times, people and values, and a whole-sheet read that asks only the wanted columns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import small_scenario
from tests.integration.simulator_support import TOKEN, sdk


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    scenario = parse_scenario(small_scenario())
    simulator = Simulator(scenario, token=TOKEN)
    simulator.start()
    simulator.apply_edits_through(scenario.now)
    yield simulator
    simulator.stop()


def _gateway(sim: Simulator) -> tuple[SdkSmartsheet, list[int]]:
    sim.reset_rate_limits()
    gateway = SdkSmartsheet(token=TOKEN, api_base=sim.api_base or "", backoff=ExponentialBackoff(base_seconds=0))
    received: list[int] = []

    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        received.append(len(response.content))

    hooks = gateway.client._session.hooks
    hooks["response"] = [*(hooks["response"] if isinstance(hooks["response"], list) else [hooks["response"]]), count]
    return gateway, received


def test_a_sheet_read_equals_the_sdk_models(sim: Simulator) -> None:
    gateway, _ = _gateway(sim)
    client = sdk(sim)
    for sheet in sim.sheets():
        ours = gateway.sheet_changes(sheet.id, after_version=None, modified_since=None)
        theirs = client.Sheets.get_sheet(sheet.id, include="writerInfo")
        assert ours is not None
        assert (ours.id, ours.name, ours.version) == (theirs.id, theirs.name, theirs.version)
        titles = {int(c.id): c.title for c in theirs.columns}
        assert ours.columns.ids_by_title == {title: column_id for column_id, title in titles.items()}
        assert ours.primary_column_id == next(int(c.id) for c in theirs.columns if c.primary)
        assert [row.id for row in ours.rows] == [row.id for row in theirs.rows]
        for mine, row in zip(ours.rows, theirs.rows, strict=True):
            assert mine.created_at == row.created_at and mine.modified_at == row.modified_at
            assert mine.created_by == (row.created_by.email if row.created_by else None)
            assert mine.modified_by == (row.modified_by.email if row.modified_by else None)
            expected = {titles[int(c.column_id)]: c.value for c in row.cells if c.value is not None}
            assert {t: v for t, v in mine.values.items() if v is not None} == expected
            assert all(type(mine.values[t]) is type(v) for t, v in expected.items())  # 10 stays int, 1.5 float


def test_cell_history_equals_the_sdk_models(sim: Simulator) -> None:
    gateway, _ = _gateway(sim)
    client = sdk(sim)
    sheet = sim.sheets()[0]
    read = gateway.sheet_changes(sheet.id, after_version=None, modified_since=None)
    assert read is not None
    column_id = read.columns.ids_by_title["Quantity"]
    for row in read.rows:
        ours = gateway.cell_history(sheet.id, row.id, column_id, "Quantity")
        theirs = list(reversed(client.Cells.get_cell_history(sheet.id, row.id, column_id).data))
        assert [(e.value, e.at, e.by) for e in ours] == [
            (item.value, item.modified_at, item.modified_by.email if item.modified_by else None) for item in theirs
        ]


def test_a_whole_sheet_read_asks_only_the_wanted_columns(sim: Simulator) -> None:
    sheet = sim.sheets()[0]
    gateway, full_bytes = _gateway(sim)
    full = gateway.sheet_changes(sheet.id, after_version=None, modified_since=None)
    narrow_gateway, narrow_bytes = _gateway(sim)
    wanted = ("Quantity", "Status")
    narrow = narrow_gateway.sheet_changes(sheet.id, after_version=None, modified_since=None, columns=wanted)
    assert full is not None and narrow is not None
    # Every column is still known (a column hold compares them), and the primary one.
    assert narrow.columns == full.columns and narrow.primary_column_id == full.primary_column_id
    assert [row.id for row in narrow.rows] == [row.id for row in full.rows]
    for mine, whole in zip(narrow.rows, full.rows, strict=True):
        assert mine.values == {t: v for t, v in whole.values.items() if t in wanted}
        assert (mine.modified_at, mine.modified_by) == (whole.modified_at, whole.modified_by)
    assert narrow_gateway.call_counts() == {"GET /sheets/{sheetId}/columns": 1, "GET /sheets/{sheetId}": 1}
    assert sum(narrow_bytes) < sum(full_bytes)


def test_a_read_of_changes_is_one_request_its_cells_filtered(sim: Simulator) -> None:
    sheet = sim.sheets()[0]
    gateway, _ = _gateway(sim)
    full = gateway.sheet_changes(sheet.id, after_version=None, modified_since=None)
    assert full is not None
    read = gateway.sheet_changes(sheet.id, after_version=0, modified_since=None, columns=("Quantity",))
    assert read is not None and read.columns == full.columns
    assert all(set(row.values) <= {"Quantity"} for row in read.rows)
    assert gateway.call_counts() == {"GET /sheets/{sheetId}": 2}
    assert (
        gateway.sheet_changes(sheet.id, after_version=full.version, modified_since=None, columns=("Quantity",)) is None
    )
