"""`billing-audit backup run|list|verify` and `billing-audit restore`: the sheet backups in the backup
bucket, checked and restored from this machine (never over a live sheet)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from billing_audit.cli.arguments import iso_day
from billing_audit.cli.exits import PROGRAM, ExitCode
from billing_audit.config import load_config
from billing_audit.domain.backup import manifest_key
from billing_audit.pipeline.backup import (
    BackupOutcome,
    DayListing,
    Verification,
    diff_with_live,
    latest_day,
    list_backups,
    load_sheet_backup,
    restore_as_new,
    run_backup,
    verify_backup,
)
from billing_audit.resources import CONFIG_ENV, CONFIG_PARAMETER_ENV
from billing_audit.settings import BackupSettings, load
from billing_audit.wiring import audit_config, backup_dependencies


def _size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB" if count >= 100_000 else f"{count:,} bytes"


# ----- backup run --------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    settings = load(BackupSettings)
    config = load_config(args.config) if args.config is not None else audit_config(settings)
    deps = backup_dependencies(settings)
    day = args.date if args.date else deps.clock().astimezone(config.zone).date()
    outcome = run_backup(config, deps, day, sheet_ids=args.sheet or None)
    print(render_run(outcome, deps.archive.call_counts()))
    return ExitCode.DEPENDENCY_FAILED if outcome.failed else ExitCode.OK


def render_run(outcome: BackupOutcome, calls: dict[str, int]) -> str:
    if outcome.already_done:
        return f"The backup of {outcome.day.isoformat()} is complete already: {manifest_key(outcome.day)}"
    lines = [
        f"sheet {entry.sheet_id} {entry.name}: version {entry.version}, {entry.row_count} rows -> "
        + ", ".join(f"{stored.key} sha256:{stored.sha256}" for stored in entry.objects.values())
        for entry in outcome.backed_up
    ]
    lines += [f"sheet {failed.sheet_id}: not backed up: {failed.error}" for failed in outcome.failed]
    if outcome.complete:
        lines.append(f"Manifest {manifest_key(outcome.day)} ({outcome.tier.value})")
    else:
        lines.append(f"Stopped for time: {outcome.sheets_left} sheets left for the next run of the day")
    lines.append(f"API calls: {sum(calls.values())}")
    return "\n".join(lines)


# ----- backup list -------------------------------------------------------------------------------


def _list(_args: argparse.Namespace) -> int:
    deps = backup_dependencies(load(BackupSettings))
    print(render_list(list_backups(deps.store)))
    return ExitCode.OK


def render_list(days: list[DayListing]) -> str:
    if not days:
        return "No backups."
    lines = []
    for listing in days:
        manifest = listing.manifest
        if manifest is None:
            lines.append(f"{listing.day.isoformat()}  in progress (no manifest yet)")
            continue
        objects = [stored for _entry, stored in manifest.objects()]
        failed = f", {len(manifest.failed)} sheets failed" if manifest.failed else ""
        lines.append(
            f"{listing.day.isoformat()}  {manifest.tier.value:<7}  {len(manifest.sheets)} sheets, "
            f"{sum(entry.row_count for entry in manifest.sheets):,} rows, {len(objects)} objects, "
            f"{_size(sum(stored.bytes for stored in objects))}{failed}  {manifest_key(manifest.day)}"
        )
        for entry in manifest.sheets:
            lines.append(f"    sheet {entry.sheet_id} {entry.name}: version {entry.version}, {entry.row_count:,} rows")
    return "\n".join(lines)


# ----- backup verify -----------------------------------------------------------------------------


def _verify(args: argparse.Namespace) -> int:
    deps = backup_dependencies(load(BackupSettings))
    day = args.date if args.date else latest_day(deps.store)
    result = verify_backup(deps.store, day)
    print(render_verify(result))
    if not result.ok:
        print(f"{PROGRAM}: the backup of {day.isoformat()} failed verification", file=sys.stderr)
        return ExitCode.CHECK_FAILED
    return ExitCode.OK


def render_verify(result: Verification) -> str:
    lines = [problem.line() for problem in result.problems]
    verdict = "every SHA-256 matches its manifest" if result.ok else f"{len(result.problems)} problems"
    lines.append(
        f"Backup {result.day.isoformat()}: {result.checked} objects re-read ({_size(result.bytes)}), {verdict}"
    )
    return "\n".join(lines)


# ----- restore -----------------------------------------------------------------------------------


def _restore(args: argparse.Namespace) -> int:
    deps = backup_dependencies(load(BackupSettings))
    day = args.date
    entry, backup = load_sheet_backup(deps.store, args.sheet, day)
    if args.as_new_sheet:
        name = args.name or f"{backup.sheet.name} (restored {day.isoformat()})"
        restored = restore_as_new(deps.archive, backup, name)
        print(
            f"Restored sheet {entry.sheet_id} ({entry.name}, version {entry.version}) from {day.isoformat()} as "
            f'new sheet {restored.sheet_id} "{restored.name}": {restored.columns} columns, {restored.rows} rows '
            f"in {restored.requests} requests"
        )
        if restored.attachments_not_copied or restored.discussions_not_copied:
            print(
                f"Not copied (listed in the backup): {restored.attachments_not_copied} attachments, "
                f"{restored.discussions_not_copied} discussions"
            )
        return ExitCode.OK
    live_id, match, differences = diff_with_live(deps.archive, backup, args.against)
    against = f"live sheet {live_id}" + (" (rows matched by position)" if match == "position" else "")
    for difference in differences:
        print(difference.line())
    summary = f"{len(differences)} differences" if differences else "No differences"
    print(f"{summary} between the backup of sheet {entry.sheet_id} of {day.isoformat()} and {against}")
    return ExitCode.OK


# ----- registration --------------------------------------------------------------------------------


def register_backup(commands: Any) -> None:
    backup = commands.add_parser("backup", help="sheet backups: take one now, list them, verify their checksums")
    actions = backup.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="back up the configured sheets now (goes on from today's run)")
    run.add_argument(
        "--date", type=iso_day, help="the backup's day, YYYY-MM-DD (default: today in the business time zone)"
    )
    run.add_argument("--sheet", type=int, action="append", help="only this sheet id (repeatable)")
    run.add_argument(
        "--config",
        type=Path,
        help=f"configuration file (default: the parameter ${CONFIG_PARAMETER_ENV} names, ${CONFIG_ENV} over it)",
    )
    run.set_defaults(func=_run)
    listing = actions.add_parser("list", help="every day's backup: tier, sheets, rows, objects, size")
    listing.set_defaults(func=_list)
    verify = actions.add_parser("verify", help="re-read every object of a day's backup and check its SHA-256")
    verify.add_argument("--date", type=iso_day, help="the backup's day, YYYY-MM-DD (default: the latest)")
    verify.set_defaults(func=_verify)


def register_restore(commands: Any) -> None:
    restore = commands.add_parser(
        "restore", help="restore a sheet's backup as a new sheet, or diff it with a live sheet"
    )
    restore.add_argument("--sheet", type=int, required=True, help="the backed-up sheet's id")
    restore.add_argument("--date", required=True, type=iso_day, help="the backup's day, YYYY-MM-DD")
    how = restore.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--as-new-sheet", action="store_true", help="build a new sheet from the backup (never the live one)"
    )
    how.add_argument("--diff", action="store_true", help="print cell by cell what differs from the live sheet")
    restore.add_argument("--name", help="the new sheet's name (default: '<name> (restored <date>)')")
    restore.add_argument(
        "--against", type=int, help="with --diff: compare with this sheet instead (a restored copy), row by row"
    )
    restore.set_defaults(func=_restore)
