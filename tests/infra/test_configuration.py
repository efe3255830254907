"""The product configuration as an SSM parameter: created from the deployment config, read by the
audit functions alone, with GetParameter on that one parameter."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from infra.config import InfraConfig
from infra.constructs.configuration import Configuration
from pydantic import ValidationError

from billing_audit import resources as shared
from billing_audit.config import parse_config
from tests.infra.test_stack import function_id, of_type, role_policy_text


def _parameter(template_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = of_type(template_json, "AWS::SSM::Parameter").items()
    return logical_id, resource["Properties"]


def _roster(users: int) -> list[dict[str, str]]:
    return [{"email": f"user{i}@example.com", "name": f"User Number {i}", "role": "foreman"} for i in range(users)]


def test_the_parameter_holds_the_deployment_audit_config_as_the_functions_read_it(template_json: dict) -> None:
    _, props = _parameter(template_json)
    assert props["Name"] == shared.CONFIG_PARAMETER_NAME
    assert props["Type"] == "String"
    audit = parse_config(json.loads(props["Value"]))  # the functions' own model accepts it
    assert (audit.timezone, audit.retention_days) == ("America/Chicago", 2557)
    assert props["Tier"] == "Intelligent-Tiering"  # small: standard, never failing a later shrink


@pytest.mark.parametrize("name", ["process", "scan"])
def test_audit_functions_get_the_name_and_get_parameter_on_it_alone(template_json: dict, name: str) -> None:
    logical_id, _ = _parameter(template_json)
    variables = template_json["Resources"][function_id(template_json, name)]["Properties"]["Environment"]["Variables"]
    assert variables[shared.CONFIG_PARAMETER_ENV] == {"Ref": logical_id}
    assert shared.CONFIG_ENV not in variables
    statements = [s for group in json.loads(role_policy_text(template_json, name)) for s in group]
    ssm = [s for s in statements if any(str(a).startswith("ssm:") for a in _list(s["Action"]))]
    assert len(ssm) == 1, ssm
    [statement] = ssm
    assert _list(statement["Action"]) == ["ssm:GetParameter"]
    assert statement["Effect"] == "Allow"
    assert logical_id in json.dumps(statement["Resource"]) and "*" not in json.dumps(statement["Resource"])


@pytest.mark.parametrize("name", ["webhook", "notifier"])
def test_functions_that_do_not_audit_neither_see_nor_read_it(template_json: dict, name: str) -> None:
    variables = template_json["Resources"][function_id(template_json, name)]["Properties"]["Environment"]["Variables"]
    assert shared.CONFIG_PARAMETER_ENV not in variables and shared.CONFIG_ENV not in variables
    assert "ssm:" not in role_policy_text(template_json, name)


def test_the_stack_outputs_the_parameter_name(template_json: dict) -> None:
    logical_id, _ = _parameter(template_json)
    outputs = [o for o in template_json["Outputs"].values() if o.get("Description") == shared.CONFIG_PARAMETER_ENV]
    assert [o["Value"] for o in outputs] == [{"Ref": logical_id}]


def _synth_configuration(config: InfraConfig) -> dict[str, Any]:
    stack = cdk.Stack(cdk.App(), "ConfigurationOnly")
    Configuration(stack, "Configuration", config=config)
    return Template.from_stack(stack).to_json()


def test_a_configuration_over_4_kb_is_an_advanced_parameter() -> None:
    config = InfraConfig.model_validate({"audit": {"timezone": "UTC", "roster": _roster(30)}})
    assert 4096 < len(config.audit_config_json().encode()) <= 8192
    _, props = _parameter(_synth_configuration(config))
    assert props["Tier"] == "Advanced"
    assert len(parse_config(json.loads(props["Value"])).roster) == 30


def test_the_3_kb_environment_cap_is_gone_and_ssm_s_8_kb_is_the_limit() -> None:
    # What the old cap on the Lambda environment (3 KB) refused now deploys.
    config = InfraConfig.model_validate({"audit": {"timezone": "UTC", "roster": _roster(20)}})
    assert len(config.audit_config_json().encode()) > 3072
    with pytest.raises(ValidationError, match="at most 8192"):
        InfraConfig.model_validate({"audit": {"timezone": "UTC", "roster": _roster(120)}})


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
