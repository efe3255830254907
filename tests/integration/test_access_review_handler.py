"""The monthly access review's Lambda handler, invoked in process against moto and the simulator,
after the scheduled scans have kept the approvals they found in Status histories."""

from __future__ import annotations

import json
import os
from collections import Counter
from functools import partial

import boto3
import pytest

from billing_audit.cli import main
from billing_audit.domain.values import utc_iso
from billing_audit.resources import STATE_TABLE
from billing_audit.store.access import DynamoAccessReviewStore, DynamoApprovalStore
from billing_audit_local.lambdas import invoke, load_handler
from billing_audit_local.scenario import config_for
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import load_scenario
from tests.e2e.test_scenarios import SCENARIOS

SCENARIO = SCENARIOS / "access-review.json"
RETENTION_DAYS = 400


@pytest.fixture
def lambda_env(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "billing-audit")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "BillingAudit")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def test_the_scheduled_review_stores_what_the_scenario_implies(cloud, lambda_env, monkeypatch, capsys):
    scenario = load_scenario(SCENARIO)
    expected = Counter(item["reason"] for item in json.loads(SCENARIO.read_text())["expected"]["access_review"])
    with Simulator(scenario) as sim:
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
        monkeypatch.setenv("SMARTSHEET_API_BASE", sim.start())
        config = config_for(scenario).model_copy(update={"retention_days": RETENTION_DAYS})
        monkeypatch.setenv("BILLING_AUDIT_CONFIG", config.model_dump_json())
        load_handler("scan")._settings.cache_clear()
        sim.apply_edits_through(scenario.baseline_at)
        invoke("scan", {})
        sim.apply_edits_through(scenario.now)
        invoke("scan", {})
        review = load_handler("access_review")
        review._settings.cache_clear()
        # The review counts days back from its own time: the scenario's, not this machine's.
        monkeypatch.setattr(
            review, "access_review_dependencies", partial(review.access_review_dependencies, clock=lambda: sim.now)
        )
        result = invoke("access_review", {"job": "access_review", "scheduled_time": "2026-12-01T12:00:00Z"})
    assert result["counts"] == dict(sorted(expected.items()))
    assert result["sheets"] == 2 and result["findings"] == sum(expected.values())
    state = boto3.resource("dynamodb").Table(os.environ[STATE_TABLE.env_var])
    stored = DynamoAccessReviewStore(state).latest()
    assert stored is not None and len(stored.findings) == result["findings"]
    # The approvals the scans kept: Bob's and Ana's moves into Approved.
    approvals = DynamoApprovalStore(state).between(scenario.baseline_at, scenario.now)
    assert sorted((a.row_id, a.by) for a in approvals) == [(710001, "bob@example.com"), (710002, "ana@example.com")]
    # Both are kept as long as the events: each item carries the state table's TTL attribute.
    ttl, kept = str(STATE_TABLE.ttl_attribute), RETENTION_DAYS * 86_400
    items = state.scan()["Items"]
    purge = {(item["pk"], item["sk"]): int(item[ttl]) for item in items if ttl in item}
    assert {key: at for key, at in purge.items() if str(key[0]).startswith("approval#")} == {
        (f"approval#{a.at:%Y-%m}", f"{utc_iso(a.at)}#{a.approval_id}"): int(a.at.timestamp()) + kept for a in approvals
    }
    reviewed = int(stored.reviewed_at.timestamp()) + kept
    assert (
        purge[("access-review", "latest")] == purge[("access-review", f"run#{utc_iso(stored.reviewed_at)}")] == reviewed
    )
    # Nothing else in the table is the TTL's to delete: not the trail's log, the scans' state.
    assert {str(key[0]).split("#")[0] for key in purge} == {"approval", "access-review"}
    assert len(purge) < len(items)
    assert '"AccessReviewFindings"' in capsys.readouterr().out  # the EMF metric


def test_the_command_prints_each_reason_and_writes_the_result(cloud, monkeypatch, tmp_path, capsys):
    scenario = load_scenario(SCENARIO)
    config = tmp_path / "config.json"
    config.write_text(config_for(scenario).model_dump_json())
    with Simulator(scenario) as sim:
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
        monkeypatch.setenv("SMARTSHEET_API_BASE", sim.start())
        sim.apply_edits_through(scenario.now)
        out = tmp_path / "review.json"
        assert main(["access-review", "--config", str(config), "--out", str(out), "--no-alert"]) == 0
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert printed.startswith("Access review at ") and f"Wrote {out}" in printed
    # Whatever today's date makes of the scenario's logins and reviews, these never change with it.
    flagged = {(f["person"], f["reason"]) for f in written["findings"]}
    assert ("dana@example.com", "inactive_user") in flagged
    assert ("frank@contractor.example", "editor_not_in_roster") in flagged
    assert ("bob@example.com", "access_above_roster") in flagged
    assert "Inactive users with access (2):" in printed and "Editors missing from the roster (1):" in printed
    state = boto3.resource("dynamodb").Table(os.environ[STATE_TABLE.env_var])
    assert DynamoAccessReviewStore(state).latest().to_record() == written
