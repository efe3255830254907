"""The report function, its schedules and the short-link service in the synthesized stacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from billing_audit import resources as shared
from tests.infra.conftest import synth_template
from tests.infra.test_stack import function_id, of_type, role_policy_text


def statements(template_json: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [s for group in json.loads(role_policy_text(template_json, name)) for s in group]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_the_report_queries_two_indexes_and_writes_report_objects_only(template_json: dict[str, Any]) -> None:
    granted = statements(template_json, "report")
    every_action = {a for s in granted for a in actions_of(s)}
    assert "dynamodb:Scan" not in every_action and "s3:GetObject" not in every_action
    assert not any(a.startswith("dynamodb:Delete") or a.startswith("dynamodb:Batch") for a in every_action)
    [index_query] = [s for s in granted if "/index/" in json.dumps(s["Resource"])]
    assert actions_of(index_query) == ["dynamodb:Query"]
    indexes = json.dumps(index_query["Resource"])
    assert (
        f"/index/{shared.EVENTS_BY_DETECTED_DAY_INDEX}" in indexes
        and f"/index/{shared.EVENTS_BY_SHEET_INDEX}" in indexes
    )
    assert "/index/*" not in indexes
    [put] = [s for s in granted if "s3:PutObject" in actions_of(s)]
    assert actions_of(put) == ["s3:PutObject"] and json.dumps(put["Resource"]).endswith('"/reports/*"]]}')
    # The events table itself is never read item by item or scanned: only its indexes.
    events_items = [
        s for s in granted if "EventsTable" in json.dumps(s["Resource"]) and "/index/" not in json.dumps(s["Resource"])
    ]
    assert events_items == []


def test_the_link_function_reads_links_and_report_objects_only(template_json: dict[str, Any]) -> None:
    granted = statements(template_json, "report_link")
    every_action = {a for s in granted for a in actions_of(s)}
    assert every_action - {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    } <= {
        "dynamodb:GetItem",
        "s3:GetObject",
    }
    [get] = [s for s in granted if "s3:GetObject" in actions_of(s)]
    assert json.dumps(get["Resource"]).endswith('"/reports/*"]]}')


def test_reports_are_built_with_a_gigabyte_and_short_links(template_json: dict[str, Any]) -> None:
    props = template_json["Resources"][function_id(template_json, "report")]["Properties"]
    env = props["Environment"]["Variables"]
    assert props["MemorySize"] == 1024 and props["Timeout"] == 600
    assert env[shared.REPORT_LINK_DAYS_ENV] == "7"
    assert shared.REPORT_LINK_BASE_ENV in env and shared.REPORTS_BUCKET.env_var in env
    assert shared.CONFIG_PARAMETER_ENV in env


def test_links_are_served_by_an_api_of_their_own(template_json: dict[str, Any]) -> None:
    reports = {k: r for k, r in template_json["Resources"].items() if "/Reports/" in r["Metadata"]["aws:cdk:path"]}
    [method] = of_type({"Resources": reports}, "AWS::ApiGateway::Method").values()
    props = method["Properties"]
    assert props["HttpMethod"] == "GET" and props["Integration"]["Type"] == "AWS_PROXY"
    [resource] = of_type({"Resources": reports}, "AWS::ApiGateway::Resource").values()
    assert resource["Properties"]["PathPart"] == "{token}"
    [api] = of_type({"Resources": reports}, "AWS::ApiGateway::RestApi").values()
    assert "Policy" not in api["Properties"]  # the webhook's source allow-list does not apply here
    [stage] = of_type({"Resources": reports}, "AWS::ApiGateway::Stage").values()
    assert stage["Properties"]["StageName"] == "r" and "AccessLogSetting" in stage["Properties"]
    outputs = {o.get("Description") for o in template_json["Outputs"].values()}
    assert shared.REPORT_LINK_BASE_ENV in outputs


def test_report_schedules_invoke_the_report_function_with_their_slot(template_json: dict[str, Any]) -> None:
    report = function_id(template_json, "report")
    jobs = {}
    for schedule in of_type(template_json, "AWS::Scheduler::Schedule").values():
        target = schedule["Properties"]["Target"]
        if not isinstance(target["Input"], str):
            continue  # the events export's input is DynamoDB's request (test_backups_stack.py)
        payload = json.loads(target["Input"])
        jobs[payload["job"]] = target
    for job in ("report_daily", "report_weekly"):
        assert jobs[job]["Arn"] == {"Fn::GetAtt": [report, "Arn"]}
        role = jobs[job]["RoleArn"]["Fn::GetAtt"][0]
        policies = [
            p["Properties"]["PolicyDocument"]["Statement"]
            for p in of_type(template_json, "AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"]
        ]
        granted = {a for group in policies for s in group for a in actions_of(s)}
        assert granted == {"lambda:InvokeFunction", "sqs:SendMessage"}  # the target, and the schedules' DLQ


def test_pseudonymous_reports_read_the_key_only_when_configured(tmp_path: Path) -> None:
    def report_function(template: dict) -> tuple[dict, list[dict]]:
        resources = template["Resources"]
        [function] = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Function"
            and {"Key": "billing-audit:function", "Value": "report"} in r["Properties"]["Tags"]
        ]
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = [
            statement
            for r in resources.values()
            if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
            for statement in r["Properties"]["PolicyDocument"]["Statement"]
        ]
        return function["Properties"]["Environment"]["Variables"], statements

    def reads_secrets(statements: list[dict]) -> bool:
        return any("secretsmanager:GetSecretValue" in str(statement["Action"]) for statement in statements)

    plain_env, plain = report_function(synth_template(tmp_path / "plain", {}))
    assert "PSEUDONYM_KEY_SECRET" not in plain_env and not reads_secrets(plain)
    env, statements = report_function(
        synth_template(tmp_path / "pseudo", {"config": {"reports": {"pseudonymize": True}}})
    )
    assert env["PSEUDONYM_KEY_SECRET"] == "billing-audit/pseudonym-key" and reads_secrets(statements)
