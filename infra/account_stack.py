"""One-time account setup: the role API Gateway uses to write CloudWatch logs, for every REST API.

API Gateway keeps one CloudWatch role per account and region (`aws apigateway get-account`), shared
by every REST API there; a stage with access logging cannot be created until it is set.  The
application stack does not own it: destroying that stack must not break logging for other APIs.
Deploy this stack once per account and region, and only where `get-account` shows no
`cloudwatchRoleArn` (README, Deploy).  Both of its resources are retained, so even a destroy of
this stack leaves the setting working.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam

from constructs import Construct
from infra.constants import APP_NAME
from infra.nag import acknowledge

PUSH_TO_CLOUDWATCH_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"


class ApiGatewayAccountStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cdk.Tags.of(self).add("app", APP_NAME)
        self.role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal(
                "apigateway.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
            description="API Gateway (account-wide): writes REST API access and execution logs",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(PUSH_TO_CLOUDWATCH_POLICY)],
        )
        self.role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        acknowledge(
            self.role,
            "AwsSolutions-IAM4",
            "API Gateway's account-level logging role: AWS documents this managed policy as the one it "
            "needs and keeps it current for log delivery; no function assumes this role.",
            finding=f"Policy::arn:<AWS::Partition>:iam::aws:policy/{PUSH_TO_CLOUDWATCH_POLICY}",
        )
        self.api_gateway_account = apigateway.CfnAccount(self, "Account", cloud_watch_role_arn=self.role.role_arn)
        self.api_gateway_account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.api_gateway_account.node.add_dependency(self.role)
