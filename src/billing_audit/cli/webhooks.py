"""`billing-audit webhooks sync|rotate|status`.

The commands talk to Smartsheet (token from SMARTSHEET_ACCESS_TOKEN or the Secrets Manager secret
named by SMARTSHEET_TOKEN_SECRET; API base from --api-base or SMARTSHEET_API_BASE) and to Secrets
Manager (standard AWS credentials; AWS_ENDPOINT_URL for moto).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import boto3

from billing_audit import resources as res
from billing_audit.clock import system_clock
from billing_audit.config import load_config
from billing_audit.pipeline.scan import resolve_sheet_ids
from billing_audit.pipeline.webhook_rotation import rotate_secrets
from billing_audit.pipeline.webhook_sync import SyncReport, mark_live, sync_webhooks
from billing_audit.settings import ConfigSettings, WebhookAdminSettings, load
from billing_audit.smartsheet.webhook_api import SmartsheetWebhooks
from billing_audit.store.secrets import WebhookSecretStore
from billing_audit.wiring import audit_config, request_budget, sdk_smartsheet, state_store


class _Admin:
    """The Smartsheet and Secrets Manager clients of one webhooks command."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.settings = load(WebhookAdminSettings)
        self.config = load_config(args.config) if args.config is not None else audit_config(load(ConfigSettings))
        budget = request_budget(self.settings.state_table) if self.settings.state_table else None
        self.sdk = sdk_smartsheet(self.settings, api_base=args.api_base, budget=budget)
        self.api = SmartsheetWebhooks(self.sdk)
        self.secrets = WebhookSecretStore(boto3.client("secretsmanager"), prefix=self.settings.secret_prefix)
        self.sheet_ids = resolve_sheet_ids(self.config, self.sdk)


def render_report(report: SyncReport) -> str:
    """The report as a table: one line per webhook, columns padded to their widest cell."""
    header = ("SHEET", "WEBHOOK", "STATUS", "ACTION", "SECRET", "CALLBACK URL")
    lines = [header] + [
        (
            str(r.sheet_id or "-"),
            str(r.webhook_id or "-"),
            r.status,
            r.action + (f" ({r.detail})" if r.detail else ""),
            str(r.sm_state),
            r.callback_url or "-",
        )
        for r in report.rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def _print_report(report: SyncReport) -> int:
    print(render_report(report))
    return 0 if report.ok else 1


def _sync(args: argparse.Namespace) -> int:
    admin = _Admin(args)
    callback_url = args.callback_url or admin.settings.webhook_url
    report = sync_webhooks(
        admin.sheet_ids, admin.api, admin.secrets, callback_url=callback_url, delete_stale=not args.keep_stale
    )
    if admin.settings.state_table:
        # From now on these sheets' callbacks are complete: the webhook path may derive from memory.
        mark_live(report, state_store(admin.settings.state_table), system_clock())
    return _print_report(report)


def _status(args: argparse.Namespace) -> int:
    admin = _Admin(args)
    return _print_report(sync_webhooks(admin.sheet_ids, admin.api, admin.secrets, callback_url=None, dry_run=True))


def _rotate(args: argparse.Namespace) -> int:
    admin = _Admin(args)
    rows = rotate_secrets(
        admin.api,
        admin.secrets,
        sheet_ids=None if args.webhook_id else admin.sheet_ids,
        webhook_ids=args.webhook_id or None,
    )
    if not rows:
        print("no billing-audit webhooks to rotate")
        return 1
    for row in rows:
        state = "rotated" if row.rotated else f"NOT rotated: {row.detail}"
        print(f"webhook {row.webhook_id} (sheet {row.sheet_id}): {state}")
    return 0 if all(row.rotated for row in rows) else 1


def _admin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help=f"configuration file (default: the parameter ${res.CONFIG_PARAMETER_ENV} names, ${res.CONFIG_ENV} on it)",
    )
    parser.add_argument(
        "--api-base", help=f"Smartsheet API base: us, eu, gov or a URL (default: ${res.SMARTSHEET_API_BASE_ENV})"
    )


def register(subparsers: Any) -> None:
    """Add `webhooks {sync,rotate,status}` to the billing-audit command."""
    webhooks = subparsers.add_parser("webhooks", help="manage the Smartsheet webhooks of the configured sheets")
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True)

    sync = actions.add_parser("sync", help="create, enable and prune webhooks; store their secrets; print status")
    _admin_arguments(sync)
    sync.add_argument("--callback-url", help=f"the webhook endpoint (default: ${res.WEBHOOK_URL_ENV})")
    sync.add_argument("--keep-stale", action="store_true", help="do not delete webhooks of unconfigured sheets")
    sync.set_defaults(func=_sync)

    rotate = actions.add_parser("rotate", help="reset the webhooks' shared secrets without refusing valid callbacks")
    _admin_arguments(rotate)
    rotate.add_argument("--webhook-id", type=int, action="append", help="only this webhook (repeatable)")
    rotate.set_defaults(func=_rotate)

    status = actions.add_parser("status", help="print the webhooks' status; change nothing")
    _admin_arguments(status)
    status.set_defaults(func=_status)
