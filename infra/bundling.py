"""Lambda assets built on this machine, without Docker.

Two `ILocalBundling` implementations: one copies a function's folder plus the runtime modules
its handler's import graph reaches (never the local tooling); one pip-installs a layer's
requirements (exported from uv.lock with their hashes: infra/layer_requirements.py) for CPython
3.12 on manylinux x86_64 (wheels only, so nothing compiles here) and prunes what Lambda already
provides.  A built layer is cached under `.build/layers/<name>-<hash>/`
(and pip's downloads under `.build/pip-cache/`), so a second synth, or a fresh `cdk.out`, copies
instead of reinstalling.  Docker is only the fallback
CDK uses when `try_bundle` returns False (here: when pip itself is missing).

`bundling_mode(...) == "skip"` turns all of this off: assets are the plain source folders.  That
is for checks that need the template's shape only (assertions, cdk-nag, the moto deployment).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra.constants import (
    BUILD_DIR,
    BUNDLING_CONTEXT_KEY,
    BUNDLING_ENV,
    FUNCTIONS_DIR,
    LAYERS_DIR,
    PYTHON_VERSION,
    REPO_ROOT,
    SOURCE_DIR,
)
from infra.import_closure import module_closure, module_files
from infra.layer_requirements import RUNTIME_PROVIDED

BUNDLER_VERSION = "3"  # bump to invalidate every cached build
PIP_TARGET_ARGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "manylinux_2_28_x86_64",
    "--only-binary=:all:",
    "--python-version",
    PYTHON_VERSION,
    "--implementation",
    "cp",
    "--no-compile",
    # The file is a complete export of uv.lock (infra/layer_requirements.py): installed as it is,
    # every wheel checked against the lock's hashes, nothing resolved again.
    "--no-deps",
    "--require-hashes",
)
_IGNORED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".DS_Store"})
_IGNORED_SUFFIXES = (".pyc", ".pyo")


def bundling_mode(scope: cdk.App | cdk.Stack | Any) -> str:
    value = scope.node.try_get_context(BUNDLING_CONTEXT_KEY) or os.environ.get(BUNDLING_ENV) or "local"
    if value not in ("local", "skip"):
        raise ValueError(f"bundling must be 'local' or 'skip', not {value!r}")
    return str(value)


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in _IGNORED_NAMES for part in relative.parts) or path.suffix in _IGNORED_SUFFIXES:
            continue
        if path.is_file():
            yield path


def content_hash(*parts: str | bytes) -> str:
    """A stable hash of an asset's inputs; BUNDLER_VERSION is part of it, so bumping it rebuilds all."""
    digest = hashlib.sha256(BUNDLER_VERSION.encode())
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


def function_files(name: str) -> list[tuple[Path, str]]:
    """(source, path in the asset) of every file a function's asset holds: its folder, then the
    runtime modules its handler's import graph reaches (infra/import_closure.py)."""
    folder = FUNCTIONS_DIR / name
    files = [(path, path.relative_to(folder).as_posix()) for path in _files(folder)]
    modules = module_closure(folder / "handler.py")
    files += [(SOURCE_DIR / relative, relative.as_posix()) for relative in module_files(modules, SOURCE_DIR)]
    return files


@jsii.implements(cdk.ILocalBundling)
class FunctionBundling:
    """functions/<name>/* at the asset root, plus the runtime modules its handler imports."""

    def __init__(self, name: str) -> None:
        self.name = name

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        target = Path(output_dir)
        for source, relative in function_files(self.name):
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        return True


def prune_layer(root: Path) -> None:
    """Drop the runtime's own packages and bytecode caches; never anything a function imports."""
    site = root / "python"
    for name in RUNTIME_PROVIDED:
        shutil.rmtree(site / name, ignore_errors=True)
        for info in site.glob(f"{name}-*.dist-info"):
            shutil.rmtree(info, ignore_errors=True)
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)


@jsii.implements(cdk.ILocalBundling)
class LayerBundling:
    """pip install layers/<name>/requirements.txt into python/, cached under .build/."""

    def __init__(self, name: str, *, build_dir: Path = BUILD_DIR) -> None:
        self.name = name
        self.build_dir = build_dir
        self.requirements = LAYERS_DIR / name / "requirements.txt"

    @property
    def key(self) -> str:
        return content_hash(self.requirements.read_text(encoding="utf-8"), *PIP_TARGET_ARGS)

    @property
    def cached_dir(self) -> Path:
        return self.build_dir / "layers" / f"{self.name}-{self.key[:16]}"

    def build(self) -> Path:
        cached = self.cached_dir
        if (cached / ".complete").exists():
            return cached
        cached.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=cached.parent))
        try:
            command = [
                sys.executable, "-m", "pip", "install",
                "--requirement", str(self.requirements),
                "--target", str(work / "python"),
                *PIP_TARGET_ARGS,
                "--cache-dir", str(self.build_dir / "pip-cache"),
                "--disable-pip-version-check", "--no-input", "--quiet",
            ]  # fmt: skip
            subprocess.run(command, check=True, cwd=REPO_ROOT)  # noqa: S603 - fixed argv, no shell
            prune_layer(work)
            (work / ".complete").write_text(self.key, encoding="utf-8")
            shutil.rmtree(cached, ignore_errors=True)
            work.rename(cached)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return cached

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        if importlib.util.find_spec("pip") is None:
            return False  # let CDK fall back to Docker
        cached = self.build()
        shutil.copytree(cached / "python", Path(output_dir) / "python", dirs_exist_ok=True)
        return True


def function_code(scope: Any, name: str) -> lambda_.Code:
    source = FUNCTIONS_DIR / name
    if bundling_mode(scope) == "skip":
        return lambda_.Code.from_asset(str(source))
    files = function_files(name)
    # Docker is only CDK's fallback when local bundling declines, which it never does for functions;
    # the command still copies the same files.
    copies = " && ".join(
        f"install -D /asset-input/{path.relative_to(REPO_ROOT).as_posix()} /asset-output/{relative}"
        for path, relative in files
    )
    return lambda_.Code.from_asset(
        str(REPO_ROOT),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=content_hash("function", name, *(part for path, rel in files for part in (rel, path.read_bytes()))),
        bundling=cdk.BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_12.bundling_image,
            local=FunctionBundling(name),
            command=["bash", "-c", copies],
        ),
    )


def layer_code(scope: Any, name: str) -> lambda_.Code:
    source = LAYERS_DIR / name
    if bundling_mode(scope) == "skip":
        return lambda_.Code.from_asset(str(source))
    bundler = LayerBundling(name)
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=bundler.key,
        bundling=cdk.BundlingOptions(
            image=lambda_.Runtime.PYTHON_3_12.bundling_image,
            local=bundler,
            command=[
                "bash",
                "-c",
                "pip install --no-compile --no-deps --require-hashes -r requirements.txt -t /asset-output/python",
            ],
        ),
    )
