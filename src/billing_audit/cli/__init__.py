"""The `billing-audit` command: one module per command group, one exit-code table (`exits.py`).

The production groups (`config`, `scan`, `webhooks`) live here.  Other installed packages add theirs through
the `billing_audit.commands` entry point group (the local tooling adds `demo` and `serve`), so the
runtime package never imports the tooling.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import entry_points

from billing_audit.cli import configuration, scan, webhooks
from billing_audit.cli.exits import PROGRAM, run
from billing_audit.cli.tables import terminal_safe

COMMANDS_ENTRY_POINTS = "billing_audit.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="Catches, scores and reports changes to closed or locked billing rows in Smartsheet."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for entry in sorted(entry_points(group=COMMANDS_ENTRY_POINTS), key=lambda e: e.name):
        entry.load()(commands)
    configuration.register(commands)
    scan.register(commands)
    webhooks.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with terminal_safe():
        args = build_parser().parse_args(argv)
        return run(lambda: args.func(args))
