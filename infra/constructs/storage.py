"""DynamoDB tables (from billing_audit.resources) and the bucket that receives S3 access logs.

Part of the data stack (infra/data_stack.py): every table is retained and deletion-protected, so
neither a stack update nor a hand-run delete can drop audit data.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from billing_audit.resources import TABLES, BucketSpec, Key, TableSpec
from constructs import Construct
from infra.config import InfraConfig
from infra.nag import acknowledge

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


def audit_table(scope: Construct, spec: TableSpec) -> dynamodb.Table:
    """On demand, point-in-time recovery, KMS encryption, TTL, deletion protection, and the spec's keys and indexes."""
    table = dynamodb.Table(
        scope,
        spec.logical_id,
        partition_key=_attribute(spec.partition),
        sort_key=_attribute(spec.sort) if spec.sort else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        time_to_live_attribute=spec.ttl_attribute,
        deletion_protection=True,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    for index in spec.indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_attribute(index.partition),
            sort_key=_attribute(index.sort) if index.sort else None,
            projection_type=dynamodb.ProjectionType.ALL,
        )
    _fix_logical_id(table, spec.logical_id)
    return table


def _fix_logical_id(construct: Construct, logical_id: str) -> None:
    """Give the CloudFormation resource the name billing_audit.resources uses for it."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnResource)
    child.override_logical_id(logical_id)


def secure_bucket(
    scope: Construct,
    spec: BucketSpec,
    *,
    access_logs: s3.IBucket | None,
    key: kms.IKey | None = None,
    **props: Any,
) -> s3.Bucket:
    """Private, TLS-only, encrypted (S3-managed, or `key`), logged; `props` add versioning, lock and lifecycle."""
    encryption = (
        {"encryption": s3.BucketEncryption.KMS, "encryption_key": key, "bucket_key_enabled": True}
        if key is not None
        else {"encryption": s3.BucketEncryption.S3_MANAGED}
    )
    bucket = s3.Bucket(
        scope,
        spec.logical_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        **encryption,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{spec.logical_id}/" if access_logs else None,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        **props,
    )
    _fix_logical_id(bucket, spec.logical_id)
    return bucket


# What Powertools' DynamoDBPersistenceLayer calls on the idempotency table, and nothing more.
IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


def grant_idempotency(table: dynamodb.ITable, grantee: iam.IGrantable) -> None:
    """Read and write idempotency records (Powertools' persistence layer) on the table itself."""
    iam.Grant.add_to_principal(grantee=grantee, actions=list(IDEMPOTENCY_ACTIONS), resource_arns=[table.table_arn])


def grant_bucket_key(bucket: s3.IBucket, grantee: iam.IGrantable, *, write: bool) -> None:
    """The key actions S3 asks for on a KMS-encrypted bucket (encryption.buckets_kms); none when S3-managed.

    Reading an object needs kms:Decrypt; writing one kms:GenerateDataKey (and Decrypt, for multipart
    uploads).  Spelled out rather than the bucket's or key's grant methods, whose ReEncrypt* and
    GenerateDataKey* wildcards no S3 request uses.
    """
    if bucket.encryption_key is None:
        return
    actions = ["kms:Decrypt", "kms:GenerateDataKey"] if write else ["kms:Decrypt"]
    iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[bucket.encryption_key.key_arn])


ACCESS_LOGS_BUCKET = BucketSpec("AccessLogsBucket", "ACCESS_LOGS_BUCKET")


class Storage(Construct):
    """The three tables and the access-log bucket the reports bucket writes to."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {spec.env_var: audit_table(self, spec) for spec in TABLES}
        self.access_logs = secure_bucket(
            self,
            ACCESS_LOGS_BUCKET,
            access_logs=None,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(config.retention.access_logs_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket is the server-access-log target of the data stack's other buckets; logging it into "
            "itself would loop.",
        )

    def table(self, env_var: str) -> dynamodb.Table:
        return self.tables[env_var]
