"""`billing-audit config check|push`: validate a product configuration file, and put it in the
SSM parameter the deployed functions read it from.

`check` is offline: the file is validated by the functions' own model (AuditConfig) and measured
as it would be stored.  `push` validates the same way, then replaces the parameter's value; the
functions pick it up within their cache's max age (resources.CONFIG_CACHE_SECONDS).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import boto3

from billing_audit import resources as res
from billing_audit.config import AuditConfig, config_document, parse_config, read_config_text
from billing_audit.domain.values import counted
from billing_audit.settings import ConfigSettings, load
from billing_audit.store.parameters import ADVANCED, ConfigParameter, check_size, parameter_value, tier_for


def read_config_file(path: Path) -> AuditConfig:
    return parse_config(config_document(read_config_text(path), str(path)), str(path))


def summary(config: AuditConfig) -> str:
    """One line: what the configuration selects, and its size and tier as stored."""
    value = parameter_value(config)
    size = check_size(value, "the configuration")
    tier = "advanced" if tier_for(value) == ADVANCED else "standard"
    sheets = config.sheets
    return (
        f"{counted(len(sheets.sheet_ids), 'sheet')}, {counted(len(sheets.workspaces), 'workspace')}, "
        f"{counted(len(sheets.folders), 'folder')}, {counted(len(config.roster), 'roster user')}, "
        f"time zone {config.timezone}; {size} bytes ({tier} parameter)"
    )


def _check(args: argparse.Namespace) -> int:
    config = read_config_file(args.file)
    print(f"{args.file}: valid: {summary(config)}")
    return 0


def _push(args: argparse.Namespace) -> int:
    config = read_config_file(args.file)
    line = summary(config)  # refuses what SSM would, before any request
    name = args.parameter or load(ConfigSettings).config_parameter or res.CONFIG_PARAMETER_NAME
    version, tier, _ = ConfigParameter(name).put(config, boto3.client("ssm"))
    print(f"{name}: version {version} ({tier}): {line}; functions read it within {res.CONFIG_CACHE_SECONDS} s")
    return 0


def register(subparsers: Any) -> None:
    """Add `config {check,push}` to the billing-audit command."""
    config = subparsers.add_parser("config", help="validate the product configuration, or upload it to SSM")
    actions = config.add_subparsers(dest="config_command", required=True)

    check = actions.add_parser("check", help="validate a configuration file and print a one-line summary")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check)

    push = actions.add_parser("push", help="validate a configuration file, then put it in the SSM parameter")
    push.add_argument("file", type=Path)
    push.add_argument(
        "--parameter",
        help=f"the parameter's name (default: ${res.CONFIG_PARAMETER_ENV}, else {res.CONFIG_PARAMETER_NAME})",
    )
    push.set_defaults(func=_push)
