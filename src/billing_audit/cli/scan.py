"""`billing-audit scan`: one incremental scan of the configured sheets, from this machine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from billing_audit.cli.exits import PROGRAM, ExitCode
from billing_audit.config import AuditConfig, load_config
from billing_audit.pipeline.backlog import ScanResult
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import run_scan
from billing_audit.resources import CONFIG_ENV, CONFIG_PARAMETER_ENV, MODELS_BUCKET
from billing_audit.settings import AuditSettings, ConfigSettings, load
from billing_audit.wiring import audit_config, aws_dependencies


def _notice(text: str) -> None:
    print(f"{PROGRAM}: {text}", file=sys.stderr)


def scan_dependencies(config: AuditConfig, settings: AuditSettings | None = None) -> AuditDeps:
    """The scheduled scan's adapters, scoring as it does: with the deployment's latest anomaly model
    where the models bucket is known, else with the rules alone, said in one line on stderr."""
    settings = settings if settings is not None else load(AuditSettings)
    deps = aws_dependencies(config, settings)
    if settings.models_bucket:
        # Imported here: scikit-learn loads only for a scan that can score with it.
        from billing_audit.model_wiring import model_scorer

        deps.anomaly = model_scorer(
            config,
            settings.models_bucket,
            on_unavailable=lambda reason: _notice(
                f"anomaly model unavailable ({reason}): scoring with the rules alone"
            ),
        )
    else:
        _notice(f"{MODELS_BUCKET.env_var} not set: scoring with the rules alone")
    return deps


def _scan(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config is not None else audit_config(load(ConfigSettings))
    deps = scan_dependencies(config)
    # A dry run reads the state from AWS and writes nothing anywhere (run_scan keeps its writes in memory).
    result = run_scan(config, deps, args.sheet or None, dry_run=args.dry_run, accept_columns=args.accept_columns)
    for failed in result.failed:
        print(f"{PROGRAM}: sheet {failed.sheet_id} not scanned: {failed.error}", file=sys.stderr)
    print(render(result, deps.smartsheet.call_counts()))
    return ExitCode.DEPENDENCY_FAILED if result.failed else ExitCode.OK


def render(result: ScanResult, call_counts: dict[str, Any]) -> str:
    lines: list[str] = []
    for sheet in result.sheets:
        if sheet.error is not None:
            continue  # told on stderr by _scan
        if sheet.held is not None:
            status = f"held: {sheet.held} (restore the column, or accept the columns: --accept-columns)"
        elif sheet.baseline:
            status = "baseline taken" + (f"; it has no column {', '.join(sheet.lacks)}" if sheet.lacks else "")
        elif sheet.unchanged:
            status = "unchanged"
        else:
            status = (
                f"{sheet.rows_modified} modified, {sheet.rows_added} added, {sheet.rows_deleted} deleted, "
                f"{sheet.history_reads} cell histories, {len(sheet.events)} events ({sheet.new_events} new)"
            )
        lines.append(f"sheet {sheet.sheet_id} {sheet.sheet_name}: {status}")
        lines.extend("  " + json.dumps(event.to_record()) for event in sheet.events)
    lines.append("API calls: " + json.dumps(call_counts, sort_keys=True))
    return "\n".join(lines)


def register(commands: Any) -> None:
    scan = commands.add_parser("scan", help="scan the configured sheets once")
    scan.add_argument("--sheet", type=int, action="append", help="only this sheet id (repeatable)")
    scan.add_argument("--dry-run", action="store_true", help="detect and print, write nothing")
    scan.add_argument(
        "--accept-columns",
        action="store_true",
        help="accept the sheets' columns as they are now: ends a hold on a renamed, deleted or re-created rule column",
    )
    scan.add_argument(
        "--config",
        type=Path,
        help=f"configuration file (default: the parameter ${CONFIG_PARAMETER_ENV} names, ${CONFIG_ENV} over it)",
    )
    scan.set_defaults(func=_scan)
