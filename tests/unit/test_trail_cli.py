"""The trail commands' offline paths and pieces: exit codes, index choice, tables, export writers."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing_audit.cli import main
from billing_audit.cli.events import event_stats, percentiles
from billing_audit.cli.tables import table
from billing_audit.domain.trail import canonical
from billing_audit.pipeline.trail_export import COLUMNS, header, write
from billing_audit.resources import EVENTS_BY_DETECTED_DAY_INDEX, EVENTS_BY_USER_INDEX
from billing_audit.store.event_query import EventFilter, MemoryEventQuery, plan
from tests.unit.trail_builders import sealed_trail

SINCE, UNTIL = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)


def test_offline_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sealed = sealed_trail(10)
    events, digest, key = tmp_path / "e.jsonl", tmp_path / "d.json", tmp_path / "k.pem"
    events.write_bytes(b"".join(line + b"\n" for line in sealed.export()))
    digest.write_bytes(sealed.digest.to_json())
    key.write_text(sealed.signer.public_key_pem())
    files = ["--events", str(events), "--digest", str(digest), "--public-key", str(key)]
    assert main(["verify", *files]) == 0
    assert "VERIFIED: 10 events verified" in capsys.readouterr().out
    events.write_bytes(b"".join(line + b"\n" for line in sealed.export()[:-1]))
    assert main(["verify", *files]) == 3
    assert "truncated" in capsys.readouterr().out
    digest.write_text("{not json")
    assert main(["verify", *files]) == 2
    assert main(["verify", "--events", str(events)]) == 2  # the digest and key are needed offline


def test_a_stored_verify_without_its_settings_is_a_dependency_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("EVENTS_TABLE", "STATE_TABLE", "TRAIL_DIGESTS_BUCKET", "TRAIL_SIGNING_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    assert main(["verify"]) == 1
    assert "TRAIL_DIGESTS_BUCKET" in capsys.readouterr().err


def test_each_filter_picks_its_index() -> None:
    assert plan(EventFilter(SINCE, UNTIL, user="Ana@X.com")).index == EVENTS_BY_USER_INDEX
    assert plan(EventFilter(SINCE, UNTIL, work_request="W1", user="a")).index == "by_work_request"
    assert len(plan(EventFilter(SINCE, UNTIL, sheet_ids=(1, 2, 1))).conditions) == 2
    assert plan(EventFilter(SINCE, UNTIL, risk_levels=("HIGH",))).index == "by_risk_date"
    by_day = plan(EventFilter(SINCE, UNTIL))
    assert by_day.index == EVENTS_BY_DETECTED_DAY_INDEX and len(by_day.conditions) == 21


def test_memory_query_and_stats_agree_with_the_records() -> None:
    sealed = sealed_trail(40)
    records = {i: e.to_record() for i, e in sealed.store.events.items()}
    chosen = list(MemoryEventQuery(records).query(EventFilter(SINCE, UNTIL, types=("change",))))
    assert chosen and all(r["type"] == "change" for r in chosen)
    stats = event_stats(iter(records.values()))
    assert stats["events"] == 40 and sum(row["events"] for row in stats["by"]["person"]) == 40
    impact = sum(r["financial_impact"] or 0 for r in records.values() if r["violation"])
    assert stats["impact"] == round(impact, 2)
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}
    assert percentiles([float(v) for v in range(1, 101)])["p50"] == pytest.approx(50.5)


def test_tables_fit_the_width() -> None:
    rows = [["x" * 80, "y" * 80, 1.5]]
    text = table(["a", "b", "c"], rows, max_width=60)
    assert all(len(line) <= 60 for line in text.splitlines()) and "…" in text


def test_piped_tables_are_not_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under pytest stdout is not a terminal, as when piped into a file or grep."""
    monkeypatch.delenv("COLUMNS", raising=False)
    rows = [["x" * 300, "y" * 300]]
    assert "…" not in table(["a", "b"], rows) and "x" * 300 in table(["a", "b"], rows)
    monkeypatch.setenv("COLUMNS", "80")
    assert all(len(line) <= 80 for line in table(["a", "b"], rows).splitlines())


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_export_writers_keep_every_event_and_defuse_formulas(fmt: str) -> None:
    lines = [canonical({"event_id": "e1", "new_value": '=HYPERLINK("x")', "trail": {"position": 0}})]
    out = io.BytesIO()
    head = header(partial=False, pseudonymized=False, digest=None, generated_at="t")
    assert write(iter(lines), fmt, out, head) == 1  # type: ignore[arg-type]
    text = out.getvalue().decode()
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[1] == list(COLUMNS)
        assert rows[2][COLUMNS.index("new_value")].startswith("'=")
        assert rows[2][COLUMNS.index("trail_position")] == "0"
    elif fmt == "json":
        assert json.loads(text)["events"][0]["new_value"].startswith("=")
    else:
        assert text.splitlines()[1].encode() == lines[0]
