"""Step Functions, played locally: a state machine deployed into moto, executed state by state.

moto keeps state machines but runs no tasks, so this runs the definition moto holds (the one CDK
synthesized) the way Step Functions would, as the HTTP front plays API Gateway:

- `Task` on `arn:aws:states:::lambda:invoke`: the handler of the function the task names
  (found through the stack's resources and the function's `billing-audit:function` tag), invoked
  in process with the task's payload; `Parameters`, `ResultSelector` and `ResultPath` as ASL
  defines them, for the paths our machines use (`$.a.b`, `$$.Execution.Name`).
- `Choice` with `NumericGreaterThan`, `Wait` with `Seconds`, `Succeed`.

Anything else in a definition fails loudly.  Time is the caller's: `Wait` calls `sleep` and each
invocation's deadline runs on `clock`, so against the simulator a whole run passes in virtual time.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billing_audit import resources as res
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.deploy.synth import synthesize
from billing_audit_local.lambdas import invoke

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
TASK_TIMEOUT_SECONDS = 900.0  # the scan function's timeout (infra: SCAN_TIMEOUT)


class UnsupportedState(RuntimeError):
    """The definition uses something this local player does not play."""


@dataclass
class Execution:
    name: str
    output: dict[str, Any]
    states: list[str] = field(default_factory=list)  # the states entered, in order
    invocations: int = 0


def _path(document: Any, path: str, context: dict[str, Any]) -> Any:
    root, rest = (context, path[2:]) if path.startswith("$$") else (document, path[1:])
    value = root
    for part in filter(None, rest.split(".")):
        value = value[part]
    return value


def _resolve(template: Any, document: Any, context: dict[str, Any]) -> Any:
    """A Parameters or ResultSelector block: keys ending in `.$` take the value at their path."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = _path(document, value, context)
            else:
                out[key] = _resolve(value, document, context)
        return out
    return template


def _set_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    if path == "$":
        return dict(value)
    result = copy.deepcopy(document)
    parts = path[2:].split(".")
    target = result
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return result


def function_folders(cloud: LocalCloud, template_dir: Path | None = None) -> dict[str, str]:
    """Deployed function name → its folder under functions/, from the template's tags."""
    folder = template_dir or synthesize()
    template = json.loads((folder / f"{res.STACK_NAME}.template.json").read_text())
    resources = cloud.client("cloudformation").describe_stack_resources(StackName=res.STACK_NAME)["StackResources"]
    return folders_of_functions(template, resources)


def folders_of_functions(template: dict[str, Any], resources: list[dict[str, Any]]) -> dict[str, str]:
    """Function name → folder, from the application template and its stack's resources (moto does
    not tag the functions it creates, so the tags are read from the template)."""
    tagged = {
        logical_id: next(t["Value"] for t in resource["Properties"].get("Tags", []) if t["Key"] == res.FUNCTION_TAG)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    return {
        r["PhysicalResourceId"]: tagged[r["LogicalResourceId"]]
        for r in resources
        if r.get("LogicalResourceId") in tagged
    }


class LocalStateMachines:
    def __init__(
        self,
        cloud: LocalCloud,
        *,
        sleep: Callable[[float], object] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cloud = cloud
        self.sleep = sleep
        self.clock = clock
        self.functions = function_folders(cloud)

    def definition(self, name_part: str) -> dict[str, Any]:
        client = self.cloud.client("stepfunctions")
        [arn] = [m["stateMachineArn"] for m in client.list_state_machines()["stateMachines"] if name_part in m["name"]]
        return dict(json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"]))

    def execute(self, name_part: str, document: dict[str, Any], execution_name: str) -> Execution:
        definition = self.definition(name_part)
        context = {"Execution": {"Name": execution_name}}
        execution = Execution(name=execution_name, output=document)
        state_name: str | None = definition["StartAt"]
        while state_name is not None:
            execution.states.append(state_name)
            state = definition["States"][state_name]
            kind = state["Type"]
            if kind == "Task":
                execution.output = self._task(state, execution.output, context)
                execution.invocations += 1
                state_name = state["Next"]
            elif kind == "Choice":
                state_name = self._choose(state, execution.output)
            elif kind == "Wait":
                if "Seconds" not in state:
                    raise UnsupportedState(f"{state_name}: only Wait with Seconds is played locally")
                self.sleep(float(state["Seconds"]))
                state_name = state["Next"]
            elif kind == "Succeed":
                state_name = None
            else:
                raise UnsupportedState(f"{state_name}: {kind} states are not played locally")
        return execution

    def _task(self, state: dict[str, Any], document: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        if state["Resource"] != LAMBDA_INVOKE:
            raise UnsupportedState(f"only {LAMBDA_INVOKE} tasks are played locally, not {state['Resource']}")
        parameters = _resolve(state["Parameters"], document, context)
        function_name = str(parameters["FunctionName"]).rsplit(":", 1)[-1]
        folder = self.functions[function_name]
        payload = invoke(folder, parameters["Payload"], timeout_seconds=TASK_TIMEOUT_SECONDS, clock=self.clock)
        result: Any = {"Payload": payload, "StatusCode": 200}
        if "ResultSelector" in state:
            result = _resolve(state["ResultSelector"], result, context)
        return _set_path(document, state.get("ResultPath", "$"), result)

    @staticmethod
    def _choose(state: dict[str, Any], document: dict[str, Any]) -> str:
        for choice in state["Choices"]:
            if set(choice) != {"Variable", "NumericGreaterThan", "Next"}:
                raise UnsupportedState(f"only NumericGreaterThan choices are played locally: {choice}")
            if _path(document, choice["Variable"], {}) > choice["NumericGreaterThan"]:
                return str(choice["Next"])
        return str(state["Default"])
