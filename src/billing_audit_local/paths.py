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
SHARED_DIR_ENV = "BILLING_AUDIT_SHARED"


class CheckoutNotFound(RuntimeError):
    """The tooling is not running from a checkout of the repository."""


@cache
def repo_root() -> Path:
    override = os.environ.get(REPO_ENV)
    if override:
        return Path(override).resolve()
    for folder in Path(__file__).resolve().parents:
        if (folder / "cdk.json").is_file():
            return folder
    raise CheckoutNotFound(f"no cdk.json above {Path(__file__).parent}: set {REPO_ENV} to the repository")


def functions_dir() -> Path:
    """functions/ of the repository (or $BILLING_AUDIT_FUNCTIONS_DIR)."""
    override = os.environ.get(FUNCTIONS_DIR_ENV)
    return Path(override) if override else repo_root() / "functions"


def shared_dir() -> Path:
    """The `shared` folder beside the repository (or $BILLING_AUDIT_SHARED)."""
    override = os.environ.get(SHARED_DIR_ENV)
    return Path(override) if override else repo_root().parent / "shared"
