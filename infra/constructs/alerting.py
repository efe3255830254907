"""The alerts topic (KMS-encrypted), its e-mail subscriptions and the Slack notifier.

The notifier reads the alerts topic, so nothing about the notifier itself may be told through it:
its failures would feed the function that is failing.  Its alarms go to the operations topic (same
key, same e-mail recipients, no Slack), and an invocation it could not finish after its retries is
kept in its failure queue (an on-failure destination) rather than dropped.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import APP_NAME, shared
from infra.constructs.function import AuditFunction
from infra.constructs.processing import secure_queue
from infra.nag import acknowledge

# SNS invokes the notifier asynchronously: Lambda retries a failed post this often, for at most this
# long, and then hands the event to the failure queue.
NOTIFIER_RETRY_ATTEMPTS = 2
NOTIFIER_MAX_EVENT_AGE = cdk.Duration.hours(1)
NOTIFIER_FAILURE_QUEUE_LOGICAL_ID = "NotifierFailureQueue"


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
            description=f"{APP_NAME}: encrypts the alerts and operations topics",
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
        self.ops_topic = self._ops_topic(config)

        self.notifier: AuditFunction | None = None
        self.notifier_failures: sqs.Queue | None = None
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
            self.notifier_failures = secure_queue(
                self, NOTIFIER_FAILURE_QUEUE_LOGICAL_ID, retention_period=cdk.Duration.days(14)
            )
            acknowledge(
                self.notifier_failures,
                "AwsSolutions-SQS3",
                "This queue is the on-failure destination of the notifier's asynchronous invocations; its "
                "depth and age alarm to the operations topic instead of redriving to a further queue.",
            )
            self.notifier.function.configure_async_invoke(
                retry_attempts=NOTIFIER_RETRY_ATTEMPTS,
                max_event_age=NOTIFIER_MAX_EVENT_AGE,
                on_failure=destinations.SqsDestination(self.notifier_failures),
            )

    def _ops_topic(self, config: InfraConfig) -> sns.Topic:
        """Where alarms about the notifier go: the same key and e-mail recipients, never Slack."""
        topic = sns.Topic(
            self, "OpsTopic", display_name="Billing Audit operations", master_key=self.key, enforce_ssl=True
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        for address in config.alerts.emails:
            topic.add_subscription(subscriptions.EmailSubscription(address))
        return topic

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """sns:Publish on the topic, and the two key actions an encrypted publish needs.

        Spelled out rather than topic.grant_publish, whose key grant is `kms:GenerateDataKey*`:
        SNS asks for GenerateDataKey and Decrypt only, so no wildcard needs acknowledging.
        """
        iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[self.topic.topic_arn])
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["kms:Decrypt", "kms:GenerateDataKey"], resource_arns=[self.key.key_arn]
        )
