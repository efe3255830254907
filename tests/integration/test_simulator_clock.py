"""The simulator's discrete-event clock over HTTP: a client that waits out a rate limit sees the
scenario's edits happen while it waits, each at its own time; and `history_from` (a copied sheet)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import smartsheet

from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import CallbackReceiver, small_scenario, virtual_clock_backoff
from tests.integration.simulator_support import TOKEN, sdk
from tests.unit.builders import at


def get(sim: Simulator, path: str) -> requests.Response:
    return requests.get(f"{sim.api_base}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def column(sim: Simulator, title: str, sheet_id: int = 4001) -> int:
    found = sim.sheet(sheet_id).column_by_title(title)  # type: ignore[union-attr]
    assert found is not None
    return found.id


def history(client: Any, sim: Simulator, row: int, title: str, sheet_id: int = 4001) -> list[tuple[Any, str]]:
    answer = client.Cells.get_cell_history(sheet_id, row, column(sim, title, sheet_id), include_all=True)
    return [(h.value, str(h.modified_at)) for h in answer.data]


@pytest.fixture
def limited() -> Iterator[Simulator]:
    """The small scenario with Smartsheet's limits, its clock just before the first edit (15:00)."""
    simulator = Simulator(parse_scenario(small_scenario()), token=TOKEN)
    simulator.options.rate_limits = True
    simulator.set_time(at("2026-11-10T14:59:30Z"))
    simulator.start()
    yield simulator
    simulator.stop()


def test_a_client_that_never_waits_sees_a_clock_that_stands_still(limited: Simulator) -> None:
    quantity = column(limited, "Quantity")
    statuses = [get(limited, f"/sheets/4001/rows/1/columns/{quantity}/history").status_code for _ in range(40)]
    assert statuses == [200] * 30 + [429] * 10
    assert limited.now == at("2026-11-10T14:59:30Z")
    assert limited.change_log == []  # the edit at 15:00 never comes


def test_edits_happen_while_the_client_waits_out_the_limit(limited: Simulator, receiver: CallbackReceiver) -> None:
    client = sdk(limited, virtual_clock_backoff(limited))
    hook = client.Webhooks.create_webhook(
        smartsheet.models.Webhook(
            {
                "name": "audit",
                "callbackUrl": receiver.url,
                "scope": "sheet",
                "scopeObjectId": 4001,
                "events": ["*.*"],
                "version": 1,
            }
        )
    ).result
    client.Webhooks.update_webhook(hook.id, smartsheet.models.Webhook({"enabled": True}))
    for _ in range(29):  # with the two webhook calls: 292 of the 300
        assert history(client, limited, 1, "Quantity") == [(10, "2026-11-03 15:00:00+00:00")]
    # The 30th history read meets the limit (292 + 10 > 300); the SDK's backoff waits 60 s on the
    # simulator's clock, and the save due at 15:00 happens meanwhile (the one at 16:00 is not due).
    assert history(client, limited, 1, "Quantity") == [
        (12, "2026-11-10 15:00:00+00:00"),
        (10, "2026-11-03 15:00:00+00:00"),
    ]
    assert limited.now == at("2026-11-10T15:00:30Z")
    assert limited.virtual_elapsed == timedelta(seconds=60)
    assert [e.at for e in limited.change_log] == [at("2026-11-10T15:00:00Z")] * 4
    # The callback for it says when it happened, not when the client woke.
    assert limited.webhooks.pending_count(hook.id) == 4
    delivered = limited.deliver_callbacks()
    assert [d.outcome for d in delivered] == ["delivered"]
    events = json.loads(receiver.callbacks[-1].body)["events"]
    assert {e["timestamp"] for e in events} == {"2026-11-10T15:00:00Z"}


def test_a_long_wait_applies_every_edit_due_in_order(limited: Simulator) -> None:
    client = sdk(limited)
    assert limited.sleep(3 * 86400) == 4
    rows = client.Sheets.get_sheet(4001, include=["writerInfo"]).rows
    assert [r.id for r in rows] == [1, 3, 4, 5, 77]
    added = next(r for r in rows if r.id == 77)
    assert (str(added.created_at), added.created_by.email) == ("2026-11-12 10:00:00+00:00", "eve@contractor.example")
    assert limited.now == at("2026-11-13T14:59:30Z")


# ----- history_from --------------------------------------------------------------------------------


@pytest.fixture
def copied() -> Iterator[Simulator]:
    """Sheet 4001 copied at 2026-11-05: its rows were created on 11-03 (row 3 at the baseline)."""
    data = small_scenario()
    data["sheets"][0]["history_from"] = "2026-11-05T00:00:00Z"
    data["edits"].append(
        {"at": "2026-11-10T17:00:00Z", "by": "bob@example.com", "sheet": 4001, "row": 5, "set": {"Status": "Approved"}}
    )
    simulator = Simulator(parse_scenario(data), token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


def test_history_from_hides_entries_from_before_the_copy(copied: Simulator) -> None:
    client = sdk(copied)
    copied.apply_edits_through(at("2026-11-20T15:00:00Z"))
    # Edited since: only the entries made after the copy.
    assert history(client, copied, 1, "Quantity") == [(12, "2026-11-10 15:00:00+00:00")]
    assert history(client, copied, 5, "Status") == [("Approved", "2026-11-10 17:00:00+00:00")]
    # Never edited since: no history at all, though the cell holds a value.
    assert history(client, copied, 1, "Work Request #") == []
    assert history(client, copied, 5, "Quantity") == []
    answer = get(copied, f"/sheets/4001/rows/5/columns/{column(copied, 'Quantity')}/history").json()
    assert (answer["totalCount"], answer["data"]) == (0, [])
    # A row created after the copy (row 3, at the baseline, and row 77, added) has its entries.
    assert history(client, copied, 3, "Quantity") == [("12", "2026-11-09 12:00:00+00:00")]
    assert history(client, copied, 77, "Quantity") == [(3, "2026-11-12 10:00:00+00:00")]
    # The values themselves are there, and other sheets keep their whole history.
    sheet = client.Sheets.get_sheet(4001, row_ids=[5])
    assert {c.column_id: c.value for c in sheet.rows[0].cells}[column(copied, "Quantity")] == 2
    assert history(client, copied, 21, "Quantity", sheet_id=4002) == [(3, "2026-11-03 15:00:00+00:00")]


def test_history_from_keeps_an_entry_made_at_that_very_moment() -> None:
    data = small_scenario()
    data["sheets"][0]["history_from"] = "2026-11-03T15:00:00Z"
    with Simulator(parse_scenario(data), token=TOKEN) as simulator:
        assert history(sdk(simulator), simulator, 1, "Quantity") == [(10, "2026-11-03 15:00:00+00:00")]
