"""The synthesized template rewritten into what moto 5's CloudFormation can create.

moto resolves a Ref to a resource it skipped as null (an IAM policy whose Resource is null fails the
whole stack) and refuses a Fn::GetAtt on one.  So: Refs to resources created beforehand (secrets) or
whose Ref is known (a stage's name) become literals; resources moto skips, and every resource that
depends on one (the dashboard shows the alarms), leave the template and are created afterwards
through the service APIs (`skipped.py`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.cloudformation.parsing import NULL_MODELS, get_model_map

from billing_audit_local.deploy.errors import DeployError
from billing_audit_local.deploy.skipped import SKIPPED

_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _replace_refs(value: Any, literals: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_replace_refs(item, literals) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("Ref"), str) and value["Ref"] in literals:
            return literals[value["Ref"]]
        return {key: _replace_refs(item, literals) for key, item in value.items()}
    return value


def _references(value: Any) -> set[str]:
    """Logical ids a template value points at (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        if isinstance(value.get("Fn::GetAtt"), list):
            found.add(value["Fn::GetAtt"][0])
        sub = value.get("Fn::Sub")
        if isinstance(sub, str):
            found |= {name.split(".")[0] for name in _SUB_VARIABLE.findall(sub)}
        for item in value.values():
            found |= _references(item)
    return found


def moto_compatible(
    template: dict[str, Any], literals: dict[str, str], removed: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """The template as moto 5 can create it, and the resources left for `skipped.create_skipped`.

    `literals`: logical id -> the value its Ref becomes; `removed`: logical ids already created.
    """
    # moto leaves out, with a log line and no error, a type it has no model for: such a resource
    # would vanish from the local cloud unnoticed unless skipped.py creates it.
    created_by_moto = set(get_model_map()) | set(NULL_MODELS)
    dropped = sorted(
        {
            r["Type"]
            for r in template["Resources"].values()
            if r["Type"] not in created_by_moto and r["Type"] not in SKIPPED and not r["Type"].startswith("Custom::")
        }
    )
    if dropped:
        raise DeployError(f"moto cannot create {dropped}; add a handler in billing_audit_local.deploy.skipped")
    # CloudFormation's Ref of an event bus is its name; moto's is its Python object's repr.
    bus_names = {
        lid: r["Properties"]["Name"]
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Events::EventBus" and isinstance(r.get("Properties", {}).get("Name"), str)
    }
    patched = _replace_refs(json.loads(json.dumps(template)), {**bus_names, **literals})
    resources: dict[str, Any] = patched["Resources"]
    deferred = {lid for lid, r in resources.items() if r["Type"] in SKIPPED and lid not in removed}
    changed = True
    while changed:
        changed = False
        for logical_id, resource in resources.items():
            if logical_id in deferred or logical_id in removed:
                continue
            depends = resource.get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else depends
            if (_references(resource.get("Properties", {})) | set(depends)) & deferred:
                deferred.add(logical_id)
                changed = True
    for logical_id in deferred | removed:
        resources.pop(logical_id)
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d in resources]
        elif isinstance(depends, str) and depends not in resources:
            del resource["DependsOn"]
    for name, output in list(patched.get("Outputs", {}).items()):
        if _references(output) & (deferred | removed):
            del patched["Outputs"][name]
    # CloudFormation names an unnamed FIFO queue <stack>-<id>-<suffix>.fifo; moto requires the name.
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SQS::Queue" and properties.get("FifoQueue") and "QueueName" not in properties:
            properties["QueueName"] = f"{logical_id}.fifo"
    # moto's KMS reads CloudFormation tags as TagKey/TagValue (its API spelling) and fails on
    # the CloudFormation Key/Value spelling.
    for resource in resources.values():
        if resource["Type"] == "AWS::KMS::Key" and "Tags" in resource.get("Properties", {}):
            resource["Properties"]["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in resource["Properties"]["Tags"]
            ]
    # moto hands an SSM parameter's Tags to PutParameter as they are; CloudFormation spells them as
    # a map there, the API as a Key/Value list.
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SSM::Parameter" and isinstance(properties.get("Tags"), dict):
            properties["Tags"] = [{"Key": key, "Value": value} for key, value in properties["Tags"].items()]
    return patched, sorted(deferred)
