"""The product's event bus: in the data stack under its fixed name, and only the functions that
record events may put on it, with the product's own source."""

from __future__ import annotations

import json
from typing import Any

from billing_audit import resources as shared
from tests.infra.test_stack import function_id, of_type


def _statements(template_json: dict[str, Any], name: str) -> list[dict[str, Any]]:
    function = template_json["Resources"][function_id(template_json, name)]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in of_type(template_json, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_bus_is_in_the_data_stack_under_its_name_and_retained(
    data_template_json: dict[str, Any], template_json: dict[str, Any]
) -> None:
    buses = of_type(data_template_json, "AWS::Events::EventBus")
    assert [bus["Properties"]["Name"] for bus in buses.values()] == [shared.EVENT_BUS_NAME]
    assert all(bus["DeletionPolicy"] == "Retain" for bus in buses.values())
    assert of_type(template_json, "AWS::Events::EventBus") == {}
    outputs = {output.get("Description") for output in data_template_json["Outputs"].values()}
    assert shared.EVENT_BUS_ENV in outputs


def test_only_the_recording_functions_put_events_on_the_bus_with_the_products_source(
    template_json: dict[str, Any],
) -> None:
    for name in ("process", "scan"):
        puts = [s for s in _statements(template_json, name) if "events:PutEvents" in json.dumps(s["Action"])]
        assert len(puts) == 1, name
        put = puts[0]
        assert put["Effect"] == "Allow" and put["Action"] == "events:PutEvents"
        assert "Fn::ImportValue" in json.dumps(put["Resource"])  # the data stack's bus, not "*"
        assert put["Condition"] == {"StringEquals": {"events:source": shared.EVENT_SOURCE}}
        environment = template_json["Resources"][function_id(template_json, name)]["Properties"]["Environment"]
        assert shared.EVENT_BUS_ENV in environment["Variables"]
    for name in ("webhook", "notifier"):
        assert "events:PutEvents" not in json.dumps(_statements(template_json, name)), name
