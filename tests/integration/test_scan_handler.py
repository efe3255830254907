"""The scheduled scan Lambda handler, invoked in process against moto and the simulator."""

from __future__ import annotations

import pytest

from billing_audit.local.demo import bundled_example, config_for
from billing_audit.local.lambdas import invoke, load_handler
from billing_audit.simulator import Simulator
from billing_audit.simulator.scenario import load_scenario


@pytest.fixture
def lambda_env(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "billing-audit")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "BillingAudit")


def test_scheduled_scans_take_a_baseline_then_report(cloud, lambda_env, monkeypatch, capsys):
    scenario = load_scenario(bundled_example())
    with Simulator(scenario) as sim:
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
        monkeypatch.setenv("SMARTSHEET_API_BASE", sim.start())
        monkeypatch.setenv("BILLING_AUDIT_CONFIG", config_for(scenario).model_dump_json())
        load_handler("scan")._runtime.cache_clear()
        sim.apply_edits_through(scenario.baseline_at)
        first = invoke("scan", {})
        assert first["sheets"][0]["baseline"] is True
        sim.apply_edits_through(scenario.now)
        second = invoke("scan", {"job": "scan", "scheduled_time": "2026-11-14T15:00:00Z", "sheet_ids": [3001]})
    assert second["sheets"][0]["events"] == 9
    out = capsys.readouterr().out  # EMF metrics lines
    assert '"ScanDurationSeconds"' in out and '"risk_level":"HIGH"' in out
