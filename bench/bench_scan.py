"""Scan at real size, limits off: the product's own cost over the Smartsheet floor.

10 sheets of `--rows` rows (default 20,000) with the weekly close's columns plus four the rules do
not use, their week closed.  A baseline scan, then 1 % of rows edited (quantity and total) and an
incremental scan, which replays each edited row's rule-column histories.

The scan runs in a child process of its own (spawned, so its peak memory is the scan's and the
SDK's, not the simulator's), over real HTTP against the simulator in this process, its stores in
memory: the figure is the Smartsheet side of a scan, the part that grows with the sheets.

Reported, each against its floor measured in the same run:
- baseline and incremental wall time against the physical floor: the very requests the scan sent
  (recorded as it sent them), sent again with a plain `requests` session and parsed with
  `json.loads` (goal at most 1.5x);
- peak memory of the scan process (goal under 1 GB, a Lambda's);
- bytes read by the baseline against full-sheet reads of the same sheets (it asks only the
  columns the rules use);
- 2,000 rows read through the SDK's models against the same request as plain JSON, for the
  record of what the scan no longer does.

    .venv/bin/python -m bench.bench_scan [--rows 20000]   (section "scan" of bench/results.json)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests

from bench.results_file import RESULTS, publish

SHEETS = 10
HISTORY = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"
RULE_TITLES = ("Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price")
OTHER_TITLES = ("Foreman", "Crew", "Location", "Description", "Notes")
RATIO_GOAL = 1.5
MEMORY_GOAL_MB = 1024
SDK_PAGE_ROWS = 2_000
CREATED = datetime(2026, 11, 16, 15, tzinfo=UTC)


def scenario(rows: int) -> dict[str, Any]:
    columns: list[dict[str, Any]] = [{"title": t, "type": "TEXT_NUMBER"} for t in (*RULE_TITLES, *OTHER_TITLES)]
    columns[0]["primary"] = True
    columns[1]["type"] = "DATE"
    columns[2] = {"title": "Status", "type": "PICKLIST", "options": ["Completed", "Approved", "Invoiced"]}
    step = 100  # 1 %: row n is edited when n % step == step // 2
    sheets, edits = [], []
    for s in range(SHEETS):
        sheet_id = 9000 + s
        cells = {
            "Week Ending": "2026-11-22",
            "Status": "Completed",
            "Quantity": 10,
            "Unit Price": 100.0,
            "Redlined Total Price": 1000.0,
            "Foreman": "J. Diaz",
            "Crew": f"Crew {s}",
            "Location": "Pole 114, Elm St",
            "Description": "Replace crossarm and insulators",
            "Notes": "Traffic control by city",
        }
        sheets.append(
            {
                "id": sheet_id,
                "name": f"Crew {s} Billing",
                "columns": columns,
                "rows": [
                    {
                        "id": sheet_id * 100_000 + n,
                        # Rows entered over the week, a few seconds apart, as crews do: a read of
                        # the rows modified since the last scan then brings the edited ones only.
                        "created_at": (CREATED + timedelta(seconds=5 * n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "created_by": "ana@example.com",
                        "cells": {"Work Request #": f"WR-{s}-{n}", **cells},
                    }
                    for n in range(rows)
                ],
            }
        )
        for n in range(step // 2, rows, step):
            minute = (s * rows + n) // step
            edits.append(
                {
                    "at": f"2026-11-24T{minute // 60 % 24:02d}:{minute % 60:02d}:00Z",
                    "by": "bob@example.com",
                    "sheet": sheet_id,
                    "row": sheet_id * 100_000 + n,
                    "set": {"Quantity": 11, "Redlined Total Price": 1100.0},
                }
            )
    return {
        "name": f"scan at size, {SHEETS} x {rows} rows",
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


# ----- the scan process -------------------------------------------------------------------------


def _recording_gateway(api_base: str, token: str) -> tuple[Any, list[str]]:
    """The product's adapter, recording each response's URL as the session receives it (only the
    URL: the floor fetches each again and counts its bytes, so the scan's figure carries no cost
    of the measuring)."""
    from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet

    gateway = SdkSmartsheet(token=token, api_base=api_base, backoff=ExponentialBackoff(base_seconds=0))
    seen: list[str] = []

    def note(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(response.url)

    hooks = gateway.client._session.hooks
    hooks["response"] = [*(hooks["response"] if isinstance(hooks["response"], list) else [hooks["response"]]), note]
    return gateway, seen


def _floor(urls: list[str], token: str) -> tuple[float, int]:
    """The same requests, fetched with a plain session and parsed as plain JSON."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    received = 0
    for url in urls:
        response = session.get(url, timeout=120)
        response.raise_for_status()
        json.loads(response.content)
        received += len(response.content)
    return time.perf_counter() - started, received


