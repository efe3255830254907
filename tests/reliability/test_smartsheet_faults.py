"""Smartsheet faults through the simulator, over real HTTP and the real SDK adapter: 429 storms on
both limits, 5xx and HTML error pages, timeouts, connection resets, a sheet gone mid-scan, the token
revoked.  Whatever happens, the scan says what it could not do, moves no sheet past what it read,
and once Smartsheet answers again the stored events are exactly those of a run without faults:
none lost, none stored twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from billing_audit.pipeline.backlog import ScanResult
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import drain, new_run_id, run_scan, start_run
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from billing_audit_local.scenario import bundled_example, config_for
from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import Scenario, load_scenario

pytestmark = pytest.mark.reliability

SCENARIO = load_scenario(bundled_example())
CONFIG = config_for(SCENARIO)


@dataclass
class World:
    sim: Simulator
    deps: AuditDeps
    gateway: SdkSmartsheet
    new_events: int = 0  # events each scan reported as new, summed over the runs

    def scan(self) -> ScanResult:
        result = run_scan(CONFIG, self.deps)
        self.new_events += sum(sheet.new_events for sheet in result.sheets)
        return result

    def event_ids(self) -> list[str]:
        return sorted(event.event_id for event in self.deps.events.all_events())


def _world(scenario: Scenario, options: SimulatorOptions, **gateway: Any) -> Iterator[World]:
    with Simulator(scenario, options) as sim:
        api_base = sim.start()
        adapter = SdkSmartsheet(
            token=sim.token,
            api_base=api_base,
            backoff=ExponentialBackoff(base_seconds=1.0, sleep=sim.sleep),
            sleep=sim.sleep,
            **gateway,
        )
        deps = AuditDeps(
            smartsheet=adapter,
            events=MemoryEventStore(),
            state=MemoryStateStore(),
            alerts=MemoryAlertPublisher(),
            notifier=MemoryAlertPublisher(),
            clock=lambda: sim.now,
        )
        world = World(sim, deps, adapter)
        sim.apply_edits_through(scenario.baseline_at)
        sim.set_time(scenario.baseline_at)
        baseline = world.scan()
        assert not [sheet.error for sheet in baseline.sheets if sheet.error]
        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        yield world


@pytest.fixture(scope="module")
def reference() -> list[str]:
    """The events of the same scenario scanned without a fault."""
    for world in _world(SCENARIO, SimulatorOptions(rate_limits=False)):
        result = world.scan()
        assert not [sheet.error for sheet in result.sheets if sheet.error]
        ids = world.event_ids()
        assert ids and world.new_events == len(ids)
        return ids
    raise AssertionError("unreachable")


@pytest.fixture
def world() -> Iterator[World]:
    yield from _world(SCENARIO, SimulatorOptions(rate_limits=False, seed=7), timeout_seconds=0.3)


def _errors(result: ScanResult) -> list[str]:
    return [sheet.error for sheet in result.sheets if sheet.error]


def _recover(world: World, heal: Callable[[], None]) -> None:
    """Smartsheet answers again: the next run (and the one after, for a sheet re-planned) finishes."""
    heal()
    for _ in range(3):
        if not _errors(world.scan()) and not world.deps.runs.open_sheets():
            return
    raise AssertionError("the scan did not recover")


def _same_events_each_once(world: World, reference: list[str]) -> None:
    assert world.event_ids() == reference  # none lost, none extra
    assert world.new_events == len(reference)  # each stored (and so alerted) as new once


@pytest.mark.parametrize("status", [500, 502])
def test_error_answers_json_or_html_lose_nothing(world: World, reference: list[str], status: int) -> None:
    world.sim.options.error_status = status
    world.sim.options.error_rate = 0.35
    faulty = world.scan()
    if status == 500:
        # 4004 is retried within the backoff's budget: the run gets through.
        assert not _errors(faulty) and world.gateway.backoff.retries > 0
    else:
        # An HTML 502 carries no error code to retry on: the sheet's run says so and stops there.
        assert _errors(faulty) and all("HTTP 502" in error for error in _errors(faulty))

    def heal() -> None:
        world.sim.options.error_rate = 0.0

    _recover(world, heal)
    _same_events_each_once(world, reference)


def test_timeouts_are_reported_and_the_next_run_resumes(world: World, reference: list[str]) -> None:
    world.sim.options.timeout_seconds = 0.3
    world.sim.options.timeout_rate = 0.5
    faulty = world.scan()
    assert _errors(faulty) and all("unreachable" in error for error in _errors(faulty))

    def heal() -> None:
        world.sim.options.timeout_rate = 0.0

    _recover(world, heal)
    _same_events_each_once(world, reference)


def test_connection_resets_are_reported_and_the_next_run_resumes(world: World, reference: list[str]) -> None:
    world.sim.options.reset_rate = 0.4
    faulty = world.scan()
    assert _errors(faulty) and all("unreachable" in error for error in _errors(faulty))

    def heal() -> None:
        world.sim.options.reset_rate = 0.0

    _recover(world, heal)
    _same_events_each_once(world, reference)


def test_a_429_storm_on_both_limits_waits_and_loses_nothing(reference: list[str]) -> None:
    # No shared budget paces these requests: Smartsheet's own 429s (4003) are all that slows them.
    # A window of 25: two history reads (weighing 10 each) and a few other requests a minute.
    options = SimulatorOptions(rate_limits=True, requests_per_window=25, history_requests_per_window=2)
    for world in _world(SCENARIO, options):
        world.sim.reset_rate_limits()
        started = world.sim.now
        world.gateway.backoff.retries = 0
        assert not _errors(world.scan())
        assert world.gateway.backoff.retries > 0  # it was refused, and waited
        assert (world.sim.now - started).total_seconds() >= 60  # a minute at a time, on the virtual clock
        _same_events_each_once(world, reference)


def test_a_sheet_gone_mid_scan_is_reported_and_audited_once_it_is_back(world: World, reference: list[str]) -> None:
    run_id = new_run_id(world.sim.now)
    started = start_run(CONFIG, world.deps, run_id)
    planned = [sheet.sheet_id for sheet in started if sheet.rows_modified or sheet.rows_added]
    assert planned
    gone = planned[0]
    world.sim.make_scope_inaccessible(gone)  # deleted, or shared away from the token's owner
    progress = drain(CONFIG, world.deps)
    failed = {sheet.sheet_id: sheet.error for sheet in progress.sheets if sheet.error}
    assert list(failed) == [gone] and "404" in (failed[gone] or "")
    world.new_events += sum(sheet.new_events for sheet in progress.sheets)
    assert world.deps.state.load(gone) is not None  # its snapshot stays where it was

    def heal() -> None:
        world.sim.make_scope_accessible(gone)

    _recover(world, heal)
    _same_events_each_once(world, reference)


def test_a_revoked_token_stops_the_scan_cleanly_and_a_renewed_one_resumes(reference: list[str]) -> None:
    tokens = {"current": "sim-token"}
    for world in _world(SCENARIO, SimulatorOptions(rate_limits=False), renew_token=lambda: tokens["current"]):
        world.sim.revoke_token("rotated-token")
        refused = world.scan()
        assert len(_errors(refused)) == len(refused.sheets)
        assert all("HTTP 401: the token was refused" in error for error in _errors(refused))
        assert world.event_ids() == []  # nothing read, nothing stored

        def heal() -> None:
            tokens["current"] = "rotated-token"  # the rotated secret reaches the container

        _recover(world, heal)
        _same_events_each_once(world, reference)
