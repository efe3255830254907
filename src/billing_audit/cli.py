"""The `billing-audit` command. Bad input ends in one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from billing_audit.config import ConfigError
from billing_audit.resources import MissingSetting
from billing_audit.simulator.scenario import ScenarioError
from billing_audit.smartsheet.gateway import SmartsheetError

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def _demo(args: argparse.Namespace) -> int:
    from billing_audit.local.demo import render_summary, run_demo

    result = run_demo(args.scenario, mode=args.mode, out_dir=args.out)
    print(render_summary(result, args.out))
    return 0


def _scan(args: argparse.Namespace) -> int:
    from billing_audit.config import load_config
    from billing_audit.pipeline.deps import AuditDeps
    from billing_audit.pipeline.scan import run_scan
    from billing_audit.pipeline.wiring import aws_dependencies
    from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore

    config = load_config(args.config)
    if args.dry_run:
        # Detect and print only: state is read from AWS but nothing is written anywhere.
        aws = aws_dependencies(config)
        deps = AuditDeps(
            smartsheet=aws.smartsheet, events=MemoryEventStore(), state=aws.state, alerts=MemoryAlertPublisher()
        )
    else:
        deps = aws_dependencies(config)
    result = run_scan(config, deps, args.sheet or None, dry_run=args.dry_run)
    for sheet in result.sheets:
        if sheet.error is not None:
            print(f"billing-audit: sheet {sheet.sheet_id} not scanned: {sheet.error}", file=sys.stderr)
            continue
        status = (
            "baseline taken"
            if sheet.baseline
            else "unchanged"
            if sheet.unchanged
            else (
                f"{sheet.rows_modified} modified, {sheet.rows_added} added, {sheet.rows_deleted} deleted, "
                f"{sheet.history_reads} cell histories, {len(sheet.events)} events ({sheet.new_events} new)"
            )
        )
        print(f"sheet {sheet.sheet_id} {sheet.sheet_name}: {status}")
        for event in sheet.events:
            print("  " + json.dumps(event.to_record()))
    print("API calls: " + json.dumps(deps.smartsheet.call_counts(), sort_keys=True))
    return EXIT_FAILURE if result.failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing-audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run a scenario end to end on the local simulator and moto")
    demo.add_argument("--scenario", type=Path, help="scenario file (default: the bundled example week)")
    demo.add_argument("--out", type=Path, default=Path("out"), help="output directory (default: out)")
    demo.add_argument("--mode", choices=("scan", "webhook"), default="scan")
    demo.set_defaults(func=_demo)

    scan = commands.add_parser("scan", help="scan the configured sheets once")
    scan.add_argument("--sheet", type=int, action="append", help="only this sheet id (repeatable)")
    scan.add_argument("--dry-run", action="store_true", help="detect and print, write nothing")
    scan.add_argument("--config", type=Path, help="configuration file (default: $BILLING_AUDIT_CONFIG)")
    scan.set_defaults(func=_scan)

    from billing_audit.cli_webhooks import register as register_webhook_commands

    register_webhook_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ScenarioError, ConfigError) as exc:
        print(f"billing-audit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (SmartsheetError, MissingSetting) as exc:
        print(f"billing-audit: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (BotoCoreError, ClientError) as exc:
        print(f"billing-audit: AWS: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:
        print(f"billing-audit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
