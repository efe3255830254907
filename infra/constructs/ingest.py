"""POST /webhook on API Gateway (REST) to the webhook function, which verifies and enqueues.

The method has no API Gateway authorizer: Smartsheet cannot sign with AWS credentials.  The
function checks the Smartsheet-Hmac-SHA256 signature over the raw body, so nothing here may
rewrite the body: proxy integration, no request templates, no binary media types, no body models.

Abuse: an unsigned or unknown-webhook request is refused by the function before any other work (a
few milliseconds); on top of that, three options in the configuration's `api` section: `waf` (a
rate rule per source IP, and a body-size rule), `allowed_source_cidrs` (an API resource policy that
refuses every other source before the function runs) and `webhook_reserved_concurrency` (capacity
set aside for the function, which also caps it).

Access logs need API Gateway's account-level CloudWatch role, a region-wide setting this stack
does not own: infra/account_stack.py sets it up once per account and region (README, Deploy).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import APP_NAME, shared
from infra.constructs.function import AuditFunction, retention_days
from infra.constructs.secrets import grant_webhook_secrets
from infra.constructs.storage import grant_idempotency
from infra.nag import acknowledge

STAGE_NAME = "prod"
WAF_BODY_INSPECTION_BYTES = 8192


class Ingest(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        light_layer: lambda_.ILayerVersion,
        queue: sqs.IQueue,
        idempotency: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.webhook = AuditFunction(
            self,
            "Webhook",
            name="webhook",
            config=config,
            layers=[light_layer],
            environment={
                shared.CALLBACK_QUEUE_ENV: queue.queue_url,
                # Powertools idempotency: a replayed callback (same nonce) is answered, not queued.
                shared.IDEMPOTENCY_TABLE.env_var: idempotency.table_name,
                shared.WEBHOOK_SECRET_PREFIX_ENV: shared.WEBHOOK_SECRET_PREFIX,
                shared.WEBHOOK_MAX_BODY_ENV: str(config.api.max_body_bytes),
            },
            timeout=cdk.Duration.seconds(10),
            memory_mb=256,
            reserved_concurrency=config.api.webhook_reserved_concurrency,
            description="Verifies Smartsheet webhook callbacks and queues them",
        )
        queue.grant_send_messages(self.webhook.role)
        grant_idempotency(idempotency, self.webhook.role)
        grant_webhook_secrets(self.webhook.role)

        self.access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            retention=retention_days(config.retention.logs_days),
            # Who called the webhook outlives a destroy of this stack; the group's name is generated,
            # so a later deploy creates a new one beside it.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"{APP_NAME}-webhook",
            description="Smartsheet webhook callbacks for Billing Audit",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The account's API Gateway logging role is a region-wide singleton: not this stack's.
            cloud_watch_role=False,
            policy=_source_policy(config.api.allowed_source_cidrs),
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=config.api.throttle_rate,
                throttling_burst_limit=config.api.throttle_burst,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
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
                data_trace_enabled=False,  # never log bodies
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        resource = self.api.root.add_resource("webhook")
        self.method = resource.add_method(
            "POST",
            apigateway.LambdaIntegration(self.webhook.function, proxy=True),
            authorization_type=apigateway.AuthorizationType.NONE,
        )
        cfn_method = self.method.node.default_child
        assert isinstance(cfn_method, cdk.CfnResource)
        acknowledge(
            cfn_method,
            "AwsSolutions-APIG4",
            "Smartsheet cannot sign requests with AWS credentials; every callback is authenticated by "
            "its Smartsheet-Hmac-SHA256 signature in the webhook function.",
        )
        acknowledge(
            cfn_method,
            "AwsSolutions-COG4",
            "The only caller is Smartsheet's webhook service, which has no Cognito identity; callbacks "
            "are authenticated by HMAC signature instead.",
        )
        cfn_api = self.api.node.default_child
        assert isinstance(cfn_api, cdk.CfnResource)
        acknowledge(
            cfn_api,
            "AwsSolutions-APIG2",
            "Validation happens in the webhook function after the HMAC check over the raw bytes; an "
            "API Gateway body model could reject or reshape a signed body first.",
        )

        self.web_acl: wafv2.CfnWebACL | None = None
        if config.api.waf:
            self.web_acl = self._web_acl(config)
            wafv2.CfnWebACLAssociation(
                self,
                "WebAclAssociation",
                resource_arn=self.api.deployment_stage.stage_arn,
                web_acl_arn=self.web_acl.attr_arn,
            )
        else:
            acknowledge(
                self.api.deployment_stage,
                "AwsSolutions-APIG3",
                "WAF is optional (config api.waf); without it the stage throttles, and the function "
                "refuses a body over its size limit or not JSON (400) and an unsigned callback (401) "
                "before it queues or stores anything.",
            )

    @property
    def webhook_url(self) -> str:
        return self.api.url_for_path("/webhook")

    def _web_acl(self, config: InfraConfig) -> wafv2.CfnWebACL:
        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name="rate-limit-per-ip",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=config.api.waf_rate_limit, aggregate_key_type="IP"
                    )
                ),
                visibility_config=visibility("rate-limit-per-ip"),
            ),
        ]
        # WAF sees at most the first 8 KB of a regional body; it can enforce the body limit only
        # when that limit fits, otherwise the webhook function's own check (400) is the limit.
        if config.api.max_body_bytes <= WAF_BODY_INSPECTION_BYTES:
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name="body-size-limit",
                    priority=1,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                            comparison_operator="GT",
                            size=config.api.max_body_bytes,
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                body=wafv2.CfnWebACL.BodyProperty(oversize_handling="MATCH")
                            ),
                            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
                        )
                    ),
                    visibility_config=visibility("body-size-limit"),
                )
            )
        return wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility("billing-audit-webhook"),
            rules=rules,
        )


def _source_policy(cidrs: tuple[str, ...]) -> iam.PolicyDocument | None:
    """The API's resource policy: with an allow-list, only those source ranges may call it."""
    if not cidrs:
        return None
    anyone = iam.AnyPrincipal()
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(principals=[anyone], actions=["execute-api:Invoke"], resources=["execute-api:/*"]),
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[anyone],
                actions=["execute-api:Invoke"],
                resources=["execute-api:/*"],
                conditions={"NotIpAddress": {"aws:SourceIp": list(cidrs)}},
            ),
        ]
    )
