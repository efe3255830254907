"""The nightly backup at real size: 10 sheets of `--rows` rows (default 20,000), the weekly-close
scenario's sheets, backed up through the real pipeline against the simulator (Smartsheet's limits
enforced on its virtual clock) into moto (an Object Lock bucket, the state table that holds the
token's shared budget and the run's progress).

Reported:
- Smartsheet calls by endpoint, against the floor of 3 a sheet (the sheet, its attachments, its
  discussions: one page each at this size);
- virtual time the run waited at Smartsheet's limits (its calls are a tenth of one minute's
  allowance, so alone it never waits);
- the share of the token's allowance it takes beside the scan: the scan drains at the
  cell-history ceiling (30 a minute, each weighing 10 of the 300), so every backup call delays the
  drain by 1/300 of a minute; that delay (computed from the calls, not co-run) and the allowance of
  the backup window (01:00 to 05:00) the backup uses;
- wall time, peak memory, bytes stored, and that `verify` re-reads every object against the manifest.

    .venv/bin/python -m bench.bench_backup [--rows 20000]   (section "backup" of bench/results.json)
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from datetime import UTC, date, datetime
from typing import Any

import boto3

from bench.bench_weekly_close import SHEETS, scenario
from bench.results_file import RESULTS, record
from billing_audit.budget import REQUESTS_PER_MINUTE
from billing_audit.config import parse_config
from billing_audit.domain.backup import Retention
from billing_audit.pipeline.backup import BackupDeps, run_backup, verify_backup
from billing_audit.smartsheet.archive import SdkSheetArchive
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.store.backups import DynamoBackupProgress, S3BackupStore
from billing_audit.store.dynamo import DynamoRequestBudget
from billing_audit_local.cloud import LocalCloud
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario

BACKUP_WINDOW_MINUTES = 4 * 60  # the schedule's hourly slots, 01:00 to 04:00, and the last one's hour
CALLS_PER_SHEET = 3  # GET /sheets/{id}, its attachments, its discussions


def _cloud(local: LocalCloud) -> None:
    local.client("dynamodb").create_table(
        TableName="state",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    local.client("s3").create_bucket(Bucket="backups", ObjectLockEnabledForBucket=True)


def run(rows: int) -> dict[str, Any]:
    document, _replayed, _violations = scenario(rows)
    document["edits"] = []  # the sheets as they stand: the backup reads them whole
    sim = Simulator(parse_scenario(document))
    config = parse_config({"timezone": "America/Chicago", "sheets": {"sheet_ids": [9000 + s for s in range(SHEETS)]}})
    with LocalCloud() as local, sim:
        _cloud(local)
        clock = lambda: sim.now  # noqa: E731 - the simulator's clock
        state = boto3.resource("dynamodb").Table("state")
        sdk = SdkSmartsheet(
            token=sim.token,
            api_base=str(sim.api_base),
            backoff=ExponentialBackoff(base_seconds=0.05, sleep=sim.sleep),
            budget=DynamoRequestBudget(state, clock),
            sleep=sim.sleep,
        )
        deps = BackupDeps(
            archive=SdkSheetArchive(sdk),
            gateway=sdk,
            store=S3BackupStore(boto3.client("s3"), "backups", "GOVERNANCE"),
            progress=DynamoBackupProgress(state),
            clock=clock,
            retention=Retention(),
        )
        sim.reset_call_counts()
        sim.reset_virtual_elapsed()
        started = time.perf_counter()
        outcome = run_backup(config, deps, date(2026, 12, 1))
        wall = time.perf_counter() - started
        virtual = sim.virtual_elapsed.total_seconds()
        calls = dict(sim.call_counts)
        check_started = time.perf_counter()
        verification = verify_backup(deps.store, date(2026, 12, 1))
        check_wall = time.perf_counter() - check_started
    total = sum(calls.values())
    floor_calls = CALLS_PER_SHEET * SHEETS
    return {
        "rows_per_sheet": rows,
        "sheets": SHEETS,
        "complete": outcome.complete and not outcome.failed,
        "rows_backed_up": sum(entry.row_count for entry in outcome.backed_up),
        "api_calls": total,
        "api_calls_by_endpoint": calls,
        "api_calls_floor": floor_calls,
        "api_calls_ratio": round(total / floor_calls, 2),
        "virtual_seconds": round(virtual, 1),
        "scan_drain_delay_seconds": round(total * 60 / REQUESTS_PER_MINUTE, 1),
        "window_allowance_share": round(total / (REQUESTS_PER_MINUTE * BACKUP_WINDOW_MINUTES), 6),
        "bytes_stored": verification.bytes,
        "objects": verification.checked,
        "verified": verification.ok,
        "verify_wall_seconds": round(check_wall, 1),
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args, _others = parser.parse_known_args(argv)
    figures = run(args.rows)
    record("backup", figures)
    print(
        f"backup of {SHEETS} x {args.rows:,} rows: {figures['api_calls']} calls (floor {figures['api_calls_floor']}), "
        f"{figures['virtual_seconds']} s of virtual time waited at the limits, "
        f"delays a concurrent scan drain by {figures['scan_drain_delay_seconds']} s, "
        f"{figures['bytes_stored'] / 1e6:.1f} MB in {figures['objects']} objects verified={figures['verified']}, "
        f"{figures['wall_seconds']} s wall, {figures['peak_rss_mb']} MB peak -> {RESULTS}"
    )
    return 0 if figures["complete"] and figures["verified"] else 1


if __name__ == "__main__":
    sys.exit(main())
