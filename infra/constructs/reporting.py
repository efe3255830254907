"""The reports bucket (private: people download through presigned links), the report and the
access-review functions."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import shared
from infra.constructs.function import AuditFunction
from infra.constructs.storage import secure_bucket


class Reporting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        layers: Sequence[lambda_.ILayerVersion],
        access_logs: s3.IBucket,
        report_environment: dict[str, str],
        access_review_environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = secure_bucket(
            self,
            shared.REPORTS_BUCKET,
            access_logs=access_logs,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-reports",
                    expiration=cdk.Duration.days(config.retention.reports_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
        env = {shared.REPORTS_BUCKET.env_var: self.bucket.bucket_name}
        self.report = AuditFunction(
            self,
            "Report",
            name="report",
            config=config,
            layers=layers,
            environment={**report_environment, **env},
            timeout=cdk.Duration.minutes(5),
            memory_mb=512,
            description="Builds the daily and weekly audit reports and sends presigned links",
        )
        self.access_review = AuditFunction(
            self,
            "AccessReview",
            name="access_review",
            config=config,
            layers=layers,
            environment={**access_review_environment, **env},
            timeout=cdk.Duration.minutes(5),
            memory_mb=512,
            description="Monthly review of who can edit the audited sheets",
        )
        for function in (self.report, self.access_review):
            # Put the report, read it back to presign the download link; nothing else.
            self.bucket.grant_put(function.role)
            self.bucket.grant_read(function.role)
