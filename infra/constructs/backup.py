"""The backups bucket (versioned, Object Lock, cheaper storage over time) and the backup function."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import shared
from infra.constructs.function import AuditFunction
from infra.constructs.storage import secure_bucket


class Backup(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        layers: Sequence[lambda_.ILayerVersion],
        access_logs: s3.IBucket,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        retention = config.retention
        lock_days = cdk.Duration.days(retention.backups_lock_days)
        self.bucket = secure_bucket(
            self,
            shared.BACKUPS_BUCKET,
            access_logs=access_logs,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=(
                s3.ObjectLockRetention.compliance(lock_days)
                if retention.backups_lock_mode == "COMPLIANCE"
                else s3.ObjectLockRetention.governance(lock_days)
            ),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="cheaper-with-age",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(retention.backups_infrequent_access_days),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=cdk.Duration.days(retention.backups_glacier_days),
                        ),
                    ],
                    expiration=cdk.Duration.days(retention.backups_expire_days),
                    noncurrent_version_expiration=cdk.Duration.days(retention.backups_lock_days + 1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
        self.backup = AuditFunction(
            self,
            "Backup",
            name="backup",
            config=config,
            layers=layers,
            environment={**environment, shared.BACKUPS_BUCKET.env_var: self.bucket.bucket_name},
            timeout=cdk.Duration.minutes(15),
            memory_mb=1024,
            description="Nightly backup of the audited sheets and the audit tables",
        )
        # Write-only: a backup job can add objects, never read, overwrite the lock or delete.
        self.backup.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self.bucket.arn_for_objects("*")])
        )
        cdk.Validations.of(self.backup).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{shared.BACKUPS_BUCKET.logical_id}.Arn>/*]",
                reason="PutObject needs an object ARN; the backup keys are dated, so the pattern "
                "covers only objects in the backups bucket.",
            )
        )
