"""The alerts topic (KMS-encrypted), its e-mail subscriptions and the Slack notifier."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import APP_NAME, shared
from infra.constructs.function import AuditFunction


class Alerting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        light_layer: lambda_.ILayerVersion,
        slack_secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "AlertsKey",
            description=f"{APP_NAME}: encrypts the alerts topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            pending_window=cdk.Duration.days(7),
        )
        # CloudWatch alarms publish to the topic, so the service needs the key (the AWS-managed
        # aws/sns key cannot grant that).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        self.topic = sns.Topic(
            self,
            shared.ALERTS_TOPIC_LOGICAL_ID,
            display_name="Billing Audit alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        cfn_topic = self.topic.node.default_child
        assert isinstance(cfn_topic, cdk.CfnResource)
        cfn_topic.override_logical_id(shared.ALERTS_TOPIC_LOGICAL_ID)
        # enforce_ssl gives the topic a policy of its own, which replaces SNS's default one: say
        # explicitly that this account's CloudWatch alarms may publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        for address in config.alerts.emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))

        self.notifier: AuditFunction | None = None
        if config.alerts.slack:
            self.notifier = AuditFunction(
                self,
                "Notifier",
                name="notifier",
                config=config,
                layers=[light_layer],
                environment={shared.SLACK_WEBHOOK_SECRET_ENV: shared.SLACK_WEBHOOK_SECRET},
                timeout=cdk.Duration.seconds(15),
                memory_mb=128,
                description="Posts alerts from the alerts topic to Slack",
            )
            slack_secret.grant_read(self.notifier.role)
            self.topic.add_subscription(subscriptions.LambdaSubscription(self.notifier.function))

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """sns:Publish on the topic, and the two key actions an encrypted publish needs.

        Spelled out rather than topic.grant_publish, whose key grant is `kms:GenerateDataKey*`:
        SNS asks for GenerateDataKey and Decrypt only, so no wildcard needs acknowledging.
        """
        iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[self.topic.topic_arn])
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["kms:Decrypt", "kms:GenerateDataKey"], resource_arns=[self.key.key_arn]
        )
