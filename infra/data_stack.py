"""The data stack: everything that holds data, deployed once and never destroyed.

Tables, buckets, secrets, the trail's signing key and the product's event bus live here, apart
from the functions, API, schedules and alarms of the application stack (infra/stack.py).
Everything here is retained on delete, the tables are deletion-protected and the stack has
termination protection, so the application stack can be destroyed and deployed again against it
(`cdk destroy BillingAudit`, `cdk deploy BillingAudit`) without touching audit data, and without
colliding with names that outlive a destroy (the secrets' fixed names live only here).

The application stack reads these resources through CloudFormation exports that CDK adds for each
cross-stack reference; the outputs below are the runtime names, keyed by the env var they fill.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from billing_audit.resources import EVENTS_TABLE, IDEMPOTENCY_TABLE, STATE_TABLE
from constructs import Construct
from infra.config import InfraConfig
from infra.constants import (
    APP_NAME,
    BACKUPS_ARN_EXPORT,
    CALLBACK_PAYLOADS_ARN_EXPORT,
    MODELS_ARN_EXPORT,
    output_id,
    shared,
)
from infra.constructs.backups import backups_bucket
from infra.constructs.event_bus import AuditEventBus
from infra.constructs.reporting import Reporting
from infra.constructs.secrets import Secrets
from infra.constructs.storage import Storage, secure_bucket
from infra.constructs.trail import TrailSeal


class BillingAuditDataStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, termination_protection=True, **kwargs)
        self.config = config
        cdk.Tags.of(self).add("app", APP_NAME)

        self.storage = storage = Storage(self, "Storage", config=config)
        self.secrets = Secrets(self, "Secrets")
        self.bucket_key: kms.Key | None = None
        if config.encryption.buckets_kms:
            self.bucket_key = kms.Key(
                self,
                "BucketKey",
                description=f"{APP_NAME}: encrypts the reports bucket",
                enable_key_rotation=True,
                # Objects encrypted with it outlive any stack: the key goes only by hand, after them.
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
        # The construct keeps its id ("Reporting"): the bucket policy's logical id comes from it.
        self.reporting = Reporting(
            self, "Reporting", config=config, access_logs=storage.access_logs, key=self.bucket_key
        )

        # Callbacks too large for a queue message, queued by reference (ingest/queue.py).  Kept as long
        # as the dead-letter queue keeps a message that names one, then expired.
        self.callback_payloads = secure_bucket(
            Construct(self, "CallbackPayloads"),
            shared.CALLBACK_PAYLOADS_BUCKET,
            access_logs=storage.access_logs,
            key=self.bucket_key,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-callback-payloads",
                    expiration=cdk.Duration.days(shared.CALLBACK_PAYLOAD_DAYS),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )

        cdk.CfnOutput(
            self,
            "CallbackPayloadsBucketArn",
            value=self.callback_payloads.bucket_arn,
            export_name=CALLBACK_PAYLOADS_ARN_EXPORT,
        )

        # Anomaly models (store/models.py): versioned keys, each version beside its metrics; a
        # replaced LATEST pointer's old versions expire, the models themselves stay as trained.
        self.models = secure_bucket(
            Construct(self, "Models"),
            shared.MODELS_BUCKET,
            access_logs=storage.access_logs,
            key=self.bucket_key,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-replaced-pointers",
                    noncurrent_version_expiration=cdk.Duration.days(90),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
        cdk.CfnOutput(self, "ModelsBucketArn", value=self.models.bucket_arn, export_name=MODELS_ARN_EXPORT)

        # Sheet backups and the events table's weekly exports: Object Lock, kept by tier.
        self.backups = backups_bucket(
            Construct(self, "Backups"), config=config, access_logs=storage.access_logs, key=self.bucket_key
        )
        cdk.CfnOutput(self, "BackupsBucketArn", value=self.backups.bucket_arn, export_name=BACKUPS_ARN_EXPORT)

        # The trail's seal: the key that signs digests and the Object Lock bucket that keeps them.
        self.trail = TrailSeal(self, "Trail", config=config, access_logs=storage.access_logs)

        # Rules other systems add name the bus: it outlives the application stack like the data does.
        self.event_bus = AuditEventBus(self, "EventBus")

        outputs = {
            EVENTS_TABLE.env_var: storage.table(EVENTS_TABLE.env_var).table_name,
            STATE_TABLE.env_var: storage.table(STATE_TABLE.env_var).table_name,
            IDEMPOTENCY_TABLE.env_var: storage.table(IDEMPOTENCY_TABLE.env_var).table_name,
            shared.REPORTS_BUCKET.env_var: self.reporting.bucket.bucket_name,
            shared.CALLBACK_PAYLOADS_BUCKET.env_var: self.callback_payloads.bucket_name,
            shared.MODELS_BUCKET.env_var: self.models.bucket_name,
            shared.BACKUPS_BUCKET.env_var: self.backups.bucket_name,
            shared.SMARTSHEET_TOKEN_SECRET_ENV: shared.SMARTSHEET_TOKEN_SECRET,
            shared.SLACK_WEBHOOK_SECRET_ENV: shared.SLACK_WEBHOOK_SECRET,
            shared.TRAIL_DIGESTS_BUCKET.env_var: self.trail.bucket.bucket_name,
            shared.TRAIL_SIGNING_KEY_ENV: self.trail.key.key_arn,
            shared.PSEUDONYM_KEY_SECRET_ENV: shared.PSEUDONYM_KEY_SECRET,
            shared.EVENT_BUS_ENV: self.event_bus.bus_name,
        }
        for env_var, value in outputs.items():
            cdk.CfnOutput(self, output_id(env_var), value=value, description=env_var)
