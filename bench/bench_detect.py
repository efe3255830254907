"""Replay throughput, as a ratio to a floor measured in the same run.

The floor is the least any replay must do: sort each row's history entries by time.  The ratio says
how much the full detection (grouping into saves, rules, money, event models) costs on top of that,
independent of the machine.  Run with `make bench`; results go to bench/results.json (section "detect").
"""

from __future__ import annotations

import json
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.results_file import record
from billing_audit.domain.detect import AuditContext, detect_row
from billing_audit.domain.models import CellEntry, DetectedVia, RowTimeline
from billing_audit.domain.policy import AuditPolicy

ROWS, SAVES, REPEATS = 2000, 12, 5
BASE = datetime(2026, 11, 9, 12, tzinfo=UTC)
COLUMNS = ("Quantity", "Redlined Total Price", "Unit Price", "Status", "Week Ending")


def _timelines(seed: int = 7) -> list[RowTimeline]:
    rng = random.Random(seed)
    rows = []
    for row_id in range(ROWS):
        start = {
            "Week Ending": rng.choice(["2026-11-08", "2026-11-15"]),
            "Status": "Completed",
            "Quantity": 10,
            "Unit Price": 100.0,
            "Redlined Total Price": 1000.0,
        }
        history = [CellEntry(column=c, value=v, at=BASE - timedelta(days=20), by="a@x.com") for c, v in start.items()]
        for save in range(SAVES):
            column = rng.choice(COLUMNS[:3])
            history.append(
                CellEntry(
                    column=column,
                    value=float(rng.randint(1, 5000)),
                    at=BASE + timedelta(minutes=save * 37 + 1),
                    by=rng.choice(["a@x.com", "b@x.com"]),
                )
            )
        rng.shuffle(history)
        rows.append(
            RowTimeline(
                sheet_id=1,
                sheet_name="S",
                row_id=row_id,
                start=start,
                current=start,
                history_columns=frozenset(COLUMNS),
                history=history,
            )
        )
    return rows


def _best(func) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    rows = _timelines()
    ctx = AuditContext(
        policy=AuditPolicy(),
        zone=ZoneInfo("America/Chicago"),
        sheet_columns=frozenset((*COLUMNS, "Work Request #")),
        detected_at=BASE,
        detected_via=DetectedVia.SCAN,
    )
    floor = _best(lambda: [sorted(r.history, key=lambda e: e.at) for r in rows])
    full = _best(lambda: [detect_row(r, ctx, BASE) for r in rows])
    tracemalloc.start()
    events = sum(len(detect_row(r, ctx, BASE)) for r in rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        "rows": ROWS,
        "saves_per_row": SAVES,
        "events": events,
        "floor_seconds": round(floor, 5),
        "detect_seconds": round(full, 5),
        "ratio_to_floor": round(full / floor, 1),
        "rows_per_second": round(ROWS / full),
        "peak_memory_mb": round(peak / 2**20, 2),
        "python": sys.version.split()[0],
    }
    record("detect", result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
