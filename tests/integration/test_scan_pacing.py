"""The scan at Smartsheet's limits (the simulator enforces them, on its virtual clock): paced by the
token's shared budget, it meets no rate-limit answer, loses nothing, and takes the time the
limits impose, no more."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from billing_audit.pipeline.scan import run_scan
from billing_audit.smartsheet.sdk_client import SdkSmartsheet
from billing_audit_local.scenario import config_for
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario

ROWS = 40
HISTORY = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"


def closed_week_scenario(rows: int) -> dict[str, Any]:
    """One sheet whose week closed before the baseline; every row's numbers change after it."""
    titles = ["Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price"]
    columns = [{"title": t, "type": "DATE" if t == "Week Ending" else "TEXT_NUMBER"} for t in titles]
    columns[0]["primary"] = True
    return {
        "name": "a closed week, every row edited",
        "timezone": "America/Chicago",
        "baseline_at": "2026-11-09T12:00:00Z",
        "now": "2026-11-20T15:00:00Z",
        "users": [{"id": 5001, "email": "ana@example.com", "name": "Ana Ortiz"}],
        "sheets": [
            {
                "id": 7001,
                "name": "Crew 7 Billing",
                "columns": columns,
                "rows": [
                    {
                        "id": 100 + n,
                        "created_at": "2026-11-03T15:00:00Z",
                        "created_by": "ana@example.com",
                        "cells": {
                            "Work Request #": f"WR-{n}",
                            "Week Ending": "2026-11-08",
                            "Status": "Completed",
                            "Quantity": 10,
                            "Unit Price": 100.0,
                            "Redlined Total Price": 1000.0,
                        },
                    }
                    for n in range(rows)
                ],
            }
        ],
        "edits": [
            {
                "at": f"2026-11-12T{10 + n // 60:02d}:{n % 60:02d}:00Z",
                "by": "ana@example.com",
                "sheet": 7001,
                "row": 100 + n,
                "set": {"Quantity": 11, "Redlined Total Price": 1100.0},
            }
            for n in range(rows)
        ],
    }


def test_a_scan_past_the_history_limit_is_paced_not_refused(cloud) -> None:
    scenario = parse_scenario(closed_week_scenario(ROWS))
    config = config_for(scenario)
    with Simulator(scenario) as sim:  # Smartsheet's limits: on by default
        sim.start()
        deps = simulator_deps(sim, config)
        gateway = deps.smartsheet
        assert isinstance(gateway, SdkSmartsheet)
        sim.apply_edits_through(scenario.baseline_at)
        sim.set_time(scenario.baseline_at)
        run_scan(config, deps)
        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        sim.reset_call_counts()
        sim.reset_virtual_elapsed()
        result = run_scan(config, deps)
        reads = sim.call_counts[HISTORY]
        took = sim.virtual_elapsed
    assert sum(e.violation for e in result.events) == 2 * ROWS
    assert gateway.backoff.retries == 0, "no request met a rate-limit answer"
    # Every rule column of every closed, modified row, once: the history limit sets the pace.
    assert reads == 5 * ROWS
    floor = timedelta(minutes=(reads - 30) / 30)  # a fresh minute's allowance, then 30 a minute
    assert floor <= took <= floor * 1.1 + timedelta(seconds=10), took


def test_the_state_machine_drains_a_backlog_over_several_invocations(cloud) -> None:
    """The scan-run state machine as deployed (moto keeps its definition; the local player runs it),
    with invocations short enough that the backlog outlasts one: every event, each history once."""
    from billing_audit.settings import AuditSettings, load
    from billing_audit_local.scan_runs import LocalScanRuns

    scenario = parse_scenario(closed_week_scenario(ROWS))
    config = config_for(scenario)
    with Simulator(scenario) as sim:
        sim.start()
        deps = simulator_deps(sim, config)
        # 60 s of each 900 s invocation for rows: about 30 history reads at Smartsheet's pace.
        short = load(AuditSettings).model_copy(update={"scan_margin_seconds": 840})
        runs = LocalScanRuns(cloud, sim, config, deps, settings=short)
        sim.apply_edits_through(scenario.baseline_at)
        sim.set_time(scenario.baseline_at)
        assert runs.run().invocations == 1  # the baseline
        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        sim.reset_call_counts()
        report = runs.run()
        reads = sim.call_counts[HISTORY]
    assert report.invocations >= 4
    assert report.states[:2] == ["StartRun", "BacklogLeft"] and report.states[-1] == "Drained"
    assert "Pace" in report.states
    assert reads == 5 * ROWS, "no history is read twice across invocations"
    violations = [e for e in deps.events.all_events() if e.violation]
    assert len(violations) == 2 * ROWS


