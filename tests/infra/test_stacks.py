"""Data apart from the application: deploy, destroy the application, deploy it again.

`BillingAuditData` holds every table, bucket and secret, retained and protected; `BillingAudit`
holds none, reads them through the data stack's exports, and leaves nothing with a fixed name
behind when it is destroyed; API Gateway's account-wide logging role is neither's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from billing_audit import resources as shared

DATA_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret")
# Properties that give a resource a physical name of its own choosing.
NAME_PROPERTIES = (
    "LogGroupName",
    "FunctionName",
    "RoleName",
    "TopicName",
    "QueueName",
    "BucketName",
    "TableName",
    "Name",
    "StateMachineName",
    "AliasName",
)


def _of_type(template: dict[str, Any], *kinds: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] in kinds}


def test_every_table_bucket_and_secret_is_in_the_data_stack(
    template_json: dict[str, Any], data_template_json: dict[str, Any]
) -> None:
    assert not _of_type(template_json, *DATA_TYPES), "the application stack must hold no data"
    tables = _of_type(data_template_json, "AWS::DynamoDB::Table")
    assert set(tables) == {spec.logical_id for spec in shared.TABLES}
    buckets = _of_type(data_template_json, "AWS::S3::Bucket")
    assert {spec.logical_id for spec in shared.BUCKETS} <= set(buckets)
    names = {s["Properties"]["Name"] for s in _of_type(data_template_json, "AWS::SecretsManager::Secret").values()}
    assert {shared.SMARTSHEET_TOKEN_SECRET, shared.SLACK_WEBHOOK_SECRET} <= names


def test_what_holds_data_is_retained_and_tables_are_deletion_protected(data_template_json: dict[str, Any]) -> None:
    for logical_id, resource in _of_type(data_template_json, *DATA_TYPES, "AWS::KMS::Key").items():
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
    for logical_id, table in _of_type(data_template_json, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["DeletionProtectionEnabled"] is True, logical_id


def test_the_data_stack_has_termination_protection_and_the_application_depends_on_it(tmp_path: Path) -> None:
    from infra.app import build_app
    from infra.constants import DATA_STACK_NAME, STACK_NAME

    app = build_app({"bundling": "skip"}, outdir=str(tmp_path), nag=False)
    assembly = app.synth()
    data = assembly.get_stack_by_name(DATA_STACK_NAME)
    application = assembly.get_stack_by_name(STACK_NAME)
    assert data.termination_protection is True
    assert application.termination_protection is not True  # destroyed and deployed again at will
    assert DATA_STACK_NAME in [dependency.id for dependency in application.dependencies]


def test_the_application_reads_the_data_stack_only_through_its_exports(
    template_json: dict[str, Any], data_template_json: dict[str, Any]
) -> None:
    exported = {output["Export"]["Name"] for output in data_template_json["Outputs"].values() if "Export" in output}
    text = json.dumps(template_json)
    imported: set[str] = set()
    start = 0
    while (at := text.find('"Fn::ImportValue": "', start)) != -1:
        begin = at + len('"Fn::ImportValue": "')
        imported.add(text[begin : text.index('"', begin)])
        start = begin
    assert imported, "the application stack uses the data stack's tables and secrets"
    assert imported <= exported


def test_nothing_the_application_leaves_behind_has_a_fixed_name(template_json: dict[str, Any]) -> None:
    # A retained resource outlives `cdk destroy BillingAudit`; with a name of its own choosing, the
    # next `cdk deploy BillingAudit` would fail on it.  Generated names differ on every deploy.
    retained = {lid: r for lid, r in template_json["Resources"].items() if r.get("DeletionPolicy") == "Retain"}
    assert retained, "the function log groups are retained"
    for logical_id, resource in retained.items():
        named = set(resource.get("Properties", {})) & set(NAME_PROPERTIES)
        assert not named, (logical_id, named)


def test_function_log_groups_are_retained_with_the_configured_retention(tmp_path: Path) -> None:
    from tests.infra.conftest import synth_template

    template = synth_template(tmp_path, {"config": {"retention": {"logs_days": 30}}})
    groups = {
        r["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert groups
    for logical_id in groups:
        group = template["Resources"][logical_id]
        assert group["DeletionPolicy"] == "Retain", logical_id
        assert group["Properties"]["RetentionInDays"] == 30, logical_id


def test_the_api_gateway_account_role_is_not_the_application_s(
    template_json: dict[str, Any], data_template_json: dict[str, Any]
) -> None:
    for template in (template_json, data_template_json):
        assert not _of_type(template, "AWS::ApiGateway::Account")
        assert "AmazonAPIGatewayPushToCloudWatchLogs" not in json.dumps(template)
    for api in _of_type(template_json, "AWS::ApiGateway::RestApi").values():
        assert "CloudWatchRole" not in json.dumps(api)


def test_the_account_setup_stack_sets_the_role_and_keeps_it(templates: dict[str, dict[str, Any]]) -> None:
    from infra.constants import ACCOUNT_SETUP_STACK_NAME

    template = templates[ACCOUNT_SETUP_STACK_NAME]
    [(account_id, account)] = _of_type(template, "AWS::ApiGateway::Account").items()
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in json.dumps(role["Properties"]["ManagedPolicyArns"])
    # Destroying this stack must not break logging for every REST API of the region.
    assert account["DeletionPolicy"] == "Retain" and role["DeletionPolicy"] == "Retain"
    assert set(template["Resources"]) == {account_id, role_id}


def test_the_application_stack_still_logs_api_access(template_json: dict[str, Any]) -> None:
    stages = _of_type(template_json, "AWS::ApiGateway::Stage").values()
    assert stages
    for stage in stages:
        destination = stage["Properties"]["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
        assert template_json["Resources"][destination]["Type"] == "AWS::Logs::LogGroup"


@pytest.mark.parametrize("kind", ["AWS::KMS::Key", "AWS::SNS::Topic", "AWS::SQS::Queue"])
def test_the_application_s_own_resources_are_recreated_freely(template_json: dict[str, Any], kind: str) -> None:
    # Topics, queues and the alerts key carry no data worth keeping: a destroy removes them, and
    # with generated names a redeploy creates them anew.
    for logical_id, resource in _of_type(template_json, kind).items():
        assert resource.get("DeletionPolicy") != "Retain", logical_id
        assert not set(resource.get("Properties", {})) & set(NAME_PROPERTIES), logical_id
