"""A rule column renamed in Smartsheet holds the sheet through the real adapter, the CLI and AWS:
alerted on the topic once, nothing stored, until the columns are accepted (pipeline/holds.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from billing_audit.cli import main
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import Scenario, load_scenario


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario(bundled_example())


@pytest.fixture
def sim(scenario: Scenario) -> Iterator[Simulator]:
    with Simulator(scenario) as simulator:
        simulator.start()
        yield simulator


def _rename(sim: Simulator, sheet_id: int, title: str, new_title: str) -> None:
    """What renaming a column in the Smartsheet UI does: same column id, new title, a new version."""
    sheet = sim.sheet(sheet_id)
    assert sheet is not None
    column = next(c for c in sheet.columns if c.title == title)
    column.title = new_title
    sheet.version += 1


def test_a_renamed_rule_column_holds_the_scan_until_accepted(cloud, sim, scenario, capsys, monkeypatch):
    config = config_for(scenario)
    deps = simulator_deps(sim, config)
    sim.apply_edits_through(scenario.baseline_at)
    sim.set_time(scenario.baseline_at)
    assert main_scan(sim, config, monkeypatch, "--sheet", "3001") == 0  # the baseline
    capsys.readouterr()

    sim.apply_edits_through(scenario.now)
    sim.set_time(scenario.now)
    _rename(sim, 3001, "Quantity", "Qty")
    assert main_scan(sim, config, monkeypatch, "--sheet", "3001") == 0
    out = capsys.readouterr().out
    assert "sheet 3001 Line Crew Billing: held: rule column 'Quantity' is gone (renamed or deleted)" in out
    assert deps.events.all_events() == []
    assert deps.state.load(3001).held == "rule column 'Quantity' is gone (renamed or deleted)"

    assert main_scan(sim, config, monkeypatch, "--sheet", "3001", "--accept-columns") == 0
    out = capsys.readouterr().out
    assert "held" not in out.splitlines()[0]
    violations = [e for e in deps.events.all_events() if e.violation]
    assert violations and not any(e.column == "Quantity" for e in violations)  # no longer audited there
    assert "Qty" in deps.state.load(3001).columns and deps.state.load(3001).held is None


def main_scan(sim: Simulator, config, monkeypatch, *args: str) -> int:
    monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
    monkeypatch.setenv("SMARTSHEET_API_BASE", sim.api_base or "")
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", json.dumps(config.model_dump(mode="json")))
    return main(["scan", *args])
