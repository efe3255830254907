"""The monthly access review's function and its grants.

`access_review` reads each audited sheet's shares, the groups they name and the users list (the
token, paced by its budget in the state table), the approvals kept in the state table and the
billed-value changes of those sheets through the events table's by-sheet index; it stores its
result in the state table and publishes one digest to the alerts topic.

Least privilege: the state table's items through GetItem, PutItem and Query only (no scan, no
delete); the events table through a Query of its by-sheet index only; Publish on the alerts topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from billing_audit.resources import EVENTS_BY_SHEET_INDEX, EVENTS_TABLE, STATE_TABLE
from constructs import Construct
from infra.config import InfraConfig
from infra.constructs.configuration import Configuration
from infra.constructs.function import AuditFunction

# Shares of every audited sheet at Smartsheet's 300 requests a minute, and the slowest request's
# retries: the longest Lambda allows.
ACCESS_REVIEW_TIMEOUT = cdk.Duration.minutes(15)


class AccessReviews(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        layers: Sequence[lambda_.ILayerVersion],
        events: dynamodb.ITable,
        state: dynamodb.ITable,
        configuration: Configuration,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.review = AuditFunction(
            self,
            "AccessReview",
            name="access_review",
            config=config,
            layers=layers,
            environment={
                EVENTS_TABLE.env_var: events.table_name,
                STATE_TABLE.env_var: state.table_name,
                **environment,
            },
            timeout=ACCESS_REVIEW_TIMEOUT,
            reserved_concurrency=1,
            description="Review who can reach the audited sheets against the roster (monthly)",
        )
        configuration.grant_read(self.review)
        iam.Grant.add_to_principal(
            grantee=self.review.role,
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            resource_arns=[state.table_arn],
        )
        iam.Grant.add_to_principal(
            grantee=self.review.role,
            actions=["dynamodb:Query"],
            resource_arns=[f"{events.table_arn}/index/{EVENTS_BY_SHEET_INDEX}"],
        )
