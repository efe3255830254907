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
