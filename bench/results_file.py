"""bench/results.json: every benchmark's latest figures, one section per benchmark."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results.json"


def record(section: str, figures: dict[str, Any], path: Path = RESULTS) -> None:
    """Replace one benchmark's section, keeping the others' (under a lock: `make bench` runs some
    benchmarks side by side, and two read-modify-writes must not lose a section)."""
    with path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(path.read_text()) if path.exists() else {}
        results[section] = figures
        path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def publish(section: str, figures: dict[str, Any], path: Path = RESULTS) -> None:
    """Record one benchmark's figures and print them, one aligned line each."""
    record(section, figures, path)
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
