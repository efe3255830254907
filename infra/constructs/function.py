"""The shape every Lambda here shares: its own role, log group, tracing and environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct
from infra.bundling import function_code
from infra.config import LOG_RETENTION_DAYS, InfraConfig
from infra.constants import FUNCTION_TAG, HANDLER, METRICS_NAMESPACE, SERVICE_NAME, shared
from infra.nag import acknowledge


class AuditFunction(Construct):
    """A python3.12 function with a role of its own that starts with nothing but its log group.

    Callers add exactly the grants the function needs; `environment` is the whole environment
    beyond the Powertools settings, so each function sees only the names it uses.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        config: InfraConfig,
        layers: Sequence[lambda_.ILayerVersion],
        environment: Mapping[str, str] | None = None,
        timeout: cdk.Duration | None = None,
        memory_mb: int = 256,
        reserved_concurrency: int | None = None,
        description: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention_days(config.retention.logs_days),
            # What the audit did stays for its retention period after a destroy of the application
            # stack; the group's name is generated, so the next deploy creates a new one beside it.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{SERVICE_NAME} {name} function: least privilege, granted per resource",
        )
        self.log_group.grant_write(self.role)
        env = {
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            shared.LOG_LEVEL_ENV: config.log_level,
            **(environment or {}),
        }
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=function_code(self, name),
            role=self.role,
            layers=list(layers),
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=timeout or cdk.Duration.seconds(30),
            memory_size=memory_mb,
            reserved_concurrent_executions=reserved_concurrency,
            environment=env,
            description=description,
        )
        # Which functions/<name>/ a deployed function runs: for operators, and for the local cloud,
        # which invokes the handler a state machine's task names.
        cdk.Tags.of(self.function).add(FUNCTION_TAG, name)
        # On the role (its policy) and the function, each for the one finding it is about.
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) have no resource-level "
            "permissions; tests/infra/test_stack.py lists the only actions any role may use on '*'.",
            finding="Resource::*",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "Pinned to python3.12 on purpose: the layers are built with pip for cp312 wheels; moving "
            "runtimes is a deliberate change of layers and runtime together.",
        )


def retention_days(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days (InfraConfig accepts only these numbers)."""
    members = [member for member in logs.RetentionDays if member.name != "INFINITE"]
    return dict(zip(LOG_RETENTION_DAYS, members, strict=True))[days]


def logical_id(function: lambda_.IFunction) -> str:
    """The function's CloudFormation logical id, as cdk-nag findings name it."""
    child = function.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return cdk.Stack.of(function).get_logical_id(child)
