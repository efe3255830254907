"""The trail at 1,000,000 events: verifying an export offline, and exporting in bounded memory.

- verify: an export of N events (the leaves, as `billing-audit events export` writes them) is
  checked against its digest by `domain.trail.check_export`, the code `billing-audit verify
  --events` runs; the floor is reading the same file and hashing each line with SHA-256, one by one.
  CPU time, best of the rounds.  Goal: at most 2x the floor.
- export: N events streamed from a log and an events table made on the fly (as DynamoDB's pages
  would arrive, never held as a list) through `pipeline.trail.leaf_lines` and the export writer
  into a file; each format in a fresh process, for the process's peak RSS.  Goal: under 200 MB.

Run with `make bench` (section "trail"); `python -m bench.bench_trail --events 100000` for a
quicker look.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.results_file import RESULTS, record
from billing_audit.domain.trail import Frontier, canonical, check_export, leaf_hash, leaf_line
from billing_audit.store.trail import Record, StoredEvent, TrailEntry, TrailHead

VERIFY_GOAL_RATIO = 2.0
EXPORT_GOAL_MB = 200


def make_record(index: int) -> dict[str, Any]:
    """One event's stored record, as the events table holds it (deterministic from its index)."""
    violation = index % 3 == 0
    return {
        "event_id": f"{index:032x}",
        "sheet_id": 3001 + index % 7,
        "sheet_name": f"Crew {index % 7} Billing",
        "row_id": 300_000 + index,
        "work_request": f"WR-{index % 5000:05d}",
        "column": ("Quantity", "Unit Price", "Redlined Total Price")[index % 3],
        "old_value": index % 97,
        "new_value": str(index % 89),
        "changed_at": f"2026-11-{1 + index % 28:02d}T{index % 24:02d}:{index % 60:02d}:00Z",
        "changed_by": f"person{index % 40}@example.com",
        "type": "post_close_change" if violation else "change",
        "violation": violation,
        "financial_impact": round((index % 1000) * 1.25, 2) if violation else None,
        "risk_level": ("LOW", "MEDIUM", "HIGH")[index % 3] if violation else None,
        "risk_score": round((index % 100) / 100, 2),
        "anomaly_score": round((index % 50) / 50, 2),
        "risk_factors": [],
        "week_ending": "2026-11-15",
        "detected_at": "2026-11-29T10:00:00Z",
        "detected_via": "scan",
        "source": None,
        "ip_address": None,
    }


