"""cdk-nag acknowledgments, each on the one resource it is about.

cdk-nag 3 reads acknowledgments (`Validations.of(scope).acknowledge`) from the resource and its
ancestors, so one placed on a stack or the app would pre-approve every future finding of that rule
below it.  `acknowledge` takes a resource construct (a role, a function, a bucket...) and refuses a
stack or stage; a finding about one wildcard is named with `finding` (cdk-nag's `Rule[finding]`), so
the acknowledgment covers that wildcard and no other.  tests/infra/nag_acknowledgments.txt lists
every one with its reason.
"""

from __future__ import annotations

import aws_cdk as cdk

from constructs import Construct

PACK = "AwsSolutions"


def acknowledge(resource: Construct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge `rule` (e.g. "AwsSolutions-IAM5") on `resource`, for one `finding` when given."""
    if isinstance(resource, cdk.Stack | cdk.Stage):
        raise ValueError(f"{rule}: acknowledge on the resource it is about, not on {resource.node.path or 'the app'}")
    rule_id = f"{PACK}::{rule}" + (f"[{finding}]" if finding else "")
    cdk.Validations.of(resource).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))
