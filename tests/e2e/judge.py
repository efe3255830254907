"""Judging a run the way FORMAT.md ("How a run is judged") says."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

DELETION = "closed_row_deleted"


def read_events(out_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def _money(value: float | None) -> str | None:
    return None if value is None else str(Decimal(str(value)).quantize(Decimal("0.01")))


def _number(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    try:
        return Decimal(str(value).strip())
    except ArithmeticError:
        return value
    except Exception:
        return value


def violation_key(
    sheet: int,
    row: int,
    column: str | None,
    kind: str,
    at: str | None,
    by: str | None,
    impact: float | None,
    level: str,
) -> tuple[Any, ...]:
    if kind == DELETION:
        at = by = None  # time and person of a deletion are not judged
    return (sheet, row, column, kind, at, by, _money(impact), level)


def actual_violations(events: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(
        violation_key(
            e["sheet_id"],
            e["row_id"],
            e["column"],
            e["type"],
            e["changed_at"],
            e["changed_by"],
            e["financial_impact"],
            e["risk_level"],
        )
        for e in events
        if e["violation"]
    )


def expected_violations(expected: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(
        violation_key(v["sheet"], v["row"], v["column"], v["type"], v["changed_at"], v["by"], v["impact"], v["level"])
        for v in expected
    )


def actual_changes(events: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(
        (e["sheet_id"], e["row_id"], e["column"], _number(e["old_value"]), _number(e["new_value"]))
        for e in events
        if e["type"] == "change"
    )


def expected_changes(expected: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter((c["sheet"], c["row"], c["column"], _number(c["old"]), _number(c["new"])) for c in expected)


def assert_run_matches(out_dir: Path, expected: dict[str, Any]) -> list[dict[str, Any]]:
    events = read_events(out_dir)
    assert len({e["event_id"] for e in events}) == len(events), "duplicate event ids"
    got, want = actual_violations(events), expected_violations(expected["violations"])
    assert got == want, f"missing: {sorted(map(str, want - got))}\nextra: {sorted(map(str, got - want))}"
    if "changes" in expected:
        got_c, want_c = actual_changes(events), expected_changes(expected["changes"])
        assert got_c == want_c, (
            f"missing: {sorted(map(str, want_c - got_c))}\nextra: {sorted(map(str, got_c - want_c))}"
        )
    times = [e["changed_at"] for e in events]
    assert times == sorted(times), "events.jsonl is not ordered by changed_at"
    return events
