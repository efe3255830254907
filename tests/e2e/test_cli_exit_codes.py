"""One exit-code table for every command (billing_audit/cli/exits.py), through the real entry point.

0 done; 1 a dependency failed (Smartsheet or AWS unreachable, a missing setting); 2 bad input
naming the file and field; 70 an unexpected error: one line and a log path, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from billing_audit import cli
from billing_audit.cli import scan as scan_command

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMARTSHEET_", "BILLING_AUDIT_"))}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "billing_audit.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=clean,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("billing-audit: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_configuration_field_that_is_wrong_is_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "audit.json"
    config.write_text(json.dumps({"timezone": "Mars/Olympus"}))
    for command in (["scan"], ["webhooks", "status"]):
        result = _run(*command, "--config", str(config))
        assert result.returncode == 2
        assert "timezone" in _one_line(result)


def test_a_missing_configuration_file_is_bad_input(tmp_path: Path) -> None:
    result = _run("scan", "--config", str(tmp_path / "nope.json"))
    assert result.returncode == 2 and "nope.json" in _one_line(result)


def test_no_configuration_at_all_is_a_missing_setting_as_the_token_is() -> None:
    for command in (["scan"], ["webhooks", "status"]):
        result = _run(*command)
        assert result.returncode == 1 and "no configuration" in _one_line(result)


def test_a_missing_setting_is_a_dependency_failure(tmp_path: Path) -> None:
    config = tmp_path / "audit.json"
    config.write_text(json.dumps({"sheets": {"sheet_ids": [1]}}))
    result = _run("scan", "--config", str(config), env={"SMARTSHEET_ACCESS_TOKEN": "t"})
    assert result.returncode == 1 and "EVENTS_TABLE" in _one_line(result)


def test_aws_unreachable_is_a_dependency_failure_in_every_command(tmp_path: Path) -> None:
    config = tmp_path / "audit.json"
    config.write_text(json.dumps({"sheets": {"sheet_ids": [1]}}))
    env = {
        "AWS_ENDPOINT_URL": UNREACHABLE,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_MAX_ATTEMPTS": "1",
        "SMARTSHEET_TOKEN_SECRET": "billing-audit/smartsheet-token",
        "EVENTS_TABLE": "events",
        "STATE_TABLE": "state",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    }
    for command in (["scan"], ["webhooks", "status"]):
        result = _run(*command, "--config", str(config), env=env)
        assert result.returncode == 1, (command, result.stderr)
        _one_line(result)


def test_an_unexpected_error_is_one_line_and_a_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(args: object) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr(scan_command, "_scan", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert cli.main(["scan"]) == 70
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and "bad input" not in err
    match = re.search(r"details in (\S+\.log)$", err)
    assert match, err
    assert "KeyError: 'a bug'" in Path(match.group(1)).read_text()
