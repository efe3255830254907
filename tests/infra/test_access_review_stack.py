"""The access review's deployment: its function, its monthly schedule and a role holding exactly the
actions its code calls."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.test_stack import function_id, of_type, role_policy_text


def _actions(template_json: dict[str, Any]) -> dict[str, set[str]]:
    """Action -> the resources (as JSON text) the access review's role may use it on."""
    granted: dict[str, set[str]] = {}
    for statements in json.loads(role_policy_text(template_json, "access_review")):
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                granted.setdefault(action, set()).add(json.dumps(statement["Resource"], sort_keys=True))
    return granted


def test_the_role_holds_only_what_the_review_calls(template_json: dict[str, Any]) -> None:
    granted = _actions(template_json)
    dynamo = {action for action in granted if action.startswith("dynamodb:")}
    assert dynamo == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}  # never a scan or a delete
    [events_index] = [r for r in granted["dynamodb:Query"] if "index/by_sheet_time" in r]
    assert "EventsTable" in events_index or "Events" in events_index
    assert not any("index" in r for action in ("dynamodb:GetItem", "dynamodb:PutItem") for r in granted[action])
    assert {action for action in granted if action.startswith("s3:")} == set()  # no bucket at all
    assert "sns:Publish" in granted and "secretsmanager:GetSecretValue" in granted
    assert {action for action in granted if action.startswith("secretsmanager:")} <= {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }


def test_it_runs_monthly_with_a_role_that_invokes_it_alone(template_json: dict[str, Any]) -> None:
    function = template_json["Resources"][function_id(template_json, "access_review")]["Properties"]
    assert function["Timeout"] == 900 and function["ReservedConcurrentExecutions"] == 1
    assert set(function["Environment"]["Variables"]) >= {"EVENTS_TABLE", "STATE_TABLE", "ALERTS_TOPIC_ARN"}
    [schedule] = [
        s["Properties"]
        for s in of_type(template_json, "AWS::Scheduler::Schedule").values()
        # The events export's input is DynamoDB's request (an object), not a job.
        if isinstance(s["Properties"]["Target"]["Input"], str)
        and json.loads(s["Properties"]["Target"]["Input"]).get("job") == "access_review"
    ]
    assert schedule["ScheduleExpression"] == "cron(0 6 1 * ? *)" and schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": [function_id(template_json, "access_review"), "Arn"]}
