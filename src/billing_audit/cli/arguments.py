"""Argument types the commands share: argparse refuses a bad value in its own one-line form."""

from __future__ import annotations

import argparse
from pathlib import Path

from billing_audit.errors import BadInput


def positive_int(text: str) -> int:
    """A count or a size: 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {value}")
    return value


def make_output_dir(path: Path, flag: str = "--out") -> Path:
    """The directory a command writes into, made now: a run must not do its work and then find it
    cannot keep the result."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{flag} {path}: a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".billing-audit-write-check"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"{flag} {path}: cannot write there ({exc.strerror or exc})") from None
    return path
