"""Reports: the report function (scheduled, constructs/scheduling.py) and the short-link service.

Links in reports and alerts must open for `reports.link_days` (default 7).  A URL presigned by the
report function dies with that function's role session (hours), so the report hands out short links
instead: `GET /r/{token}` on an API of its own, answered by the report-link function with a redirect
to a URL it presigns at that moment for five minutes (pipeline/reports/links.py).  The API is its
own, not the webhook's, so the webhook's source allow-list never locks managers out of a report.

Least privilege: the report function queries the events table's two indexes it reads (never a
scan), reads and writes the state table (the ledger, the links, the scan state it reports on), and
puts objects under `reports/` only; the link function reads the state table's items and objects
under `reports/` only.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import APP_NAME, shared
from infra.constructs.function import AuditFunction, retention_days
from infra.constructs.storage import grant_bucket_key
from infra.nag import acknowledge

LINK_STAGE = "r"  # links read https://<api>/r/<token>: the stage is the path's first segment
# A 100,000-event report takes about 55 s of CPU (bench/bench_report.py); a 1 GB function has about
# 0.6 of a vCPU, so this leaves room for twice that.
REPORT_TIMEOUT = cdk.Duration.minutes(10)
# A 100,000-event report peaks well under this (bench/bench_report.py records it).
REPORT_MEMORY_MB = 1024


class Reports(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        light_layer: lambda_.ILayerVersion,
        events: dynamodb.ITable,
        state: dynamodb.ITable,
        bucket: s3.IBucket,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        objects, objects_name = _objects_arn(self, bucket)

        self.link = AuditFunction(
            self,
            "ReportLink",
            name="report_link",
            config=config,
            layers=[light_layer],
            environment={
                shared.STATE_TABLE.env_var: state.table_name,
                shared.REPORTS_BUCKET.env_var: bucket.bucket_name,
            },
            timeout=cdk.Duration.seconds(10),
            memory_mb=256,
            description="Answers a report's short link with a freshly presigned download",
        )
        link_role = self.link.role
        # Its tokens' items only: nothing else of the state table is a link's business.
        link_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem"],
                resources=[state.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{shared.REPORT_LINK_PARTITION_PREFIX}*"]}
                },
            )
        )
        iam.Grant.add_to_principal(grantee=link_role, actions=["s3:GetObject"], resource_arns=[objects])
        grant_bucket_key(bucket, self.link.role, write=False)
        acknowledge(
            self.link.role,
            "AwsSolutions-IAM5",
            "Downloads of report objects only: the reports/ prefix of the one reports bucket.",
            finding=f"Resource::{objects_name}/{shared.REPORT_PREFIX}*",
        )

        self.api = self._api(config)
        self.link_base_url = self.api.url  # https://<api>.execute-api.<region>.amazonaws.com/r/

        self.report = AuditFunction(
            self,
            "Report",
            name="report",
            config=config,
            layers=[light_layer],
            environment={
                **environment,
                shared.EVENTS_TABLE.env_var: events.table_name,
                shared.STATE_TABLE.env_var: state.table_name,
                shared.REPORTS_BUCKET.env_var: bucket.bucket_name,
                shared.REPORT_LINK_BASE_ENV: self.link_base_url,
                shared.REPORT_LINK_DAYS_ENV: str(config.reports.link_days),
            },
            timeout=REPORT_TIMEOUT,
            memory_mb=REPORT_MEMORY_MB,
            description="Builds the Excel and HTML reports of the events detected in a day or a week",
        )
        role = self.report.role
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["dynamodb:Query"],
            resource_arns=[
                f"{events.table_arn}/index/{shared.EVENTS_BY_DETECTED_DAY_INDEX}",
                f"{events.table_arn}/index/{shared.EVENTS_BY_SHEET_INDEX}",
            ],
        )
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"],
            resource_arns=[state.table_arn],
        )
        iam.Grant.add_to_principal(grantee=role, actions=["s3:PutObject"], resource_arns=[objects])
        grant_bucket_key(bucket, role, write=True)
        # GetMetricData has no resource-level permissions (System Insights reads the product's metrics).
        iam.Grant.add_to_principal(grantee=role, actions=["cloudwatch:GetMetricData"], resource_arns=["*"])
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) and CloudWatch GetMetricData "
            "(System Insights) have no resource-level permissions; nothing else of this role uses '*'.",
            finding="Resource::*",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Report objects are written under the reports/ prefix of the one reports bucket only.",
            finding=f"Resource::{objects_name}/{shared.REPORT_PREFIX}*",
        )

    def _api(self, config: InfraConfig) -> apigateway.RestApi:
        access_logs = logs.LogGroup(
            self,
            "LinkApiAccessLogs",
            retention=retention_days(config.retention.logs_days),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        api = apigateway.RestApi(
            self,
            "LinkApi",
            rest_api_name=f"{APP_NAME}-report-links",
            description="Billing Audit report links: each click re-signs a short-lived download",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,  # the account's API Gateway logging role is the account stack's
            deploy_options=apigateway.StageOptions(
                stage_name=LINK_STAGE,
                throttling_rate_limit=config.reports.link_throttle_rate,
                throttling_burst_limit=config.reports.link_throttle_burst,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                # The resource path is the template (/{token}): the token itself is never logged.
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                # Not traced: an X-Ray segment of this stage would keep each request's URL, and the
                # URL is the bearer token (the access log above keeps the path template only).
                tracing_enabled=False,
            ),
        )
        method = api.root.add_resource("{token}").add_method(
            "GET",
            apigateway.LambdaIntegration(self.link.function, proxy=True),
            authorization_type=apigateway.AuthorizationType.NONE,
        )
        cfn_method = method.node.default_child
        assert isinstance(cfn_method, cdk.CfnResource)
        acknowledge(
            cfn_method,
            "AwsSolutions-APIG4",
            "A report link is a bearer link (256-bit token, expiring) opened from e-mail and Slack by "
            "people without AWS identities; the function answers only tokens it issued.",
        )
        acknowledge(
            cfn_method,
            "AwsSolutions-COG4",
            "Report readers have no Cognito identity; the unguessable, expiring token is the credential.",
        )
        cfn_api = api.node.default_child
        assert isinstance(cfn_api, cdk.CfnResource)
        acknowledge(
            cfn_api,
            "AwsSolutions-APIG2",
            "One GET with a path parameter and no body; the function checks the token's form and answers 404.",
        )
        acknowledge(
            api.deployment_stage,
            "AwsSolutions-APIG3",
            "The stage throttles; every request is one DynamoDB read and, at most, one presigned URL.",
        )
        return api


def _objects_arn(scope: Construct, bucket: s3.IBucket) -> tuple[str, str]:
    """The ARN of the bucket's report objects, and its name in cdk-nag's findings.

    The bucket is the data stack's: its ARN is imported under an export named here, because
    cdk-nag names an imported ARN by its export, and an acknowledgment must name its finding.
    """
    producer, consumer = cdk.Stack.of(bucket), cdk.Stack.of(scope)
    if producer is consumer:
        child = bucket.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return bucket.arn_for_objects(f"{shared.REPORT_PREFIX}*"), f"<{producer.get_logical_id(child)}.Arn>"
    export = f"{producer.stack_name}-ReportsBucketArn"
    arn = producer.export_value(bucket.bucket_arn, name=export)
    return f"{arn}/{shared.REPORT_PREFIX}*", export
