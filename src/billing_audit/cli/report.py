"""`billing-audit report`: a report now, of the events detected in a window, and its links."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from billing_audit.cli.arguments import at_zone, iso_moment
from billing_audit.cli.exits import PROGRAM, ExitCode
from billing_audit.config import load_config
from billing_audit.errors import BadInput
from billing_audit.pipeline.reports.build import ReportOutcome, ReportRequest, build_report
from billing_audit.pipeline.reports.links import links_again
from billing_audit.resources import CONFIG_ENV, REPORT_LINK_BASE_ENV
from billing_audit.settings import ReportSettings, load
from billing_audit.wiring import audit_config, report_dependencies


def _report(args: argparse.Namespace) -> int:
    settings = load(ReportSettings)
    config = load_config(args.config) if args.config is not None else audit_config(settings)
    if settings.link_base_url is None:
        print(
            f"{PROGRAM}: {REPORT_LINK_BASE_ENV} is not set: links are presigned with your credentials and "
            "stop working when they expire (at most 7 days)",
            file=sys.stderr,
        )
    request = ReportRequest(
        kind="on_demand",
        since=at_zone(args.since, config.zone) if args.since else None,
        until=at_zone(args.until, config.zone) if args.until else None,
        sheet_ids=args.sheet or [],
        force=args.force,
        link_days=settings.link_days,
    )
    deps = report_dependencies(settings)
    try:
        outcome = build_report(request, deps, zone=config.zone, configured_sheets=config.sheets.sheet_ids)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if outcome.previous is not None and outcome.record is None:
        # Nothing new: the last report's links again, issued now (the ledger keeps none).
        again = links_again(outcome.previous, deps.links, deps.clock())
        outcome.previous = outcome.previous.model_copy(update={"links": again})
    print(render(outcome))
    return ExitCode.OK


def render(outcome: ReportOutcome) -> str:
    if outcome.record is None:
        previous = outcome.previous
        lines = ["No events detected since the last report; nothing built (--force builds one anyway)."]
        if previous is not None:
            lines.append(f"Last report {previous.report_id}, built {previous.built_at.isoformat()}:")
            lines += [f"  {name}: {link}" for name, link in previous.links.items()]
            if previous.links:
                lines.append(f"  links expire {previous.links_expire_at.isoformat()}")
            else:
                lines.append(f"  its links expired {previous.links_expire_at.isoformat()}")
        return "\n".join(lines)
    record = outcome.record
    lines = [
        f"Report {record.report_id}: {record.events} events, {record.violations} violations, "
        f"detected {record.since.isoformat()} to {record.until.isoformat()}",
    ]
    for name, link in record.links.items():
        lines.append(f"  {name}: {link}")
        lines.append(f"    s3 key {record.keys[name]} sha256:{record.sha256[name]}")
    lines.append(f"  links expire {record.links_expire_at.isoformat()}")
    return "\n".join(lines)


def register(commands: Any) -> None:
    report = commands.add_parser("report", help="build a report of the stored events now and print its links")
    report.add_argument(
        "--since", type=iso_moment, help="window start: ISO date or date-time (default: 7 days before --until)"
    )
    report.add_argument("--until", type=iso_moment, help="window end: ISO date or date-time (default: now)")
    report.add_argument("--sheet", type=int, action="append", help="only this sheet id (repeatable)")
    report.add_argument("--force", action="store_true", help="build one even when nothing was detected since the last")
    report.add_argument(
        "--config", type=Path, help=f"configuration file (default: the deployed parameter, ${CONFIG_ENV} over it)"
    )
    report.set_defaults(func=_report)
