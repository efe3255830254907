"""`billing-audit scan` from a workstation scores as the scheduled scan does: with the deployment's
latest model where the models bucket is known, else with the rules alone and one line saying so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import boto3
import pytest

from billing_audit.cli import main
from billing_audit.domain.features import build_profiles
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.risk import RiskPolicy
from billing_audit.ml.features import feature_matrix
from billing_audit.ml.model import dump, train
from billing_audit.pipeline.scan import run_scan
from billing_audit.resources import MODELS_BUCKET
from billing_audit.store.models import S3ModelStore
from billing_audit_local.scenario import bundled_example, config_for
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import Scenario, load_scenario
from tests.integration.test_model_s3 import _office_events


@pytest.fixture
def scenario() -> Scenario:
    return load_scenario(bundled_example())


@pytest.fixture
def sim(cloud, scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """The example's baseline taken, its week of edits made; the scan command pointed at it."""
    with Simulator(scenario) as simulator:
        simulator.start()
        config = config_for(scenario)
        simulator.apply_edits_through(scenario.baseline_at)
        simulator.set_time(scenario.baseline_at)
        run_scan(config, simulator_deps(simulator, config))
        simulator.apply_edits_through(scenario.now)
        simulator.set_time(scenario.now)
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", simulator.token)
        monkeypatch.setenv("SMARTSHEET_API_BASE", simulator.api_base)
        monkeypatch.setenv("BILLING_AUDIT_CONFIG", config.model_dump_json())
        yield simulator


def _scan(sim: Simulator, scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> tuple[list[AuditEvent], list[str]]:
    """Scan the sheet from this machine; (the events it stored, what it said on stderr)."""
    assert main(["scan", "--sheet", "3001"]) == 0
    notices = capsys.readouterr().err.strip().splitlines()
    events = simulator_deps(sim, config_for(scenario)).events.all_events()
    assert events
    return events, notices


def test_with_a_model_in_the_bucket_the_scan_blends_its_scores(cloud, sim, scenario, capsys):
    zone, risk = ZoneInfo("America/Chicago"), RiskPolicy()
    history = _office_events(datetime.now(UTC), 120)
    profiles = build_profiles(history, zone, risk)
    model = train(
        feature_matrix(history, [], profiles, zone, risk), profiles, version="v1", trained_at=datetime.now(UTC)
    )
    S3ModelStore(boto3.client("s3"), cloud.names[MODELS_BUCKET.env_var]).save("v1", *dump(model))

    events, notices = _scan(sim, scenario, capsys)
    assert notices == []
    assert all(0 <= e.anomaly_score <= 1 for e in events)
    assert any(e.anomaly_score > 0 for e in events)


def test_with_an_empty_bucket_the_rules_score_and_one_line_says_why(cloud, sim, scenario, capsys):
    events, notices = _scan(sim, scenario, capsys)
    assert notices == ["billing-audit: anomaly model unavailable (no model trained yet): scoring with the rules alone"]
    assert {e.anomaly_score for e in events} == {0.0}
    assert any(e.risk_score > 0 for e in events)


def test_without_a_models_bucket_the_rules_score_and_one_line_says_so(cloud, sim, scenario, capsys, monkeypatch):
    monkeypatch.delenv(MODELS_BUCKET.env_var)
    events, notices = _scan(sim, scenario, capsys)
    assert notices == ["billing-audit: MODELS_BUCKET not set: scoring with the rules alone"]
    assert {e.anomaly_score for e in events} == {0.0}
    assert any(e.risk_score > 0 for e in events)
