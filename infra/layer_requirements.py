"""Each Lambda layer's requirements, exported from uv.lock: the lock the venv is built from too.

`make layers` (`python -m infra.layer_requirements`) rewrites `layers/<name>/requirements.txt`
with the lock's pins and hashes for the packages that layer ships; tests/infra/test_layer_lock.py
fails when a file is not what the lock exports now, or names a version the tests did not run on.
Nobody edits those files by hand: change pyproject.toml, `make lock`, and the layers follow.

The lock is universal (every Python and platform); a layer is for one, Lambda's CPython 3.12 on
manylinux x86_64, so requirements whose markers exclude it are left out.  What the Lambda runtime
already provides (boto3, botocore, s3transfer) is left out too: the runtime's own copy is imported.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

from infra.constants import LAYERS_DIR, LIGHT_LAYER, ML_LAYER, PYTHON_VERSION, REPO_ROOT

LOCK_FILE = REPO_ROOT / "uv.lock"
# Packages the Lambda Python runtime already provides: no layer ships them.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# The project's extras each layer ships beyond its runtime dependencies (none: the light layer is
# `[project.dependencies]` alone; the ML layer is the `ml` extra).
LAYER_EXTRAS: dict[str, tuple[str, ...]] = {LIGHT_LAYER: (), ML_LAYER: ("ml",)}
# A layer that is only ever attached on top of another leaves out what that one ships: a function
# with both gets one copy of each package, at the light layer's version.
LAYER_BASE: dict[str, str] = {ML_LAYER: LIGHT_LAYER}
# Marker values of Lambda's python3.12 x86_64 runtime.
LAMBDA_MARKERS = {
    "python_version": PYTHON_VERSION,
    "python_full_version": f"{PYTHON_VERSION}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}
HEADER = (
    "# Generated from uv.lock by `make layers` (infra/layer_requirements.py); do not edit.\n"
    "# For Lambda's CPython {python} on x86_64; {provided} come with the runtime.\n"
)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]

    def render(self) -> str:
        return " \\\n".join([f"{self.name}=={self.version}", *(f"    --hash={h}" for h in self.hashes)])


def uv_executable() -> str:
    """The venv's uv (the Makefile installs it), else one on PATH."""
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        raise RuntimeError("uv is not installed: run `make install`")
    return found


def _exported(extras: tuple[str, ...]) -> str:
    command = [
        uv_executable(), "export", "--frozen", "--format", "requirements-txt",
        "--no-emit-project", "--no-annotate", "--no-header",
        *(f"--extra={extra}" for extra in extras),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True, text=True)  # noqa: S603
    return done.stdout


def parse_export(text: str) -> list[tuple[Requirement, tuple[str, ...]]]:
    """(requirement, hashes) of each entry of a requirements file (continuation lines joined)."""
    entries = []
    for logical in text.replace("\\\n", " ").splitlines():
        logical = logical.strip()
        if not logical or logical.startswith("#"):
            continue
        spec, *hashes = logical.split("--hash=")
        entries.append((Requirement(spec.strip()), tuple(h.strip() for h in hashes)))
    return entries


def layer_pins(export: str) -> list[Pin]:
    """The entries of a lock export that a Lambda layer ships: for Lambda's Python, not the runtime's own."""
    pins = []
    for requirement, hashes in parse_export(export):
        if requirement.marker is not None and not requirement.marker.evaluate(LAMBDA_MARKERS):
            continue
        if requirement.name.lower() in RUNTIME_PROVIDED:
            continue
        (specifier,) = requirement.specifier  # the lock pins exactly one version
        if specifier.operator != "==" or not hashes:
            raise ValueError(f"{requirement}: a lock export pins one version with its hashes")
        pins.append(Pin(requirement.name, specifier.version, hashes))
    return pins


def render(pins: list[Pin]) -> str:
    header = HEADER.format(python=PYTHON_VERSION, provided=", ".join(RUNTIME_PROVIDED))
    return header + "".join(pin.render() + "\n" for pin in pins)


def requirements_file(layer: str) -> Path:
    return LAYERS_DIR / layer / "requirements.txt"


def expected(layer: str) -> str:
    """What layers/<layer>/requirements.txt must hold for the current lock."""
    pins = layer_pins(_exported(LAYER_EXTRAS[layer]))
    base = LAYER_BASE.get(layer)
    if base is not None:
        shipped = {pin.name.lower() for pin in layer_pins(_exported(LAYER_EXTRAS[base]))}
        pins = [pin for pin in pins if pin.name.lower() not in shipped]
    return render(pins)


def pinned_versions(text: str) -> dict[str, str]:
    """name -> version of every pin in a layer's requirements file."""
    return {name: version for name, version in _PIN.findall(text)}


def main() -> int:
    for layer in LAYER_EXTRAS:
        path = requirements_file(layer)
        path.write_text(expected(layer), encoding="utf-8")
        print(f"{path.relative_to(REPO_ROOT)}: {len(pinned_versions(path.read_text(encoding='utf-8')))} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
