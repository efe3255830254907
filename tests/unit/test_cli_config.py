"""`billing-audit config check FILE`: the functions' own model validates the file, offline; one line
out either way, exit 0 or 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from billing_audit.cli import main
from billing_audit.cli.exits import ExitCode


def _file(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def _roster(users: int) -> list[dict[str, str]]:
    return [{"email": f"user{i}@example.com", "name": f"User Number {i}", "role": "foreman"} for i in range(users)]


def test_a_valid_file_gets_a_one_line_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(
        tmp_path,
        {
            "timezone": "America/Chicago",
            "sheets": {"sheet_ids": [1, 2, 3], "workspaces": [{"id": 9}]},
            "roster": _roster(2),
        },
    )
    assert main(["config", "check", str(path)]) == ExitCode.OK
    out = capsys.readouterr().out.strip()
    assert "\n" not in out
    assert out.startswith(
        f"{path}: valid: 3 sheets, 1 workspace, 0 folders, 2 roster users, time zone America/Chicago;"
    )
    assert out.endswith("bytes (standard parameter)")


def test_over_4_kb_it_says_the_parameter_will_be_advanced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(_file(tmp_path, {"roster": _roster(30)}))]) == ExitCode.OK
    assert capsys.readouterr().out.strip().endswith("(advanced parameter)")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "field timezone: unknown IANA time zone 'Mars/Olympus'"),
        ({"sheets": {"sheet_ids": ["x"]}}, "field sheets.sheet_ids.0: Input should be a valid integer"),
        ({"colour": "red"}, "field colour: unknown key (known: access_review, alerting, event_reporting,"),
        ("{", "is not JSON: "),
        ([], "is not a JSON object"),
        ({"roster": _roster(120)}, "bytes as JSON; an SSM parameter holds at most 8192"),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: Any, message: str
) -> None:
    path = _file(tmp_path, document)
    assert main(["config", "check", str(path)]) == ExitCode.BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("billing-audit: ") and message in line
    assert str(path) in line or "the configuration" in line


def test_a_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(tmp_path / "nope.json")]) == ExitCode.BAD_INPUT
    assert (
        capsys.readouterr().err.strip()
        == f"billing-audit: cannot read configuration {tmp_path / 'nope.json'}: No such file or directory"
    )


def test_push_refuses_a_bad_file_before_any_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No AWS here (pytest-socket): a request would be exit 1 or 70, not 2.
    path = _file(tmp_path, {"timezone": "Nowhere/Land"})
    assert main(["config", "push", str(path), "--parameter", "/billing-audit/config"]) == ExitCode.BAD_INPUT
    assert "field timezone" in capsys.readouterr().err
