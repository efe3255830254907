"""`deploy_stack`: the synthesized CDK app's stacks created in a moto server, as `cdk deploy` would.

`cdk deploy BillingAudit` deploys the application stack after the stacks it depends on (the data
stack: tables, buckets, secrets), and so does this, in the order the cloud assembly's manifest gives.
The steps, each in its own module of this package:

1. `synth`: synthesize `infra/app.py` without bundling, cached by the hash of what it depends on;
2. `assets`: what `cdk bootstrap` leaves (the version parameter, the asset bucket), then each
   stack's zipped assets uploaded (moto's Lambda reads function and layer code from S3);
3. `skipped`: the resources the stack references but moto skips, created first (secrets);
4. `template`: the template rewritten into what moto's CloudFormation can create, then the stack;
5. `completions`, `skipped`: what moto left out of the resources it created, and the resources
   it skipped, through the service APIs (`intrinsics` resolves their Ref, Fn::GetAtt, Fn::Sub,
   and Fn::ImportValue from the exports of the stacks deployed before);
6. the stacks' outputs, as env var name -> physical name/ARN/URL.

Every request goes through explicit clients for the moto server (`LocalAws`): deploying reads and
writes nothing of the process environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from billing_audit import resources as res
from billing_audit_local.deploy.assets import bootstrap, upload_assets
from billing_audit_local.deploy.completions import COMPLETE, COMPLETE_LAST, complete_created
from billing_audit_local.deploy.errors import DeployError
from billing_audit_local.deploy.intrinsics import Deployment
from billing_audit_local.deploy.skipped import create_before_stack, create_skipped
from billing_audit_local.deploy.synth import synthesize
from billing_audit_local.deploy.template import moto_compatible
from billing_audit_local.environment import REGION, LocalAws

_ENV_VAR = re.compile(r"^[A-Z][A-Z0-9_]*$")
_STACK_ARTIFACT = "aws:cloudformation:stack"
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for output in stack.get("Outputs", []):
        key = output.get("Description") or ""
        if not _ENV_VAR.match(key):
            continue  # e.g. the API endpoint CDK adds on its own
        names[key] = str(output["OutputValue"])
    return names


def stack_order(assembly: Path, target: str) -> list[str]:
    """`target` and the stacks it depends on, dependencies first, from the assembly's manifest."""
    artifacts: dict[str, Any] = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))["artifacts"]
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise DeployError(f"stack dependency cycle: {' -> '.join((*path, name))}")
        for dependency in artifacts[name].get("dependencies", []):
            if artifacts.get(dependency, {}).get("type") == _STACK_ARTIFACT:
                visit(dependency, (*path, name))
        order.append(name)

    if artifacts.get(target, {}).get("type") != _STACK_ARTIFACT:
        raise DeployError(f"the cloud assembly has no stack {target}")
    visit(target, ())
    return order


def deploy_stack(endpoint_url: str, region: str = REGION, *, smartsheet_token: str | None = None) -> dict[str, str]:
    """Deploy the application stack and the stacks it depends on into the moto server at endpoint_url.

    Returns env var name -> physical name, from the outputs of every stack deployed.
    `smartsheet_token` becomes the Smartsheet token secret's value (default: a placeholder).  A
    second call against the same server finds the stacks and only returns their names.
    """
    assembly = synthesize()
    aws = LocalAws(endpoint_url, region)
    account = str(aws.client("sts").get_caller_identity()["Account"])
    names: dict[str, str] = {}
    for stack_name in stack_order(assembly, res.STACK_NAME):
        template = json.loads((assembly / f"{stack_name}.template.json").read_text(encoding="utf-8"))
        deployment = Deployment(aws, stack_name, template, smartsheet_token=smartsheet_token, account=account)
        names.update(_deploy_one(assembly, deployment))
    return names


def _deploy_one(assembly: Path, deployment: Deployment) -> dict[str, str]:
    """One stack, created unless it exists; its outputs."""
    stack_name = deployment.stack_name
    bootstrap(deployment)
    upload_assets(assembly, deployment)

    cloudformation = deployment.client("cloudformation")
    literals, removed = create_before_stack(deployment)
    compatible, deferred = moto_compatible(deployment.template, literals, removed)
    existing = [
        s for s in cloudformation.list_stacks()["StackSummaries"]
        if s["StackName"] == stack_name and s["StackStatus"] != "DELETE_COMPLETE"
    ]  # fmt: skip
    if not existing:
        cloudformation.create_stack(
            StackName=stack_name, TemplateBody=json.dumps(compatible), Capabilities=_CAPABILITIES
        )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"][:10]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events]
        raise DeployError(f"stack {stack_name} is {stack['StackStatus']}: {reasons}")
    if not existing:
        paginator = cloudformation.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=stack_name):
            for summary in page["StackResourceSummaries"]:
                deployment.physical[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
        complete_created(deployment, COMPLETE)
        create_skipped(deployment, deferred)
        complete_created(deployment, COMPLETE_LAST)
    return _outputs(stack)
