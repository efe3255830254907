"""The scheduled scan Lambda handler, invoked in process against moto and the simulator."""

from __future__ import annotations

import pytest

from billing_audit_local.lambdas import invoke, load_handler
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import load_scenario


@pytest.fixture
def lambda_env(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "billing-audit")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "BillingAudit")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # a demo run earlier in the process quiets them


def test_scheduled_scans_take_a_baseline_then_report(cloud, lambda_env, monkeypatch, capsys):
    scenario = load_scenario(bundled_example())
    with Simulator(scenario) as sim:
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
        monkeypatch.setenv("SMARTSHEET_API_BASE", sim.start())
        monkeypatch.setenv("BILLING_AUDIT_CONFIG", config_for(scenario).model_dump_json())
        load_handler("scan")._settings.cache_clear()
        sim.apply_edits_through(scenario.baseline_at)
        first = invoke("scan", {})
        assert first["sheets"][0]["baseline"] is True
        sim.apply_edits_through(scenario.now)
        second = invoke("scan", {"job": "scan", "scheduled_time": "2026-11-14T15:00:00Z", "sheet_ids": [3001]})
    assert second["sheets"][0]["events"] == 9
    out = capsys.readouterr().out  # EMF metrics lines
    assert '"ScanDurationSeconds"' in out and '"risk_level":"HIGH"' in out


def test_the_scheduled_scan_re_enables_a_disabled_webhook_and_reconciles(cloud, lambda_env, monkeypatch):
    from billing_audit_local.serve import LocalWebhookStack

    scenario = load_scenario(bundled_example())
    config = config_for(scenario)
    with Simulator(scenario) as sim:
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
        monkeypatch.setenv("SMARTSHEET_API_BASE", sim.start())
        monkeypatch.setenv("BILLING_AUDIT_CONFIG", config.model_dump_json())
        load_handler("scan")._settings.cache_clear()
        sim.apply_edits_through(scenario.baseline_at)
        with LocalWebhookStack(sim, config, simulator_deps(sim, config)) as stack:
            monkeypatch.setenv("WEBHOOK_URL", stack.url)
            assert invoke("scan", {})["sheets"][0]["baseline"] is True
            assert stack.sync().ok
            [hook] = sim.webhooks.all()
            sim.disable_webhook(hook.id, "DISABLED_BY_OWNER")
            stack.pump()
            sim.apply_edits_through(scenario.now)  # while disabled: Smartsheet never delivers these
            assert stack.pump().delivered == 0
            result = invoke("scan", {})
            assert sim.webhooks.get(hook.id).status == "ENABLED"
    assert result["webhooks_recovered"] == [3001]
    assert result["sheets"][0]["events"] == 9  # what the webhook missed, reconciled by the scan


def test_a_failing_webhook_check_does_not_stop_the_scan(cloud, lambda_env, monkeypatch):
    from smartsheet_sim import SimulatorOptions

    scenario = load_scenario(bundled_example())
    options = SimulatorOptions(error_rate=1.0, error_status=502, fault_endpoints={"GET /webhooks"})  # not retried
    with Simulator(scenario, options=options) as sim:
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
        monkeypatch.setenv("SMARTSHEET_API_BASE", sim.start())
        monkeypatch.setenv("BILLING_AUDIT_CONFIG", config_for(scenario).model_dump_json())
        monkeypatch.setenv("WEBHOOK_URL", "http://127.0.0.1:9/webhook")
        load_handler("scan")._settings.cache_clear()
        sim.apply_edits_through(scenario.baseline_at)
        result = invoke("scan", {})
    assert result["sheets"][0]["baseline"] is True and result["webhooks_recovered"] == []