class GeneratedTrail:
    """A log of `count` events and their records, made page by page as they are read."""

    def __init__(self, count: int) -> None:
        self.count = count

    def entries(self) -> Iterator[TrailEntry]:
        prev: bytes | None = None
        prev_id: str | None = None
        for index in range(self.count):
            event_id = f"{index:032x}"
            leaf = leaf_hash(leaf_line(make_record(index), index, prev, prev_id))
            yield TrailEntry(index, event_id, leaf, prev, prev_id, "2026-11-29", None)
            prev, prev_id = leaf, event_id

    def stored_records(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {event_id: make_record(int(event_id, 16)) for event_id in event_ids}

    def stored_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:  # pragma: no cover
        raise NotImplementedError

    def head(self) -> TrailHead:  # pragma: no cover - the export reads entries only
        raise NotImplementedError

    def append(self, records: Sequence[tuple[str, Record]]) -> list[TrailEntry]:  # pragma: no cover
        raise NotImplementedError

    def unlogged(self, event_ids: Sequence[str]) -> list[str]:  # pragma: no cover
        raise NotImplementedError

    def entry_of(self, event_id: str) -> TrailEntry | None:  # pragma: no cover
        raise NotImplementedError

    def stored_ids(self, day: str) -> Iterator[str]:  # pragma: no cover
        raise NotImplementedError


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_export(count: int, path: Path) -> dict[str, Any]:
    """The export file and its digest's figures (tree size, root, last leaf)."""
    frontier = Frontier()
    prev: bytes | None = None
    prev_id: str | None = None
    with path.open("wb") as out:
        out.write(canonical({"billing_audit_export": {"partial": False, "pseudonymized": False}}) + b"\n")
        for index in range(count):
            line = leaf_line(make_record(index), index, prev, prev_id)
            out.write(line + b"\n")
            prev, prev_id = leaf_hash(line), f"{index:032x}"
            frontier.append(prev)
    return {"tree_size": frontier.size, "root": frontier.root(), "last_leaf": prev, "last_event_id": prev_id}


def lines_of(path: Path) -> Iterator[bytes]:
    """As `billing-audit verify` reads an export."""
    with path.open("rb") as stream:
        for line in stream:
            line = line.rstrip(b"\r\n")
            if line:
                yield line


def bench_verify(count: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.jsonl"
        started = time.perf_counter()
        sealed = write_export(count, path)
        made = time.perf_counter() - started
        # CPU time of this process, best of `repeats` interleaved rounds: the machine's cores are
        # shared, and another process's work must not count against either side.
        floors, checks = [], []
        for _ in range(repeats):
            started = time.process_time()
            sha = hashlib.sha256
            for line in lines_of(path):
                sha(line).digest()
            floors.append(time.process_time() - started)
            started = time.process_time()
            verdict = check_export(
                lambda: lines_of(path),
                tree_size=sealed["tree_size"],
                root=sealed["root"],
                last_leaf=sealed["last_leaf"],
                last_event_id=sealed["last_event_id"],
            )
            checks.append(time.process_time() - started)
            assert verdict.ok and verdict.verified == count, verdict.findings[:3]
        size_mb = path.stat().st_size / 1024 / 1024
    floor, check = min(floors), min(checks)
    return {
        "events": count,
        "export_mb": round(size_mb, 1),
        "made_seconds": round(made, 2),
        "floor_cpu_seconds": round(floor, 3),
        "verify_cpu_seconds": round(check, 3),
        "verify_ratio": round(check / floor, 2),
        "verify_goal_ratio": VERIFY_GOAL_RATIO,
    }


def export_once(count: int, fmt: str) -> dict[str, Any]:
    """One export in this process (run in a child, so its peak RSS is the export's own)."""
    from datetime import UTC, datetime

    from billing_audit.pipeline.trail import leaf_lines
    from billing_audit.pipeline.trail_export import header, write

    trail: Any = GeneratedTrail(count)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"export.{fmt}"
        started = time.perf_counter()
        lines = (line for line, _ in leaf_lines(trail, now))
        head = header(partial=False, pseudonymized=False, digest=None, generated_at="2026-11-30T00:00:00Z")
        with path.open("wb") as out:
            written = write(lines, fmt, out, head)  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        size_mb = path.stat().st_size / 1024 / 1024
    assert written == count
    return {
        "format": fmt,
        "events": written,
        "seconds": round(seconds, 1),
        "file_mb": round(size_mb, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def start_exports(count: int, formats: Sequence[str]) -> dict[str, subprocess.Popen[str]]:
    """Each format's export in a child of its own, all at once: each child's peak RSS is its own
    whatever runs beside it, and the verify figures are CPU time, so neither needs the machine
    alone (the exports' seconds then include sharing its cores)."""
    return {
        fmt: subprocess.Popen(
            [sys.executable, "-m", "bench.bench_trail", "--export-child", fmt, "--events", str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for fmt in formats
    }


def finish_exports(children: Mapping[str, subprocess.Popen[str]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for fmt, child in children.items():
        out, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"the {fmt} export failed (exit {child.returncode})")
        figures[fmt] = json.loads(out.strip().splitlines()[-1])
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", default="jsonl,csv", help="export formats to measure (xlsx is slow at 1M)")
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: bench/results.json)")
    args = parser.parse_args(argv)
    if args.export_child:
        print(json.dumps(export_once(args.events, args.export_child)))
        return 0
    children = start_exports(args.events, [f for f in args.formats.split(",") if f])
    verify = bench_verify(args.events, args.repeats)
    print(json.dumps(verify, indent=2))
    exports = finish_exports(children)
    print(json.dumps(exports, indent=2))
    peak = max(figures["peak_rss_mb"] for figures in exports.values())
    figures: Mapping[str, Any] = {
        **verify,
        "export": exports,
        "export_peak_rss_mb": peak,
        "export_goal_mb": EXPORT_GOAL_MB,
    }
    record("trail", dict(figures), args.out)
    print(f"recorded in {args.out} (section trail)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
