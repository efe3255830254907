"""`billing-audit compliance-report`: a SOX or GDPR report of one period, as Excel and HTML."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from billing_audit.cli.arguments import at_zone, check_period, iso_moment, make_output_dir
from billing_audit.cli.exits import ExitCode
from billing_audit.config import load_config
from billing_audit.errors import BadInput
from billing_audit.pipeline.compliance import STANDARDS, ComplianceReport, build_compliance
from billing_audit.pipeline.reports.compliance_render import render_compliance_html, render_compliance_workbook
from billing_audit.resources import CONFIG_ENV
from billing_audit.settings import ComplianceSettings, load
from billing_audit.wiring import audit_config, compliance_dependencies


def _compliance(args: argparse.Namespace) -> int:
    check_period(args.since, args.until)
    config = load_config(args.config) if args.config is not None else audit_config(load(ComplianceSettings))
    since, until = at_zone(args.since, config.zone), at_zone(args.until, config.zone)
    out = make_output_dir(args.out)
    settings = load(ComplianceSettings)
    deps = compliance_dependencies(
        config, settings, check_trail=not args.no_trail_check, pseudonymize=args.pseudonymize
    )
    try:
        report = build_compliance(args.standard, since, until, config, deps)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    stem = f"compliance-{args.standard.lower()}-{report.since:%Y%m%d}-{report.until:%Y%m%d}"
    workbook, page = out / f"{stem}.xlsx", out / f"{stem}.html"
    workbook.write_bytes(render_compliance_workbook(report))
    page.write_text(render_compliance_html(report), encoding="utf-8")
    print(render(report, workbook, page))
    return ExitCode.OK


def render(report: ComplianceReport, workbook: Path, page: Path) -> str:
    lines = [f"{report.title}, {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} ({report.zone})"]
    lines.append(f"Overall: {report.overall}")
    lines += [f"  {status.label:<11} {status.control}: {status.detail}" for status in report.statuses]
    lines += [f"  {label}: {value}" for label, value in report.facts]
    lines.append(f"Wrote {workbook} and {page}")
    return "\n".join(lines)


def register(commands: Any) -> None:
    report = commands.add_parser(
        "compliance-report", help="a SOX or GDPR compliance report of a period, as Excel and HTML"
    )
    report.add_argument("--standard", required=True, type=str.upper, choices=STANDARDS)
    report.add_argument(
        "--since", required=True, type=iso_moment, help="period start: ISO date (midnight, business zone) or date-time"
    )
    report.add_argument("--until", required=True, type=iso_moment, help="period end (exclusive): ISO date or date-time")
    report.add_argument("--out", type=Path, default=Path("."), help="directory for the two files (default: here)")
    report.add_argument(
        "--pseudonymize", action="store_true", help="people as keyed pseudonyms (key: the pseudonym-key secret)"
    )
    report.add_argument(
        "--no-trail-check", action="store_true", help="state the trail as not checked instead of verifying it now"
    )
    report.add_argument(
        "--config", type=Path, help=f"configuration file (default: the deployed parameter, ${CONFIG_ENV} over it)"
    )
    report.set_defaults(func=_compliance)
