"""The cloud assembly of infra/app.py, synthesized without bundling and cached by what it depends on.

Assets stay the plain source folders (`bundling=skip`): moto stores Lambda code but never runs it.
The cache lives in `.build/moto-synth/<hash of infra/, cdk.json, the config and the shared
definitions>/`; the newest few assemblies are kept, older ones belong to edited infra code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from billing_audit.config import AuditConfig
from billing_audit_local.deploy.errors import DeployError
from billing_audit_local.paths import repo_root

REPO_ROOT = repo_root()
CACHE_DIR = REPO_ROOT / ".build" / "moto-synth"
# What the synthesized template depends on (function code does not matter to moto).
SYNTH_INPUTS = ("infra", "cdk.json", "src/billing_audit/resources.py", "src/billing_audit/domain/policy.py")


def synth_key(context: dict[str, Any]) -> str:
    """A hash of the synth context, the inputs above, the deployment config and the CDK version."""
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    for relative in SYNTH_INPUTS:
        path = REPO_ROOT / relative
        files = sorted(p for p in path.rglob("*.py*") if "__pycache__" not in p.parts) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                digest.update(str(file.relative_to(REPO_ROOT)).encode())
                digest.update(file.read_bytes())
    config = REPO_ROOT / "infra" / "config.json"
    if config.exists():
        digest.update(config.read_bytes())
    # The stack stores the audit configuration as AuditConfig dumps it, every default included:
    # a setting added, renamed or removed anywhere in the model changes the template.
    digest.update(json.dumps(AuditConfig.model_json_schema(), sort_keys=True).encode())
    try:
        digest.update(version("aws-cdk-lib").encode())
    except PackageNotFoundError:
        digest.update(b"no-aws-cdk-lib")
    return digest.hexdigest()[:20]


def synthesize(context: dict[str, Any] | None = None, *, use_cache: bool = True) -> Path:
    """The cloud assembly (cdk.out) of the app, synthesized without bundling; cached by input hash."""
    app = REPO_ROOT / "infra" / "app.py"
    if not app.exists():
        raise DeployError(f"deploy_stack needs the repository checkout: {app} is missing")
    full_context = {
        "bundling": "skip",
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:enable-path-metadata": True,
        **(context or {}),
    }
    target = CACHE_DIR / synth_key(full_context)
    if use_cache and (target / ".complete").exists():
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="synth-", dir=CACHE_DIR))
    # The synth runs in a child process (the CDK app); it inherits this one's environment.
    env = {
        **os.environ,
        "CDK_OUTDIR": str(work),
        "CDK_CONTEXT_JSON": json.dumps(full_context),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
    }
    result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter and the repo's app
        [sys.executable, str(app)], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise DeployError(f"cdk synth failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    (work / ".complete").write_text("ok", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    try:
        work.rename(target)
    except OSError:  # another process finished the same synth first
        shutil.rmtree(work, ignore_errors=True)
    prune_cache(keep=target)
    return target


def prune_cache(keep: Path, entries: int = 4) -> None:
    """Keep the newest few synthesized assemblies; older ones belong to edited infra code."""
    done = sorted(
        (p for p in CACHE_DIR.iterdir() if (p / ".complete").exists() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in done[entries - 1 :]:
        shutil.rmtree(stale, ignore_errors=True)
