"""CDK entry point: `cdk synth` (cdk.json) or `python infra/app.py` from the repository root.

Three stacks: `BillingAuditData` (tables, buckets, secrets: deployed once, never destroyed),
`BillingAudit` (the application, which depends on it and can be destroyed and deployed again) and
`BillingAuditAccountSetup` (API Gateway's account-wide CloudWatch role: deployed once per account
and region, only where none is set; `cdk deploy BillingAudit` does not deploy it).

Context keys: `config` / `config_file` (see infra/config.py), `bundling` = local | skip.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts infra/ first on sys.path, where infra/constructs would shadow the
# `constructs` package: import everything as `infra.*` from the repository root instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "infra"]
for path in (ROOT, ROOT / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.account_stack import ApiGatewayAccountStack  # noqa: E402
from infra.config import load_config  # noqa: E402
from infra.constants import ACCOUNT_SETUP_STACK_NAME, DATA_STACK_NAME, STACK_NAME  # noqa: E402
from infra.data_stack import BillingAuditDataStack  # noqa: E402
from infra.stack import BillingAuditStack  # noqa: E402


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context, so a synth without the CDK CLI (tests, make synth) sees the same flags."""
    path = ROOT / "cdk.json"
    if not path.exists():
        return {}
    context = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    return dict(context)


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None, *, nag: bool = True) -> cdk.App:
    """The app with its stacks; cdk-nag (AwsSolutions) runs at synth and fails it on findings."""
    merged = {**cdk_json_context(), **(context or {})}
    app = cdk.App(context=merged, outdir=outdir)
    config = load_config({key: app.node.try_get_context(key) for key in ("config", "config_file")})
    data = BillingAuditDataStack(
        app,
        DATA_STACK_NAME,
        config=config,
        description="Billing Audit data: audit tables, buckets and secrets (retained; never destroyed)",
    )
    BillingAuditStack(
        app,
        STACK_NAME,
        config=config,
        data=data,
        description="Billing Audit: Smartsheet billing-row audit (webhooks, scans)",
    )
    ApiGatewayAccountStack(
        app,
        ACCOUNT_SETUP_STACK_NAME,
        description="API Gateway's account-wide CloudWatch logging role (one-time account setup)",
    )
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    # The CDK CLI sets CDK_OUTDIR; run directly (make synth), write where the CLI would.
    build_app(outdir=os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out")).synth()


if __name__ == "__main__":
    main()
