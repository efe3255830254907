"""Deploy the synthesized CDK template into a moto server: the local cloud is the production stack.

`deploy_stack(endpoint_url)` does what `cdk bootstrap` + `cdk deploy` do against AWS (the steps are
listed in `stack.py`).  The package follows the seams of that work:

- `synth`: the cloud assembly, synthesized without bundling and cached;
- `assets`: bootstrap resources and asset upload;
- `template`: the template rewritten into what moto's CloudFormation can create;
- `skipped`: the resource types moto skips, one explicit creator per type (an unknown type fails
  the deployment loudly, so a new construct can never silently vanish from the local cloud);
- `completions`: what moto leaves out of the resources it does create;
- `intrinsics`: the deployment in progress, resolving Ref, Fn::GetAtt, Fn::Sub... against it;
- `stack`: `deploy_stack`, the steps in order.
"""

from __future__ import annotations

from billing_audit_local.deploy.errors import DeployError
from billing_audit_local.deploy.stack import deploy_stack

__all__ = ["DeployError", "deploy_stack"]
