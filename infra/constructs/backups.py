"""Sheet backups: the bucket (data stack) and the backup function with its least-privilege role
(application stack).  The schedules that start the backup and the events table's export are in
scheduling.py, with the others.

The bucket has Object Lock on (which needs versioning): the function writes each object with a
retention date by its tier, so a day's backup cannot be deleted or overwritten for
`backups.daily_days`, a month's first for `backups.monthly_months` months.  Lifecycle rules expire
objects by their `tier` tag once their lock has run out, and the events exports after
`backups.events_export_days`.  No bucket-wide default retention: DynamoDB's export writes its files
with the scheduler role's grant only, and they are kept by lifecycle, not locked.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from billing_audit.domain.backup import BACKUP_PREFIX, Tier
from billing_audit.resources import (
    BACKUP_DAILY_DAYS_ENV,
    BACKUP_LOCK_MODE_ENV,
    BACKUP_MONTHLY_MONTHS_ENV,
    BACKUP_TIMEOUT_SECONDS,
    BACKUPS_BUCKET,
    EVENTS_EXPORT_PREFIX,
    STATE_TABLE,
)
from constructs import Construct
from infra.config import InfraConfig
from infra.constants import BACKUPS_ARN_EXPORT
from infra.constructs.configuration import Configuration
from infra.constructs.function import AuditFunction
from infra.constructs.storage import grant_bucket_key, secure_bucket
from infra.nag import acknowledge

# A 20,000-row sheet is read, turned into JSON and a workbook, and uploaded: memory for the sheet
# twice over; the whole Lambda time, since an invocation stops between sheets when it runs short.
BACKUP_TIMEOUT = cdk.Duration.seconds(BACKUP_TIMEOUT_SECONDS)
BACKUP_MEMORY_MB = 1024
# What the function does to the backup bucket: write objects with their tag and retention date.
BACKUP_OBJECT_ACTIONS = ("s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectRetention")
# What the token's budget and the run's progress need of the state table.
STATE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")


def backups_bucket(
    scope: Construct, *, config: InfraConfig, access_logs: s3.IBucket, key: kms.IKey | None
) -> s3.Bucket:
    plan = config.backups
    rules = [
        s3.LifecycleRule(
            id="expire-daily-backups",
            prefix=BACKUP_PREFIX,
            tag_filters={"tier": Tier.DAILY.value},
            expiration=cdk.Duration.days(plan.daily_days),
        ),
        s3.LifecycleRule(
            id="expire-events-exports",
            prefix=EVENTS_EXPORT_PREFIX,
            expiration=cdk.Duration.days(plan.events_export_days),
        ),
        # An expired object leaves its locked version behind until the lock ends: then it goes.
        s3.LifecycleRule(
            id="remove-expired-versions",
            noncurrent_version_expiration=cdk.Duration.days(1),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
        ),
        s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
    ]
    if plan.monthly_months:
        rules.insert(
            1,
            s3.LifecycleRule(
                id="expire-monthly-backups",
                prefix=BACKUP_PREFIX,
                tag_filters={"tier": Tier.MONTHLY.value},
                expiration=cdk.Duration.days(plan.monthly_months * 31),
            ),
        )
    return secure_bucket(
        scope,
        BACKUPS_BUCKET,
        access_logs=access_logs,
        key=key,
        versioned=True,
        object_lock_enabled=True,
        lifecycle_rules=rules,
    )


def backup_objects() -> str:
    """The backup objects' ARNs, through the data stack's named export (grants name it plainly)."""
    return f"{cdk.Fn.import_value(BACKUPS_ARN_EXPORT)}/{BACKUP_PREFIX}*"


def export_objects() -> str:
    return f"{cdk.Fn.import_value(BACKUPS_ARN_EXPORT)}/{EVENTS_EXPORT_PREFIX}*"


class Backups(Construct):
    """The backup function: reads the audited sheets through the token (paced by its budget in the
    state table) and writes objects under `backups/`; nothing else."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        layers: Sequence[lambda_.ILayerVersion],
        state: dynamodb.ITable,
        bucket: s3.IBucket,
        configuration: Configuration,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        plan = config.backups
        self.backup = AuditFunction(
            self,
            "Backup",
            name="backup",
            config=config,
            layers=layers,
            environment={
                **environment,
                STATE_TABLE.env_var: state.table_name,
                BACKUPS_BUCKET.env_var: bucket.bucket_name,
                BACKUP_LOCK_MODE_ENV: plan.lock_mode,
                BACKUP_DAILY_DAYS_ENV: str(plan.daily_days),
                BACKUP_MONTHLY_MONTHS_ENV: str(plan.monthly_months),
            },
            timeout=BACKUP_TIMEOUT,
            memory_mb=BACKUP_MEMORY_MB,
            # One invocation at a time: two would back up the same sheets and race on the progress.
            reserved_concurrency=1,
            description="Back up every audited sheet to the backup bucket (nightly, resumable)",
        )
        configuration.grant_read(self.backup)
        iam.Grant.add_to_principal(
            grantee=self.backup.role, actions=list(STATE_ACTIONS), resource_arns=[state.table_arn]
        )
        self.backup.role.add_to_policy(
            iam.PolicyStatement(actions=list(BACKUP_OBJECT_ACTIONS), resources=[backup_objects()])
        )
        grant_bucket_key(bucket, self.backup.role, write=True)
        acknowledge(
            self.backup.role,
            "AwsSolutions-IAM5",
            f"Puts objects (with their tier tag and lock date) under the backup bucket's {BACKUP_PREFIX} "
            "prefix only: keys are named by the day and the sheet, known at run time.",
            finding=f"Resource::{BACKUPS_ARN_EXPORT}/{BACKUP_PREFIX}*",
        )
