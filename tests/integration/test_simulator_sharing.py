"""The simulator's shares through groups and workspaces, and its groups, as the OpenAPI file shapes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from smartsheet_sim import Simulator
from smartsheet_sim.scenario import ScenarioError, parse_scenario
from smartsheet_sim.testing import assert_valid, response_pointer, small_scenario
from tests.integration.simulator_support import TOKEN


def sharing_scenario() -> dict[str, Any]:
    scenario = small_scenario()
    scenario["groups"] = [{"name": "Crew Leads", "members": ["bob@example.com", "carl@example.com"]}]
    scenario["workspaces"] = [
        {
            "name": "Billing",
            "shares": [
                {"email": "dana@example.com", "access_level": "VIEWER"},
                {"group": "Crew Leads", "access_level": "EDITOR"},
            ],
        }
    ]
    scenario["sheets"][0]["shares"].append({"group": "Crew Leads", "access_level": "EDITOR_SHARE"})
    return scenario


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(parse_scenario(sharing_scenario()), token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


def call(sim: Simulator, path: str, status: int = 200) -> Any:
    answer = requests.get(f"{sim.api_base}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == status, answer.text
    return answer.json()


def test_item_shares_and_with_workspace_shares(sim: Simulator) -> None:
    pointer = response_pointer("/sheets/{sheetId}/shares", "get")
    item = call(sim, "/sheets/4001/shares")
    assert_valid(item, pointer)
    assert {(s["type"], s.get("email") or s["name"], s["scope"]) for s in item["data"]} == {
        ("USER", "ana@example.com", "ITEM"),
        ("USER", "bob@example.com", "ITEM"),
        ("USER", "zed@outside.example", "ITEM"),
        ("GROUP", "Crew Leads", "ITEM"),
    }
    both = call(sim, "/sheets/4001/shares?include=workspaceShares")
    assert_valid(both, pointer)
    workspace = {
        (s["type"], s.get("email") or s["name"], s["accessLevel"]) for s in both["data"] if s["scope"] == "WORKSPACE"
    }
    assert workspace == {("USER", "dana@example.com", "VIEWER"), ("GROUP", "Crew Leads", "EDITOR")}
    # The archive sheet sits in no workspace: nothing is inherited.
    assert call(sim, "/sheets/4003/shares?include=workspaceShares")["data"] == []


def test_groups_list_their_members(sim: Simulator) -> None:
    share = next(s for s in call(sim, "/sheets/4001/shares")["data"] if s["type"] == "GROUP")
    group = call(sim, f"/groups/{share['groupId']}")
    assert_valid(group, response_pointer("/groups/{groupId}", "get"))
    assert [m["email"] for m in group["members"]] == ["bob@example.com", "carl@example.com"]
    assert call(sim, "/groups/12345", status=404)["errorCode"]


def test_a_share_naming_an_unknown_group_is_refused() -> None:
    scenario = sharing_scenario()
    scenario["sheets"][1]["shares"] = [{"group": "Nobody", "access_level": "EDITOR"}]
    with pytest.raises(ScenarioError, match=r"sheets\.1\.shares\.0\.group"):
        parse_scenario(scenario)