class _CountingTable:
    """A state table that counts the reads and writes made of it."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.reads = 0
        self.writes = 0

    def get_item(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.table.get_item(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        self.writes += 1
        return self.table.put_item(**kwargs)


def test_the_shared_budget_counts_every_take_of_two_writers_reading_only_after_the_other_wrote(cloud) -> None:
    from datetime import UTC, datetime

    import boto3

    from billing_audit import resources as res
    from billing_audit.budget import Priority, Window, cost_of
    from billing_audit.store.dynamo import DynamoRequestBudget
    from billing_audit_local.environment import deployed_name

    table = boto3.resource("dynamodb").Table(deployed_name(res.STATE_TABLE.env_var))
    now = datetime(2026, 11, 20, 15, tzinfo=UTC)
    first, second = _CountingTable(table), _CountingTable(table)
    one, other = DynamoRequestBudget(first, lambda: now), DynamoRequestBudget(second, lambda: now)  # type: ignore[arg-type]
    cost = cost_of("GET /sheets/{sheetId}")  # taken as asked (a scan's history reads are prepaid: below)
    for _ in range(3):  # alone: the first take reads, the next write on what it wrote
        assert one.take(cost, Priority.SCAN) == 0
    assert first.reads == 1
    assert other.take(cost, Priority.SCAN) == 0  # the other writer reads the window as it stands
    assert one.take(cost, Priority.SCAN) == 0  # its condition fails: it reads again, then takes
    assert first.reads == 2 and second.reads == 1
    stored = table.get_item(Key=DynamoRequestBudget.KEY, ConsistentRead=True)["Item"]
    assert len(Window.model_validate_json(str(stored["window"])).grants) == 5  # no take lost


def test_a_scan_takes_a_rows_history_reads_in_one_write_and_what_it_does_not_read_lapses(cloud) -> None:
    from datetime import UTC, datetime, timedelta

    import boto3

    from billing_audit import resources as res
    from billing_audit.budget import PREPAID_HISTORY, PREPAID_SECONDS, Priority, Window, cost_of
    from billing_audit.store.dynamo import DynamoRequestBudget
    from billing_audit_local.environment import deployed_name

    table = boto3.resource("dynamodb").Table(deployed_name(res.STATE_TABLE.env_var))
    table.delete_item(Key=DynamoRequestBudget.KEY)
    clock = {"now": datetime(2026, 11, 21, 15, tzinfo=UTC)}
    counted = _CountingTable(table)
    scan = DynamoRequestBudget(counted, lambda: clock["now"])  # type: ignore[arg-type]
    history = cost_of(HISTORY)

    def window() -> Window:
        stored = table.get_item(Key=DynamoRequestBudget.KEY, ConsistentRead=True)["Item"]
        return Window.model_validate_json(str(stored["window"]))

    for _ in range(PREPAID_HISTORY):
        assert scan.take(history, Priority.SCAN) == 0
    assert counted.writes == 1  # a row's reads: one write of the shared window
    assert [grant.history for grant in window().grants] == [PREPAID_HISTORY]
    assert scan.take(history, Priority.SCAN) == 0  # the next row's: another write
    assert counted.writes == 2
    clock["now"] += timedelta(seconds=PREPAID_SECONDS)  # the rest lapses: it is not spent later
    assert scan.take(history, Priority.SCAN) == 0
    assert counted.writes == 3
    assert sum(grant.history for grant in window().grants) == 3 * PREPAID_HISTORY  # lapsed reads stay counted

    realtime = DynamoRequestBudget(counted, lambda: clock["now"])  # type: ignore[arg-type]
    for _ in range(2):  # real-time work takes exactly what it asks
        assert realtime.take(history, Priority.REALTIME) == 0
    assert counted.writes == 5
    assert [grant.history for grant in window().grants][-2:] == [1, 1]
