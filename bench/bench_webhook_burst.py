"""Webhook burst at real size: a 500-row paste and 2,000 single-cell edits through signed callbacks.

One sheet of `--rows` rows (default 20,000), its week closed; the webhook enabled before the
baseline, as a deployment does it.  After the baseline: a paste of 500 backdated rows in one save,
then 2,000 single-cell edits to distinct rows, one every `--gap` seconds.  Smartsheet's limits are
on (the simulator's virtual clock); callbacks go out as Smartsheet bundles them, signed, through the
local API front, the FIFO queue and the process handler, as in AWS.

Reported:
- cell-history reads per callback, and by cause (goal: 0 for single edits);
- virtual time from edit to stored event (detected_at - changed_at): p50, p99, max;
- processing wall time per callback: p50, p99 (the handler's own work, against its floor: the
  same callbacks' row reads alone, which it cannot do without);
- callbacks queued by reference (the paste is larger than a queue message), and the DLQ's depth
  (goal: 0);
- whether every edit and every pasted row gave its finding.

    .venv/bin/python -m bench.bench_webhook_burst [--rows 20000]   (section "webhook_burst" of bench/results.json)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.results_file import RESULTS, publish
from billing_audit.config import AuditConfig
from billing_audit.pipeline.alerting import AlertBatch
from billing_audit.pipeline.callbacks import CallbackResult, process_callback
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.smartsheet.webhooks import WebhookCallback
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import local_lambda_environment
from billing_audit_local.scan_runs import LocalScanRuns
from billing_audit_local.scenario import config_for
from billing_audit_local.serve import LocalWebhookStack
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario

SHEET = 9100
PASTE = 500
EDITS = 2_000
HISTORY = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"
TITLES = ("Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman")


def _clock(seconds: int) -> str:
    return f"2026-11-24T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"


def scenario(rows: int, gap: int) -> dict[str, Any]:
    columns: list[dict[str, Any]] = [{"title": t, "type": "TEXT_NUMBER"} for t in TITLES]
    columns[0]["primary"] = True
    columns[1]["type"] = "DATE"
    cells = {
        "Week Ending": "2026-11-22",
        "Status": "Completed",
        "Quantity": 10,
        "Unit Price": 100.0,
        "Redlined Total Price": 1000.0,
        "Foreman": "J. Diaz",
    }
    base = SHEET * 100_000
    edits: list[dict[str, Any]] = [
        {  # the paste: one save of 500 rows
            "at": _clock(3600),
            "by": "ana@example.com",
            "sheet": SHEET,
            "add": {"id": base + rows + n, "cells": {"Work Request #": f"WR-P-{n}", **cells}},
        }
        for n in range(PASTE)
    ]
    step = rows // EDITS
    edits += [
        {
            "at": _clock(2 * 3600 + n * gap),
            "by": "bob@example.com",
            "sheet": SHEET,
            "row": base + n * step,
            "set": {"Quantity": 11},
        }
        for n in range(EDITS)
    ]
    return {
        "name": f"webhook burst on {rows} rows",
        "timezone": "America/Chicago",
        "baseline_at": "2026-11-23T12:00:00Z",
        "now": "2026-11-25T12:00:00Z",
        "users": [
            {"id": 5001, "email": "ana@example.com", "name": "Ana Ortiz"},
            {"id": 5002, "email": "bob@example.com", "name": "Bob Kline"},
        ],
        "sheets": [
            {
                "id": SHEET,
                "name": "Crew Billing",
                "columns": columns,
                "rows": [
                    {
                        "id": base + n,
                        "created_at": "2026-11-16T15:00:00Z",
                        "created_by": "ana@example.com",
                        "cells": {"Work Request #": f"WR-{n}", **cells},
                    }
                    for n in range(rows)
                ],
            }
        ],
        "edits": edits,
    }


class Measured:
    """process_callback, with what each call read and how long it took."""

    def __init__(self, deps: AuditDeps) -> None:
        self.deps = deps
        self.results: list[CallbackResult] = []
        self.seconds: list[float] = []

    def __call__(
        self,
        callback: WebhookCallback,
        config: AuditConfig,
        deps: AuditDeps,
        *,
        history_allowance: int | None,
        batch: AlertBatch | None,
    ) -> CallbackResult:
        started = time.perf_counter()
        result = process_callback(callback, config, deps, history_allowance=history_allowance, batch=batch)
        self.seconds.append(time.perf_counter() - started)
        self.results.append(result)
        return result


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run(rows: int, gap: int) -> dict[str, Any]:
    parsed = parse_scenario(scenario(rows, gap))
    config = config_for(parsed)
    with local_lambda_environment(), LocalCloud() as cloud, Simulator(parsed) as sim:
        cloud.provision()
        deps = simulator_deps(sim, config)
        measured = Measured(deps)
        runs = LocalScanRuns(cloud, sim, config, deps)
        sim.apply_edits_through(parsed.baseline_at)
        sim.set_time(parsed.baseline_at)
        stack = LocalWebhookStack(sim, config, deps, process=measured)
        stack.start()
        try:
            if not stack.sync().ok:
                raise RuntimeError("the webhook could not be enabled")
            runs.run()  # the baseline
            sim.reset_call_counts()
            pending = None
            bundle = sim.options.bundle_seconds
            started = time.perf_counter()
            for edit in parsed.ordered_edits():
                if pending is not None and (edit.at - pending).total_seconds() >= bundle:
                    stack.pump()
                    pending = None
                sim.apply_edit(edit)
                pending = pending or edit.at
            stack.pump()
            wall = time.perf_counter() - started
            calls = dict(sim.call_counts)
            dead = stack.worker.dead_letters(stack.dlq_url) if stack.worker else []
        finally:
            stack.stop()
        events = deps.events.all_events()
    causes: Counter[str] = Counter()
    for result in measured.results:
        causes.update({cause.name: n for cause, n in result.history_reads.items()})
    callbacks = len(measured.results)
    lags = [(e.detected_at - e.changed_at).total_seconds() for e in events if e.changed_at and e.detected_at]
    added = {e.row_id for e in events if e.type.value == "backdated_row_added"}
    edited = {e.row_id for e in events if e.type.value == "post_close_change" and e.column == "Quantity"}
    per_callback = [sum(r.history_reads.values()) for r in measured.results]
    return {
        "rows": rows,
        "paste_rows": PASTE,
        "single_edits": EDITS,
        "callbacks": callbacks,
        "history_reads": calls.get(HISTORY, 0),
        "history_reads_by_cause": dict(causes),
        "history_reads_per_callback_max": max(per_callback, default=0),
        "rows_derived": sum(r.rows_derived for r in measured.results),
        "rows_deferred": sum(r.rows_deferred for r in measured.results),
        "edit_to_event_virtual_seconds_p50": round(_percentile(lags, 0.5), 1),
        "edit_to_event_virtual_seconds_p99": round(_percentile(lags, 0.99), 1),
        "edit_to_event_virtual_seconds_max": round(max(lags, default=0.0), 1),
        "processing_wall_ms_per_callback_p50": round(1000 * statistics.median(measured.seconds), 1),
        "processing_wall_ms_per_callback_p99": round(1000 * _percentile(measured.seconds, 0.99), 1),
        "wall_seconds": round(wall, 1),
        "dead_letters": len(dead),
        "pasted_rows_found": len(added),
        "edits_found": len(edited),
        "every_finding": len(added) == PASTE and len(edited) == EDITS,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows in the sheet (default 20,000)")
    parser.add_argument("--gap", type=int, default=2, help="seconds between single edits (default 2)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: bench/results.json)")
    args = parser.parse_args(argv)
    result = run(args.rows, args.gap)
    publish("webhook_burst", result, args.out)
    return 0 if result["every_finding"] and result["dead_letters"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
