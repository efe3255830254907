"""`make bench`: every bench/bench_*.py in its own process, then one table of bench/results.json.

Each benchmark records its own section of bench/results.json; this runner passes each the sizes
`make bench` was given, notes how long each took (section "runs"), and prints the headline figures
of every section with its floor or goal.  A benchmark that fails does not stop the others; the
runner then exits non-zero, naming it.

Two phases, so the whole run takes as little as it can on a two-core machine.  First the weekly
close (the longest: it drains 10 x 20,000 rows in virtual time) runs in the background while the
benchmarks whose figures a neighbour hardly moves run one after another beside it: CPU-time ratios
(report, trail), counts of calls and virtual time (weekly close, backup) and one process's own peak
memory.  Then, with the machine to themselves, the ones whose figures are wall-time ratios (detect,
event store, webhook, scan, webhook burst) and scoring, whose CPU-time ratio a neighbour did move.
Wall seconds (informational) are the only figures of the first phase that sharing inflates.

    .venv/bin/python -m bench.run_all [--rows 20000] [--report-events 100000] [--callbacks 10000] [--only scan,webhook]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results_file import RESULTS, record

BENCH = Path(__file__).parent
# Phase one: in the background from the start, and beside it, one after another.
BACKGROUND = ("weekly_close",)
BESIDE = ("report", "trail", "backup")
# Phase two, alone: wall-time ratios, the quick ones first so a broken one shows early.
# Scoring too: its CPU-time ratio moved from 1.7x alone to 2.5x beside the weekly close on this
# two-core machine (its cores share caches, and the forest's half is memory-bound).
ALONE = ("detect", "scoring", "event_store", "webhook", "scan", "webhook_burst")

# The headline figures of each section: (label, key, floor or goal as text, or a key holding it).
HEADLINES: dict[str, list[tuple[str, str, str]]] = {
    "scan": [
        ("baseline scan / floor", "baseline_ratio", "goal <= 1.5x"),
        ("incremental scan / floor", "incremental_ratio", "goal <= 1.5x"),
        ("scan peak memory (MB)", "scan_peak_rss_mb", "goal < 1024"),
        ("baseline bytes / full-sheet read", "bytes_ratio", "only the rule columns"),
        ("one sheet through SDK models / JSON", "sdk_models_ratio", "what the scan no longer does"),
    ],
    "webhook": [
        ("handler p99 / AWS calls' p99", "p99_ratio", "goal <= 1.5x"),
        ("handler p50 (ms)", "handler_p50_ms", "floor p50: floor_p50_ms"),
        ("handler p99 (ms)", "handler_p99_ms", "floor p99: floor_p99_ms"),
        (
            "handler p99 / all three of its calls' p99",
            "p99_ratio_all_calls",
            "all_calls_p99_ms ms (+ completing update)",
        ),
        ("cold import / boto3+Powertools", "import_ratio", "goal <= 1.3x"),
        ("cold import / with Logger+Metrics+Tracer built", "import_ratio_built", "goal <= 1.3x"),
        (
            "cold import less pydantic's share / boto3+Powertools",
            "import_ratio_without_pydantic",
            "pydantic_import_s s",
        ),
    ],
    "event_store": [
        ("events/s through the adapter", "adapter_events_per_s", "floor: floor_events_per_s"),
        ("raw batch-write floor / adapter", "floor_ratio", ""),
    ],
    "webhook_burst": [
        ("history reads by cause", "history_reads_by_cause", "goal: none for single edits"),
        ("edit to stored event p99 (virtual s)", "edit_to_event_virtual_seconds_p99", "bundling 60 s + pacing"),
        (
            "edit to alert on the topic p99 (virtual s)",
            "edit_to_alert_virtual_seconds_p99",
            "bound edit_to_alert_bound_max_seconds (bundling + the product's waits)",
        ),
        ("every alert within that bound", "every_alert_within_bound", "goal True"),
        ("processing / its HTTP requests raw", "processing_floor_ratio", "floor p50 floor_wall_ms_per_callback_p50 ms"),
        ("processing p99 (ms a callback)", "processing_wall_ms_per_callback_p99", ""),
        ("dead letters", "dead_letters", "goal 0"),
        ("every finding", "every_finding", "goal True"),
    ],
    "weekly_close": [
        ("drain virtual time / token floor", "drain_ratio", "goal <= 1.1x"),
        ("cell-history reads / minimum", "history_reads_ratio", "goal 1.0x"),
        ("wall seconds", "wall_seconds", ""),
        ("violations exact", "violations_exact", "goal True"),
    ],
    "backup": [
        ("Smartsheet calls / floor (3 a sheet)", "api_calls_ratio", "goal 1.0x"),
        ("virtual seconds waited at the limits", "virtual_seconds", "goal 0"),
        ("delay to a concurrent scan drain (s)", "scan_drain_delay_seconds", "calls / 300 a minute"),
        ("every object verified", "verified", "goal True"),
        ("wall seconds", "wall_seconds", ""),
    ],
    "report": [
        ("peak RSS (MB)", "peak_rss_mb", "goal < lambda_memory_mb"),
        ("report CPU / raw openpyxl write-only", "ratio_to_openpyxl", "floor: openpyxl_floor_cpu_seconds s"),
        ("seconds", "seconds", ""),
    ],
    "scoring": [
        ("audit scoring / score_samples", "ratio_to_score_samples", "goal <= 1.5x"),
        ("attribute read + score_samples / score_samples", "ratio_lower_bound", "no feature computed yet"),
    ],
    "detect": [("replay / sort floor", "ratio_to_floor", "")],
    "trail": [
        ("verify export / SHA-256 of its lines", "verify_ratio", "goal <= 2x"),
        ("export peak RSS (MB)", "export_peak_rss_mb", "goal < 200"),
    ],
}


def modules() -> list[str]:
    """Every benchmark: the known ones in phase order, any other at the end of phase two."""
    found = sorted(path.stem.removeprefix("bench_") for path in BENCH.glob("bench_*.py"))
    order = (*BACKGROUND, *BESIDE, *ALONE)
    return sorted(found, key=lambda name: order.index(name) if name in order else len(order))


def arguments(name: str, args: argparse.Namespace) -> list[str]:
    sized = {
        "weekly_close": ["--rows", str(args.rows)],
        "scan": ["--rows", str(args.rows)],
        "webhook_burst": ["--rows", str(args.rows)],
        "backup": ["--rows", str(args.rows)],
        "report": ["--events", str(args.report_events)],
        "webhook": ["--callbacks", str(args.callbacks)],
    }
    return sized.get(name, [])


def _value(section: dict[str, Any], text: str) -> str:
    """A floor or goal: literal text, with any word naming a key of the section replaced by its value."""
    return " ".join(str(section[word]) if word in section else word for word in text.split())


def table(results: dict[str, Any]) -> str:
    rows = [("section", "figure", "measured", "floor or goal")]
    for name, section in results.items():
        if name == "runs" or not isinstance(section, dict):
            continue
        headlines = HEADLINES.get(name) or [(key, key, "") for key in section if "ratio" in key]
        for label, key, goal in headlines:
            if key in section:
                rows.append((name, label, str(section[key]), _value(section, goal)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows per sheet (weekly_close, scan, webhook_burst)")
    parser.add_argument("--report-events", type=int, default=100_000, help="events in the report benchmark")
    parser.add_argument("--callbacks", type=int, default=10_000, help="signed callbacks timed by the webhook one")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    args = parser.parse_args(argv)
    wanted = [name for name in args.only.split(",") if name]
    chosen = [name for name in modules() if not wanted or name in wanted]
    failed: list[str] = []
    runs: dict[str, Any] = {}
    began = time.monotonic()

    def command(name: str) -> list[str]:
        return [sys.executable, "-m", f"bench.bench_{name}", *arguments(name, args)]

    def note(name: str, started: float, code: int) -> None:
        runs[name] = {"seconds": round(time.monotonic() - started, 1), "exit": code}
        if code != 0:
            failed.append(name)

    with tempfile.TemporaryDirectory() as logs:
        background: dict[str, tuple[subprocess.Popen[bytes], float, Path]] = {}
        for name in (n for n in chosen if n in BACKGROUND):
            log = Path(logs) / f"{name}.log"
            print(f"== {name} (background, output when it ends): {' '.join(command(name)[1:])}", flush=True)
            with log.open("wb") as out:
                background[name] = (
                    subprocess.Popen(command(name), stdout=out, stderr=subprocess.STDOUT),
                    time.monotonic(),
                    log,
                )
        for name in (n for n in chosen if n not in BACKGROUND):
            if name not in BESIDE:
                for waited, (child, started, log) in list(background.items()):
                    note(waited, started, child.wait())
                    print(f"== {waited} (background) ended:\n{log.read_text(errors='replace')}", flush=True)
                    del background[waited]
            print(f"== {name}: {' '.join(command(name)[1:])}", flush=True)
            started = time.monotonic()
            note(name, started, subprocess.run(command(name), check=False).returncode)
        for waited, (child, started, log) in background.items():
            note(waited, started, child.wait())
            print(f"== {waited} (background) ended:\n{log.read_text(errors='replace')}", flush=True)
    elapsed = round(time.monotonic() - began, 1)
    if wanted:
        # A partial run updates its own benchmarks' times; "all" stays the last complete run's.
        earlier = json.loads(RESULTS.read_text()).get("runs", {}) if RESULTS.exists() else {}
        runs = {**earlier, **runs}
    else:
        runs["all"] = {"seconds": elapsed}
    record("runs", runs)
    print()
    print(table(json.loads(RESULTS.read_text())))
    print(f"\nbench/results.json; {elapsed:.0f} s in all")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
