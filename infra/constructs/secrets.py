"""Secrets Manager: the Smartsheet token and the Slack URL (data stack).

They live in the stateful stack (infra/data_stack.py), which is never destroyed: their names are
fixed (operators put values by name) and retained, so a stack that owned them could not be deployed
again after a destroy.  Per-webhook shared secrets are created at run time by `billing-audit
webhooks sync` under WEBHOOK_SECRET_PREFIX, so only their name prefix is known here.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from infra.constants import shared
from infra.nag import acknowledge


def placeholder_secret(
    scope: Construct, construct_id: str, *, name: str, description: str, why_not_rotated: str
) -> secretsmanager.Secret:
    """A named secret holding a random placeholder until an operator puts the real value.

    None of these can be rotated by a Secrets Manager rotation function: `why_not_rotated`
    acknowledges cdk-nag's AwsSolutions-SMG4 for it.
    """
    secret = secretsmanager.Secret(
        scope,
        construct_id,
        secret_name=name,
        description=description,
        generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=64),
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    acknowledge(secret, "AwsSolutions-SMG4", why_not_rotated)
    return secret


class Secrets(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.smartsheet_token = placeholder_secret(
            self,
            "SmartsheetToken",
            name=shared.SMARTSHEET_TOKEN_SECRET,
            description="Smartsheet API access token (put the real token after the first deploy)",
            why_not_rotated="The Smartsheet token is issued and revoked in Smartsheet; AWS cannot rotate "
            "it. Rotation is the manual put-secret-value step in README.md, Deploying to AWS, Deploy.",
        )
        # Created whether or not the Slack notifier is on: switching Slack off and on again must not
        # delete and re-create a retained secret of a fixed name.
        self.slack_webhook = placeholder_secret(
            self,
            "SlackWebhookUrl",
            name=shared.SLACK_WEBHOOK_SECRET,
            description="Slack incoming-webhook URL for alerts (put the real URL after deploy)",
            why_not_rotated="A Slack incoming-webhook URL is issued by Slack and cannot be rotated "
            "by a Secrets Manager rotation function; it is replaced by hand when revoked.",
        )


def webhook_secrets_arn(scope: Construct) -> str:
    """The ARN pattern of every per-webhook shared secret, in `scope`'s stack's account and region."""
    return cdk.Stack.of(scope).format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=f"{shared.WEBHOOK_SECRET_PREFIX}*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )


def grant_webhook_secrets(role: iam.Role, *, upkeep: bool = False) -> None:
    """Read the per-webhook shared secrets; with `upkeep`, also re-store them (the scan's health check).

    Their names are known only at run time, so the grant is a prefix pattern, acknowledged on the
    role's policy for that one pattern.
    """
    actions = ["secretsmanager:GetSecretValue"]
    if upkeep:
        # CreateSecret with tags needs TagResource; a duplicate webhook's secret is deleted with it.
        actions += [
            "secretsmanager:PutSecretValue",
            "secretsmanager:CreateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:DeleteSecret",
        ]
    iam.Grant.add_to_principal(grantee=role, actions=actions, resource_arns=[webhook_secrets_arn(role)])
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "Per-webhook shared secrets are named by webhook id after deploy (`billing-audit webhooks sync`, or "
        "the scan re-creating a webhook), so the grant is limited to the webhook prefix.",
        finding="Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:"
        f"{shared.WEBHOOK_SECRET_PREFIX}*",
    )
