"""functions/*/handler.py are not a package, so import-linter cannot see them: this checks their imports.

A handler may import the standard library, the runtime package and the libraries Lambda provides
(the runtime's boto3) or the light layer installs; never the local tooling, never the SDK directly.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
ALLOWED = {"billing_audit", "aws_lambda_powertools", "boto3", "botocore", "pydantic"}
HANDLERS = sorted(FUNCTIONS.glob("*/handler.py"))


def top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            names.add((node.module or "").split(".")[0])
    return names


def test_every_function_has_a_handler() -> None:
    assert {path.parent.name for path in HANDLERS} == {p.name for p in FUNCTIONS.iterdir() if p.is_dir()}


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_a_handler_imports_only_the_runtime_and_its_libraries(handler: Path) -> None:
    outside = top_level_imports(handler) - ALLOWED - set(sys.stdlib_module_names) - {"__future__"}
    assert not outside, f"{handler.parent.name} imports {sorted(outside)}"


def raises_not_implemented(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
                return True
    return False


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_no_handler_is_a_placeholder(handler: Path) -> None:
    # Every folder here is deployed (infra.constants.FUNCTIONS): a feature that is not built has no handler.
    assert not raises_not_implemented(handler), f"{handler.parent.name} is a placeholder"


def test_the_check_sees_a_placeholder(tmp_path: Path) -> None:
    stub = tmp_path / "handler.py"
    stub.write_text("def handler(event, context):\n    raise NotImplementedError('later')\n")
    assert raises_not_implemented(stub)


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    rogue = tmp_path / "handler.py"
    rogue.write_text("from smartsheet_sim import Simulator\nimport billing_audit_local.demo\n")
    assert top_level_imports(rogue) - ALLOWED == {"smartsheet_sim", "billing_audit_local"}
