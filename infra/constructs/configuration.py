"""The product configuration (the deployment config's `audit` section) as one SSM parameter.

Application configuration, not data: it lives in the stateless stack and is recreated from the
deployment config by every deploy.  The audit functions get its name in their environment and
ssm:GetParameter on it alone; they read it through Powertools, cached for
resources.CONFIG_CACHE_SECONDS.  `billing-audit config push` replaces the value between deploys
(a deploy that changes `audit` writes it again).
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm

from billing_audit.store.parameters import ADVANCED, tier_for
from constructs import Construct
from infra.config import InfraConfig
from infra.constants import shared
from infra.constructs.function import AuditFunction


class Configuration(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        value = config.audit_config_json()
        # Advanced (8 KB) only when the value outgrows the standard tier's 4 KB: it is billed.  Below,
        # Intelligent-Tiering: standard, and an update after shrinking an advanced one does not fail.
        tier = ssm.ParameterTier.ADVANCED if tier_for(value) == ADVANCED else ssm.ParameterTier.INTELLIGENT_TIERING
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=shared.CONFIG_PARAMETER_NAME,
            string_value=value,
            tier=tier,
            description="Billing Audit product configuration (AuditConfig JSON); billing-audit config push replaces it",
        )

    @property
    def parameter_name(self) -> str:
        return self.parameter.parameter_name

    def grant_read(self, function: AuditFunction) -> None:
        """The parameter's name in the function's environment, and GetParameter on it only."""
        function.function.add_environment(shared.CONFIG_PARAMETER_ENV, self.parameter.parameter_name)
        iam.Grant.add_to_principal(
            grantee=function.role, actions=["ssm:GetParameter"], resource_arns=[self.parameter.parameter_arn]
        )
