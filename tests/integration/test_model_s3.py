"""The anomaly model through the local cloud: retrained by functions/retrain from events stored in
DynamoDB, saved to S3 with skops, loaded back by the scorer; a damaged object degrades to rules."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest

from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, event_id_for
from billing_audit.domain.risk import RiskPolicy
from billing_audit.ml.scorer import ModelScorer
from billing_audit.resources import EVENTS_TABLE, MODELS_BUCKET
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.models import MODELS_PREFIX, S3ModelStore
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import invoke, load_handler, local_lambda_environment
from tests.integration.test_reports_aws import _create

CONFIG = {"timezone": "America/Chicago"}


def _office_events(now: datetime, count: int) -> list[AuditEvent]:
    """Small changes in office hours over the last three weeks, by three people."""
    events = []
    start = (now - timedelta(days=21)).replace(hour=15, minute=0, second=0, microsecond=0)
    for index in range(count):
        at = start + timedelta(days=index % 21, minutes=37 * (index // 21))
        events.append(
            AuditEvent(
                event_id=event_id_for(7, 1000 + index, EventType.CHANGE, "Quantity", at),
                sheet_id=7,
                sheet_name="Crew",
                row_id=1000 + index,
                column="Quantity",
                old_value=10,
                new_value=10 + index % 3 + 1,
                changed_at=at,
                changed_by=f"p{index % 3}@example.com",
                type=EventType.CHANGE,
                violation=False,
                week_ending=(at + timedelta(days=3)).date().isoformat(),
                detected_at=at + timedelta(minutes=5),
                detected_via=DetectedVia.SCAN,
            )
        )
    return events


@pytest.fixture
def cloud(monkeypatch):
    with LocalCloud() as local:
        _create(local.client("dynamodb"), EVENTS_TABLE, "events")
        local.client("s3").create_bucket(Bucket="models")
        monkeypatch.setenv(EVENTS_TABLE.env_var, "events")
        monkeypatch.setenv(MODELS_BUCKET.env_var, "models")
        monkeypatch.setenv("BILLING_AUDIT_CONFIG", json.dumps(CONFIG))
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        yield local


def test_retrain_saves_a_skops_model_that_scores_after_loading(cloud):
    now = datetime.now(UTC)
    DynamoEventStore(boto3.resource("dynamodb").Table("events")).add(_office_events(now, 240))
    with local_lambda_environment():
        load_handler("retrain")._runtime.cache_clear()
        summary = invoke("retrain", {"job": "retrain"})
    assert summary["trained"] is True and summary["events"] == 240
    s3 = cloud.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="models", Prefix=MODELS_PREFIX)["Contents"]}
    version = summary["version"]
    base = f"{MODELS_PREFIX}{version}/"
    assert keys == {f"{MODELS_PREFIX}LATEST", f"{base}model.skops", f"{base}model.json"}
    meta = json.loads(s3.get_object(Bucket="models", Key=f"{MODELS_PREFIX}{version}/model.json")["Body"].read())
    assert meta["metrics"]["events"] == 240 and meta["params"]["estimator"] == "IsolationForest"

    reasons: list[str] = []
    store = S3ModelStore(boto3.client("s3"), "models")
    scorer = ModelScorer(store.latest, ZoneInfo("America/Chicago"), RiskPolicy(), on_unavailable=reasons.append)
    usual = _office_events(now, 1)[0]
    odd = usual.model_copy(
        update={"event_id": "odd", "changed_at": usual.changed_at + timedelta(hours=12), "changed_by": "x@example.com",
                "new_value": 900})  # fmt: skip
    scores = scorer.anomaly_scores([usual, odd], [])
    assert reasons == [] and scores is not None
    assert 0 <= scores[0] < scores[1] <= 1


def test_a_damaged_model_in_s3_degrades_to_rules_with_a_reason(cloud):
    now = datetime.now(UTC)
    DynamoEventStore(boto3.resource("dynamodb").Table("events")).add(_office_events(now, 120))
    with local_lambda_environment():
        load_handler("retrain")._runtime.cache_clear()
        version = invoke("retrain", {})["version"]
    s3 = cloud.client("s3")
    s3.put_object(Bucket="models", Key=f"{MODELS_PREFIX}{version}/model.skops", Body=b"PK\x03\x04 not a model")
    reasons: list[str] = []
    scorer = ModelScorer(
        S3ModelStore(boto3.client("s3"), os.environ[MODELS_BUCKET.env_var]).latest,
        ZoneInfo("America/Chicago"),
        RiskPolicy(),
        on_unavailable=reasons.append,
    )
    assert scorer.anomaly_scores(_office_events(now, 2), []) is None
    assert len(reasons) == 1 and reasons[0].startswith(f"model {version} unreadable")


def test_retrain_with_too_few_events_keeps_what_there_is(cloud):
    with local_lambda_environment():
        load_handler("retrain")._runtime.cache_clear()
        summary = invoke("retrain", {})
    assert summary["trained"] is False and "0 events" in summary["reason"]
    assert "Contents" not in cloud.client("s3").list_objects_v2(Bucket="models")


def test_the_retrain_command_trains_from_this_machine(cloud, capsys):
    from billing_audit.cli import main

    DynamoEventStore(boto3.resource("dynamodb").Table("events")).add(_office_events(datetime.now(UTC), 90))
    assert main(["retrain", "--days", "28", "--seed", "3"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["events"] == 90
    latest = cloud.client("s3").get_object(Bucket="models", Key=f"{MODELS_PREFIX}LATEST")["Body"].read().decode()
    assert latest == printed["version"]
    meta = json.loads(
        cloud.client("s3").get_object(Bucket="models", Key=f"{MODELS_PREFIX}{latest}/model.json")["Body"].read()
    )
    assert meta["params"]["seed"] == 3


def test_the_retrain_command_with_nothing_stored_exits_1_in_one_line(cloud, capsys):
    from billing_audit.cli import main

    assert main(["retrain"]) == 1
    assert capsys.readouterr().err.strip() == (
        "billing-audit: no model trained: 0 events stored in the last 28 days; need 50"
    )


def test_a_persons_recent_events_are_queried_through_the_by_person_index(cloud):
    from tests.integration.test_reports_aws import NoScanTable

    now = datetime.now(UTC).replace(microsecond=0)
    events = _office_events(now, 30)  # p0, p1, p2 in turn, a day apart
    DynamoEventStore(boto3.resource("dynamodb").Table("events")).add(events)
    table = NoScanTable(boto3.resource("dynamodb").Table("events"))
    store = DynamoEventStore(table)
    start, end = events[3].changed_at, events[12].changed_at
    got = store.changes_by("P1@Example.com", start, end)
    expected = {e.event_id for e in events if e.changed_by == "p1@example.com" and start <= e.changed_at <= end}
    assert {e.event_id for e in got} == expected and expected
    assert table.queries == 1
