"""The Billing Audit stack: composes one construct per concern and exports the runtime names."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from billing_audit.resources import EVENTS_TABLE, IDEMPOTENCY_TABLE, STATE_TABLE
from constructs import Construct
from infra.config import InfraConfig
from infra.constants import APP_NAME, output_id, shared
from infra.constructs.alerting import Alerting
from infra.constructs.function import AuditFunction
from infra.constructs.ingest import STAGE_NAME, Ingest
from infra.constructs.layers import Layers
from infra.constructs.monitoring import Monitoring
from infra.constructs.processing import Processing
from infra.constructs.reporting import Reporting
from infra.constructs.scan_run import ScanRun
from infra.constructs.scheduling import Scheduling
from infra.constructs.secrets import Secrets
from infra.constructs.storage import Storage


def grant_event_writes(table: dynamodb.ITable, grantee: iam.IGrantable) -> None:
    """Read, put and update audit events; never delete them (TTL does that)."""
    table.grant_read_data(grantee)
    table.grant(grantee, "dynamodb:PutItem", "dynamodb:UpdateItem")


class BillingAuditStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        cdk.Tags.of(self).add("app", APP_NAME)

        self.storage = storage = Storage(self, "Storage", config=config)
        self.secrets = secrets = Secrets(self, "Secrets")
        self.layers = layers = Layers(self, "Layers")
        self.alerting = alerting = Alerting(self, "Alerting", config=config, light_layer=layers.light)

        events = storage.table(EVENTS_TABLE.env_var)
        state = storage.table(STATE_TABLE.env_var)
        idempotency = storage.table(IDEMPOTENCY_TABLE.env_var)
        audit_config = {shared.CONFIG_ENV: config.audit_config_json()}
        token = {shared.SMARTSHEET_TOKEN_SECRET_ENV: shared.SMARTSHEET_TOKEN_SECRET}
        topic = {shared.ALERTS_TOPIC_ENV: alerting.topic.topic_arn}
        events_env = {EVENTS_TABLE.env_var: events.table_name}
        state_env = {STATE_TABLE.env_var: state.table_name}

        self.processing = processing = Processing(
            self,
            "Processing",
            config=config,
            layers=[layers.light],
            # Only what the audit reads today; the integrity key joins when the trail's seals do.
            audit_environment={**audit_config, **events_env, **state_env, **token, **topic},
        )
        for auditor in (processing.process, processing.scan):
            grant_event_writes(events, auditor.role)
            state.grant_read_write_data(auditor.role)
            secrets.smartsheet_token.grant_read(auditor.role)
            alerting.grant_publish(auditor.role)
        # Only the processing function deduplicates callbacks.
        processing.process.function.add_environment(IDEMPOTENCY_TABLE.env_var, idempotency.table_name)
        idempotency.grant_read_write_data(processing.process.role)

        self.ingest = ingest = Ingest(
            self,
            "Ingest",
            config=config,
            light_layer=layers.light,
            queue=processing.queue,
            secrets=secrets,
            idempotency=idempotency,
        )

        self.reporting = reporting = Reporting(self, "Reporting", config=config, access_logs=storage.access_logs)

        self.scan_run = ScanRun(self, "ScanRun", config=config, scan=processing.scan.function)
        self.scheduling = scheduling = Scheduling(
            self, "Scheduling", config=config, scan_run=self.scan_run.state_machine
        )

        self.functions: list[AuditFunction] = [ingest.webhook, processing.process, processing.scan]
        if alerting.notifier is not None:
            self.functions.append(alerting.notifier)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            topic=alerting.topic,
            functions=self.functions,
            dead_letter_queues={
                "Callback": processing.dead_letters,
                "Scheduler": scheduling.dead_letters,
            },
            api=ingest.api,
            webhook=ingest.webhook,
        )
        self._acknowledge_grants()

        webhook_url = cdk.Fn.join(
            "",
            [
                "https://",
                ingest.api.rest_api_id,
                f".execute-api.{self.region}.{self.url_suffix}/{STAGE_NAME}/webhook",
            ],
        )
        # The scan checks the webhooks first (alert, re-enable, re-create) and then reconciles.
        processing.scan.function.add_environment(shared.WEBHOOK_URL_ENV, webhook_url)
        processing.scan.function.add_environment(shared.WEBHOOK_SECRET_PREFIX_ENV, shared.WEBHOOK_SECRET_PREFIX)
        secrets.grant_webhook_secrets(processing.scan, processing.scan.role, upkeep=True)
        outputs = {
            EVENTS_TABLE.env_var: events.table_name,
            STATE_TABLE.env_var: state.table_name,
            IDEMPOTENCY_TABLE.env_var: idempotency.table_name,
            shared.REPORTS_BUCKET.env_var: reporting.bucket.bucket_name,
            shared.ALERTS_TOPIC_ENV: alerting.topic.topic_arn,
            shared.CALLBACK_QUEUE_ENV: processing.queue.queue_url,
            shared.CALLBACK_DLQ_ENV: processing.dead_letters.queue_url,
            shared.SCHEDULER_DLQ_ENV: scheduling.dead_letters.queue_url,
            shared.SMARTSHEET_TOKEN_SECRET_ENV: shared.SMARTSHEET_TOKEN_SECRET,
            shared.INTEGRITY_KEY_SECRET_ENV: shared.INTEGRITY_KEY_SECRET,
            shared.WEBHOOK_SECRET_PREFIX_ENV: shared.WEBHOOK_SECRET_PREFIX,
            shared.WEBHOOK_URL_ENV: webhook_url,
        }
        if alerting.notifier is not None:
            outputs[shared.SLACK_WEBHOOK_SECRET_ENV] = shared.SLACK_WEBHOOK_SECRET
        for env_var, value in outputs.items():
            cdk.CfnOutput(self, output_id(env_var), value=value, description=env_var)

    def _acknowledge_grants(self) -> None:
        """Wildcards CDK grants produce that cannot be narrowed; each names its resource."""
        index_reason = (
            "Query on the table's own global secondary indexes (by sheet/time, user, risk/date, "
            "work request); the pattern covers this one table's indexes only."
        )
        events_index = f"AwsSolutions::AwsSolutions-IAM5[Resource::<{EVENTS_TABLE.logical_id}.Arn>/index/*]"
        for function in self.functions:
            acknowledgments = [cdk.Acknowledgment(id=events_index, reason=index_reason)]
            acknowledgments.append(
                cdk.Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                    reason="Publishing to the KMS-encrypted alerts topic needs GenerateDataKey on that one key only.",
                )
            )
            acknowledgments.append(
                cdk.Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
                    reason="CDK's grant for the alerts topic key; scoped to that one key.",
                )
            )
            cdk.Validations.of(function).acknowledge(*acknowledgments)
