"""The scan run on Step Functions: started by the schedule, start → drain ⟳ wait, one run at a time."""

from __future__ import annotations

import json
from typing import Any

from billing_audit import resources as shared
from tests.infra.conftest import job_of
from tests.infra.test_stack import function_id, of_type


def _definition(template_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(logical_id, machine)] = of_type(template_json, "AWS::StepFunctions::StateMachine").items()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    # The function ARN is a token in the definition; a placeholder keeps the JSON parseable.
    text = "".join(part if isinstance(part, str) else "ARN" for part in parts)
    return logical_id, {"type": machine["Properties"].get("StateMachineType"), **json.loads(text)}


def test_the_state_machine_starts_then_drains_until_nothing_remains(template_json: dict[str, Any]) -> None:
    _, definition = _definition(template_json)
    assert definition["type"] == "STANDARD"
    states = definition["States"]
    assert definition["StartAt"] == "StartRun"
    for name, step in (("StartRun", "start"), ("Drain", "drain")):
        task = states[name]
        assert task["Type"] == "Task" and task["Resource"].endswith(":states:::lambda:invoke")
        payload = task["Parameters"]["Payload"]
        assert payload["step"] == step and payload["run_id.$"] == "$$.Execution.Name"
        assert task["ResultSelector"] == {"remaining.$": "$.Payload.remaining"}
        assert task["Next"] == "BacklogLeft"
        assert any(r["ErrorEquals"] == ["Lambda.TooManyRequestsException"] for r in task["Retry"])
    choice = states["BacklogLeft"]
    assert choice["Choices"] == [{"Variable": "$.progress.remaining", "NumericGreaterThan": 0, "Next": "Pace"}]
    assert choice["Default"] == "Drained" and states["Drained"]["Type"] == "Succeed"
    assert states["Pace"] == {"Type": "Wait", "Seconds": 60, "Next": "Drain"}


def test_the_scan_schedule_starts_the_state_machine(template_json: dict[str, Any]) -> None:
    machine_id, _ = _definition(template_json)
    [scan] = [
        s for s in of_type(template_json, "AWS::Scheduler::Schedule").values()
        if job_of(s) == "scan"
    ]  # fmt: skip
    assert scan["Properties"]["Target"]["Arn"] == {"Ref": machine_id}
    role = scan["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in of_type(template_json, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": machine_id}} in statements
    # Besides starting that machine, the role may only hand a failed start to the schedules' DLQ.
    others = [s for s in statements if s["Action"] != "states:StartExecution"]
    assert [s["Action"] for s in others] == ["sqs:SendMessage"]


def test_one_scan_invocation_at_a_time_and_the_machine_invokes_only_the_scan(template_json: dict[str, Any]) -> None:
    scan = function_id(template_json, "scan")
    assert template_json["Resources"][scan]["Properties"]["ReservedConcurrentExecutions"] == 1
    machine_id, _ = _definition(template_json)
    role = template_json["Resources"][machine_id]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    [policy] = [
        p for p in of_type(template_json, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
    ]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"][0] == {"Fn::GetAtt": [scan, "Arn"]}


def test_an_old_backlog_alarms_to_the_alerts_topic(template_json: dict[str, Any]) -> None:
    [alarm] = [
        a["Properties"]
        for a in of_type(template_json, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == shared.METRIC_SCAN_BACKLOG_AGE
    ]
    assert alarm["Threshold"] == 360 * 60 and alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    [dashboard] = of_type(template_json, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (shared.METRIC_SCAN_BACKLOG_ROWS, shared.METRIC_SCAN_DRAIN_ESTIMATE):
        assert metric in body
