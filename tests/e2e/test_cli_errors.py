"""Bad input ends in one line on stderr and a non-zero exit, never a traceback (the real console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from billing_audit_local.scenario import bundled_example

EXAMPLE = json.loads(bundled_example().read_text())


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_audit.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _scenario(tmp_path: Path, mutate) -> Path:
    data = json.loads(json.dumps(EXAMPLE))
    mutate(data)
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data))
    return path


def _edit(field, value):
    def mutate(data):
        data["edits"][0][field] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("baseline_at"), "scenario field baseline_at: Field required"),
        (lambda d: d.update(timezone="Mars/Olympus"), "unknown IANA time zone 'Mars/Olympus'"),
        (
            lambda d: (
                d["policy"].update(high_impact="lots") if "policy" in d else d.update(policy={"high_impact": "x"})
            ),
            "scenario field policy.high_impact",
        ),
        (_edit("sheet", 999), "names unknown sheet 999"),
        (_edit("row", 999), "names unknown row 999 of sheet 3001"),
        (lambda d: d["edits"][0].update(set={"Nope": 1}), "unknown column 'Nope'"),
        (lambda d: d["edits"][0].update(delete=True), "exactly one of 'set', 'delete' or 'add'"),
        # pydantic alone reads a number as seconds since 1970: the run went on, a week off.
        (lambda d: d.update(baseline_at=20261109), "scenario field baseline_at: should be ISO-8601 text"),
        (_edit("at", 1794330000), "scenario field edits.0.at: should be ISO-8601 text"),
        (lambda d: d.update(now="9999-12-31T23:59:59-12:00"), "scenario field now: should be a time between"),
        (lambda d: d["edits"][0].update(set={"Quantity": {"n": 1}}), "edits.0.set.Quantity: a cell holds text"),
        (lambda d: d["users"][0].update(access_level=9), "scenario field users.0.access_level: "),
        (lambda d: d.update(policy={"tracked_columns": "Quantity"}), "policy.tracked_columns: Input should be a list"),
        # No lax reading of ids and flags: "3001" is not a sheet id, "yes" is not true.
        (_edit("sheet", "3001"), "scenario field edits.0.sheet: Input should be a valid integer"),
        (
            lambda d: d["users"][0].update(active="yes"),
            "scenario field users.0.active: Input should be a valid boolean",
        ),
        (
            lambda d: d["sheets"][0]["columns"][1].update(primary=True),
            "sheet 3001 marks 2 primary columns; a sheet has one",
        ),
        # An edit after `now` is never played, yet a row the file lacks is still a broken file.
        (
            lambda d: d["edits"].append(
                {"at": "2030-01-01T00:00:00Z", "by": "a@x.com", "sheet": 3001, "row": 9, "delete": True}
            ),
            "names unknown row 9 of sheet 3001",
        ),
    ],
)
def test_a_broken_scenario_names_the_problem(tmp_path, mutate, message):
    result = _run("demo", "--scenario", str(_scenario(tmp_path, mutate)), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("billing-audit: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_scenario_that_is_not_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{nope")
    result = _run("demo", "--scenario", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"billing-audit: scenario {path} is not JSON")


def test_a_missing_scenario_file(tmp_path):
    result = _run("demo", "--scenario", str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "cannot read scenario" in result.stderr and "Traceback" not in result.stderr


def test_an_output_directory_that_cannot_be_written_is_refused_before_the_run(tmp_path):
    taken = tmp_path / "a-file"
    taken.write_text("x")
    for out, message in ((taken, "a file, not a directory"), (taken / "sub", "cannot write there")):
        result = _run("demo", "--out", str(out))
        assert result.returncode == 2 and f"billing-audit: --out {out}: {message}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_a_count_below_one_is_refused_by_argparse():
    result = _run("ml", "evaluate", "--replicates", "0")
    assert result.returncode == 2 and "argument --replicates: must be 1 or more: 0" in result.stderr


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (("report",), "--since"),
        (("events", "query"), "--until"),
        (("compliance-report", "--standard", "SOX", "--until", "2026-12-01"), "--since"),
        (("backup", "verify"), "--date"),
    ],
)
def test_a_bad_date_is_refused_before_any_setting_is_read(command, flag):
    # No environment here: the date is told first, not a missing table the user cannot fix by
    # retyping it.
    result = _run(*command, flag, "garbage")
    assert result.returncode == 2 and f"argument {flag}: not an ISO date" in result.stderr, result.stderr
    assert "environment variable" not in result.stderr and "Traceback" not in result.stderr


def test_a_period_that_ends_before_it_starts_is_refused_before_any_setting_is_read():
    result = _run("compliance-report", "--standard", "SOX", "--since", "2026-11-15", "--until", "2026-11-01")
    assert result.returncode == 2 and result.stderr.strip() == "billing-audit: --since must be before --until"
