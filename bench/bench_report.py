"""A report of 100,000 events within a 1 GB Lambda's memory.

The events stream in as the report function reads them (generated page by page here, never held as
a list, as DynamoDB's pages are), and the report is built exactly as in AWS: figures, the write-only
workbook, the dashboard, two uploads (kept in memory here), the ledger.  Measured for the time and
the process's peak RSS (what Lambda's memory limit counts); with `--heap`, built again under
tracemalloc for the Python heap's peak (several times slower).  The floor, measured after the
report in the same process: the same events' detail rows, prepared as plain values beforehand,
written with raw openpyxl in write-only mode and saved (CPU time, the report's against it).
Run with `make bench`; results go to bench/results.json (section "report").
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from bench.results_file import RESULTS, record
from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskFactor, RiskLevel
from billing_audit.pipeline.reports.build import ReportDeps, ReportOutcome, ReportRequest, build_report
from billing_audit.pipeline.reports.links import PresignedLinks
from billing_audit.pipeline.reports.workbook import SHEETS
from billing_audit.store.memory import MemoryMetrics, MemoryReportLedger, MemoryRunStore, MemoryStateStore

NOW = datetime(2026, 11, 23, 13, tzinfo=UTC)
LAMBDA_MEMORY_MB = 1024
TYPES = [t for t in EventType if t is not EventType.CHANGE]
# Factors as the risk rules word them (domain/risk.py): two or more wrap in Change Details.
FACTORS = [
    RiskFactor(code="outside_business_hours", label="Outside business hours (20:30 local)", weight=0.3),
    RiskFactor(code="low_access_level", label="Low access level (2)", weight=0.2),
    RiskFactor(
        code="permission_review_overdue", label="Permission review overdue (last 2026-08-01, over 90 days)", weight=0.25
    ),
    RiskFactor(code="closed_week_change", label="Change to a closed week (week ending 2026-11-08)", weight=0.4),
    RiskFactor(code="large_change", label="Large change (140% of the value)", weight=0.3),
]


class GeneratedEvents:
    """An event store whose window yields `count` events made on the fly (deterministic)."""

    def __init__(self, count: int) -> None:
        self.count = count

    def window(
        self,
        start: datetime,
        end: datetime,
        *,
        by: Literal["detected", "changed"] = "detected",
        sheet_ids: Sequence[int] | None = None,
    ) -> Iterator[AuditEvent]:
        rng = random.Random(11)
        span = (end - start).total_seconds()
        for index in range(self.count):
            detected = start + timedelta(seconds=span * index / self.count)
            violation = rng.random() < 0.3
            yield AuditEvent(
                event_id=f"{index:032x}",
                sheet_id=1000 + index % 40,
                sheet_name=f"Billing sheet {index % 40:02d}",
                row_id=10_000_000 + index,
                work_request=f"WR-{index % 9000:05d}",
                column=rng.choice(["Quantity", "Unit Price", "Redlined Total Price", "Status"]),
                old_value=rng.randint(1, 500),
                new_value=rng.choice([rng.randint(1, 500), "see note: crew re-billed after review"]),
                changed_at=detected - timedelta(minutes=rng.randint(1, 600)),
                changed_by=f"user{rng.randint(1, 250)}@example.com",
                type=rng.choice(TYPES) if violation else EventType.CHANGE,
                violation=violation,
                financial_impact=round(rng.uniform(-2000, 20000), 2) if violation else None,
                risk_level=rng.choice(list(RiskLevel)) if violation else None,
                risk_score=round(rng.uniform(0.2, 0.99), 2) if violation else 0.0,
                risk_factors=rng.sample(FACTORS, rng.randint(0, 3)),
                detected_at=detected,
                detected_via=rng.choice(list(DetectedVia)),
            )


class Uploads:
    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}

    def put(self, key: str, data: bytes, content_type: str) -> str:
        import hashlib

        self.sizes[key] = len(data)
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str) -> bytes:
        raise KeyError(key)

    def link(self, key: str, seconds: int = 3600) -> str:
        return f"https://bucket.example/{key}?X-Amz-Expires={seconds}"


def build(count: int) -> tuple[ReportOutcome, Uploads]:
    uploads = Uploads()
    deps = ReportDeps(
        events=GeneratedEvents(count),  # type: ignore[arg-type]  # a report needs window() only
        state=MemoryStateStore(),
        runs=MemoryRunStore(),
        blobs=uploads,
        ledger=MemoryReportLedger(),
        links=PresignedLinks(uploads, lambda: NOW),
        app_base="https://app.smartsheet.com",
        metrics=MemoryMetrics(),
        clock=lambda: NOW,
    )
    request = ReportRequest(kind="weekly", force=True)
    return build_report(request, deps, zone=ZoneInfo("America/Chicago"), configured_sheets=[]), uploads


def openpyxl_floor(count: int) -> float:
    """CPU seconds to write `count` detail rows of plain values with raw openpyxl (write-only) and save."""
    from openpyxl import Workbook

    start, end = NOW - timedelta(days=7), NOW
    rows = [
        (
            event.changed_at.replace(tzinfo=None),
            event.sheet_name,
            event.row_id,
            event.work_request,
            event.column,
            event.old_value,
            event.new_value,
            event.changed_by,
            event.type.value,
            "Yes" if event.violation else "No",
            event.financial_impact,
            event.risk_level.value if event.risk_level else None,
            event.risk_score,
            None,
            event.detected_at.replace(tzinfo=None),
            event.detected_via.value,
            f"https://app.smartsheet.com/sheets/{event.sheet_id}?rowId={event.row_id}",
            event.event_id,
        )
        for event in GeneratedEvents(count).window(start, end)
    ]
    started = time.process_time()
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEETS[1])
    for row in rows:
        sheet.append(row)
    book.save(io.BytesIO())
    return time.process_time() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--heap", action="store_true", help="also measure the Python heap's peak (tracemalloc)")
    args = parser.parse_args(argv)

    rss_before = peak_rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    outcome, uploads = build(args.events)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    rss_peak = peak_rss_mb()
    assert outcome.figures is not None and outcome.record is not None
    figures = outcome.figures
    workbook_bytes, dashboard_bytes = len(outcome.workbook), len(outcome.dashboard)
    book = load_workbook(io.BytesIO(outcome.workbook), read_only=True)
    # Written in write-only mode, the sheet declares no dimension: its rows are counted.
    detail_rows = sum(1 for _ in book[SHEETS[1]].iter_rows(values_only=True)) - 1
    book.close()
    if detail_rows != args.events or figures.total.events != args.events:
        print(f"report lost events: {detail_rows} rows, {figures.total.events} counted", file=sys.stderr)
        return 1
    del outcome, figures

    heap_peak: float | None = None
    if args.heap:
        tracemalloc.start()
        build(args.events)
        heap_peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

    floor_cpu_seconds = openpyxl_floor(args.events)
    result = {
        "events": args.events,
        "seconds": round(seconds, 1),
        # CPU time: the wall time above also counts waiting for a shared machine's cores.
        "cpu_seconds": round(cpu_seconds, 1),
        "openpyxl_floor_cpu_seconds": round(floor_cpu_seconds, 1),
        "ratio_to_openpyxl": round(cpu_seconds / floor_cpu_seconds, 2),
        "peak_rss_mb": round(rss_peak, 1),
        "rss_before_build_mb": round(rss_before, 1),
        "python_heap_peak_mb": None if heap_peak is None else round(heap_peak, 1),
        "lambda_memory_mb": LAMBDA_MEMORY_MB,
        "fits": rss_peak < LAMBDA_MEMORY_MB,
        "workbook_mb": round(workbook_bytes / 2**20, 1),
        "dashboard_mb": round(dashboard_bytes / 2**20, 2),
        "change_details_rows": detail_rows,
        "uploads": len(uploads.sizes),
    }
    print(json.dumps(result, indent=2))
    record("report", result, args.out)
    return 0 if result["fits"] else 1


if __name__ == "__main__":
    sys.exit(main())
