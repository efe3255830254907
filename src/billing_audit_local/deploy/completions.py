"""What moto 5's CloudFormation leaves out of resources it does create, applied afterwards.

moto applies only BucketEncryption and Tags from an AWS::S3::Bucket, and ignores a table's
TimeToLiveSpecification and PointInTimeRecoverySpecification, and makes every KMS key symmetric:
`complete_created` applies the rest
through the service APIs, `COMPLETE` right after the stack, `COMPLETE_LAST` once the skipped
resources (bucket policies) exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from billing_audit_local.deploy.intrinsics import Deployment


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    api: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled"), "Filter": {}}
    prefix = rule.get("Prefix", "")
    tags = [{"Key": tag["Key"], "Value": tag["Value"]} for tag in rule.get("TagFilters", [])]
    if tags:
        api["Filter"] = {"And": {"Prefix": prefix, "Tags": tags}} if prefix or len(tags) > 1 else {"Tag": tags[0]}
    else:
        api["Filter"] = {"Prefix": prefix}
    if rule.get("ExpiredObjectDeleteMarker"):
        api["Expiration"] = {"ExpiredObjectDeleteMarker": True}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "Transitions" in rule:
        api["Transitions"] = [
            {"Days": int(t["TransitionInDays"]), "StorageClass": t["StorageClass"]} for t in rule["Transitions"]
        ]
    if "NoncurrentVersionExpiration" in rule:
        expiration = rule["NoncurrentVersionExpiration"]
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(expiration["NoncurrentDays"])}
        if "NewerNoncurrentVersions" in expiration:
            api["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = int(expiration["NewerNoncurrentVersions"])
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return api


def _complete_bucket(deployment: Deployment, bucket: str, props: dict[str, Any]) -> None:
    """moto 5 applies only BucketEncryption and Tags from an AWS::S3::Bucket."""
    s3 = deployment.client("s3")
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled" or props.get("ObjectLockEnabled"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if props.get("ObjectLockEnabled"):
        configuration: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
        retention = props.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention")
        if retention:
            configuration["Rule"] = {
                "DefaultRetention": {k: (int(v) if k != "Mode" else v) for k, v in retention.items()}
            }
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=configuration)
    rules = props.get("LifecycleConfiguration", {}).get("Rules")
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in rules]}
        )


def _complete_bucket_logging(deployment: Deployment, bucket: str, props: dict[str, Any]) -> None:
    """Server access logging, once the target's bucket policy lets the logging service write."""
    logging = props.get("LoggingConfiguration")
    if logging:
        status = {"TargetBucket": deployment.resolve(logging["DestinationBucketName"])}
        status["TargetPrefix"] = logging.get("LogFilePrefix", "")
        deployment.client("s3").put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": status})


def _complete_table(deployment: Deployment, table: str, props: dict[str, Any]) -> None:
    """moto 5 ignores TimeToLiveSpecification and PointInTimeRecoverySpecification."""
    dynamodb = deployment.client("dynamodb")
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _complete_key(deployment: Deployment, key_id: str, props: dict[str, Any]) -> None:
    """moto 5's CloudFormation makes every AWS::KMS::Key symmetric, whatever its KeySpec and
    KeyUsage; an asymmetric one (the trail's signing key) is given its spec and a key pair of that
    spec in moto's own model, which lives in this process (ThreadedMotoServer)."""
    spec = props.get("KeySpec", "SYMMETRIC_DEFAULT")
    if spec == "SYMMETRIC_DEFAULT":
        return
    from moto.kms.models import kms_backends
    from moto.kms.utils import generate_private_key

    for regions in kms_backends.values():
        for backend in regions.values():
            key = backend.keys.get(key_id)
            if key is not None:
                key.key_spec = spec
                key.key_usage = props.get("KeyUsage", "SIGN_VERIFY")
                key.private_key = generate_private_key(spec)
                # moto keeps the template's policy as a dict, and its policy check reads a string.
                if not isinstance(key.policy, str):
                    key.policy = json.dumps(key.policy)
                return


Completion = dict[str, Callable[[Deployment, str, dict[str, Any]], None]]
COMPLETE: Completion = {
    "AWS::S3::Bucket": _complete_bucket,
    "AWS::DynamoDB::Table": _complete_table,
    "AWS::KMS::Key": _complete_key,
}
COMPLETE_LAST: Completion = {"AWS::S3::Bucket": _complete_bucket_logging}


def complete_created(deployment: Deployment, completions: Completion) -> None:
    for logical_id, resource in deployment.template["Resources"].items():
        complete = completions.get(resource["Type"])
        if complete and logical_id in deployment.physical and logical_id not in deployment.created_directly:
            complete(deployment, deployment.physical[logical_id], resource.get("Properties", {}))
