"""The event store: events written a second through the DynamoDB adapter against raw boto3.

`--events` (default 5,000) events, in the batches a scan stores them (one row's findings, a few
at a time, `--batch` default 4), through `DynamoEventStore.add` (each event written only if new,
as the product must know which are new) on the local cloud's moto server; then the same items
through the raw `batch_write_item` floor (25 a request, unprocessed items resent) into the same
table under other ids.  A second pass of `add` over the same events measures the replay a retried
run makes (every event already stored: nothing new).

    .venv/bin/python -m bench.bench_event_store [--events 5000]   (section "event_store" of bench/results.json)
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.results_file import RESULTS, publish

BATCH_WRITE_LIMIT = 25


def events(count: int) -> list[Any]:
    from billing_audit.domain.models import AuditEvent, DetectedVia, EventType

    start = datetime(2026, 11, 24, 9, tzinfo=UTC)
    return [
        AuditEvent(
            event_id=f"bench-{n:08d}",
            sheet_id=9000 + n % 10,
            sheet_name=f"Crew {n % 10} Billing",
            row_id=900_000_000 + n,
            work_request=f"WR-{n}",
            column="Quantity",
            old_value=10,
            new_value=11,
            changed_at=start + timedelta(seconds=n),
            changed_by="bob@example.com",
            type=EventType.POST_CLOSE_CHANGE,
            violation=True,
            financial_impact=100.0,
            detected_at=start + timedelta(hours=1, seconds=n),
            detected_via=DetectedVia.SCAN,
        )
        for n in range(count)
    ]


def run(count: int, batch: int) -> dict[str, Any]:
    import boto3
    from boto3.dynamodb.types import TypeSerializer

    from billing_audit import resources as res
    from billing_audit.store.dynamo import DynamoEventStore
    from billing_audit_local.cloud import LocalCloud
    from billing_audit_local.environment import deployed_name

    found = events(count)
    with LocalCloud() as cloud:
        cloud.provision()
        table_name = deployed_name(res.EVENTS_TABLE.env_var)
        store = DynamoEventStore(boto3.resource("dynamodb").Table(table_name), retention_days=365)
        started = time.perf_counter()
        stored = sum(len(store.add(found[i : i + batch])) for i in range(0, count, batch))
        adapter_seconds = time.perf_counter() - started
        started = time.perf_counter()
        replayed = sum(len(store.add(found[i : i + batch])) for i in range(0, count, batch))
        replay_seconds = time.perf_counter() - started
        # The floor: the very items the adapter writes, under other ids, 25 a request.
        serializer = TypeSerializer()
        items = []
        for event in found:
            item = store._item(event)
            item["event_id"] = "floor-" + item["event_id"]
            items.append({key: serializer.serialize(value) for key, value in item.items()})
        client = boto3.client("dynamodb")
        started = time.perf_counter()
        for i in range(0, count, BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {table_name: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        floor_seconds = time.perf_counter() - started
        total = client.describe_table(TableName=table_name)["Table"].get("ItemCount")
    adapter_rate, floor_rate = count / adapter_seconds, count / floor_seconds
    return {
        "events": count,
        "batch": batch,
        "stored_new": stored,
        "replayed_new": replayed,
        "adapter_events_per_s": round(adapter_rate, 1),
        "replay_events_per_s": round(count / replay_seconds, 1),
        "floor_events_per_s": round(floor_rate, 1),
        "floor_ratio": round(floor_rate / adapter_rate, 2),
        "items_in_table": total,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="events written (default 5,000)")
    parser.add_argument("--batch", type=int, default=4, help="events a call to add (default 4)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: bench/results.json)")
    args = parser.parse_args(argv)
    result = run(args.events, args.batch)
    publish("event_store", result, args.out)
    return 0 if result["stored_new"] == args.events and result["replayed_new"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
