"""Rate limits, latency, injected errors and timeouts, and how the SDK's retries meet them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from smartsheet.exceptions import ApiError, RateLimitExceededError, UnexpectedErrorShouldRetryError

from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import no_sleep_backoff, small_scenario, virtual_clock_backoff
from tests.integration.simulator_support import TOKEN, sdk

HISTORY = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"


def get(sim: Simulator, path: str, timeout: float = 10) -> requests.Response:
    return requests.get(f"{sim.api_base}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=timeout)


def history_path(sim: Simulator) -> str:
    sheet = sim.sheet(4001)
    assert sheet is not None
    column = sheet.column_by_title("Quantity")
    assert column is not None
    return f"/sheets/4001/rows/1/columns/{column.id}/history"


def test_rate_limits_are_on_by_default(sim: Simulator) -> None:
    assert SimulatorOptions().rate_limits is True
    assert all(get(sim, "/sheets").status_code == 200 for _ in range(300))
    answer = get(sim, "/sheets")
    assert answer.status_code == 429
    assert (answer.json()["errorCode"], answer.json()["message"]) == (4003, "Rate limit exceeded.")
    sim.sleep(60)
    assert get(sim, "/sheets").status_code == 200


def test_cell_history_is_limited_to_30_a_minute(sim: Simulator) -> None:
    sim.options.rate_limits = True
    statuses = [get(sim, history_path(sim)).status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    answer = get(sim, history_path(sim))
    assert answer.status_code == 429
    body = answer.json()
    assert (body["errorCode"], body["message"]) == (4003, "Rate limit exceeded.") and body["refId"]
    # Each history request also weighed 10 of the 300: the general limit is reached as well.
    assert get(sim, "/sheets/4001").status_code == 429
    assert sim.call_counts[HISTORY] == 32
    sim.sleep(60)
    assert get(sim, history_path(sim)).status_code == 200
    assert get(sim, "/sheets/4001").status_code == 200


def test_the_history_limit_stands_on_its_own(sim: Simulator) -> None:
    sim.options.rate_limits = True
    sim.options.history_request_weight = 1
    assert [get(sim, history_path(sim)).status_code for _ in range(31)] == [200] * 30 + [429]
    assert get(sim, "/sheets/4001").status_code == 200  # 30 of 300: the general limit is not reached


def test_a_history_request_weighs_ten_of_the_300(sim: Simulator) -> None:
    sim.options.rate_limits = True
    assert all(get(sim, "/sheets").status_code == 200 for _ in range(291))
    assert get(sim, history_path(sim)).status_code == 429  # 291 + 10 > 300, though no history yet
    assert [get(sim, "/sheets").status_code for _ in range(10)] == [200] * 9 + [429]  # refusals do not count
    sim.sleep(60)
    assert [get(sim, history_path(sim)).status_code for _ in range(2)] == [200, 200]
    assert all(get(sim, "/sheets").status_code == 200 for _ in range(280))
    assert get(sim, "/sheets").status_code == 429


def test_the_window_runs_on_the_virtual_clock_not_the_wall_clock(sim: Simulator) -> None:
    sim.options.rate_limits = True
    sim.options.requests_per_window = 5
    assert [get(sim, "/sheets").status_code for _ in range(6)] == [200] * 5 + [429]
    time.sleep(0.3)
    sim.options.rate_window_seconds = 0.2  # shorter than the wall time just waited: still full
    assert get(sim, "/sheets").status_code == 429
    sim.options.rate_window_seconds = 60
    sim.sleep(59.5)
    assert get(sim, "/sheets").status_code == 429
    sim.sleep(0.5)
    assert get(sim, "/sheets").status_code == 200


def test_the_window_slides(sim: Simulator) -> None:
    sim.options.rate_limits = True
    sim.options.requests_per_window = 4
    for _ in range(2):
        assert get(sim, "/sheets").status_code == 200
        sim.sleep(20)
    assert [get(sim, "/sheets").status_code for _ in range(3)] == [200, 200, 429]  # at 40 s: 4 within the minute
    sim.sleep(20)  # 60 s: the first two have left the window
    assert [get(sim, "/sheets").status_code for _ in range(2)] == [200, 429]
    sim.sleep(20)  # 80 s: the one at 20 s has left
    assert [get(sim, "/sheets").status_code for _ in range(2)] == [200, 429]


def test_the_sdk_waits_out_a_429_on_the_virtual_clock(sim: Simulator) -> None:
    sim.options.rate_limits = True
    sim.options.history_requests_per_window = 2
    backoff = virtual_clock_backoff(sim)
    client = sdk(sim, backoff)
    column = sim.sheet(4001).column_by_title("Quantity").id  # type: ignore[union-attr]
    started, wall = sim.now, time.monotonic()
    for _ in range(3):
        assert client.Cells.get_cell_history(4001, 1, column).total_count == 1
    assert backoff.attempts == [1]
    assert sim.call_counts[HISTORY] == 4
    assert sim.now - started == timedelta(seconds=60) == sim.virtual_elapsed
    assert time.monotonic() - wall < 5


def test_the_sdk_backs_off_and_retries_after_429(sim: Simulator) -> None:
    sim.options.rate_limits = True
    sim.options.history_requests_per_window = 2
    backoff = no_sleep_backoff(on_retry=lambda attempt, error: sim.reset_rate_limits())
    client = sdk(sim, backoff)
    column = sim.sheet(4001).column_by_title("Quantity").id  # type: ignore[union-attr]
    for _ in range(3):
        assert client.Cells.get_cell_history(4001, 1, column).total_count == 1
    assert backoff.attempts == [1]
    assert sim.call_counts[HISTORY] == 4


def test_the_sdk_gives_up_when_the_backoff_says_so(sim: Simulator) -> None:
    sim.options.rate_limits = True
    sim.options.history_requests_per_window = 1
    client = sdk(sim, no_sleep_backoff(max_attempts=2))
    column = sim.sheet(4001).column_by_title("Quantity").id  # type: ignore[union-attr]
    client.Cells.get_cell_history(4001, 1, column)
    with pytest.raises(RateLimitExceededError):
        client.Cells.get_cell_history(4001, 1, column)
    assert sim.call_counts[HISTORY] == 4  # one success, then a 429 and two retries


def test_limits_can_be_turned_off() -> None:
    with Simulator(parse_scenario(small_scenario()), options=SimulatorOptions(rate_limits=False)) as simulator:
        assert all(get(simulator, history_path(simulator)).status_code == 200 for _ in range(35))
        assert all(get(simulator, "/sheets").status_code == 200 for _ in range(300))


def test_injected_500s_are_json_4004_and_retried(sim: Simulator) -> None:
    sim.options.error_rate = 1.0
    answer = get(sim, "/sheets")
    assert answer.status_code == 500 and answer.json()["errorCode"] == 4004
    backoff = no_sleep_backoff(max_attempts=2)
    with pytest.raises(UnexpectedErrorShouldRetryError):
        sdk(sim, backoff).Sheets.list_sheets()
    assert backoff.attempts == [1, 2]
    sim.options.error_rate = 0.0
    assert sdk(sim, no_sleep_backoff()).Sheets.list_sheets().total_count == 3


def test_injected_502s_are_html_and_not_retried(sim: Simulator) -> None:
    sim.options.error_rate = 1.0
    sim.options.error_status = 502
    answer = get(sim, "/sheets")
    assert answer.status_code == 502 and answer.headers["Content-Type"].startswith("text/html")
    assert answer.text.startswith("<html>")
    sim.reset_call_counts()
    backoff = no_sleep_backoff()
    with pytest.raises(ApiError) as caught:
        sdk(sim, backoff).Sheets.list_sheets()
    assert caught.value.error.result.status_code == 502
    assert backoff.attempts == [] and sim.call_counts == {"GET /sheets": 1}


def test_faults_can_target_endpoints(sim: Simulator) -> None:
    sim.options.error_rate = 1.0
    sim.options.fault_endpoints = {HISTORY}
    assert get(sim, "/sheets/4001").status_code == 200
    assert get(sim, history_path(sim)).status_code == 500


def test_error_injection_is_deterministic_for_a_seed() -> None:
    patterns = []
    for _ in range(2):
        simulator = Simulator(parse_scenario(small_scenario()), options=SimulatorOptions(error_rate=0.5, seed=7))
        simulator.start()
        try:
            patterns.append([get(simulator, "/sheets").status_code for _ in range(20)])
        finally:
            simulator.stop()
    assert patterns[0] == patterns[1]
    assert set(patterns[0]) == {200, 500}


def test_timeouts_answer_too_late(sim: Simulator) -> None:
    sim.options.timeout_rate = 1.0
    sim.options.timeout_seconds = 0.2
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        get(sim, "/sheets", timeout=0.2)
    assert time.monotonic() - started < 0.6
    sim.options.timeout_rate = 0.0
    assert get(sim, "/sheets", timeout=2).status_code == 200


def test_latency(sim: Simulator) -> None:
    sim.options.latency_ms = 150
    started = time.monotonic()
    assert get(sim, "/sheets").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_page_size_cap(sim: Simulator) -> None:
    sim.options.page_size_cap = 2
    body = get(sim, "/sheets?pageSize=100").json()
    assert (body["pageSize"], len(body["data"]), body["totalPages"]) == (2, 2, 2)
