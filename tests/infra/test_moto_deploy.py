"""The synthesized template deploys into moto; the local cloud is built from the production stack."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from infra.constants import FUNCTIONS
from moto.server import ThreadedMotoServer

from billing_audit import resources as shared
from billing_audit.resources import BUCKETS, TABLES
from tests.infra.conftest import RUNTIME_NAMES

REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's backends are shared by every server in this process: start from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployed(moto_endpoint: str) -> dict[str, str]:
    from billing_audit_local.deploy import deploy_stack

    with pytest.MonkeyPatch.context() as patch:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.setenv(key, "testing")
        return deploy_stack(moto_endpoint, region=REGION)


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> Any:
    def client(service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name=REGION,
            endpoint_url=moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


def test_deploy_returns_every_runtime_name(deployed: dict[str, str]) -> None:
    assert set(deployed) == RUNTIME_NAMES
    assert all(deployed.values())


def test_stack_is_complete(deployed: dict[str, str], aws: Any) -> None:
    [stack] = aws("cloudformation").describe_stacks(StackName=shared.STACK_NAME)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_the_data_stack_is_deployed_first_and_the_application_imports_it(deployed: dict[str, str], aws: Any) -> None:
    from infra.constants import DATA_STACK_NAME

    cloudformation = aws("cloudformation")
    [data] = cloudformation.describe_stacks(StackName=DATA_STACK_NAME)["Stacks"]
    assert data["StackStatus"] == "CREATE_COMPLETE"
    exports = cloudformation.list_exports()["Exports"]
    assert exports and {e["ExportingStackId"] for e in exports} == {data["StackId"]}
    # The application's tables and secrets are the data stack's, through those exports.
    table_arns = [e["Value"] for e in exports if ":table/" in e["Value"]]
    assert {arn.rsplit("/", 1)[-1] for arn in table_arns} == {deployed[spec.env_var] for spec in TABLES}


@pytest.mark.parametrize("spec", TABLES, ids=lambda spec: spec.logical_id)
def test_tables_have_the_shared_keys_and_indexes(deployed: dict[str, str], aws: Any, spec: shared.TableSpec) -> None:
    table = aws("dynamodb").describe_table(TableName=deployed[spec.env_var])["Table"]
    keys = [{"AttributeName": spec.partition.name, "KeyType": "HASH"}]
    if spec.sort:
        keys.append({"AttributeName": spec.sort.name, "KeyType": "RANGE"})
    assert table["KeySchema"] == keys
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {index["IndexName"]: index["KeySchema"] for index in table.get("GlobalSecondaryIndexes", [])}
    expected = {}
    for index in spec.indexes:
        schema = [{"AttributeName": index.partition.name, "KeyType": "HASH"}]
        if index.sort:
            schema.append({"AttributeName": index.sort.name, "KeyType": "RANGE"})
        expected[index.name] = schema
    assert indexes == expected
    if spec.ttl_attribute:
        ttl = aws("dynamodb").describe_time_to_live(TableName=deployed[spec.env_var])["TimeToLiveDescription"]
        assert ttl == {"AttributeName": spec.ttl_attribute, "TimeToLiveStatus": "ENABLED"}


def test_events_table_accepts_a_query_by_index(deployed: dict[str, str], aws: Any) -> None:
    dynamodb = aws("dynamodb")
    name = deployed[shared.EVENTS_TABLE.env_var]
    dynamodb.put_item(
        TableName=name,
        Item={
            "event_id": {"S": "e1"},
            "sheet_key": {"S": "3001"},
            "changed_at": {"S": "2026-11-10T10:00:00Z"},
            "risk_level": {"S": "HIGH"},
        },
    )
    found = dynamodb.query(
        TableName=name,
        IndexName="by_risk_date",
        KeyConditionExpression="risk_level = :r",
        ExpressionAttributeValues={":r": {"S": "HIGH"}},
    )
    assert [item["event_id"]["S"] for item in found["Items"]] == ["e1"]


def test_buckets_exist_private_logged_and_expiring(deployed: dict[str, str], aws: Any) -> None:
    s3 = aws("s3")
    for spec in BUCKETS:
        s3.head_bucket(Bucket=deployed[spec.env_var])
        # The template's TLS-only deny (checked in test_stack.py) is left out of the moto copy:
        # the local cloud is plain HTTP on loopback, and moto enforces the deny.
        s3.put_object(Bucket=deployed[spec.env_var], Key="probe", Body=b"local objects can be written")
        s3.delete_object(Bucket=deployed[spec.env_var], Key="probe")
    reports = deployed[shared.REPORTS_BUCKET.env_var]
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=reports)["Rules"]
    assert rule["Expiration"]["Days"] == 365
    logging = s3.get_bucket_logging(Bucket=reports)["LoggingEnabled"]
    assert logging["TargetPrefix"] == f"{shared.REPORTS_BUCKET.logical_id}/"
    block = s3.get_public_access_block(Bucket=reports)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_topic_queues_and_secrets_exist(deployed: dict[str, str], aws: Any) -> None:
    sns = aws("sns")
    attributes = sns.get_topic_attributes(TopicArn=deployed[shared.ALERTS_TOPIC_ENV])["Attributes"]
    assert attributes.get("KmsMasterKeyId")
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=deployed[shared.ALERTS_TOPIC_ENV])["Subscriptions"]
    assert [s["Protocol"] for s in subscriptions] == ["lambda"]
    sqs = aws("sqs")
    queue = sqs.get_queue_attributes(QueueUrl=deployed[shared.CALLBACK_QUEUE_ENV], AttributeNames=["All"])
    redrive = json.loads(queue["Attributes"]["RedrivePolicy"])
    dlq = sqs.get_queue_attributes(QueueUrl=deployed[shared.CALLBACK_DLQ_ENV], AttributeNames=["QueueArn"])
    assert redrive["deadLetterTargetArn"] == dlq["Attributes"]["QueueArn"]
    sqs.get_queue_attributes(QueueUrl=deployed[shared.SCHEDULER_DLQ_ENV], AttributeNames=["QueueArn"])
    secrets = aws("secretsmanager")
    for env_var in (
        shared.SMARTSHEET_TOKEN_SECRET_ENV,
        shared.SLACK_WEBHOOK_SECRET_ENV,
    ):
        assert secrets.get_secret_value(SecretId=deployed[env_var])["SecretString"]


def test_functions_api_stage_schedules_and_alarms_exist(deployed: dict[str, str], aws: Any) -> None:
    functions = aws("lambda").list_functions()["Functions"]
    assert len(functions) == len(FUNCTIONS)  # only what is built
    assert {f["Runtime"] for f in functions} == {"python3.12"}
    apis = {api["name"]: api for api in aws("apigateway").get_rest_apis()["items"]}
    assert set(apis) == {"billing-audit-webhook", "billing-audit-report-links"}
    api = apis["billing-audit-webhook"]
    assert deployed[shared.WEBHOOK_URL_ENV].startswith(f"https://{api['id']}.execute-api.")
    stage = aws("apigateway").get_stage(restApiId=api["id"], stageName="prod")
    assert stage["tracingEnabled"] is True
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 20
    schedules = aws("scheduler").list_schedules()["Schedules"]
    assert {s["State"] for s in schedules} == {"ENABLED"}
    for job in ("Scan", "ReportDaily", "ReportWeekly"):
        assert any(f"Scheduling{job}" in s["Name"] for s in schedules), job


def test_alarms_go_to_the_alerts_topic_and_the_notifier_s_to_the_operations_topic(
    deployed: dict[str, str], aws: Any
) -> None:
    alarms = aws("cloudwatch").describe_alarms()["MetricAlarms"]
    alerts = deployed[shared.ALERTS_TOPIC_ENV]
    topics = {t["TopicArn"] for t in aws("sns").list_topics()["Topics"]}
    [operations] = topics - {alerts}  # where the notifier's own alarms go: a topic it does not read
    assert alarms and all(a["AlarmActions"] in ([alerts], [operations]) for a in alarms)
    about_notifier = [a for a in alarms if a["AlarmActions"] == [operations]]
    assert about_notifier and all("Notifier" in a["AlarmName"] for a in about_notifier)


def test_asynchronous_invocations_fail_over_to_their_queues(
    deployed: dict[str, str], aws: Any, template_json: dict[str, Any]
) -> None:
    from billing_audit_local.state_machines import folders_of_functions

    # moto's CloudFormation has no model for AWS::Lambda::EventInvokeConfig: skipped.py creates them.
    client = aws("lambda")
    folder_of = folders_of_functions(
        template_json, aws("cloudformation").describe_stack_resources(StackName=shared.STACK_NAME)["StackResources"]
    )

    def queue_arn(url: str) -> str:
        return str(aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    queue_arns = {queue_arn(url) for url in aws("sqs").list_queues()["QueueUrls"]}
    failing_over: dict[str, tuple[str, int]] = {}
    for function in client.list_functions()["Functions"]:
        folder = folder_of[function["FunctionName"]]
        try:
            config = client.get_function_event_invoke_config(FunctionName=function["FunctionName"])
        except client.exceptions.ResourceNotFoundException:
            continue
        failing_over[folder] = (config["DestinationConfig"]["OnFailure"]["Destination"], config["MaximumRetryAttempts"])
    scheduled = (queue_arn(deployed[shared.SCHEDULER_DLQ_ENV]), 1)
    assert {name: failing_over[name] for name in failing_over if name != "notifier"} == dict.fromkeys(
        ("report", "retrain", "backup", "access_review", "digest"), scheduled
    )
    notifier_queue, notifier_retries = failing_over["notifier"]
    assert notifier_queue in queue_arns and "NotifierFailure" in notifier_queue
    assert notifier_retries == 2


def test_a_resource_moto_would_leave_out_unnoticed_fails_the_deployment() -> None:
    from billing_audit_local.deploy.errors import DeployError
    from billing_audit_local.deploy.template import moto_compatible

    template = {"Resources": {"Thing": {"Type": "AWS::Example::Unmodelled", "Properties": {}}}}
    with pytest.raises(DeployError, match="AWS::Example::Unmodelled"):
        moto_compatible(template, {}, set())


def test_a_second_deploy_into_the_same_server_is_a_no_op(deployed: dict[str, str], moto_endpoint: str) -> None:
    from billing_audit_local.deploy import deploy_stack

    assert deploy_stack(moto_endpoint, region=REGION) == deployed
