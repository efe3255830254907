"""The product configuration from its SSM parameter: Powertools' provider over a stubbed SSM client
(no network), the environment's JSON over the parameter's top-level keys, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import SSMProvider
from botocore.stub import Stubber

from billing_audit import resources as res
from billing_audit.config import ConfigError
from billing_audit.errors import DependencyFailed
from billing_audit.settings import ConfigSettings
from billing_audit.store.parameters import ConfigParameter
from billing_audit.wiring import audit_config

NAME = "/billing-audit/config"


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Powertools' default SSM provider, on a client whose answers the test queues."""
    client = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setitem(parameters.base.DEFAULT_PROVIDERS, "ssm", SSMProvider(boto3_client=client))
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _holds(stubber: Stubber, document: Any) -> None:
    value = document if isinstance(document, str) else json.dumps(document)
    stubber.add_response(
        "get_parameter",
        {"Parameter": {"Name": NAME, "Type": "String", "Value": value, "Version": 1}},
        {"Name": NAME, "WithDecryption": False},
    )


def _settings(**values: Any) -> ConfigSettings:
    return ConfigSettings.model_validate(values)


def test_the_parameter_alone_is_the_configuration(ssm: Stubber) -> None:
    _holds(ssm, {"timezone": "America/Chicago", "sheets": {"sheet_ids": [3001]}})
    config = audit_config(_settings(BILLING_AUDIT_CONFIG_PARAMETER=NAME))
    assert config.timezone == "America/Chicago"
    assert config.sheets.sheet_ids == [3001]


def test_the_environment_overrides_the_parameters_top_level_keys(ssm: Stubber) -> None:
    _holds(ssm, {"timezone": "America/Chicago", "retention_days": 2557, "sheets": {"sheet_ids": [1, 2]}})
    settings = _settings(
        BILLING_AUDIT_CONFIG_PARAMETER=NAME, BILLING_AUDIT_CONFIG=json.dumps({"sheets": {"sheet_ids": [3]}})
    )
    config = audit_config(settings)
    assert (config.timezone, config.retention_days, config.sheets.sheet_ids) == ("America/Chicago", 2557, [3])


def test_without_a_parameter_the_environment_is_the_whole_configuration() -> None:
    config = audit_config(_settings(BILLING_AUDIT_CONFIG=json.dumps({"timezone": "Europe/Berlin"})))
    assert config.timezone == "Europe/Berlin"
    with pytest.raises(res.MissingSetting, match=f"set {res.CONFIG_PARAMETER_ENV} or {res.CONFIG_ENV}"):
        audit_config(_settings())


def test_reads_are_cached_for_the_max_age_and_fresh_skips_the_cache(ssm: Stubber) -> None:
    _holds(ssm, {"timezone": "UTC"})
    settings = _settings(BILLING_AUDIT_CONFIG_PARAMETER=NAME, BILLING_AUDIT_CONFIG_MAX_AGE="300")
    assert audit_config(settings).timezone == "UTC"
    assert audit_config(settings).timezone == "UTC"  # a second GetParameter would find no stubbed answer
    _holds(ssm, {"timezone": "Asia/Tokyo"})
    assert audit_config(settings, fresh=True).timezone == "Asia/Tokyo"


def test_a_missing_parameter_is_one_line_naming_it(ssm: Stubber) -> None:
    ssm.add_client_error("get_parameter", service_error_code="ParameterNotFound", http_status_code=400)
    with pytest.raises(ConfigError) as raised:
        audit_config(_settings(BILLING_AUDIT_CONFIG_PARAMETER=NAME))
    assert str(raised.value) == f"configuration parameter {NAME} does not exist (deploy the stack, or pass its name)"


def test_a_denied_read_is_a_dependency_failure(ssm: Stubber) -> None:
    ssm.add_client_error("get_parameter", service_error_code="AccessDeniedException", http_status_code=400)
    with pytest.raises(DependencyFailed, match=f"cannot read configuration parameter {NAME}: AccessDeniedException"):
        audit_config(_settings(BILLING_AUDIT_CONFIG_PARAMETER=NAME))


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("{not json", f"configuration parameter {NAME} is not JSON: "),
        ("[1, 2]", f"configuration parameter {NAME} is not a JSON object"),
        (
            {"timezone": "Mars/Olympus"},
            f"configuration parameter {NAME} field timezone: unknown IANA time zone 'Mars/Olympus'",
        ),
        (
            {"sheets": {"sheet_id": [1]}},
            f"configuration parameter {NAME} field sheets.sheet_id: unknown key (known: folders, sheet_ids, "
            "workspaces)",
        ),
    ],
)
def test_a_bad_parameter_is_one_line_naming_it_and_the_field(ssm: Stubber, stored: Any, message: str) -> None:
    _holds(ssm, stored)
    with pytest.raises(ConfigError) as raised:
        audit_config(_settings(BILLING_AUDIT_CONFIG_PARAMETER=NAME))
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_bad_override_names_both_sources(ssm: Stubber) -> None:
    _holds(ssm, {"timezone": "UTC"})
    settings = _settings(BILLING_AUDIT_CONFIG_PARAMETER=NAME, BILLING_AUDIT_CONFIG='{"retention_days": 0}')
    with pytest.raises(ConfigError, match=f"parameter {NAME} with {res.CONFIG_ENV} over it field retention_days"):
        audit_config(settings)


def test_a_given_provider_is_used_instead_of_the_default(ssm: Stubber) -> None:
    client = boto3.client("ssm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as own:
        own.add_response(
            "get_parameter",
            {"Parameter": {"Name": "/other", "Type": "String", "Value": '{"timezone": "UTC"}', "Version": 3}},
            {"Name": "/other", "WithDecryption": False},
        )
        document = ConfigParameter("/other", provider=SSMProvider(boto3_client=client)).document()
    assert document == {"timezone": "UTC"}
