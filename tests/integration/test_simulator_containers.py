"""Workspaces, nested folders and cursor-paged lists, through smartsheet-python-sdk 4.4.0's own calls
(`get_workspace_metadata`, `get_workspace_children`, the folder equivalents, `get_sheet_path`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import smartsheet
from smartsheet.exceptions import ApiError
from smartsheet.models import Folder, PaginatedChildrenResult, Sheet

from smartsheet_sim import Simulator
from smartsheet_sim.api.common import folder_id, workspace_id
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import small_scenario
from tests.integration.simulator_support import TOKEN, sdk

BULK = 250
"""Sheets in the folder Billing / Crews / Bulk, enough for three cursor pages of the default 100."""


def raw(sim: Simulator, path: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{sim.api_base}{path}", params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )


def tree_scenario() -> dict[str, Any]:
    """Billing: Crew 7 (4002), Crews/ (Crew 12 in Crews/North, 250 sheets in Crews/Bulk); Yard: Gate Log
    (4004); Archive (4003) in no workspace."""
    data = small_scenario()
    data["sheets"][0]["folder"] = ["Crews", "North"]
    data["sheets"].append({"id": 4004, "name": "Gate Log", "workspace": "Yard", "columns": [{"title": "Gate"}]})
    for n in range(BULK):
        data["sheets"].append(
            {
                "id": 5000 + n,
                "name": f"Bulk {n:03d}",
                "workspace": "Billing",
                "folder": ["Crews", "Bulk"],
                "columns": [{"title": "Item"}],
            }
        )
    return data


@pytest.fixture(scope="module")
def tree() -> Iterator[Simulator]:
    simulator = Simulator(parse_scenario(tree_scenario()), token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def client(tree: Simulator) -> Any:
    tree.reset_rate_limits()
    tree.reset_call_counts()
    return sdk(tree)


BILLING = workspace_id("Billing")
CREWS = folder_id("Billing", "Crews")
NORTH = folder_id("Billing", ("Crews", "North"))
BULK_FOLDER = folder_id("Billing", ("Crews", "Bulk"))


def test_metadata_of_a_workspace_and_a_folder(client: Any) -> None:
    workspace = client.Workspaces.get_workspace_metadata(BILLING)
    assert (workspace.id, workspace.name, str(workspace.access_level)) == (BILLING, "Billing", "OWNER")
    assert workspace.permalink.endswith(f"/workspaces/{BILLING}")
    assert str(workspace.created_at).startswith("2026-11-03 15:00:00")  # its earliest sheet
    folder = client.Folders.get_folder_metadata(NORTH)
    assert (folder.id, folder.name) == (NORTH, "North")
    assert folder.permalink.endswith(f"/folders/{NORTH}")
    assert not folder.sheets and not folder.folders  # metadata only: no children
    for call, missing in ((client.Workspaces.get_workspace_metadata, 12), (client.Folders.get_folder_metadata, 12)):
        with pytest.raises(ApiError) as caught:
            call(missing)
        assert caught.value.error.result.status_code == 404


def test_children_are_the_immediate_ones_folders_first(client: Any, tree: Simulator) -> None:
    top = client.Workspaces.get_workspace_children(BILLING)
    assert isinstance(top, PaginatedChildrenResult)
    assert [(type(c), c.id, c.name) for c in top.data] == [
        (Folder, CREWS, "Crews"),
        (Sheet, 4002, "Crew 7 Billing"),
    ]
    assert top.last_key is None
    assert str(top.data[1].access_level) == "OWNER"
    crews = client.Folders.get_folder_children(CREWS)
    assert [(type(c), c.name) for c in crews.data] == [(Folder, "Bulk"), (Folder, "North")]
    north = client.Folders.get_folder_children(NORTH)
    assert [(type(c), c.id) for c in north.data] == [(Sheet, 4001)]
    assert str(north.data[0].modified_at).startswith("2026-11-")
    yard = client.Workspaces.get_workspace_children(workspace_id("Yard"))
    assert [c.id for c in yard.data] == [4004]
    assert tree.call_counts == {
        "GET /workspaces/{workspaceId}/children": 2,
        "GET /folders/{folderId}/children": 2,
    }


def test_children_by_resource_type(client: Any, tree: Simulator) -> None:
    folders = client.Workspaces.get_workspace_children(BILLING, children_resource_types=["folders"])
    assert [c.name for c in folders.data] == ["Crews"]
    sheets = client.Workspaces.get_workspace_children(BILLING, children_resource_types=["sheets", "reports"])
    assert [c.id for c in sheets.data] == [4002]
    sights = client.Folders.get_folder_children(NORTH, children_resource_types=["sights"])
    assert sights.data == []
    assert raw(tree, f"/folders/{NORTH}/children", childrenResourceTypes="templates").status_code == 400
    assert raw(tree, f"/folders/{NORTH}/children", childrenResourceTypes="sheets,docs").status_code == 400
    assert raw(tree, "/folders/12/children").status_code == 404
    assert raw(tree, "/workspaces/12/children").status_code == 404


def test_children_page_by_cursor(client: Any, tree: Simulator) -> None:
    seen: list[int] = []
    keys: list[str | None] = []
    last_key = None
    while True:
        page = client.Folders.get_folder_children(BULK_FOLDER, last_key=last_key)
        seen.extend(c.id for c in page.data)
        keys.append(page.last_key)
        last_key = page.last_key
        if not last_key:
            break
    assert seen == [5000 + n for n in range(BULK)]
    assert len(keys) == 3 and keys[-1] is None and keys[0] != keys[1]
    big = client.Folders.get_folder_children(BULK_FOLDER, max_items=200)
    assert len(big.data) == 200 and big.last_key
    rest = client.Folders.get_folder_children(BULK_FOLDER, max_items=1000, last_key=big.last_key)
    assert [c.id for c in rest.data] == [5200 + n for n in range(50)] and rest.last_key is None
    sheets_only = client.Folders.get_folder_children(BULK_FOLDER, children_resource_types=["sheets"], max_items=300)
    assert len(sheets_only.data) == 250
    assert tree.call_counts == {"GET /folders/{folderId}/children": 6}


@pytest.mark.parametrize("max_items", ["0", "50", "150", "1100", "x"])
def test_max_items_is_100_to_1000_in_steps_of_100(tree: Simulator, max_items: str) -> None:
    answer = raw(tree, f"/folders/{BULK_FOLDER}/children", maxItems=max_items)
    assert answer.status_code == 400 and answer.json()["errorCode"] == 1018


def test_a_bad_cursor_is_refused(tree: Simulator) -> None:
    for key in ("not a key", "bnVsbA", "WyJhIl0"):  # garbage, JSON null, a key of the wrong shape
        answer = raw(tree, f"/folders/{BULK_FOLDER}/children", lastKey=key)
        assert answer.status_code == 400, key


def test_sheet_path(client: Any) -> None:
    nested = client.Sheets.get_sheet_path(4001)
    assert (nested.id, nested.name) == (BILLING, "Billing")
    assert nested.get_leaf_sheet_path() == "/Billing/Crews/North/Crew 12 Billing"
    assert [f.id for f in nested.folders] == [CREWS] and [f.id for f in nested.folders[0].folders] == [NORTH]
    assert nested.get_leaf_sheet().id == 4001
    direct = client.Sheets.get_sheet_path(4002)
    assert [s.id for s in direct.sheets] == [4002] and not direct.folders
    home = client.Sheets.get_sheet_path(4003)
    assert home.id is None and [s.id for s in home.sheets] == [4003]
    with pytest.raises(ApiError):
        client.Sheets.get_sheet_path(12)


def test_the_deprecated_reads_still_answer(tree: Simulator) -> None:
    shallow = raw(tree, f"/workspaces/{BILLING}").json()
    assert [s["id"] for s in shallow["sheets"]] == [4002]
    assert [(f["id"], "sheets" in f) for f in shallow["folders"]] == [(CREWS, False)]
    whole = raw(tree, f"/workspaces/{BILLING}", loadAll="true").json()
    crews = whole["folders"][0]
    assert [f["name"] for f in crews["folders"]] == ["Bulk", "North"]
    assert [s["id"] for s in crews["folders"][1]["sheets"]] == [4001]
    assert len(crews["folders"][0]["sheets"]) == BULK
    folder = raw(tree, f"/folders/{CREWS}").json()
    assert folder["sheets"] == [] and [f["name"] for f in folder["folders"]] == ["Bulk", "North"]
    assert all("sheets" not in f for f in folder["folders"])  # immediate children only


def test_workspaces_list_by_cursor_and_the_deprecated_way(tree: Simulator) -> None:
    client = sdk(tree)
    listed = client.Workspaces.list_workspaces()
    assert [w.name for w in listed.data] == ["Billing", "Yard"] and listed.last_key is None
    tree.options.page_size_cap = 1
    try:
        first = client.Workspaces.list_workspaces(max_items=100)
        assert [w.name for w in first.data] == ["Billing"] and first.last_key
        second = client.Workspaces.list_workspaces(max_items=100, last_key=first.last_key)
        assert [w.name for w in second.data] == ["Yard"] and second.last_key is None
        old = raw(tree, "/workspaces", page="2", pageSize="1").json()
        assert (old["totalPages"], old["totalCount"], [w["name"] for w in old["data"]]) == (-1, -1, ["Yard"])
        assert raw(tree, "/workspaces", page="3", pageSize="1").json()["data"] == []
    finally:
        tree.options.page_size_cap = None
    assert raw(tree, "/workspaces", includeAll="true").json()["totalPages"] == -1


# ----- webhooks ------------------------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(parse_scenario(small_scenario()), token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


def create_hooks(client: Any, count: int) -> list[int]:
    ids = []
    for n in range(count):
        spec = {
            "name": f"hook {n}",
            "callbackUrl": "https://example.invalid/hook",
            "scope": "sheet",
            "scopeObjectId": 4001 + n % 2,
            "events": ["*.*"],
            "version": 1,
        }
        ids.append(client.Webhooks.create_webhook(smartsheet.models.Webhook(spec)).result.id)
    return ids


def test_webhooks_list_newest_first_by_cursor(sim: Simulator) -> None:
    client = sdk(sim)
    ids = create_hooks(client, 5)
    newest_first = list(reversed(ids))
    body = raw(sim, "/webhooks", maxItems="100").json()
    assert [h["id"] for h in body["data"]] == newest_first and "lastKey" not in body
    assert "totalPages" not in body
    sim.options.page_size_cap = 2
    first = raw(sim, "/webhooks", maxItems="100").json()
    assert [h["id"] for h in first["data"]] == newest_first[:2]
    client.Webhooks.delete_webhook(newest_first[1])  # already seen: the cursor still holds its place
    client.Webhooks.delete_webhook(newest_first[3])  # not yet seen: it is simply gone
    create_hooks(client, 1)  # newer than the cursor: not on the later pages
    second = raw(sim, "/webhooks", maxItems="100", lastKey=first["lastKey"]).json()
    assert [h["id"] for h in second["data"]] == [newest_first[2], newest_first[4]] and "lastKey" not in second
    assert sim.call_counts["GET /webhooks"] == 3


def test_webhooks_list_the_deprecated_way(sim: Simulator) -> None:
    client = sdk(sim)
    ids = create_hooks(client, 3)
    everything = client.Webhooks.list_webhooks()
    assert [h.id for h in everything.data] == list(reversed(ids))
    assert (everything.total_pages, everything.total_count, everything.last_key) == (-1, -1, None)
    first = client.Webhooks.list_webhooks(page_size=2, page=1)
    assert [h.id for h in first.data] == [ids[2], ids[1]] and first.last_key  # the cursor to go on with
    rest = raw(sim, "/webhooks", maxItems="100", lastKey=first.last_key).json()
    assert [h["id"] for h in rest["data"]] == [ids[0]]
    assert client.Webhooks.list_webhooks(page_size=2, page=2).data[0].id == ids[0]
    assert client.Webhooks.list_webhooks(page_size=2, page=5).data == []  # past the end: empty, not the last
    all_at_once = raw(sim, "/webhooks", includeAll="true").json()
    assert [h["id"] for h in all_at_once["data"]] == list(reversed(ids)) and all_at_once["totalPages"] == -1
