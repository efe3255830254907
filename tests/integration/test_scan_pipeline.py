"""The scan against the simulator and moto: calls, crash safety, dry runs, rate limits, selection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from billing_audit.cli import main
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import run_scan
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.wiring import aws_dependencies
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import Scenario, load_scenario

HISTORY = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario(bundled_example())


@pytest.fixture
def sim(scenario: Scenario) -> Iterator[Simulator]:
    with Simulator(scenario) as simulator:
        simulator.start()
        yield simulator


def _deps(sim: Simulator, scenario: Scenario) -> AuditDeps:
    return simulator_deps(sim, config_for(scenario))


def _baseline(sim: Simulator, scenario: Scenario, deps: AuditDeps) -> None:
    sim.apply_edits_through(scenario.baseline_at)
    sim.set_time(scenario.baseline_at)
    run_scan(config_for(scenario), deps)


def _alert_queue(cloud):
    """An SQS queue subscribed to the alerts topic, to count what was published."""
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    url = sqs.create_queue(QueueName="alert-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=cloud.names["ALERTS_TOPIC_ARN"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return sqs, url


def _drain(sqs, url) -> list[dict]:
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_an_unchanged_sheet_costs_one_call(cloud, sim, scenario):
    deps = _deps(sim, scenario)
    _baseline(sim, scenario, deps)
    sim.reset_call_counts()
    sim.set_time(scenario.baseline_at + timedelta(hours=4))
    result = run_scan(config_for(scenario), deps)
    assert result.sheets[0].unchanged
    assert sim.call_counts == {"GET /sheets/{sheetId}": 1}


def test_a_crash_midway_loses_and_duplicates_nothing(cloud, sim, scenario):
    sqs, tap = _alert_queue(cloud)
    deps = _deps(sim, scenario)
    _baseline(sim, scenario, deps)
    sim.apply_edits_through(scenario.now)
    sim.set_time(scenario.now)

    class CrashingAlerts:
        def publish(self, message):
            raise RuntimeError("SNS went away")

    with pytest.raises(RuntimeError):
        run_scan(config_for(scenario), replace(deps, alerts=CrashingAlerts()))
    stored_after_crash = deps.events.all_events()
    assert stored_after_crash, "events were stored before the crash"
    assert _drain(sqs, tap) == []

    # What the crashed run stored waits as pending alerts; the next run alerts it, and stores nothing twice.
    result = run_scan(config_for(scenario), deps)
    events = deps.events.all_events()
    assert {e.event_id for e in stored_after_crash} <= {e.event_id for e in events}
    assert sum(sheet.new_events for sheet in result.sheets) == len(events) - len(stored_after_crash)
    assert len(events) == 9  # the example's 7 violations and 2 changes, each once
    alerted: list[str] = []
    for alert in _drain(sqs, tap):
        alerted.extend([alert["event"]["event_id"]] if alert["kind"] == "violation" else alert["event_ids"])
    # Every violation at or above the alert level (MEDIUM), once: the HIGH one alone, the rest in a digest.
    assert sorted(alerted) == sorted(e.event_id for e in events if e.violation and e.risk_level in ("HIGH", "MEDIUM"))

    again = run_scan(config_for(scenario), deps)
    assert again.sheets[0].unchanged and _drain(sqs, tap) == []
    assert len(deps.events.all_events()) == len(events)


def test_dry_run_detects_but_writes_nothing(cloud, sim, scenario):
    deps = _deps(sim, scenario)
    _baseline(sim, scenario, deps)
    sim.apply_edits_through(scenario.now)
    sim.set_time(scenario.now)
    dry = run_scan(config_for(scenario), deps, dry_run=True)
    assert sum(e.violation for e in dry.events) == 7
    assert deps.events.all_events() == []
    real = run_scan(config_for(scenario), deps)
    assert sorted(e.event_id for e in real.events) == sorted(e.event_id for e in dry.events)


def test_rate_limits_are_backed_off_without_losing_anything(cloud, scenario):
    options = SimulatorOptions(rate_limits=True, history_requests_per_window=4, rate_window_seconds=0.5)
    with Simulator(scenario, options=options) as sim:
        sim.start()
        # The limits' window is the simulator's virtual clock: the backoff waits on it.
        backoff = ExponentialBackoff(
            base_seconds=0.1, max_retry_seconds=30, max_attempts=10, rate_limit_seconds=0.5, sleep=sim.sleep
        )
        gateway = SdkSmartsheet(token=sim.token, api_base=sim.api_base, backoff=backoff)
        deps = aws_dependencies(config_for(scenario), smartsheet=gateway, clock=lambda: sim.now)
        _baseline(sim, scenario, deps)
        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        result = run_scan(config_for(scenario), deps)
    assert sum(e.violation for e in result.events) == 7
    assert backoff.retries > 0


def test_sheets_are_selected_by_workspace_and_name_pattern(cloud, scenario):
    from billing_audit.config import ContainerSelector, SheetSelection
    from smartsheet_sim.api.common import workspace_id

    data = scenario.model_dump(mode="json", by_alias=True)
    data["sheets"][0]["workspace"] = "Operations"
    extra = json.loads(json.dumps(data["sheets"][0]))
    extra.update({"id": 3002, "name": "Line Crew Notes", "rows": []})
    data["sheets"].append(extra)
    selected = Scenario.model_validate(data)
    config = config_for(selected).model_copy(
        update={
            "sheets": SheetSelection(
                workspaces=[ContainerSelector(id=workspace_id("Operations"), name_pattern="Billing$")]
            )
        }
    )
    with Simulator(selected) as sim:
        sim.start()
        gateway = SdkSmartsheet(token=sim.token, api_base=sim.api_base)
        deps = aws_dependencies(config, smartsheet=gateway, clock=lambda: sim.now)
        result = run_scan(config, deps)
    assert [s.sheet_id for s in result.sheets] == [3001]


def test_scan_command_reports_unreachable_smartsheet_in_one_line(cloud, capsys, monkeypatch):
    monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", "token")
    monkeypatch.setenv("SMARTSHEET_API_BASE", "http://127.0.0.1:9/2.0")
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", json.dumps({"sheets": {"sheet_ids": [3001]}}))
    assert main(["scan"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("billing-audit: sheet 3001 not scanned: Smartsheet") and "unreachable" in err
    assert "\n" not in err
    assert "token" not in err.lower().replace("no smartsheet token", "")


def test_scan_command_without_token(cloud, capsys, monkeypatch):
    monkeypatch.delenv("SMARTSHEET_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("SMARTSHEET_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", json.dumps({"sheets": {"sheet_ids": [3001]}}))
    assert main(["scan"]) == 1
    assert capsys.readouterr().err.strip() == (
        "billing-audit: no Smartsheet token: set SMARTSHEET_ACCESS_TOKEN or SMARTSHEET_TOKEN_SECRET"
    )


def test_scan_command_prints_findings(cloud, sim, scenario, capsys, monkeypatch):
    deps = _deps(sim, scenario)
    _baseline(sim, scenario, deps)
    sim.apply_edits_through(scenario.now)
    sim.set_time(scenario.now)
    monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
    monkeypatch.setenv("SMARTSHEET_API_BASE", sim.api_base)
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", config_for(scenario).model_dump_json())
    assert main(["scan", "--sheet", "3001", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "sheet 3001 Line Crew Billing: 3 modified, 1 added, 1 deleted, 18 cell histories" in out
    assert deps.events.all_events() == []


def test_a_hung_smartsheet_fails_fast_with_one_line(scenario):
    import time

    from billing_audit.smartsheet.gateway import SmartsheetError

    options = SimulatorOptions(timeout_rate=1.0, timeout_seconds=3.0)
    with Simulator(scenario, options=options) as sim:
        sim.start()
        gateway = SdkSmartsheet(token=sim.token, api_base=sim.api_base, timeout_seconds=0.3)
        started = time.monotonic()
        with pytest.raises(SmartsheetError, match="unreachable"):
            gateway.sheet_changes(3001, after_version=None, modified_since=None)
        assert time.monotonic() - started < 2.5


def test_server_errors_are_retried_then_reported(scenario):
    from billing_audit.smartsheet.gateway import SmartsheetError

    with Simulator(scenario, options=SimulatorOptions(error_rate=1.0, error_status=500)) as sim:
        sim.start()
        backoff = ExponentialBackoff(base_seconds=0, max_attempts=3)
        gateway = SdkSmartsheet(token=sim.token, api_base=sim.api_base, backoff=backoff)
        with pytest.raises(SmartsheetError, match="HTTP 500 code 4004"):
            gateway.sheet_changes(3001, after_version=None, modified_since=None)
        assert backoff.retries == 3
        assert sim.call_counts["GET /sheets/{sheetId}"] == 4


def test_a_sheet_smartsheet_cannot_serve_does_not_stop_the_others(cloud, sim, scenario):
    deps = _deps(sim, scenario)
    config = config_for(scenario)
    run_scan(config, deps)  # baseline of 3001
    sim.apply_edits_through(scenario.now)
    result = run_scan(config, deps, [999_999, 3001])
    assert [s.sheet_id for s in result.failed] == [999_999]
    assert "HTTP 404" in (result.failed[0].error or "")
    assert sum(e.violation for e in result.events) > 0


def test_a_rotated_token_is_read_again_after_a_401(sim):
    from billing_audit.smartsheet.gateway import SmartsheetError

    stale = SdkSmartsheet(token="rotated-away", api_base=sim.api_base)
    with pytest.raises(SmartsheetError, match="HTTP 401: the token was refused"):
        stale.sheet_changes(3001, after_version=None, modified_since=None)
    renewing = SdkSmartsheet(token="rotated-away", api_base=sim.api_base, renew_token=lambda: sim.token)
    assert renewing.sheet_changes(3001, after_version=None, modified_since=None) is not None
    assert renewing.call_counts() == {"GET /sheets/{sheetId}": 2}  # the refused call, then the retry
