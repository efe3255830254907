"""Grants and layers as built: each role allows what its function's code calls, each layer is one it imports.

The DynamoDB grants are compared with the calls the adapters make (store/dynamo.py for the events
table, Powertools' persistence layer for the idempotency table); a layer is attached only to a
function whose handler or the runtime modules it reaches import one of the layer's packages.
"""

from __future__ import annotations

import ast
import json
import re
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest

from billing_audit import resources as shared
from tests.infra.conftest import ROOT
from tests.infra.test_stack import function_id, of_type


def _statements(template: dict[str, Any], name: str) -> list[dict[str, Any]]:
    role = template["Resources"][function_id(template, name)]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions_on(template: dict[str, Any], name: str, resource_marker: str) -> set[str]:
    found: set[str] = set()
    for statement in _statements(template, name):
        if resource_marker in json.dumps(statement["Resource"]):
            actions = statement["Action"]
            found |= set(actions if isinstance(actions, list) else [actions])
    return found


def _calls(path: Path, receiver: str) -> set[str]:
    """Method names called on `<anything>.<receiver>` in a module (e.g. self.table.put_item)."""
    calls = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Attribute) and owner.attr == receiver:
                calls.add(node.func.attr)
    return calls


def _dynamodb_action(method: str) -> str:
    return "dynamodb:" + "".join(part.title() for part in method.split("_"))


@pytest.mark.parametrize("name", ["process", "scan"])
def test_audit_events_are_put_and_updated_as_the_event_store_does(template_json: dict[str, Any], name: str) -> None:
    source = ROOT / "src" / "billing_audit" / "store" / "dynamo.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    [store] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DynamoEventStore"]
    # What the functions call: add, claim_alerts, mark_alerted, release_alerts, and changes_by for
    # scoring (bursts and reverts across batches); all_events is the CLI's, window the report's and
    # retraining's.
    used = {"add", "claim_alerts", "mark_alerted", "release_alerts", "changes_by", "_update_stored"}
    methods = [n for n in store.body if isinstance(n, ast.FunctionDef) and n.name in used]
    calls = set()
    for method in methods:
        for node in ast.walk(method):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Attribute) and owner.attr == "table":
                    calls.add(_dynamodb_action(node.func.attr))
    assert calls == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}
    # And the trail reads back the stored records of events a crashed writer stored but never logged
    # (store/trail.py, DynamoTrail.stored_records, called by pipeline/trail.py log_events).
    trail = (ROOT / "src" / "billing_audit" / "store" / "trail.py").read_text(encoding="utf-8")
    assert "self.events.meta.client" in trail and "batch_get_item" in trail
    assert _actions_on(template_json, name, shared.EVENTS_TABLE.logical_id) == calls | {"dynamodb:BatchGetItem"}
    # Queries on the by-person index only; puts and updates on the table itself.
    for statement in _statements(template_json, name):
        resource = json.dumps(statement["Resource"])
        if shared.EVENTS_TABLE.logical_id in resource:
            if statement["Action"] == "dynamodb:Query":
                assert f"/index/{shared.EVENTS_BY_USER_INDEX}" in resource, statement
            else:
                assert "/index/" not in resource, statement


@pytest.mark.parametrize("name", ["webhook", "process"])
def test_idempotency_records_are_read_and_written_as_powertools_does(template_json: dict[str, Any], name: str) -> None:
    import aws_lambda_powertools.utilities.idempotency.persistence.dynamodb as persistence

    calls = {_dynamodb_action(method) for method in _calls(Path(persistence.__file__), "client")}
    assert calls == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert _actions_on(template_json, name, shared.IDEMPOTENCY_TABLE.logical_id) == calls


def test_publishing_alerts_needs_no_key_wildcard(template_json: dict[str, Any]) -> None:
    for name in ("process", "scan"):
        key_actions = {
            action
            for statement in _statements(template_json, name)
            for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
            if action.startswith("kms:")
        }
        assert key_actions == {"kms:Decrypt", "kms:GenerateDataKey"}, name


# --- layers -------------------------------------------------------------------------------------


def _third_party_imports(files: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def _layer_modules(layer: str) -> set[str]:
    """Top-level modules the packages in layers/<layer>/requirements.txt provide."""
    text = (ROOT / "layers" / layer / "requirements.txt").read_text(encoding="utf-8")
    wanted = {
        re.split(r"[=<>!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        for line in text.splitlines()
        if line.strip() and not line.startswith((" ", "#", "-"))
    }
    return {
        module
        for module, distributions in packages_distributions().items()
        if {d.lower().replace("_", "-") for d in distributions} & wanted
    }


def test_every_layer_is_attached_only_where_imported(template_json: dict[str, Any]) -> None:
    from infra.constants import FUNCTIONS_DIR, SOURCE_DIR
    from infra.import_closure import module_closure, module_files

    layers = {
        logical_id: layer["Metadata"]["aws:cdk:path"].split("/")[-2].lower()
        for logical_id, layer in of_type(template_json, "AWS::Lambda::LayerVersion").items()
    }
    for function in of_type(template_json, "AWS::Lambda::Function").values():
        tags = {t["Key"]: t["Value"] for t in function["Properties"].get("Tags", [])}
        name = tags[shared.FUNCTION_TAG]
        handler = FUNCTIONS_DIR / name / "handler.py"
        files = [handler] + [SOURCE_DIR / f for f in module_files(module_closure(handler), SOURCE_DIR)]
        imported = _third_party_imports(files)
        for ref in function["Properties"].get("Layers", []):
            layer = layers[ref["Ref"]]
            assert imported & _layer_modules(layer), f"{name} imports nothing of the {layer} layer"


@pytest.mark.parametrize("name", ["process", "scan"])
def test_the_state_table_is_used_by_key_and_partition_never_scanned(template_json: dict[str, Any], name: str) -> None:
    granted = _actions_on(template_json, name, shared.STATE_TABLE.logical_id)
    assert "dynamodb:Scan" not in granted and not any("*" in action for action in granted)
    # Every table call the state-table adapters make is granted (batch_writer and its client calls
    # are BatchWriteItem; batch_get_item is BatchGetItem).
    store = ROOT / "src" / "billing_audit" / "store"
    calls = {
        _dynamodb_action(m) for path in (store / "dynamo.py", store / "alert_state.py") for m in _calls(path, "table")
    }
    calls = {call for call in calls if call not in {"dynamodb:BatchWriter", "dynamodb:Scan"}} | {
        "dynamodb:BatchWriteItem"
    }
    assert calls - {"dynamodb:Scan"} <= granted, calls - granted


@pytest.mark.parametrize(
    ("name", "operator", "partitions"),
    [
        ("report_link", "ForAllValues:StringLike", [f"{shared.REPORT_LINK_PARTITION_PREFIX}*"]),
        ("digest", "ForAllValues:StringEquals", [shared.TRAIL_PARTITION]),
    ],
)
def test_functions_of_one_state_partition_are_held_to_it(
    template_json: dict[str, Any], name: str, operator: str, partitions: list[str]
) -> None:
    # The link function reads its tokens' items, the digest function the trail's head and pointer:
    # neither may read or write another partition of the state table (snapshots, ledger, approvals).
    on_state = [s for s in _statements(template_json, name) if "StateTable" in json.dumps(s["Resource"])]
    assert on_state and all(s["Condition"] == {operator: {"dynamodb:LeadingKeys": partitions}} for s in on_state)