def _serialized_state() -> Any:
    """The state store in memory, each snapshot kept as the documents the durable store writes (its
    header, its rows in compressed buckets: store/snapshot_codec.py), read back as it reads them: a
    header alone, the buckets holding the rows asked for, or all of it.  Only the documents are
    kept: a Lambda holds no sheet's snapshot in memory once it is written, so neither may this
    process's peak."""
    from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
    from billing_audit.store import snapshot_codec as codec
    from billing_audit.store.memory import MemoryStateStore

    class SerializedStateStore(MemoryStateStore):
        def __init__(self) -> None:
            super().__init__()
            self.documents: dict[int, tuple[str, list[bytes]]] = {}

        def load(self, sheet_id: int) -> SheetSnapshot | None:
            if sheet_id not in self.documents:
                return None
            header, blobs = self.documents[sheet_id]
            return codec.with_rows(codec.decode_header(header), blobs)

        def save(self, snapshot: SheetSnapshot) -> None:
            self.documents[snapshot.sheet_id] = (codec.encode_header(snapshot), codec.encode_buckets(snapshot))

        def load_header(self, sheet_id: int) -> SheetSnapshot | None:
            document = self.documents.get(sheet_id)
            return codec.decode_header(document[0]) if document is not None else None

        def load_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
            if sheet_id not in self.documents or not row_ids:
                return {}
            blobs = self.documents[sheet_id][1]
            return codec.rows_from([blobs[b] for b in codec.buckets_of(row_ids, len(blobs))], set(row_ids))

    return SerializedStateStore()


