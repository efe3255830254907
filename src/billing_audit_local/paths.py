"""Where the local tooling finds the checkout it runs from.

The tooling is never bundled into a Lambda asset: it runs from a clone of the repository (an
editable install), so the repository is the nearest folder above this package that holds
`cdk.json`. `BILLING_AUDIT_REPO` points elsewhere when that is not so.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

REPO_ENV = "BILLING_AUDIT_REPO"
FUNCTIONS_DIR_ENV = "BILLING_AUDIT_FUNCTIONS_DIR"


class CheckoutNotFound(RuntimeError):
    """The tooling is not running from a checkout of the repository."""


def _override(env_var: str) -> Path | None:
    """The folder an environment variable points the tooling at, if it is set."""
    value = os.environ.get(env_var)
    return Path(value) if value else None


@cache
def repo_root() -> Path:
    override = _override(REPO_ENV)
    if override is not None:
        return override.resolve()
    for folder in Path(__file__).resolve().parents:
        if (folder / "cdk.json").is_file():
            return folder
    raise CheckoutNotFound(f"no cdk.json above {Path(__file__).parent}: set {REPO_ENV} to the repository")


def functions_dir() -> Path:
    """functions/ of the repository (or $BILLING_AUDIT_FUNCTIONS_DIR)."""
    return _override(FUNCTIONS_DIR_ENV) or repo_root() / "functions"
