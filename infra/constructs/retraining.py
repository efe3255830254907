"""The anomaly model's function and grants: `retrain` reads a window of stored events and writes a
new model under the models bucket's prefix; the functions that score read the latest one.

Least privilege: `retrain` may query the events table's by-detected-day index (the window) and put
objects under `models/anomaly/`; nothing else.  A scorer may get objects under that prefix and
query the by-person index (bursts and reverts across batches).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

from billing_audit.resources import (
    EVENTS_BY_DETECTED_DAY_INDEX,
    EVENTS_BY_USER_INDEX,
    EVENTS_TABLE,
    MODELS_BUCKET,
    RETRAIN_WINDOW_DAYS_ENV,
    RETRAIN_WINDOW_DEFAULT_DAYS,
)
from billing_audit.store.models import MODELS_PREFIX
from constructs import Construct
from infra.config import InfraConfig
from infra.constants import MODELS_ARN_EXPORT
from infra.constructs.configuration import Configuration
from infra.constructs.function import AuditFunction
from infra.nag import acknowledge

# One window of events, a forest of 200 trees: minutes, not seconds, and memory for the matrix.
RETRAIN_TIMEOUT = cdk.Duration.minutes(10)
RETRAIN_MEMORY_MB = 1769  # one full vCPU


# The bucket's ARN through the data stack's named export, so grants and acknowledgments name it plainly.
MODELS_OBJECTS = f"{{arn}}/{MODELS_PREFIX}*"


def _models_objects() -> str:
    return MODELS_OBJECTS.format(arn=cdk.Fn.import_value(MODELS_ARN_EXPORT))


class Retraining(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        layers: Sequence[lambda_.ILayerVersion],
        events: dynamodb.ITable,
        models: s3.IBucket,
        configuration: Configuration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.models = models
        self.events = events
        self.retrain = AuditFunction(
            self,
            "Retrain",
            name="retrain",
            config=config,
            layers=layers,
            environment={
                EVENTS_TABLE.env_var: events.table_name,
                MODELS_BUCKET.env_var: models.bucket_name,
                RETRAIN_WINDOW_DAYS_ENV: str(RETRAIN_WINDOW_DEFAULT_DAYS),
            },
            timeout=RETRAIN_TIMEOUT,
            memory_mb=RETRAIN_MEMORY_MB,
            reserved_concurrency=1,
            description="Retrain the anomaly model on the last weeks of stored events (weekly)",
        )
        configuration.grant_read(self.retrain)
        iam.Grant.add_to_principal(
            grantee=self.retrain.role,
            actions=["dynamodb:Query"],
            resource_arns=[f"{events.table_arn}/index/{EVENTS_BY_DETECTED_DAY_INDEX}"],
        )
        self.retrain.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[_models_objects()]))
        acknowledge(
            self.retrain.role,
            "AwsSolutions-IAM5",
            f"PutObject under the models bucket's {MODELS_PREFIX} prefix only: each version's keys are "
            "named by its training time, unknown at deploy time.",
            finding=f"Resource::{MODELS_ARN_EXPORT}/{MODELS_PREFIX}*",
        )

    def grant_scoring(self, scorer: AuditFunction) -> None:
        """What a scoring function needs: the latest model, and a person's recent events."""
        scorer.function.add_environment(MODELS_BUCKET.env_var, self.models.bucket_name)
        scorer.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[_models_objects()]))
        iam.Grant.add_to_principal(
            grantee=scorer.role,
            actions=["dynamodb:Query"],
            resource_arns=[f"{self.events.table_arn}/index/{EVENTS_BY_USER_INDEX}"],
        )
        acknowledge(
            scorer.role,
            "AwsSolutions-IAM5",
            f"GetObject under the models bucket's {MODELS_PREFIX} prefix only: the latest version's keys "
            "are named by its training time, read from the LATEST pointer at run time.",
            finding=f"Resource::{MODELS_ARN_EXPORT}/{MODELS_PREFIX}*",
        )
