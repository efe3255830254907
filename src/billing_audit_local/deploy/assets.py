"""What `cdk bootstrap` leaves in an account, and the file assets `cdk deploy` publishes to it.

moto's Lambda reads function and layer code from S3, so the assets are uploaded as CDK would:
directories zipped, to the bootstrap bucket, under the keys the template names.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from botocore.exceptions import ClientError

from billing_audit_local.deploy.intrinsics import Deployment

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
BOOTSTRAP_VERSION = "30"


def bootstrap(deployment: Deployment) -> str:
    """The version parameter (the template's BootstrapVersion reads it) and the asset bucket."""
    deployment.client("ssm").put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{deployment.account}-{deployment.region}"
    s3 = deployment.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:  # not there yet
        if deployment.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": deployment.region})
    return bucket


def _placeholders(text: str, deployment: Deployment) -> str:
    return (
        text.replace("${AWS::AccountId}", deployment.account)
        .replace("${AWS::Region}", deployment.region)
        .replace("${AWS::Partition}", "aws")
    )


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def upload_assets(assembly: Path, deployment: Deployment) -> None:
    """Publish the file assets as `cdk deploy` would (directories zipped)."""
    path = assembly / f"{deployment.stack_name}.assets.json"
    if not path.exists():  # a stack with no assets of its own
        return
    manifest = json.loads(path.read_text(encoding="utf-8"))
    s3 = deployment.client("s3")
    for asset in manifest.get("files", {}).values():
        source = assembly / asset["source"]["path"]
        if asset["source"].get("packaging") == "zip" or source.is_dir():
            body = _zip_directory(source)
        else:
            body = source.read_bytes()
        for destination in asset["destinations"].values():
            s3.put_object(
                Bucket=_placeholders(destination["bucketName"], deployment),
                Key=_placeholders(destination["objectKey"], deployment),
                Body=body,
            )
