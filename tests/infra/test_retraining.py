"""The anomaly model in the stack: the retrain function, its weekly schedule and least-privilege role,
the models bucket, and the ML layer only on the functions whose handler imports the model."""

from __future__ import annotations

import json
from typing import Any

from infra.constants import FUNCTIONS, MODELS_ARN_EXPORT
from infra.constructs.layers import needs_ml

from billing_audit.resources import EVENTS_BY_DETECTED_DAY_INDEX, EVENTS_BY_USER_INDEX, MODELS_BUCKET
from billing_audit.store.models import MODELS_PREFIX
from tests.infra.conftest import job_of, synth_template
from tests.infra.test_stack import function_id, of_type, role_policy_text


def _layers(template_json: dict[str, Any], name: str) -> list[str]:
    function = template_json["Resources"][function_id(template_json, name)]
    return [layer["Ref"] for layer in function["Properties"].get("Layers", [])]


def test_the_ml_layer_goes_only_where_the_handler_imports_the_model(template_json: dict[str, Any]) -> None:
    layers = of_type(template_json, "AWS::Lambda::LayerVersion")
    [ml] = [lid for lid, layer in layers.items() if "scikit-learn" in layer["Properties"]["Description"]]
    carrying = {name for name in FUNCTIONS if ml in _layers(template_json, name)}
    assert carrying == {"process", "scan", "retrain"}
    assert carrying == {name for name in FUNCTIONS if needs_ml(name)}
    assert "webhook" not in carrying and "report" not in carrying


def test_retrain_may_read_the_window_and_write_models_only(template_json: dict[str, Any]) -> None:
    statements = json.loads(role_policy_text(template_json, "retrain"))
    actions = sorted({a for group in statements for s in group for a in _list(s["Action"])})
    assert actions == [
        "dynamodb:Query",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:PutObject",
        # A failed scheduled invocation goes to the schedules' dead-letter queue (scheduling.py).
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
        "ssm:GetParameter",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    ]
    text = json.dumps(statements)
    assert f"/index/{EVENTS_BY_DETECTED_DAY_INDEX}" in text and MODELS_ARN_EXPORT in text
    assert f"/{MODELS_PREFIX}*" in text


def test_scorers_read_models_and_query_a_persons_events(template_json: dict[str, Any]) -> None:
    for name in ("process", "scan"):
        text = role_policy_text(template_json, name)
        assert '"s3:GetObject"' in text and f"/{MODELS_PREFIX}*" in text
        assert f"/index/{EVENTS_BY_USER_INDEX}" in text
        env = template_json["Resources"][function_id(template_json, name)]["Properties"]["Environment"]["Variables"]
        assert MODELS_BUCKET.env_var in env
    assert "s3:PutObject" not in role_policy_text(template_json, "scan")
    assert MODELS_PREFIX not in role_policy_text(template_json, "webhook")


def test_retraining_is_scheduled_weekly_with_its_own_switch(template_json: dict[str, Any], tmp_path) -> None:
    schedules = of_type(template_json, "AWS::Scheduler::Schedule")
    retrain = [s for s in schedules.values() if job_of(s) == "retrain"]
    [schedule] = retrain
    assert schedule["Properties"]["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
    assert schedule["Properties"]["State"] == "ENABLED"
    off = synth_template(tmp_path, {"config": json.dumps({"schedules": {"retrain_enabled": False}})})
    states = {job_of(s): s["Properties"]["State"] for s in of_type(off, "AWS::Scheduler::Schedule").values()}
    assert states["retrain"] == "DISABLED" and states["scan"] == "ENABLED"


def test_the_models_bucket_is_versioned_and_retained(data_template_json: dict[str, Any]) -> None:
    bucket = data_template_json["Resources"][MODELS_BUCKET.logical_id]
    assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["DeletionPolicy"] == "Retain"


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]
