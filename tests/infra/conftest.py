"""Shared fixtures for the CDK checks: the app synthesized once per session, without pip builds."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from billing_audit import resources as shared

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, ROOT / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")

# Every physical name the functions and the local cloud read from the environment: the stack's
# outputs and a moto deployment must carry each of them.
RUNTIME_NAMES = frozenset(
    {
        *(spec.env_var for spec in shared.TABLES),
        *(spec.env_var for spec in shared.BUCKETS),
        shared.ALERTS_TOPIC_ENV,
        shared.CALLBACK_QUEUE_ENV,
        shared.CALLBACK_DLQ_ENV,
        shared.SCHEDULER_DLQ_ENV,
        shared.SMARTSHEET_TOKEN_SECRET_ENV,
        shared.SLACK_WEBHOOK_SECRET_ENV,
        shared.WEBHOOK_SECRET_PREFIX_ENV,
        shared.WEBHOOK_URL_ENV,
        shared.CONFIG_PARAMETER_ENV,
        shared.REPORT_LINK_BASE_ENV,
        shared.EVENT_BUS_ENV,
        shared.TRAIL_SIGNING_KEY_ENV,
        shared.PSEUDONYM_KEY_SECRET_ENV,
    }
)


def synth_templates(tmp: Path, context: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Synthesize the app (cdk-nag included, assets unbundled); every stack's template by stack name."""
    from infra.app import build_app

    # The CDK CLI sets the two metadata flags; a Python-only synth has to ask for them.
    base = {"bundling": "skip", "aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}
    app = build_app({**base, **(context or {})}, outdir=str(tmp))
    assembly = app.synth()
    return {stack.stack_name: json.loads(json.dumps(stack.template)) for stack in assembly.stacks}


def synth_template(tmp: Path, context: dict[str, Any] | None = None, stack: str | None = None) -> dict[str, Any]:
    """One stack's template (default: the application stack, `BillingAudit`)."""
    from infra.constants import STACK_NAME

    return synth_templates(tmp, context)[stack or STACK_NAME]


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return synth_templates(tmp_path_factory.mktemp("cdk-out"))


@pytest.fixture(scope="session")
def template_json(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The application stack: functions, API, queues, schedules, alarms."""
    from infra.constants import STACK_NAME

    return templates[STACK_NAME]


@pytest.fixture(scope="session")
def data_template_json(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The data stack: tables, buckets, secrets."""
    from infra.constants import DATA_STACK_NAME

    return templates[DATA_STACK_NAME]


@pytest.fixture(scope="session")
def template(template_json: dict[str, Any]) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(template_json)


def job_of(schedule: dict[str, Any]) -> str | None:
    """The job a schedule starts (its JSON input's `job`); None for the events export, whose input is
    DynamoDB's request itself (with the table's and bucket's names in it, so not a plain string)."""
    raw = schedule["Properties"]["Target"]["Input"]
    return json.loads(raw).get("job") if isinstance(raw, str) else None
