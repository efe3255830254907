"""The application stack: functions, API, queues, schedules, alarms; composes one construct per concern.

It holds no data (infra/data_stack.py does), so it can be destroyed and deployed again freely; it
reads the data stack's tables and secrets through cross-stack references, and its outputs carry the
runtime names it owns.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from billing_audit.resources import EVENTS_TABLE, IDEMPOTENCY_TABLE, STATE_TABLE
from constructs import Construct
from infra.config import InfraConfig
from infra.constants import APP_NAME, CALLBACK_PAYLOADS_ARN_EXPORT, output_id, shared
from infra.constructs.access_review import AccessReviews
from infra.constructs.alerting import Alerting
from infra.constructs.backups import Backups
from infra.constructs.configuration import Configuration
from infra.constructs.function import AuditFunction
from infra.constructs.ingest import STAGE_NAME, Ingest
from infra.constructs.layers import Layers, needs_ml
from infra.constructs.monitoring import Monitoring
from infra.constructs.processing import Processing
from infra.constructs.reports import Reports
from infra.constructs.retraining import Retraining
from infra.constructs.scan_run import ScanRun
from infra.constructs.scheduling import Scheduling
from infra.constructs.secrets import grant_webhook_secrets
from infra.constructs.storage import grant_bucket_key, grant_idempotency
from infra.constructs.trail import TrailDigests
from infra.data_stack import BillingAuditDataStack
from infra.nag import acknowledge


def grant_event_writes(table: dynamodb.ITable, grantee: iam.IGrantable) -> None:
    """Put and update audit events, as the store does (EventStore.add, claim_alerts, release_alerts).

    The table itself only (scoring's by-person queries are granted by Retraining.grant_scoring), and
    an event is never deleted (TTL does that).
    """
    iam.Grant.add_to_principal(
        grantee=grantee, actions=["dynamodb:PutItem", "dynamodb:UpdateItem"], resource_arns=[table.table_arn]
    )


def grant_state_access(table: dynamodb.ITable, grantee: iam.IGrantable) -> None:
    """What the scan and the webhook path do with the state table (store/dynamo.py, alert_state.py):
    items read, written and deleted by key, partitions queried, conditional writes.  No Scan: nothing
    in the audit reads the whole table."""
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
        ],
        resource_arns=[table.table_arn],
    )


class BillingAuditStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        data: BillingAuditDataStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.add_stack_dependency(data, "tables, buckets and secrets live in the data stack")
        cdk.Tags.of(self).add("app", APP_NAME)

        # What holds data is the data stack's; these names keep the composition below readable.
        self.storage = storage = data.storage
        self.secrets = secrets = data.secrets
        self.reporting = data.reporting
        self.layers = layers = Layers(self, "Layers")
        self.alerting = alerting = Alerting(
            self, "Alerting", config=config, light_layer=layers.light, slack_secret=secrets.slack_webhook
        )

        events = storage.table(EVENTS_TABLE.env_var)
        state = storage.table(STATE_TABLE.env_var)
        idempotency = storage.table(IDEMPOTENCY_TABLE.env_var)
        # The product configuration: an SSM parameter the audit functions read, not an environment
        # variable (Lambda holds 4 KB of those in all).
        self.configuration = configuration = Configuration(self, "Configuration", config=config)
        # Every function that calls Smartsheet gets the token's name and the API's region.
        token = {
            shared.SMARTSHEET_TOKEN_SECRET_ENV: shared.SMARTSHEET_TOKEN_SECRET,
            shared.SMARTSHEET_API_BASE_ENV: config.smartsheet.api_base,
        }
        topic = {shared.ALERTS_TOPIC_ENV: alerting.topic.topic_arn}
        events_env = {EVENTS_TABLE.env_var: events.table_name}
        state_env = {STATE_TABLE.env_var: state.table_name}

        self.processing = processing = Processing(
            self,
            "Processing",
            config=config,
            layers=[layers.light],
            audit_environment={**events_env, **state_env, **token, **topic},
        )
        for auditor in (processing.process, processing.scan):
            configuration.grant_read(auditor)
            grant_event_writes(events, auditor.role)
            grant_state_access(state, auditor.role)
            secrets.smartsheet_token.grant_read(auditor.role)
            alerting.grant_publish(auditor.role)
            data.event_bus.grant_put(auditor.role)
            auditor.function.add_environment(shared.EVENT_BUS_ENV, data.event_bus.bus_name)
        # Only the processing function deduplicates callbacks.
        processing.process.function.add_environment(IDEMPOTENCY_TABLE.env_var, idempotency.table_name)
        grant_idempotency(idempotency, processing.process.role)

        self.ingest = ingest = Ingest(
            self,
            "Ingest",
            config=config,
            light_layer=layers.light,
            queue=processing.queue,
            idempotency=idempotency,
        )

        # Callbacks too large for a queue message: the webhook writes them, `process` reads them.
        payloads = data.callback_payloads
        # The ARN through a named export, so the grant (and its acknowledgment) names it plainly.
        payload_keys = f"{cdk.Fn.import_value(CALLBACK_PAYLOADS_ARN_EXPORT)}/{shared.CALLBACK_PAYLOAD_PREFIX}*"
        for function, action in ((ingest.webhook, "s3:PutObject"), (processing.process, "s3:GetObject")):
            function.role.add_to_policy(iam.PolicyStatement(actions=[action], resources=[payload_keys]))
            grant_bucket_key(payloads, function.role, write=action == "s3:PutObject")
            function.function.add_environment(shared.CALLBACK_PAYLOADS_BUCKET.env_var, payloads.bucket_name)
            acknowledge(
                function.role,
                "AwsSolutions-IAM5",
                f"{action} on the callback payloads bucket's {shared.CALLBACK_PAYLOAD_PREFIX} prefix only: "
                "object keys are the queued callbacks' deduplication ids, unknown until one arrives.",
                finding=f"Resource::{CALLBACK_PAYLOADS_ARN_EXPORT}/{shared.CALLBACK_PAYLOAD_PREFIX}*",
            )

        self.reports = reports = Reports(
            self,
            "Reports",
            config=config,
            light_layer=layers.light,
            events=events,
            state=state,
            bucket=self.reporting.bucket,
            environment={shared.SMARTSHEET_API_BASE_ENV: config.smartsheet.api_base},
        )
        configuration.grant_read(reports.report)
        # Alerts link the latest report, each through a short link issued for it (the ledger keeps
        # no link): the auditors write its `link#` item in the state table, as they may already.
        for auditor in (processing.process, processing.scan):
            auditor.function.add_environment(shared.REPORT_LINK_BASE_ENV, reports.link_base_url)
        if config.reports.pseudonymize:
            # People's emails become keyed pseudonyms in what reports show (domain/pseudonym.py).
            reports.report.function.add_environment(shared.PSEUDONYM_KEY_SECRET_ENV, shared.PSEUDONYM_KEY_SECRET)
            data.trail.pseudonym_key.grant_read(reports.report.role)

        # The anomaly model: the functions that score read the latest one (and carry the ML layer,
        # as their handlers import it); `retrain` writes a new one each week.
        self.retraining = retraining = Retraining(
            self,
            "Retraining",
            config=config,
            layers=layers.for_function("retrain"),
            events=events,
            models=data.models,
            configuration=configuration,
        )
        for scorer in (processing.process, processing.scan):
            if needs_ml(scorer.name):
                scorer.function.add_layers(layers.ml)
            retraining.grant_scoring(scorer)

        # Nightly sheet backups: the token (paced by its budget in the state table), the backup bucket.
        self.backups = backups = Backups(
            self,
            "Backups",
            config=config,
            layers=layers.for_function("backup"),
            state=state,
            bucket=data.backups,
            configuration=configuration,
            environment=token,
        )
        secrets.smartsheet_token.grant_read(backups.backup.role)

        # The monthly access review: shares, groups and users (the token), approvals and changes.
        self.access_reviews = access_reviews = AccessReviews(
            self,
            "AccessReviews",
            config=config,
            layers=layers.for_function("access_review"),
            events=events,
            state=state,
            configuration=configuration,
            environment={**token, **topic},
        )
        secrets.smartsheet_token.grant_read(access_reviews.review.role)
        alerting.grant_publish(access_reviews.review.role)

        # The trail's digests: signed hourly from the log's head (the auditors append to the log).
        self.trail = trail = TrailDigests(
            self,
            "Trail",
            config=config,
            layers=layers.for_function("digest"),
            state=state,
            events=events,
            bucket=data.trail.bucket,
        )
        for auditor in (processing.process, processing.scan):
            trail.grant_logging(auditor)

        self.scan_run = ScanRun(self, "ScanRun", config=config, scan=processing.scan.function)
        self.scheduling = scheduling = Scheduling(
            self,
            "Scheduling",
            config=config,
            scan_run=self.scan_run.state_machine,
            report=reports.report.function,
            retrain=retraining.retrain.function,
            digest=trail.digest.function,
            access_review=access_reviews.review.function,
            backup=backups.backup.function,
            events_export=(events, data.backups),
        )

        self.functions: list[AuditFunction] = [
            ingest.webhook,
            processing.process,
            processing.scan,
            reports.report,
            reports.link,
            retraining.retrain,
            trail.digest,
            access_reviews.review,
            backups.backup,
        ]
        if alerting.notifier is not None:
            self.functions.append(alerting.notifier)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            topic=alerting.topic,
            ops_topic=alerting.ops_topic,
            functions=self.functions,
            dead_letter_queues={
                "Callback": processing.dead_letters,
                "Scheduler": scheduling.dead_letters,
            },
            api=ingest.api,
            webhook=ingest.webhook,
            scan_run=self.scan_run.state_machine,
            notifier=alerting.notifier,
            notifier_failures=alerting.notifier_failures,
        )

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
        grant_webhook_secrets(processing.scan.role, upkeep=True)
        outputs = {
            shared.CONFIG_PARAMETER_ENV: configuration.parameter_name,
            shared.ALERTS_TOPIC_ENV: alerting.topic.topic_arn,
            shared.CALLBACK_QUEUE_ENV: processing.queue.queue_url,
            shared.CALLBACK_DLQ_ENV: processing.dead_letters.queue_url,
            shared.SCHEDULER_DLQ_ENV: scheduling.dead_letters.queue_url,
            shared.WEBHOOK_SECRET_PREFIX_ENV: shared.WEBHOOK_SECRET_PREFIX,
            shared.WEBHOOK_URL_ENV: webhook_url,
            shared.REPORT_LINK_BASE_ENV: reports.link_base_url,
        }
        for env_var, value in outputs.items():
            cdk.CfnOutput(self, output_id(env_var), value=value, description=env_var)
