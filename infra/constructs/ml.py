"""The models bucket and the weekly retrain function (the ML layer is in layers.py)."""

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


class Ml(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        access_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.bucket = secure_bucket(
            self,
            shared.MODELS_BUCKET,
            access_logs=access_logs,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="old-model-versions",
                    noncurrent_version_expiration=cdk.Duration.days(90),
                    noncurrent_versions_to_retain=5,
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
        self.retrain: AuditFunction | None = None

    def add_retrain(self, *, layers: Sequence[lambda_.ILayerVersion], environment: dict[str, str]) -> AuditFunction:
        self.retrain = AuditFunction(
            self,
            "Retrain",
            name="retrain",
            config=self.config,
            layers=layers,
            environment={**environment, shared.MODELS_BUCKET.env_var: self.bucket.bucket_name},
            timeout=cdk.Duration.minutes(15),
            memory_mb=3008,
            description="Weekly retraining of the risk model from the recorded events",
        )
        self.bucket.grant_read(self.retrain.role)
        self.bucket.grant_put(self.retrain.role)
        return self.retrain
