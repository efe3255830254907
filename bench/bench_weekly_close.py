"""Weekly close at real size: a scan run drains the backlog under Smartsheet's limits.

10 sheets of `--rows` rows each (default 20,000), their week closed before the baseline.  After it,
1 % of rows are marked Invoiced and another 1 % have their quantity and total edited.  The
simulator enforces Smartsheet's limits on its virtual clock; the audit runs as it does in AWS: the
scan-run state machine (played locally from the definition moto holds) invoking the scan handler,
paced by the token's shared budget, waiting in virtual time.

Reported, each against its floor measured in the same run:
- cell-history reads against the rules' minimum (FORMAT.md "Scan mode": the tracked, Status,
  Week Ending and Unit Price cells of every closed or locked modified row);
- virtual time to drain against the token's floor ((minimum history reads x 10 + the other calls)
  / 300 a minute, which equals the history reads / 30 a minute; goal at most 1.1x);
- scan-function invocations, wall time, peak memory of the process (simulator and moto run in
  the same process, so this bounds one invocation from above; goal under 1 GB);
- whether the violations equal the rules' expectation (two post_close_change per edited row).

    .venv/bin/python -m bench.bench_weekly_close [--rows 20000]   (section "weekly_close" of bench/results.json)
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.results_file import RESULTS, publish
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import local_lambda_environment
from billing_audit_local.scan_runs import LocalScanRuns
from billing_audit_local.scenario import config_for
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario

SHEETS = 10
HISTORY = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"
RULE_COLUMNS_PER_ROW = 5  # Quantity, Redlined Total Price, Status, Week Ending, Unit Price
TITLES = ("Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman")


def scenario(rows: int) -> tuple[dict[str, Any], int, int]:
    """The scenario, the rows the rules must replay, and the violations they must find."""
    columns: list[dict[str, Any]] = [{"title": t, "type": "TEXT_NUMBER"} for t in TITLES]
    columns[0]["primary"] = True
    columns[1]["type"] = "DATE"
    columns[2] = {"title": "Status", "type": "PICKLIST", "options": ["Completed", "Approved", "Invoiced"]}
    step = 100  # 1 %: row n is invoiced when n % step == 0, edited when n % step == step // 2
    sheets, edits = [], []
    for s in range(SHEETS):
        sheet_id = 9000 + s
        sheets.append(
            {
                "id": sheet_id,
                "name": f"Crew {s} Billing",
                "columns": columns,
                "rows": [
                    {
                        "id": sheet_id * 100_000 + n,
                        "created_at": "2026-11-16T15:00:00Z",
                        "created_by": "ana@example.com",
                        "cells": {
                            "Work Request #": f"WR-{s}-{n}",
                            "Week Ending": "2026-11-22",
                            "Status": "Completed",
                            "Quantity": 10,
                            "Unit Price": 100.0,
                            "Redlined Total Price": 1000.0,
                            "Foreman": "J. Diaz",
                        },
                    }
                    for n in range(rows)
                ],
            }
        )
        for n in range(rows):
            change: dict[str, Any] | None = None
            if n % step == 0:
                change = {"Status": "Invoiced"}
            elif n % step == step // 2:
                change = {"Quantity": 11, "Redlined Total Price": 1100.0}
            if change is not None:
                minute = (s * rows + n) // step
                edits.append(
                    {
                        "at": f"2026-11-24T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z",
                        "by": "bob@example.com",
                        "sheet": sheet_id,
                        "row": sheet_id * 100_000 + n,
                        "set": change,
                    }
                )
    modified_per_sheet = len([n for n in range(rows) if n % step in (0, step // 2)])
    edited_per_sheet = len([n for n in range(rows) if n % step == step // 2])
    data = {
        "name": f"weekly close, {SHEETS} x {rows} rows",
        "timezone": "America/Chicago",
        "baseline_at": "2026-11-23T12:00:00Z",
        "now": "2026-11-25T12:00:00Z",
        "users": [
            {"id": 5001, "email": "ana@example.com", "name": "Ana Ortiz"},
            {"id": 5002, "email": "bob@example.com", "name": "Bob Kline"},
        ],
        "sheets": sheets,
        "edits": edits,
    }
    return data, SHEETS * modified_per_sheet, SHEETS * edited_per_sheet * 2


def run(rows: int) -> dict[str, Any]:
    data, replayed_rows, expected_violations = scenario(rows)
    parsed = parse_scenario(data)
    config = config_for(parsed)
    with local_lambda_environment(), LocalCloud() as cloud, Simulator(parsed) as sim:
        cloud.provision()
        deps = simulator_deps(sim, config)
        runs = LocalScanRuns(cloud, sim, config, deps)
        sim.apply_edits_through(parsed.baseline_at)
        sim.set_time(parsed.baseline_at)
        runs.run()
        sim.apply_edits_through(parsed.now)
        sim.set_time(parsed.now)
        sim.reset_call_counts()
        started = time.perf_counter()
        report = runs.run()
        wall = time.perf_counter() - started
        calls = dict(sim.call_counts)
        violations = sum(1 for e in deps.events.all_events() if e.violation)
    minimum_reads = replayed_rows * RULE_COLUMNS_PER_ROW
    history_reads = calls.get(HISTORY, 0)
    other_calls = sum(calls.values()) - history_reads
    floor_minutes = (minimum_reads * 10 + other_calls) / 300
    virtual_minutes = report.virtual_time.total_seconds() / 60
    return {
        "sheets": SHEETS,
        "rows_per_sheet": rows,
        "rows_replayed": replayed_rows,
        "cell_history_reads": history_reads,
        "cell_history_minimum": minimum_reads,
        "history_reads_ratio": round(history_reads / minimum_reads, 3),
        "other_calls": other_calls,
        "virtual_minutes": round(virtual_minutes, 1),
        "floor_minutes": round(floor_minutes, 1),
        "drain_ratio": round(virtual_minutes / floor_minutes, 3),
        "drain_goal": 1.1,
        "invocations": report.invocations,
        "wall_seconds": round(wall, 1),
        # ru_maxrss is in KiB on Linux: the whole process, simulator and moto included.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "memory_goal_mb": 1024,
        "violations": violations,
        "violations_expected": expected_violations,
        "violations_exact": violations == expected_violations,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per sheet (default 20,000)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: bench/results.json)")
    args = parser.parse_args(argv)
    result = run(args.rows)
    publish("weekly_close", result, args.out)
    return 0 if result["violations_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
