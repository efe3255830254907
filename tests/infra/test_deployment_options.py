"""Deployment options and what they change in the templates: Smartsheet region, webhook guards, bucket KMS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from billing_audit import resources as shared
from tests.infra.conftest import synth_templates
from tests.infra.test_stack import function_id, of_type


def webhook_api(template: dict[str, Any]) -> dict[str, Any]:
    """The webhook's REST API (the report links have one of their own)."""
    [api] = [
        r
        for r in of_type(template, "AWS::ApiGateway::RestApi").values()
        if r["Properties"]["Name"].endswith("-webhook")
    ]
    return api


def _smartsheet_callers(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every function whose role may read the Smartsheet token: the ones that call Smartsheet."""
    callers = []
    for function in of_type(template, "AWS::Lambda::Function").values():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        policies = [
            p for p in of_type(template, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
        ]
        if "SmartsheetToken" in json.dumps(policies):
            callers.append(function["Properties"])
    return callers


# --- Smartsheet region ----------------------------------------------------------------------------


def test_the_configured_regions_are_the_adapter_s() -> None:
    from infra.config import API_REGIONS

    from billing_audit.smartsheet.sdk_client import API_BASES

    assert set(API_REGIONS) == set(API_BASES)


def test_every_smartsheet_caller_gets_the_default_region(template_json: dict[str, Any]) -> None:
    callers = _smartsheet_callers(template_json)
    assert len(callers) >= 2  # process and scan at least
    for props in callers:
        assert props["Environment"]["Variables"][shared.SMARTSHEET_API_BASE_ENV] == "us"


@pytest.mark.parametrize("api_base", ["eu", "GOV", "https://smartsheet.example.com/2.0"])
def test_the_configured_region_reaches_every_smartsheet_caller(tmp_path: Path, api_base: str) -> None:
    from infra.constants import STACK_NAME

    from billing_audit.settings import SmartsheetSettings
    from billing_audit.smartsheet.sdk_client import resolve_api_base

    template = synth_templates(tmp_path, {"config": {"smartsheet": {"api_base": api_base}}})[STACK_NAME]
    for props in _smartsheet_callers(template):
        value = props["Environment"]["Variables"][shared.SMARTSHEET_API_BASE_ENV]
        # What the functions' own settings model and SDK adapter make of it.
        settings = SmartsheetSettings.model_validate({shared.SMARTSHEET_API_BASE_ENV: value})
        assert resolve_api_base(settings.api_base) == resolve_api_base(api_base)


@pytest.mark.parametrize("api_base", ["asia", "http://api.smartsheet.com/2.0", "https://api.smartsheet.com/1.0"])
def test_an_unknown_region_fails_before_synth(api_base: str) -> None:
    from infra.config import load_config

    with pytest.raises(ValidationError, match="api_base"):
        load_config({"config": {"smartsheet": {"api_base": api_base}}})


# --- webhook guards -------------------------------------------------------------------------------


def test_by_default_anyone_may_call_the_webhook_and_nothing_is_reserved(template_json: dict[str, Any]) -> None:
    api = webhook_api(template_json)
    assert "Policy" not in api["Properties"]
    webhook = template_json["Resources"][function_id(template_json, "webhook")]["Properties"]
    assert "ReservedConcurrentExecutions" not in webhook


def test_an_allow_list_and_reserved_concurrency_reach_the_api_and_the_function(tmp_path: Path) -> None:
    from infra.constants import STACK_NAME

    cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
    config = {"api": {"allowed_source_cidrs": cidrs, "webhook_reserved_concurrency": 5}}
    template = synth_templates(tmp_path, {"config": config})[STACK_NAME]
    statements = webhook_api(template)["Properties"]["Policy"]["Statement"]
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Action"] == "execute-api:Invoke"
    assert deny["Condition"] == {"NotIpAddress": {"aws:SourceIp": cidrs}}
    assert [s for s in statements if s["Effect"] == "Allow"]
    webhook = template["Resources"][function_id(template, "webhook")]["Properties"]
    assert webhook["ReservedConcurrentExecutions"] == 5


@pytest.mark.parametrize("cidr", ["203.0.113.0/33", "not-a-range", "203.0.113.7/24"])
def test_a_bad_source_range_fails_before_synth(cidr: str) -> None:
    from infra.config import load_config

    with pytest.raises(ValidationError, match="CIDR"):
        load_config({"config": {"api": {"allowed_source_cidrs": [cidr]}}})


# --- bucket encryption ----------------------------------------------------------------------------


def _encryption(bucket: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    return rule


def test_buckets_are_s3_managed_by_default(data_template_json: dict[str, Any]) -> None:
    for logical_id, bucket in of_type(data_template_json, "AWS::S3::Bucket").items():
        assert _encryption(bucket)["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}, logical_id
    # The one key by default is the trail's signing key (asymmetric, never an encryption key).
    keys = of_type(data_template_json, "AWS::KMS::Key").values()
    assert [key["Properties"].get("KeyUsage") for key in keys] == ["SIGN_VERIFY"]


def test_the_kms_option_encrypts_the_reports_bucket_with_a_retained_rotating_key(tmp_path: Path) -> None:
    from infra.constants import DATA_STACK_NAME

    template = synth_templates(tmp_path, {"config": {"encryption": {"buckets_kms": True}}})[DATA_STACK_NAME]
    keys = of_type(template, "AWS::KMS::Key").items()
    [(key_id, key)] = [(i, k) for i, k in keys if k["Properties"].get("KeyUsage") != "SIGN_VERIFY"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    reports = _encryption(template["Resources"][shared.REPORTS_BUCKET.logical_id])
    assert reports["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert reports["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert reports["BucketKeyEnabled"] is True
    # S3 delivers server access logs only to a bucket with S3-managed encryption.
    access_logs = _encryption(template["Resources"]["AccessLogsBucket"])
    assert access_logs["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