def _own_peak_rss_mb() -> float:
    """This process's own peak resident memory.  Not `ru_maxrss`: Linux carries it over fork and
    exec, so a spawned child starts with its parent's peak (here the simulator's, holding every
    sheet).  The memory map's high-water mark (VmHWM) starts afresh with the child's own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: an upper bound


def _scan_process(conn: Connection, api_base: str, token: str, config_json: str, sheet_ids: list[int]) -> None:
    from billing_audit.config import parse_config
    from billing_audit.pipeline.deps import AuditDeps
    from billing_audit.pipeline.scan import run_scan
    from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore

    config = parse_config(json.loads(config_json))
    gateway, seen = _recording_gateway(api_base, token)
    now = {"at": datetime.fromisoformat(conn.recv())}
    deps = AuditDeps(
        smartsheet=gateway,
        events=MemoryEventStore(),
        state=_serialized_state(),
        alerts=MemoryAlertPublisher(),
        notifier=MemoryAlertPublisher(),
        clock=lambda: now["at"],
    )
    figures: dict[str, Any] = {}
    for phase in ("baseline", "incremental"):
        seen.clear()
        started = time.perf_counter()
        result = run_scan(config, deps, sheet_ids)
        wall = time.perf_counter() - started
        errors = [sheet.error for sheet in result.sheets if sheet.error]
        if errors:
            raise SystemExit(f"the {phase} scan failed: {errors[0]}")
        floor, floor_bytes = _floor(seen, token)
        figures[phase] = {
            "seconds": wall,
            "floor_seconds": floor,
            "requests": len(seen),
            "bytes": floor_bytes,  # the same responses: what the scan read
            "events": sum(len(sheet.events) for sheet in result.sheets),
        }
        if phase == "baseline":
            # What a full-sheet read of each sheet costs in bytes (no columnIds).
            full = [f"{api_base}/sheets/{sheet_id}?include=writerInfo" for sheet_id in sheet_ids]
            figures["full_read_seconds"], figures["full_read_bytes"] = _floor(full, token)
            conn.send(figures)
            now["at"] = datetime.fromisoformat(conn.recv())
    figures["peak_rss_mb"] = _own_peak_rss_mb()
    figures["violations"] = sum(1 for event in deps.events.all_events() if event.violation)
    conn.send(figures)


def _sdk_models_seconds(api_base: str, token: str, sheet_id: int) -> tuple[float, float]:
    """One page of 2,000 rows through the SDK's own models (as the scan read before), and the same
    request as plain JSON: the gap this benchmark exists to keep closed."""
    import smartsheet

    client = smartsheet.Smartsheet(access_token=token, api_base=api_base)
    client.errors_as_exceptions(True)
    started = time.perf_counter()
    client.Sheets.get_sheet(sheet_id, include="writerInfo", page_size=SDK_PAGE_ROWS, page=1)
    sdk = time.perf_counter() - started
    url = f"{api_base}/sheets/{sheet_id}?include=writerInfo&pageSize={SDK_PAGE_ROWS}&page=1"
    plain, _ = _floor([url], token)
    return sdk, plain


# ----- the run ----------------------------------------------------------------------------------


def run(rows: int) -> dict[str, Any]:
    from billing_audit_local.scenario import config_for
    from smartsheet_sim import Simulator, SimulatorOptions
    from smartsheet_sim.scenario import parse_scenario

    parsed = parse_scenario(scenario(rows))
    config = config_for(parsed)
    sheet_ids = [sheet.id for sheet in parsed.sheets]
    context = multiprocessing.get_context("spawn")
    with Simulator(parsed, SimulatorOptions(rate_limits=False, max_url_bytes=None)) as sim:
        api_base = sim.start()
        sim.apply_edits_through(parsed.baseline_at)
        sim.set_time(parsed.baseline_at)
        ours, theirs = context.Pipe()
        child = context.Process(
            target=_scan_process, args=(theirs, api_base, sim.token, config.model_dump_json(), sheet_ids)
        )
        child.start()
        ours.send(parsed.baseline_at.isoformat())
        ours.recv()  # the baseline is done: edit the sheets
        sim.apply_edits_through(parsed.now)
        sim.set_time(parsed.now)
        ours.send(parsed.now.isoformat())
        figures = ours.recv()
        child.join()
        sdk_models, sdk_page_floor = _sdk_models_seconds(api_base, sim.token, sheet_ids[0])
    base, incremental = figures["baseline"], figures["incremental"]
    edited = SHEETS * len(range(50, rows, 100))
    return {
        "sheets": SHEETS,
        "rows_per_sheet": rows,
        "columns": len(RULE_TITLES) + len(OTHER_TITLES),
        "baseline_seconds": round(base["seconds"], 2),
        "baseline_floor_seconds": round(base["floor_seconds"], 2),
        "baseline_ratio": round(base["seconds"] / base["floor_seconds"], 2),
        "baseline_requests": base["requests"],
        "baseline_mb": round(base["bytes"] / 1e6, 1),
        "full_read_mb": round(figures["full_read_bytes"] / 1e6, 1),
        "bytes_ratio": round(base["bytes"] / figures["full_read_bytes"], 3),
        "rows_edited": edited,
        "incremental_seconds": round(incremental["seconds"], 2),
        "incremental_floor_seconds": round(incremental["floor_seconds"], 2),
        "incremental_ratio": round(incremental["seconds"] / incremental["floor_seconds"], 2),
        "incremental_requests": incremental["requests"],
        "incremental_history_reads": incremental["requests"] - SHEETS,
        "violations": figures["violations"],
        "violations_expected": edited * 2,  # quantity and total changed on each closed row
        "ratio_goal": RATIO_GOAL,
        "sdk_models_page_rows": SDK_PAGE_ROWS,
        "sdk_models_page_seconds": round(sdk_models, 2),
        "plain_json_page_seconds": round(sdk_page_floor, 2),
        "sdk_models_ratio": round(sdk_models / sdk_page_floor, 1),
        "scan_peak_rss_mb": round(figures["peak_rss_mb"], 1),
        "memory_goal_mb": MEMORY_GOAL_MB,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": multiprocessing.cpu_count(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per sheet (default 20,000)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: bench/results.json)")
    args = parser.parse_args(argv)
    result = run(args.rows)
    publish("scan", result, args.out)
    return 0 if result["violations"] == result["violations_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
