"""The reports bucket (private: people download through presigned links).

Reports are not built yet (README, "Unfinished"), so no function writes here today; the demo keeps
its outputs here.  The construct keeps its id ("Reporting"): the bucket policy's logical id comes
from that path, and a BucketPolicy that CloudFormation replaces is deleted after its successor is
written, which would leave the bucket with no policy at all.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import shared
from infra.constructs.storage import secure_bucket


class Reporting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        access_logs: s3.IBucket,
        key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = secure_bucket(
            self,
            shared.REPORTS_BUCKET,
            access_logs=access_logs,
            key=key,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-reports",
                    expiration=cdk.Duration.days(config.retention.reports_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
