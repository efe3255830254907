"""A scan run spread over several invocations (the durable backlog in DynamoDB, through moto)
ends with exactly the events of one unlimited run, and reads no cell history twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from billing_audit.pipeline.backlog import SheetBacklog, Urgency
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import drain, run_scan, start_run
from billing_audit.smartsheet.sdk_client import SdkSmartsheet
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import Scenario, load_scenario


class CountingHistories(SdkSmartsheet):
    """The real adapter, remembering which cell histories it read."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history_cells: Counter[tuple[int, int, int]] = Counter()

    def cell_history(self, sheet_id: int, row_id: int, column_id: int, column_title: str) -> Any:
        self.history_cells[(sheet_id, row_id, column_id)] += 1
        return super().cell_history(sheet_id, row_id, column_id, column_title)


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario(bundled_example())


def _run_until(sim: Simulator, scenario: Scenario, deps: AuditDeps, *, rows_per_invocation: int | None) -> list[Any]:
    config = config_for(scenario)
    sim.apply_edits_through(scenario.baseline_at)
    sim.set_time(scenario.baseline_at)
    run_scan(config, deps)
    sim.apply_edits_through(scenario.now)
    sim.set_time(scenario.now)
    if rows_per_invocation is None:
        return sorted(e.event_id for e in run_scan(config, deps).events)
    start_run(config, deps, run_id="2026-11-12T09:00:00Z-test")
    events: list[str] = []
    invocations = 0
    while True:
        # An invocation with time for `rows_per_invocation` rows: each row costs one unit of time.
        clock = iter(range(rows_per_invocation, -1, -1))
        progress = drain(config, deps, time_left=lambda ticks=clock: float(next(ticks)), margin_seconds=0)
        invocations += 1
        events.extend(e.event_id for e in progress.events)
        if progress.finished:
            break
        assert progress.rows_done == rows_per_invocation, "each invocation works until its time is up"
        assert progress.rows_left > 0 and progress.open_since == scenario.now
    assert invocations >= 3
    return sorted(events)


@pytest.fixture
def sims(scenario: Scenario) -> Iterator[tuple[Simulator, Simulator]]:
    with Simulator(scenario) as one, Simulator(scenario) as other:
        one.start()
        other.start()
        yield one, other


def test_a_backlog_over_several_invocations_equals_one_unlimited_run(cloud, sims, scenario) -> None:
    unlimited_sim, resumable_sim = sims
    config = config_for(scenario)
    unlimited = _run_until(unlimited_sim, scenario, simulator_deps(unlimited_sim, config), rows_per_invocation=None)

    # The same scenario again, from a clean state table, through a run drained one row at a time.
    for sheet in scenario.sheets:
        cloud.client("dynamodb").delete_item(
            TableName=cloud.names["STATE_TABLE"], Key={"pk": {"S": f"sheet#{sheet.id}"}, "sk": {"S": "head"}}
        )
    deps = simulator_deps(resumable_sim, config)
    counting = CountingHistories(token=resumable_sim.token, api_base=resumable_sim.api_base)
    deps.smartsheet = counting
    resumed = _run_until(resumable_sim, scenario, deps, rows_per_invocation=1)

    assert resumed == unlimited
    assert counting.history_cells and max(counting.history_cells.values()) == 1, "no history is read twice"
    assert deps.runs.open_sheets() == []


def test_the_most_urgent_rows_are_drained_first(cloud, sims, scenario) -> None:
    sim, _ = sims
    config = config_for(scenario)
    deps = simulator_deps(sim, config)
    sim.apply_edits_through(scenario.baseline_at)
    sim.set_time(scenario.baseline_at)
    run_scan(config, deps)
    sim.apply_edits_through(scenario.now)
    sim.set_time(scenario.now)
    start_run(config, deps, run_id="2026-11-12T09:00:00Z-order")
    [sheet_id] = deps.runs.open_sheets()
    _, plan = deps.runs.current(sheet_id) or ("", b"")
    urgencies = [item.urgency for item in SheetBacklog.model_validate_json(plan).work]
    assert urgencies == sorted(urgencies) and urgencies[0] == Urgency.CHANGED_CLOSED


def _after_baseline(sim: Simulator, scenario: Scenario) -> tuple[Any, AuditDeps]:
    config = config_for(scenario)
    deps = simulator_deps(sim, config)
    sim.apply_edits_through(scenario.baseline_at)
    sim.set_time(scenario.baseline_at)
    run_scan(config, deps)
    sim.apply_edits_through(scenario.now)
    sim.set_time(scenario.now)
    return config, deps


def test_a_row_deleted_while_waiting_in_the_backlog_does_not_block_its_sheet(cloud, sims, scenario) -> None:
    import smartsheet

    sim, _ = sims
    config, deps = _after_baseline(sim, scenario)
    start_run(config, deps, run_id="20261114T150000Z-deleted")
    [sheet_id] = deps.runs.open_sheets()
    _, plan = deps.runs.current(sheet_id) or ("", b"")
    first = SheetBacklog.model_validate_json(plan).work[0].row_id
    client = smartsheet.Smartsheet(access_token=sim.token, api_base=sim.api_base)
    client.errors_as_exceptions(True)
    client.Sheets.delete_rows(sheet_id, [first])  # gone before the drain reaches it
    progress = drain(config, deps)
    assert progress.finished and deps.runs.open_sheets() == []
    assert all(e.row_id != first for e in progress.events)
    later = run_scan(config, deps)  # the next run finds the deletion
    assert any(e.row_id == first and e.type.value == "closed_row_deleted" for e in later.events)


def test_a_scan_in_one_go_finishes_a_backlog_an_earlier_run_left_open(cloud, sims, scenario) -> None:
    sim, _ = sims
    config, deps = _after_baseline(sim, scenario)
    start_run(config, deps, run_id="20261114T150000Z-crashed")  # then the invocation died
    result = run_scan(config, deps)
    assert sum(e.violation for e in result.events) == 7
    assert deps.runs.open_sheets() == []


def test_the_run_store_opens_and_closes_a_run_in_one_write(cloud, sims, scenario) -> None:
    from billing_audit.store.interfaces import RunInProgress

    sim, _ = sims
    _, deps = _after_baseline(sim, scenario)
    runs = deps.runs
    runs.begin(42, "20261114T150000Z-a", b'{"plan": 1}')
    with pytest.raises(RunInProgress):
        runs.begin(42, "20261114T150000Z-b", b'{"plan": 2}')
    runs.mark_done(42, "20261114T150000Z-a", 7)
    assert runs.current(42) == ("20261114T150000Z-a", b'{"plan": 1}') and runs.done(42, "20261114T150000Z-a") == {7}
    runs.end(42, "20261114T150000Z-b")  # not the open run: nothing closes
    assert runs.open_sheets() == [42]
    runs.end(42, "20261114T150000Z-a")
    assert runs.open_sheets() == [] and runs.current(42) is None and runs.done(42, "20261114T150000Z-a") == set()
