"""Names only the CDK application uses; shared names (tables, buckets, env vars) live in
billing_audit.resources and are re-exported here for convenience."""

from __future__ import annotations

import re
from pathlib import Path

from billing_audit import resources as shared
from billing_audit.resources import (
    APP_NAME,
    METRICS_NAMESPACE,
    SERVICE_NAME,
    STACK_NAME,
)

__all__ = [
    "ACCOUNT_SETUP_STACK_NAME",
    "APP_NAME",
    "DATA_STACK_NAME",
    "FUNCTIONS",
    "METRICS_NAMESPACE",
    "SERVICE_NAME",
    "STACK_NAME",
    "output_id",
    "shared",
]

# The stacks of the app: the application (STACK_NAME, destroyable), the data it reads (never
# destroyed) and the optional one-time account setup (API Gateway's CloudWatch role).
DATA_STACK_NAME = f"{STACK_NAME}Data"
ACCOUNT_SETUP_STACK_NAME = f"{STACK_NAME}AccountSetup"

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYERS_DIR = REPO_ROOT / "layers"
SOURCE_DIR = REPO_ROOT / "src"
BUILD_DIR = REPO_ROOT / ".build"

PYTHON_VERSION = "3.12"
HANDLER = "handler.handler"

# Every Lambda function, by its folder under functions/.  Only what is built is deployed.
FUNCTIONS = (
    "webhook",
    "process",
    "scan",
    "notifier",
    "report",
    "report_link",
    "retrain",
    "digest",
    "backup",
    "access_review",
)

# Tag on every function naming its folder under functions/.
FUNCTION_TAG = shared.FUNCTION_TAG

LIGHT_LAYER = "light"
ML_LAYER = "ml"  # scikit-learn, skops, numpy, scipy: only for functions whose handler imports billing_audit.ml

# Context keys.
BUNDLING_CONTEXT_KEY = "bundling"  # "local" (default: pip-built layers) or "skip" (source dirs only)
BUNDLING_ENV = "BILLING_AUDIT_BUNDLING"  # same, from the environment; the context key wins

# The Lambda limit this project checks itself against (function + layers, unzipped).
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024


def output_id(env_var: str) -> str:
    """The CloudFormation output that carries an env var's value: EVENTS_TABLE -> EventsTable."""
    return "".join(part.capitalize() for part in env_var.split("_"))


def env_var_of_output(output_key: str) -> str:
    """The inverse of output_id: EventsTable -> EVENTS_TABLE."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", output_key).upper()


# The callback payloads bucket's ARN, exported by the data stack under this name for the grants of
# the application stack (a named export keeps those grants, and their acknowledgments, readable).
CALLBACK_PAYLOADS_ARN_EXPORT = "BillingAuditData-CallbackPayloadsBucketArn"
MODELS_ARN_EXPORT = "BillingAuditData-ModelsBucketArn"  # the anomaly models' bucket, for prefix grants
BACKUPS_ARN_EXPORT = "BillingAuditData-BackupsBucketArn"  # the backup bucket, for prefix grants
