"""bench/results.json: every benchmark's latest figures, one section per benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results.json"


def record(section: str, figures: dict[str, Any], path: Path = RESULTS) -> None:
    """Replace one benchmark's section, keeping the others'."""
    results = json.loads(path.read_text()) if path.exists() else {}
    results[section] = figures
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def publish(section: str, figures: dict[str, Any], path: Path = RESULTS) -> None:
    """Record one benchmark's figures and print them, one aligned line each."""
    record(section, figures, path)
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
