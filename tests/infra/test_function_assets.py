"""What each Lambda asset holds: its handler and the runtime modules its import graph reaches.

The asset is built by the real local bundler into a temporary folder; a fresh interpreter then
imports the handler from that folder alone (the checkout's `src/` out of reach), which shows the
asset is complete, and lists the runtime modules the import loaded, which shows nothing in it is
dead weight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from infra.bundling import FunctionBundling
from infra.constants import FUNCTIONS

from tests.infra.conftest import ROOT

TOOLING = ("smartsheet_sim", "billing_audit_local")

PROBE = r"""
import json, sys
asset, source = sys.argv[1], sys.argv[2]
# The asset, the standard library and the installed libraries: never the checkout's src/ (editable installs add it).
sys.path[:] = [asset] + [p for p in sys.path if p and not p.startswith(source)]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
import handler  # noqa: F401
loaded = sorted(
    name for name, module in sys.modules.items()
    if name.split(".")[0] == "billing_audit" and getattr(module, "__file__", None)
)
outside = [name for name in loaded if not sys.modules[name].__file__.startswith(asset)]
print(json.dumps({"loaded": loaded, "outside": outside}))
"""


def _bundle(name: str, target: Path) -> set[str]:
    FunctionBundling(name).try_bundle(str(target))
    modules = set()
    for path in (target / "billing_audit").rglob("*.py"):
        parts = path.relative_to(target).with_suffix("").parts
        modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


@pytest.mark.parametrize("name", FUNCTIONS)
def test_no_asset_holds_the_local_tooling(name: str, tmp_path: Path) -> None:
    _bundle(name, tmp_path)
    assert (tmp_path / "handler.py").is_file()
    assert not [p for p in tmp_path.rglob("*") if p.name in TOOLING]


def test_the_webhook_asset_holds_exactly_what_its_handler_imports(tmp_path: Path) -> None:
    bundled = _bundle("webhook", tmp_path)
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), str(ROOT / "src")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["outside"] == [], "modules came from outside the asset"
    assert set(result["loaded"]) == bundled
    assert "billing_audit.pipeline" not in bundled and "billing_audit.smartsheet.sdk_client" not in bundled


def test_every_function_folder_is_deployed() -> None:
    # A folder under functions/ is a deployed function; a feature that is not built has neither.
    assert {path.name for path in (ROOT / "functions").iterdir() if path.is_dir()} == set(FUNCTIONS)


def test_functions_is_not_a_package() -> None:
    # Each folder is its own asset root; an __init__.py would make handler imports relative.
    assert not list((ROOT / "functions").rglob("__init__.py"))
