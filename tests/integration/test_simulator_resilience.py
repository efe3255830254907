"""Rate limits, latency, injected errors and timeouts, and how the SDK's retries meet them."""

from __future__ import annotations

import time

import pytest
import requests
from smartsheet.exceptions import ApiError, RateLimitExceededError, UnexpectedErrorShouldRetryError

from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import parse_scenario
from smartsheet_sim.testing import no_sleep_backoff, small_scenario
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


def test_rate_limits_are_off_by_default(sim: Simulator) -> None:
    assert all(get(sim, history_path(sim)).status_code == 200 for _ in range(35))


def test_cell_history_is_limited_to_30_a_minute(sim: Simulator) -> None:
    sim.options.rate_limits = True
    statuses = [get(sim, history_path(sim)).status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    answer = get(sim, history_path(sim))
    assert answer.status_code == 429
    body = answer.json()
    assert (body["errorCode"], body["message"]) == (4003, "Rate limit exceeded.") and body["refId"]
    assert get(sim, "/sheets/4001").status_code == 200  # the general limit is not reached
    assert sim.call_counts[HISTORY] == 32


def test_the_general_limit_and_the_wall_clock_window(sim: Simulator) -> None:
    sim.options.rate_limits = True
    sim.options.requests_per_window = 5
    sim.options.rate_window_seconds = 0.3
    assert [get(sim, "/sheets").status_code for _ in range(6)] == [200] * 5 + [429]
    time.sleep(0.35)
    assert get(sim, "/sheets").status_code == 200


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
