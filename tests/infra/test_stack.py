"""Security-relevant properties of every resource in the synthesized stack (CDK assertions)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra.constructs.layers import needs_ml

from billing_audit import resources as shared
from billing_audit.resources import BUCKETS, EVENTS_TABLE, TABLES
from tests.infra.conftest import RUNTIME_NAMES

# Only what is built is deployed: every function of a built feature, nothing of an unbuilt one.
FUNCTIONS = (
    "webhook",
    "process",
    "scan",
    "notifier",
    "report",
    "report_link",
    "retrain",
    "digest",
    "backup",
    "access_review",
)
NOT_BUILT: tuple[str, ...] = ()


def of_type(template_json: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource for logical_id, resource in template_json["Resources"].items() if resource["Type"] == kind
    }


def function_id(template_json: dict[str, Any], name: str) -> str:
    """Logical id of the function built from functions/<name>/ (by its construct path)."""
    title = "".join(part.title() for part in name.split("_"))
    matches = [
        logical_id
        for logical_id, resource in of_type(template_json, "AWS::Lambda::Function").items()
        if resource["Metadata"]["aws:cdk:path"].endswith(f"/{title}/Function/Resource")
    ]
    assert len(matches) == 1, (name, matches)
    return matches[0]


def role_policy_text(template_json: dict[str, Any], name: str) -> str:
    """Every inline policy statement attached to a function's role, as JSON text."""
    function = template_json["Resources"][function_id(template_json, name)]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in of_type(template_json, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]
    role = template_json["Resources"][role_id]["Properties"]
    statements.extend(p["PolicyDocument"]["Statement"] for p in role.get("Policies", []))
    return json.dumps(statements)


