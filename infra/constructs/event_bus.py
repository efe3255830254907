"""The product's own EventBridge bus: every stored violation is put on it (pipeline/alerting.py), so
other systems get them through ordinary rules (Discord, Teams, PagerDuty, a SIEM by an API
destination; the README shows one), without the product knowing them.

It lives in the data stack: rules people add to it in their own stacks name it by its fixed name,
so it must outlive a destroy of the application stack.  It holds no events itself (no archive).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam

from billing_audit.resources import EVENT_BUS_NAME, EVENT_SOURCE
from constructs import Construct


class AuditEventBus(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=EVENT_BUS_NAME)
        self.bus.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

    @property
    def bus_name(self) -> str:
        return self.bus.event_bus_name

    def grant_put(self, grantee: iam.IGrantable) -> None:
        """events:PutEvents on this bus only, and only with the product's own source."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["events:PutEvents"],
            resource_arns=[self.bus.event_bus_arn],
            conditions={"StringEquals": {"events:source": EVENT_SOURCE}},
        )
