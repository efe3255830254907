"""cdk-nag (AwsSolutions, v3 API): the app has no unacknowledged finding, and a finding fails synth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks


def _report(outdir: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((outdir / "validation-report.json").read_text())
    return report


def test_app_synthesizes_with_no_unacknowledged_finding(template_json: dict[str, Any], tmp_path: Path) -> None:
    # The session fixture already ran the nag plugin; synth raises on any finding.  Re-check the
    # report it wrote: every plugin report is clean.
    from infra.app import build_app

    app = build_app({"bundling": "skip"}, outdir=str(tmp_path))
    app.synth()
    report_file = tmp_path / "validation-report.json"
    if report_file.exists():
        for plugin in _report(tmp_path)["pluginReports"]:
            assert plugin["violations"] == [], plugin


def test_every_acknowledgment_gives_a_specific_reason(template_json: dict[str, Any]) -> None:
    from infra.app import build_app

    app = build_app({"bundling": "skip"})
    reasons: list[tuple[str, str]] = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                data = entry.data
                reasons.extend(data.items())
    assert reasons, "expected acknowledgments to be recorded as metadata"
    for rule, reason in reasons:
        assert rule.startswith("AwsSolutions::AwsSolutions-"), rule
        assert len(reason) >= 60, (rule, reason)
        assert "suppress" not in reason.lower(), (rule, reason)


ACKNOWLEDGMENTS_FILE = Path(__file__).with_name("nag_acknowledgments.txt")


def acknowledgments(app: cdk.App) -> list[tuple[str, str, str]]:
    """Every acknowledgment in the app: (rule, construct path, reason), sorted."""
    rows: list[tuple[str, str, str]] = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                rows.extend((rule, construct.node.path, reason) for rule, reason in entry.data.items())
    return sorted(rows)


def render(rows: list[tuple[str, str, str]]) -> str:
    header = (
        "# Every cdk-nag acknowledgment of the app (default configuration): rule, the resource it is on, why.\n"
        "# Compared by tests/infra/test_nag.py; rewrite with `.venv/bin/python -m tests.infra.test_nag`.\n"
    )
    return header + "".join(f"\n{rule}\n  on:  {path}\n  why: {reason}\n" for rule, path, reason in rows)


def _default_app() -> cdk.App:
    from infra.app import build_app

    return build_app({"bundling": "skip"})


def test_every_acknowledgment_is_listed_for_review(template_json: dict[str, Any]) -> None:
    expected = ACKNOWLEDGMENTS_FILE.read_text(encoding="utf-8")
    assert render(acknowledgments(_default_app())) == expected, (
        "acknowledgments changed: review them, then rewrite the list with `.venv/bin/python -m tests.infra.test_nag`"
    )


def test_acknowledgments_sit_on_resources_never_on_a_stack_or_the_app(template_json: dict[str, Any]) -> None:
    app = _default_app()
    rows = acknowledgments(app)
    assert rows
    for rule, path, _ in rows:
        construct = app.node.find_child(path.split("/")[0])
        for part in path.split("/")[1:]:
            construct = construct.node.find_child(part)
        assert not isinstance(construct, cdk.Stack | cdk.Stage), (rule, path)
        # A resource (CfnResource) or the construct of exactly one resource's kind (Role, Function, Queue...).
        assert isinstance(construct, cdk.CfnResource) or isinstance(construct.node.default_child, cdk.CfnResource), (
            rule,
            path,
        )
        if "IAM5" in rule:
            assert rule.endswith("]"), f"{rule} on {path} must name the one wildcard it accepts"


def test_acknowledging_a_stack_is_refused() -> None:
    from infra.nag import acknowledge

    app = cdk.App()
    stack = cdk.Stack(app, "Throwaway")
    with pytest.raises(ValueError, match="resource it is about"):
        acknowledge(stack, "AwsSolutions-IAM5", "a reason long enough to be read as one, which it is not")


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Throwaway")
    s3.Bucket(stack, "Unencrypted", encryption=s3.BucketEncryption.UNENCRYPTED)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    rules = {v["ruleName"] for p in _report(tmp_path)["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_an_acknowledgment_with_a_reason_passes(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Throwaway")
    bucket = s3.Bucket(stack, "Bucket", enforce_ssl=True)
    cdk.Validations.of(bucket).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-S1", reason="a throwaway bucket in a test, never deployed")
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    ACKNOWLEDGMENTS_FILE.write_text(render(acknowledgments(_default_app())), encoding="utf-8")
    print(f"wrote {ACKNOWLEDGMENTS_FILE}")