# --- DynamoDB ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", TABLES, ids=lambda spec: spec.logical_id)
def test_tables_match_the_shared_definitions(data_template_json: dict[str, Any], spec: shared.TableSpec) -> None:
    table = data_template_json["Resources"][spec.logical_id]
    assert table["Type"] == "AWS::DynamoDB::Table"
    props = table["Properties"]
    keys = [{"AttributeName": spec.partition.name, "KeyType": "HASH"}]
    if spec.sort:
        keys.append({"AttributeName": spec.sort.name, "KeyType": "RANGE"})
    assert props["KeySchema"] == keys
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"].get("SSEType", "KMS") == "KMS"  # SSEEnabled alone means AWS-managed KMS
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    indexes = {index["IndexName"]: index for index in props.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {index.name for index in spec.indexes}
    for index in spec.indexes:
        schema = [{"AttributeName": index.partition.name, "KeyType": "HASH"}]
        if index.sort:
            schema.append({"AttributeName": index.sort.name, "KeyType": "RANGE"})
        assert indexes[index.name]["KeySchema"] == schema
    assert table["DeletionPolicy"] == "Retain"
    assert props["DeletionProtectionEnabled"] is True


def test_events_table_serves_the_documented_queries(data_template_json: dict[str, Any]) -> None:
    indexes = data_template_json["Resources"]["EventsTable"]["Properties"]["GlobalSecondaryIndexes"]
    names = {index["IndexName"] for index in indexes}
    assert names == {"by_sheet_time", "by_user", "by_risk_date", "by_work_request", "by_detected_day"}


# --- S3 ---------------------------------------------------------------------------------------


def holding(templates: dict[str, dict[str, Any]], logical_id: str) -> dict[str, Any]:
    """The template of the stack that holds `logical_id` (buckets live in the data stack or beside their function)."""
    [found] = [template for template in templates.values() if logical_id in template["Resources"]]
    return found


def _bucket_policy(data_template_json: dict[str, Any], bucket_id: str) -> list[dict[str, Any]]:
    for policy in of_type(data_template_json, "AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
            return statements
    raise AssertionError(f"no bucket policy for {bucket_id}")


@pytest.mark.parametrize("bucket_id", [spec.logical_id for spec in BUCKETS] + ["AccessLogsBucket"])
def test_every_bucket_is_private_encrypted_and_tls_only(templates: dict[str, dict[str, Any]], bucket_id: str) -> None:
    data_template_json = holding(templates, bucket_id)
    props = data_template_json["Resources"][bucket_id]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    deny_plain_http = [
        s
        for s in _bucket_policy(data_template_json, bucket_id)
        if s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert deny_plain_http, "bucket policy must deny requests without TLS"
    # Never public: no statement of the policy allows a wildcard principal.
    for statement in _bucket_policy(data_template_json, bucket_id):
        if statement["Effect"] == "Allow":
            assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}


@pytest.mark.parametrize("spec", BUCKETS, ids=lambda spec: spec.logical_id)
def test_data_buckets_write_server_access_logs(templates: dict[str, dict[str, Any]], spec: shared.BucketSpec) -> None:
    logging = holding(templates, spec.logical_id)["Resources"][spec.logical_id]["Properties"]["LoggingConfiguration"]
    assert json.dumps(logging["DestinationBucketName"]).count("AccessLogsBucket") == 1
    assert logging["LogFilePrefix"] == f"{spec.logical_id}/"


def test_reports_expire_and_are_retained(data_template_json: dict[str, Any]) -> None:
    reports = data_template_json["Resources"]["ReportsBucket"]
    assert reports["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 365
    assert "CorsConfiguration" not in reports["Properties"] and "WebsiteConfiguration" not in reports["Properties"]
    assert reports["DeletionPolicy"] == "Retain"


def test_only_the_reports_payload_models_and_access_log_buckets_exist(data_template_json: dict[str, Any]) -> None:
    assert set(of_type(data_template_json, "AWS::S3::Bucket")) == {
        "BackupsBucket",
        "ReportsBucket",
        "CallbackPayloadsBucket",
        "ModelsBucket",
        "TrailDigestsBucket",
        "AccessLogsBucket",
    }


def test_the_reports_bucket_policy_keeps_its_logical_id(data_template_json: dict[str, Any]) -> None:
    # A BucketPolicy under a new logical id is created, then the old one deleted: that delete
    # removes the bucket's only policy (the TLS-only deny) from a deployed stack.
    [policy_id] = [
        logical_id
        for logical_id, policy in of_type(data_template_json, "AWS::S3::BucketPolicy").items()
        if policy["Properties"]["Bucket"] == {"Ref": "ReportsBucket"}
    ]
    assert policy_id == "ReportingReportsBucketPolicyEB73417F"


# --- SNS, KMS, SQS, secrets -------------------------------------------------------------------


def test_alerts_topic_is_kms_encrypted_with_a_rotating_key(template: Any, template_json: dict[str, Any]) -> None:
    topic = template_json["Resources"]["AlertsTopic"]["Properties"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template_json["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_cloudwatch_alarms_can_publish_to_the_encrypted_topic(template_json: dict[str, Any]) -> None:
    [key] = of_type(template_json, "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
    # The alerts topic and the operations topic (alarms about the notifier) alike.
    policies = of_type(template_json, "AWS::SNS::TopicPolicy").values()
    assert len(policies) == len(of_type(template_json, "AWS::SNS::Topic")) == 2
    for policy in policies:
        allowed = [
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert allowed and allowed[0]["Action"] == "sns:Publish"


def test_slack_notifier_is_subscribed(template: Any, template_json: dict[str, Any]) -> None:
    template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "lambda",
            "TopicArn": {"Ref": "AlertsTopic"},
            "Endpoint": {"Fn::GetAtt": [function_id(template_json, "notifier"), "Arn"]},
        },
    )


def test_queues_are_encrypted_tls_only_and_redrive(template_json: dict[str, Any]) -> None:
    queues = of_type(template_json, "AWS::SQS::Queue")
    assert set(queues) == {
        "CallbackQueue",
        "CallbackDeadLetterQueue",
        "SchedulerDeadLetterQueue",
        "NotifierFailureQueue",  # the notifier's on-failure destination
    }
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    redrive = queues["CallbackQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["CallbackDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == 5
    tls_only = {
        ref["Ref"]
        for policy in of_type(template_json, "AWS::SQS::QueuePolicy").values()
        for ref in policy["Properties"]["Queues"]
        if any(
            s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    assert tls_only == set(queues)


def test_secrets_have_the_shared_names(data_template_json: dict[str, Any]) -> None:
    names = {s["Properties"]["Name"] for s in of_type(data_template_json, "AWS::SecretsManager::Secret").values()}
    assert names == {
        shared.SMARTSHEET_TOKEN_SECRET,
        shared.SLACK_WEBHOOK_SECRET,
        shared.PSEUDONYM_KEY_SECRET,
    }
    for secret in of_type(data_template_json, "AWS::SecretsManager::Secret").values():
        assert "SecretString" not in secret["Properties"], "no secret value in the template"


# --- API Gateway -----------------------------------------------------------------------------


def test_webhook_stage_throttles_logs_and_traces(template: Any) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("status")},
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "HttpMethod": "*",
                            "ResourcePath": "/*",
                            "ThrottlingRateLimit": 20,
                            "ThrottlingBurstLimit": 40,
                            "DataTraceEnabled": False,
                            "LoggingLevel": "ERROR",
                        }
                    )
                ]
            ),
        },
    )


def test_the_report_link_stage_keeps_no_token_in_a_trace_or_log(template_json: dict[str, Any]) -> None:
    # The link's URL is its bearer token: X-Ray would keep it with each request; the access log
    # keeps the path template only.
    stages = {
        r["Properties"]["StageName"]: r["Properties"] for r in of_type(template_json, "AWS::ApiGateway::Stage").values()
    }
    link = stages["r"]
    assert link.get("TracingEnabled") is False and "$context.resourcePath" in link["AccessLogSetting"]["Format"]
    assert "$context.path" not in link["AccessLogSetting"]["Format"] and stages["prod"]["TracingEnabled"] is True


def test_webhook_method_is_unauthenticated_proxy_that_keeps_the_body(template_json: dict[str, Any]) -> None:
    ingest = {k: r for k, r in template_json["Resources"].items() if "/Ingest/" in r["Metadata"]["aws:cdk:path"]}
    [method] = of_type({"Resources": ingest}, "AWS::ApiGateway::Method").values()
    props = method["Properties"]
    assert props["HttpMethod"] == "POST"
    assert props["AuthorizationType"] == "NONE"  # verified by HMAC in the function instead
    integration = props["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert "RequestTemplates" not in integration and "ContentHandling" not in integration
    assert "RequestModels" not in props and "RequestValidatorId" not in props
    [api] = of_type({"Resources": ingest}, "AWS::ApiGateway::RestApi").values()
    assert "BinaryMediaTypes" not in api["Properties"]
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    [resource] = of_type({"Resources": ingest}, "AWS::ApiGateway::Resource").values()
    assert resource["Properties"]["PathPart"] == "webhook"


def test_waf_is_off_by_default(template_json: dict[str, Any]) -> None:
    assert not of_type(template_json, "AWS::WAFv2::WebACL")


# --- Lambda ----------------------------------------------------------------------------------


def test_every_function_is_traced_logged_and_has_its_own_role(template_json: dict[str, Any]) -> None:
    functions = of_type(template_json, "AWS::Lambda::Function")
    assert len(functions) == len(FUNCTIONS)
    roles = set()
    for name in FUNCTIONS:
        props = functions[function_id(template_json, name)]["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Handler"] == "handler.handler"
        assert props["TracingConfig"] == {"Mode": "Active"}
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert template_json["Resources"][log_group]["Properties"]["RetentionInDays"] == 90
        roles.add(props["Role"]["Fn::GetAtt"][0])
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == shared.SERVICE_NAME
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == shared.METRICS_NAMESPACE
    assert len(roles) == len(FUNCTIONS)
    for role_id in roles:
        assert "ManagedPolicyArns" not in template_json["Resources"][role_id]["Properties"]


def test_every_log_group_has_retention(template_json: dict[str, Any]) -> None:
    for log_group in of_type(template_json, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["RetentionInDays"] == 90


def test_nothing_of_the_unbuilt_features_is_deployed(template_json: dict[str, Any]) -> None:
    tagged = {
        tag["Value"]
        for function in of_type(template_json, "AWS::Lambda::Function").values()
        for tag in function["Properties"]["Tags"]
        if tag["Key"] == shared.FUNCTION_TAG
    }
    assert tagged == set(FUNCTIONS)
    paths = " ".join(r.get("Metadata", {}).get("aws:cdk:path", "") for r in template_json["Resources"].values())
    for name in NOT_BUILT:
        title = "".join(part.title() for part in name.split("_"))
        assert f"/{title}/" not in paths and f"{title}Role" not in paths, name


def test_every_function_gets_the_light_layer_and_the_ml_layer_only_if_it_imports_the_model(
    template_json: dict[str, Any],
) -> None:
    layers = of_type(template_json, "AWS::Lambda::LayerVersion")
    [light] = [lid for lid, layer in layers.items() if layer["Properties"]["Description"].startswith("powertools")]
    [ml] = [lid for lid, layer in layers.items() if layer["Properties"]["Description"].startswith("scikit-learn")]
    for name in FUNCTIONS:
        attached = template_json["Resources"][function_id(template_json, name)]["Properties"]["Layers"]
        assert attached == ([{"Ref": light}, {"Ref": ml}] if needs_ml(name) else [{"Ref": light}]), name


def test_functions_see_only_the_names_they_need(template_json: dict[str, Any]) -> None:
    def env(name: str) -> set[str]:
        props = template_json["Resources"][function_id(template_json, name)]["Properties"]
        return set(props["Environment"]["Variables"])

    assert shared.CALLBACK_QUEUE_ENV in env("webhook")
    assert EVENTS_TABLE.env_var not in env("webhook")
    assert shared.SMARTSHEET_TOKEN_SECRET_ENV not in env("webhook")
    assert shared.CONFIG_PARAMETER_ENV not in env("webhook")  # the roster's emails stay where they are read
    assert env("notifier") >= {shared.SLACK_WEBHOOK_SECRET_ENV}
    assert shared.CONFIG_PARAMETER_ENV not in env("notifier") and EVENTS_TABLE.env_var not in env("notifier")
    for name in ("process", "scan"):
        assert env(name) >= {
            EVENTS_TABLE.env_var,
            shared.STATE_TABLE.env_var,
            shared.SMARTSHEET_TOKEN_SECRET_ENV,
            shared.ALERTS_TOPIC_ENV,
            shared.CONFIG_PARAMETER_ENV,
        }
        assert shared.CONFIG_ENV not in env(name)  # the configuration is in SSM (test_configuration.py)
        assert shared.REPORTS_BUCKET.env_var not in env(name)
    assert shared.IDEMPOTENCY_TABLE.env_var in env("process")
    assert shared.IDEMPOTENCY_TABLE.env_var not in env("scan")


def test_process_consumes_the_callback_queue_with_partial_batch_failures(template: Any, template_json: dict) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": ["CallbackQueue", "Arn"]},
            "FunctionName": {"Ref": function_id(template_json, "process")},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
    )


# --- IAM least privilege ---------------------------------------------------------------------


def test_webhook_role_can_only_enqueue_and_read_webhook_secrets(template_json: dict[str, Any]) -> None:
    policy = role_policy_text(template_json, "webhook")
    assert "EventsTable" not in policy and "StateTable" not in policy
    assert "SecretsSmartsheetToken" not in policy and "IntegrityKey" not in policy
    # Its one S3 permission: storing a callback too large for a queue message, under callbacks/.
    s3 = [s for statements in json.loads(policy) for s in statements if "s3:" in json.dumps(s["Action"])]
    assert [s["Action"] for s in s3] == ["s3:PutObject"]
    assert json.dumps(s3[0]["Resource"]).endswith(f'"/{shared.CALLBACK_PAYLOAD_PREFIX}*"]]}}')
    assert "IdempotencyTable" in policy  # Powertools idempotency for replayed nonces
    assert "sqs:SendMessage" in policy and "CallbackQueue" in policy
    assert f"secret:{shared.WEBHOOK_SECRET_PREFIX}*" in policy


def test_only_the_report_functions_touch_the_reports_bucket(template_json: dict[str, Any]) -> None:
    for name in FUNCTIONS:
        if name not in ("report", "report_link"):
            assert "ReportsBucket" not in role_policy_text(template_json, name), name


def test_no_function_can_delete_audit_events(template_json: dict[str, Any]) -> None:
    for name in FUNCTIONS:
        for statement in json.loads(role_policy_text(template_json, name)):
            for item in statement:
                actions = item["Action"] if isinstance(item["Action"], list) else [item["Action"]]
                resources = json.dumps(item["Resource"])
                if "EventsTable" in resources:
                    assert "dynamodb:DeleteItem" not in actions and "dynamodb:BatchWriteItem" not in actions


def test_notifier_reads_only_the_slack_secret(template_json: dict[str, Any]) -> None:
    policy = role_policy_text(template_json, "notifier")
    assert "SlackWebhookUrl" in policy
    assert "dynamodb:" not in policy and "SmartsheetToken" not in policy
    # Its one queue: handing an event it could not post to its failure queue (CDK's destination grant).
    sqs = [s for statements in json.loads(policy) for s in statements if "sqs:" in json.dumps(s["Action"])]
    assert len(sqs) == 1 and "sqs:SendMessage" in sqs[0]["Action"]
    assert set(sqs[0]["Action"]) <= {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    assert sqs[0]["Resource"] == {"Fn::GetAtt": ["NotifierFailureQueue", "Arn"]}


def test_no_statement_allows_all_actions(template_json: dict[str, Any]) -> None:
    for policy in of_type(template_json, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions and not any(a.endswith(":*") for a in actions)
            if statement["Resource"] == "*":
                # Actions without resource-level permissions: tracing, and reading metrics back (reports).
                allowed = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:GetMetricData"}
                assert set(actions) <= allowed, actions


# --- Scheduling ------------------------------------------------------------------------------


def test_schedules_run_in_business_time_with_retries_and_a_dlq(template_json: dict[str, Any]) -> None:
    schedules = of_type(template_json, "AWS::Scheduler::Schedule")
    # The scan's, the reports', retraining's, the access review's, the backup's, the events export's
    # and the trail's digest.
    assert len(schedules) == 8
    expressions = {}
    for schedule in schedules.values():
        props = schedule["Properties"]
        assert props["ScheduleExpressionTimezone"] == "America/Chicago"
        assert props["State"] == "ENABLED"
        target = props["Target"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 7200
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["SchedulerDeadLetterQueue", "Arn"]}
        if not isinstance(target["Input"], str):
            continue  # the events export's input is DynamoDB's request (test_backups_stack.py checks it)
        payload = json.loads(target["Input"])
        assert payload["scheduled_time"] == "<aws.scheduler.scheduled-time>"
        expressions[payload["job"]] = props["ScheduleExpression"]
    assert expressions == {
        "scan": "cron(0 0/4 ? * MON-FRI *)",
        "report_daily": "cron(0 7 * * ? *)",
        "report_weekly": "cron(30 7 ? * MON *)",
        "retrain": "cron(0 3 ? * SUN *)",
        "access_review": "cron(0 6 1 * ? *)",
        "backup": "cron(0 1-4 * * ? *)",
        "digest": "rate(1 hour)",
    }


# --- Monitoring ------------------------------------------------------------------------------


def test_alarms_cover_dlqs_functions_signatures_and_scan_lag(template_json: dict[str, Any]) -> None:
    alarms = of_type(template_json, "AWS::CloudWatch::Alarm")
    topics = [{"Ref": topic} for topic in of_type(template_json, "AWS::SNS::Topic")]  # alerts, operations
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] in [[topic] for topic in topics]
    metrics = [(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms.values()]
    # The callback and schedule dead-letter queues, and the notifier's failure queue.
    assert metrics.count(("AWS/SQS", "ApproximateNumberOfMessagesVisible")) == 3
    assert metrics.count(("AWS/Lambda", "Errors")) == len(FUNCTIONS)
    assert metrics.count(("AWS/Lambda", "Throttles")) == len(FUNCTIONS)
    assert (shared.METRICS_NAMESPACE, shared.METRIC_REJECTED_SIGNATURES) in metrics
    assert (shared.METRICS_NAMESPACE, shared.METRIC_SCAN_LAG) in metrics


def test_dashboard_shows_the_operating_metrics(template_json: dict[str, Any]) -> None:
    [dashboard] = of_type(template_json, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        shared.METRIC_EVENTS_RECORDED,
        shared.METRIC_VIOLATIONS,
        shared.METRIC_SCAN_DURATION,
        shared.METRIC_SMARTSHEET_API_CALLS,
        "Latency",
        "5XXError",
    ):
        assert metric in body, metric
    for level in ("HIGH", "MEDIUM", "LOW"):
        assert level in body


# --- Outputs ---------------------------------------------------------------------------------


def test_outputs_carry_every_runtime_name(template_json: dict[str, Any], data_template_json: dict[str, Any]) -> None:
    # Each stack outputs the names of what it holds; the two together carry every runtime name once.
    from infra.constants import output_id

    described = [
        output["Description"]
        for stack in (template_json, data_template_json)
        for output in stack["Outputs"].values()
        if "Description" in output
    ]
    assert sorted(name for name in described if name in RUNTIME_NAMES) == sorted(RUNTIME_NAMES)
    for env_var in RUNTIME_NAMES:
        owner = data_template_json if output_id(env_var) in data_template_json["Outputs"] else template_json
        assert owner["Outputs"][output_id(env_var)]["Description"] == env_var
