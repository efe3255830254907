"""Event Reporting in the simulator (GET /2.0/events) and the adapter that reads it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from billing_audit.smartsheet import sdk_access
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.sdk_access import SdkAccess
from billing_audit.smartsheet.sdk_client import SdkSmartsheet
from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import assert_valid, response_pointer, small_scenario
from tests.integration.simulator_support import TOKEN

EVENTS = response_pointer("/events", "get")


def reporting_scenario(enabled: bool = True) -> dict[str, Any]:
    scenario = small_scenario()
    if enabled:
        scenario["event_reporting"] = {"source": "WEB_APP", "ip": "198.51.100.10"}
    scenario["edits"][0].update(source="MOBILE_IOS", ip="203.0.113.77")
    scenario["users"][1]["logins"] = ["2026-11-12T08:00:00Z"]
    return scenario


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(parse_scenario(reporting_scenario()), SimulatorOptions(rate_limits=False), token=TOKEN)
    simulator.apply_edits_through(simulator.scenario.now)
    simulator.start()
    yield simulator
    simulator.stop()


def call(sim: Simulator, query: str, status: int = 200) -> Any:
    answer = requests.get(f"{sim.api_base}/events?{query}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == status, answer.text
    return answer.json()


def test_saves_and_logins_in_time_order_as_the_openapi_file_shapes_them(sim: Simulator) -> None:
    body = call(sim, "since=2026-11-01T00:00:00Z")
    sheets = [event for event in body["data"] if event["objectType"] == "SHEET"]
    # Sheet events validate as the spec's; login events are Smartsheet's later documented USER ones.
    assert_valid({**body, "data": sheets}, EVENTS)
    assert body["moreAvailable"] is False and body["nextStreamPosition"]
    times = [event["eventTimestamp"] for event in body["data"]]
    assert times == sorted(times)
    first = sheets[0]
    assert (first["action"], first["objectId"], first["userId"]) == ("UPDATE", "4001", 5002)
    assert (first["source"], first["eventDetails"]["sourceIpAddress"]) == ("MOBILE_IOS", "203.0.113.77")
    assert first["eventTimeStamp"] == first["eventTimestamp"] == "2026-11-10T15:00:00Z"
    assert {e["source"] for e in sheets[1:]} == {"WEB_APP"}  # the scenario's default
    logins = [(e["userId"], e["eventTimestamp"]) for e in body["data"] if e["action"] == "LOGIN"]
    assert (5002, "2026-11-12T08:00:00Z") in logins and (5001, "2026-11-19T14:00:00Z") in logins
    # Nothing after the simulator's clock.
    assert max(times) <= "2026-11-20T15:00:00Z"


def test_stream_positions_page_through_without_repeats(sim: Simulator) -> None:
    everything = call(sim, "since=2026-11-01T00:00:00Z")["data"]
    seen: list[str] = []
    body = call(sim, "since=2026-11-01T00:00:00Z&maxCount=2")
    while True:
        seen += [event["eventId"] for event in body["data"]]
        if not body["moreAvailable"]:
            break
        body = call(sim, f"streamPosition={body['nextStreamPosition']}&maxCount=2")
    assert seen == [event["eventId"] for event in everything]
    # `since` resolves to the hour: a save at 15:00 is in a stream asked from 15:59.
    assert call(sim, "since=2026-11-10T15:59:00Z")["data"][0]["eventTimestamp"] == "2026-11-10T15:00:00Z"
    # Exactly one of since and streamPosition.
    call(sim, "maxCount=5", status=400)


def test_without_the_add_on_the_endpoint_refuses_and_the_adapter_says_so() -> None:
    scenario = parse_scenario(reporting_scenario(enabled=False))
    with Simulator(scenario, SimulatorOptions(rate_limits=False), token=TOKEN) as plain:
        plain.start()
        assert call(plain, "since=2026-11-01T00:00:00Z", status=403)["errorCode"] == 1004
        access = SdkAccess(SdkSmartsheet(TOKEN, plain.api_base))
        with pytest.raises(SmartsheetError, match="403"):
            access.events(datetime(2026, 11, 1, tzinfo=UTC))


def test_the_adapter_reads_every_page_with_source_and_ip(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk_access, "EVENTS_PER_REQUEST", 3)
    gateway = SdkSmartsheet(TOKEN, sim.api_base)
    events = SdkAccess(gateway).events(datetime(2026, 11, 1, tzinfo=UTC))
    assert len(events) == len(call(sim, "since=2026-11-01T00:00:00Z")["data"])
    assert gateway.call_counts()["GET /events"] == -(-len(events) // 3)
    save = next(event for event in events if event.object_type == "SHEET")
    assert (save.source, save.ip_address, save.user_id) == ("MOBILE_IOS", "203.0.113.77", 5002)
    assert save.at == datetime(2026, 11, 10, 15, tzinfo=UTC)
    # `until` cuts the stream.
    early = SdkAccess(gateway).events(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))
    assert early and all(event.at < datetime(2026, 11, 11, tzinfo=UTC) for event in early)
