"""`billing-audit access-review`: review who can reach the audited sheets now, store and alert it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from billing_audit.cli.exits import ExitCode
from billing_audit.config import load_config
from billing_audit.domain.access import REASON_TITLES, AccessReason, AccessReviewResult
from billing_audit.domain.values import counted
from billing_audit.pipeline.access_review import run_access_review
from billing_audit.resources import CONFIG_ENV
from billing_audit.settings import AccessReviewSettings, load
from billing_audit.wiring import access_review_dependencies, audit_config


def _access_review(args: argparse.Namespace) -> int:
    settings = load(AccessReviewSettings)
    config = load_config(args.config) if args.config is not None else audit_config(settings)
    deps = access_review_dependencies(config, settings)
    result = run_access_review(config, deps, sheet_ids=args.sheet or None, alert=not args.no_alert)
    if args.out is not None:
        args.out.write_text(json.dumps(result.to_record(), indent=2) + "\n", encoding="utf-8")
    print(render(result, args.out))
    return ExitCode.OK


def render(result: AccessReviewResult, out: Path | None = None) -> str:
    lines = [
        f"Access review at {result.reviewed_at.isoformat()}: {counted(len(result.sheets), 'sheet')}, "
        f"{counted(result.people, 'person', 'people')} with access, {counted(result.approvals, 'approval')} weighed, "
        f"{counted(len(result.findings), 'finding')} (last logins from the {result.last_login_source})"
    ]
    for reason in AccessReason:
        chosen = [finding for finding in result.findings if finding.reason is reason]
        if chosen:
            lines.append(f"{REASON_TITLES[reason]} ({len(chosen)}):")
            lines += [f"  {f.person} on {f.sheet_name} ({f.sheet_id}): {f.detail}" for f in chosen]
    if out is not None:
        lines.append(f"Wrote {out}")
    return "\n".join(lines)


def register(commands: Any) -> None:
    review = commands.add_parser(
        "access-review", help="review who can reach the audited sheets now; store the result and alert one digest"
    )
    review.add_argument("--sheet", type=int, action="append", help="only this sheet id (repeatable)")
    review.add_argument("--out", type=Path, help="also write the result as JSON to this file")
    review.add_argument("--no-alert", action="store_true", help="store the result but send no digest")
    review.add_argument(
        "--config", type=Path, help=f"configuration file (default: the deployed parameter, ${CONFIG_ENV} over it)"
    )
    review.set_defaults(func=_access_review)
