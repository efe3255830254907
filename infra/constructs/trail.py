"""The trail's seal: the signing key and the digests' bucket (data stack), and the digest function
(application stack).

- The key is a KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY): KMS keeps the private half, the
  public half is exportable (`billing-audit trail public-key`) so anyone checks a digest offline.
  Retained: digests signed with it must stay checkable after any stack is destroyed.
- The bucket has S3 Object Lock in compliance mode, default retention `trail.digest_retention_days`
  (7 years by default, as long as the events may be kept, not the backups' shorter tiers): no one,
  the root user included, can delete or overwrite a digest before then.
- The pseudonymisation key (Secrets Manager) of the emails in exports and reports.
- The digest function (functions/digest) signs the log's head and writes the digest under
  `digests/`: it may read and write the state table's `trail` items, kms:Sign with that one key,
  and get and put objects under the bucket's `digests/` prefix; nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from billing_audit.resources import (
    EVENTS_TABLE,
    PSEUDONYM_KEY_SECRET,
    STATE_TABLE,
    TRAIL_DIGESTS_BUCKET,
    TRAIL_PARTITION,
    TRAIL_SIGNING_KEY_ENV,
)
from billing_audit.store.digests import DIGEST_PREFIX
from constructs import Construct
from infra.config import InfraConfig
from infra.constructs.function import AuditFunction
from infra.constructs.secrets import placeholder_secret
from infra.constructs.storage import secure_bucket
from infra.nag import acknowledge

TRAIL_DIGESTS_ARN_EXPORT = "BillingAuditData-TrailDigestsBucketArn"
TRAIL_KEY_ARN_EXPORT = "BillingAuditData-TrailSigningKeyArn"
# The digest function reads two items and writes two: seconds, with room for a slow KMS call.
DIGEST_TIMEOUT = cdk.Duration.seconds(60)


def digest_objects() -> str:
    """The digests' ARNs, through the data stack's named export (grants name it plainly)."""
    return f"{cdk.Fn.import_value(TRAIL_DIGESTS_ARN_EXPORT)}/{DIGEST_PREFIX}*"


class TrailSeal(Construct):
    """Data stack: the signing key and the Object Lock bucket of digests."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: InfraConfig, access_logs: s3.IBucket | None
    ) -> None:
        super().__init__(scope, construct_id)
        retention = config.trail.digest_retention_days
        self.key = kms.Key(
            self,
            "SigningKey",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            description="billing-audit: signs the trail's digests (the public key checks them offline)",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.bucket = secure_bucket(
            self,
            TRAIL_DIGESTS_BUCKET,
            access_logs=access_logs,
            versioned=True,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(cdk.Duration.days(retention)),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-after-retention",
                    expiration=cdk.Duration.days(retention + 1),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
        # The key of emails' pseudonyms in exports and reports that leave the product
        # (domain/pseudonym.py); read by the commands that write them, no function.
        self.pseudonym_key = placeholder_secret(
            self,
            "PseudonymKey",
            name=PSEUDONYM_KEY_SECRET,
            description="Key of the keyed pseudonyms of emails in exports and reports",
            why_not_rotated="Rotating the pseudonymization key changes every person's pseudonym, so "
            "exports before and after no longer match; it is replaced by hand, never on a schedule.",
        )
        cdk.CfnOutput(
            scope, "TrailDigestsBucketArn", value=self.bucket.bucket_arn, export_name=TRAIL_DIGESTS_ARN_EXPORT
        )
        cdk.CfnOutput(scope, "TrailSigningKeyArn", value=self.key.key_arn, export_name=TRAIL_KEY_ARN_EXPORT)


class TrailDigests(Construct):
    """Application stack: the digest function and what it may touch."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        layers: Sequence[lambda_.ILayerVersion],
        state: dynamodb.ITable,
        events: dynamodb.ITable,
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        key_arn = cdk.Fn.import_value(TRAIL_KEY_ARN_EXPORT)
        self.events = events
        self.digest = AuditFunction(
            self,
            "Digest",
            name="digest",
            config=config,
            layers=layers,
            environment={
                STATE_TABLE.env_var: state.table_name,
                EVENTS_TABLE.env_var: events.table_name,
                TRAIL_DIGESTS_BUCKET.env_var: bucket.bucket_name,
                TRAIL_SIGNING_KEY_ENV: key_arn,
            },
            timeout=DIGEST_TIMEOUT,
            reserved_concurrency=1,
            description="Sign a digest of the trail's log and keep it in the Object Lock bucket (hourly)",
        )
        role = self.digest.role
        # The log's head and the latest digest's pointer: two items of the trail's partition.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[state.table_arn],
                conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [TRAIL_PARTITION]}},
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["kms:Sign"], resources=[key_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[digest_objects()]))
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            f"Get and put objects under the digests bucket's {DIGEST_PREFIX} prefix only: each digest's key "
            "is named by the time it was signed, unknown at deploy time.",
            finding=f"Resource::{TRAIL_DIGESTS_ARN_EXPORT}/{DIGEST_PREFIX}*",
        )

    def grant_logging(self, auditor: AuditFunction) -> None:
        """What appending to the log needs beyond the state table the auditors already write: the
        stored records of events a crashed writer stored but never logged (BatchGetItem)."""
        iam.Grant.add_to_principal(
            grantee=auditor.role, actions=["dynamodb:BatchGetItem"], resource_arns=[self.events.table_arn]
        )
