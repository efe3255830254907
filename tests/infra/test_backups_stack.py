"""Backups in CDK: the Object Lock bucket and its lifecycle, point-in-time recovery on every table,
the backup function's role (exactly what its code calls), its nightly schedule, and the events
table's weekly export started by its own schedule with a role that may do that one thing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.constants import BACKUPS_ARN_EXPORT

from billing_audit.domain.backup import BACKUP_PREFIX
from billing_audit.resources import BACKUPS_BUCKET, EVENTS_EXPORT_PREFIX, TABLES
from tests.infra.conftest import synth_templates
from tests.infra.test_stack import function_id, of_type, role_policy_text


def _statements_of_role(template_json: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in of_type(template_json, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _schedule(template_json: dict[str, Any], description_start: str) -> dict[str, Any]:
    [found] = [
        schedule["Properties"]
        for schedule in of_type(template_json, "AWS::Scheduler::Schedule").values()
        if schedule["Properties"]["Description"].startswith(description_start)
    ]
    return found


def test_the_backup_bucket_locks_objects_and_expires_them_by_tier(data_template_json: dict[str, Any]) -> None:
    bucket = data_template_json["Resources"][BACKUPS_BUCKET.logical_id]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["ObjectLockEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    # Retention is per object (by tier), so no bucket-wide default locks the events exports.
    assert "Rule" not in props.get("ObjectLockConfiguration", {})
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-daily-backups"]["ExpirationInDays"] == 30
    assert rules["expire-daily-backups"]["Prefix"] == BACKUP_PREFIX
    assert rules["expire-daily-backups"]["TagFilters"] == [{"Key": "tier", "Value": "daily"}]
    assert rules["expire-monthly-backups"]["ExpirationInDays"] == 12 * 31
    assert rules["expire-monthly-backups"]["TagFilters"] == [{"Key": "tier", "Value": "monthly"}]
    assert rules["expire-events-exports"] == {
        "Id": "expire-events-exports",
        "Prefix": EVENTS_EXPORT_PREFIX,
        "ExpirationInDays": 90,
        "Status": "Enabled",
    }
    assert rules["remove-expired-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert rules["remove-expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True


def test_backup_retention_follows_the_configuration(tmp_path: Path) -> None:
    config = {"backups": {"daily_days": 7, "monthly_months": 0, "lock_mode": "COMPLIANCE"}}
    templates = synth_templates(tmp_path, {"config": config})
    [data] = [t for t in templates.values() if BACKUPS_BUCKET.logical_id in t["Resources"]]
    rules = {
        r["Id"]: r
        for r in data["Resources"][BACKUPS_BUCKET.logical_id]["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    assert rules["expire-daily-backups"]["ExpirationInDays"] == 7 and "expire-monthly-backups" not in rules
    [app] = [
        t for t in templates.values() if any(r["Type"] == "AWS::Lambda::Function" for r in t["Resources"].values())
    ]
    env = app["Resources"][function_id(app, "backup")]["Properties"]["Environment"]["Variables"]
    assert (env["BACKUP_LOCK_MODE"], env["BACKUP_DAILY_DAYS"], env["BACKUP_MONTHLY_MONTHS"]) == ("COMPLIANCE", "7", "0")


def test_every_table_has_point_in_time_recovery(data_template_json: dict[str, Any]) -> None:
    for spec in TABLES:
        props = data_template_json["Resources"][spec.logical_id]["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, spec.logical_id


def test_the_backup_function_may_read_the_token_pace_itself_and_put_backup_objects_only(
    template_json: dict[str, Any],
) -> None:
    function = template_json["Resources"][function_id(template_json, "backup")]["Properties"]
    assert function["Timeout"] == 900 and function["MemorySize"] == 1024
    assert function["ReservedConcurrentExecutions"] == 1
    env = function["Environment"]["Variables"]
    assert {"STATE_TABLE", "BACKUPS_BUCKET", "SMARTSHEET_TOKEN_SECRET", "SMARTSHEET_API_BASE"} <= set(env)
    assert "EVENTS_TABLE" not in env and "ALERTS_TOPIC_ARN" not in env
    policy = json.loads(role_policy_text(template_json, "backup"))
    actions = {
        action
        for statements in policy
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert {"s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectRetention"} <= actions
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"} <= actions
    assert not {
        a
        for a in actions
        if a.startswith("s3:") and a not in {"s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectRetention"}
    }
    forbidden = {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "s3:DeleteObject", "s3:GetObject"}
    assert not actions & forbidden
    s3_statements = [s for statements in policy for s in statements if "s3:PutObject" in json.dumps(s["Action"])]
    assert [json.dumps(s["Resource"]) for s in s3_statements] == [
        json.dumps({"Fn::Join": ["", [{"Fn::ImportValue": BACKUPS_ARN_EXPORT}, f"/{BACKUP_PREFIX}*"]]})
    ]


def test_the_backup_runs_nightly_in_business_time_with_its_own_switch(
    template_json: dict[str, Any], tmp_path: Path
) -> None:
    schedule = _schedule(template_json, "Back up the audited sheets")
    assert schedule["ScheduleExpression"] == "cron(0 1-4 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "America/Chicago" and schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id(template_json, "backup"), "Arn"]}
    assert json.loads(target["Input"]) == {"job": "backup", "scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["SchedulerDeadLetterQueue", "Arn"]}
    switched = synth_templates(tmp_path, {"config": {"schedules": {"backup_enabled": False}}})
    [app] = [
        t for t in switched.values() if any(r["Type"] == "AWS::Scheduler::Schedule" for r in t["Resources"].values())
    ]
    assert _schedule(app, "Back up the audited sheets")["State"] == "DISABLED"
    assert _schedule(app, "Export the events table")["State"] == "ENABLED"


def test_the_events_table_is_exported_weekly_by_a_role_that_may_do_only_that(template_json: dict[str, Any]) -> None:
    schedule = _schedule(template_json, "Export the events table")
    assert schedule["ScheduleExpression"] == "cron(0 2 ? * SUN *)"
    target = schedule["Target"]
    assert json.dumps(target["Arn"]).endswith(':scheduler:::aws-sdk:dynamodb:exportTableToPointInTime"]]}')
    text = json.dumps(target["Input"])
    for expected in ('S3Prefix\\":\\"exports/events\\"', "EventsTable", "BackupsBucket", "ClientToken"):
        assert expected in text, expected
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    statements = _statements_of_role(template_json, role_id)
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in statements}
    assert set(by_action) == {
        json.dumps("dynamodb:ExportTableToPointInTime"),
        json.dumps(["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]),
        json.dumps("sqs:SendMessage"),  # its dead-letter queue
    }
    assert "EventsTable" in json.dumps(by_action[json.dumps("dynamodb:ExportTableToPointInTime")])
    assert by_action[json.dumps(["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"])] == {
        "Fn::Join": ["", [{"Fn::ImportValue": BACKUPS_ARN_EXPORT}, f"/{EVENTS_EXPORT_PREFIX}*"]]
    }
    trust = template_json["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in json.dumps(trust["Condition"])
