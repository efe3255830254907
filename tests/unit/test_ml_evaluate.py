"""`billing-audit ml evaluate`: the same seed gives the same JSON, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from billing_audit.cli import main
from billing_audit.cli.ml import REPLICATES
from billing_audit.ml import evaluation


def test_same_seed_same_json_and_every_part_measured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["ml", "evaluate", "--seed", "3", "--replicates", "1", "--out", str(first)]) == 0
    shown = capsys.readouterr().out
    assert main(["ml", "evaluate", "--seed", "3", "--replicates", "1", "--out", str(second), "--json"]) == 0
    assert first.read_bytes() == second.read_bytes() == capsys.readouterr().out.encode()
    result = json.loads(first.read_text())
    # On the terminal: a table of the three scorers, with the file's own figures.
    for name, part in (("rules alone", "rules"), ("model alone", "model"), ("blend", "blend")):
        (line,) = [line for line in shown.splitlines() if line.startswith(name)]
        assert line[len(name) :].split()[0] == f"{result[part]['roc_auc']:.3f}"
    assert result["seed"] == 3 and result["replicates"] == 1
    assert sum(result["misconduct_by_kind"].values()) == result["misconduct_events"] > 0
    for part in ("rules", "model", "blend"):
        assert set(result[part]) >= {"roc_auc", "precision_at_10", "recall_high"}
        assert 0.5 < result[part]["roc_auc"] <= 1


def test_the_cli_default_is_the_evaluations() -> None:
    assert REPLICATES == evaluation.REPLICATES
