"""`billing-audit events query|export` and `billing-audit stats`: asking the trail questions.

Every read goes through the events table's keys and indexes (store/event_query.py) or the log's own
partition, never a Scan.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from billing_audit.cli.arguments import at_zone, check_period, iso_moment, positive_int
from billing_audit.cli.exits import ExitCode
from billing_audit.cli.tables import Progress, table
from billing_audit.cli.trail import trail_deps
from billing_audit.domain.trail import canonical
from billing_audit.domain.values import utc_iso
from billing_audit.errors import BadInput
from billing_audit.pipeline.trail import TrailDeps, leaf_lines
from billing_audit.pipeline.trail_export import FORMATS, header, pseudonymized, write
from billing_audit.store.event_query import EventFilter

DEFAULT_DAYS = 7
QUERY_COLUMNS = (
    "changed_at",
    "type",
    "risk_level",
    "financial_impact",
    "sheet_name",
    "row_id",
    "column",
    "changed_by",
    "event_id",
)


def _at(moment: date | datetime | None, default: datetime) -> datetime:
    return default if moment is None else at_zone(moment, UTC)


def event_filter(args: argparse.Namespace, now: datetime) -> EventFilter:
    until = _at(args.until, now)
    since = _at(args.since, until - timedelta(days=DEFAULT_DAYS))
    check_period(since, until)
    return EventFilter(
        since=since,
        until=until,
        sheet_ids=tuple(args.sheet or ()),
        user=args.user,
        types=tuple(args.type or ()),
        risk_levels=tuple(level.upper() for level in args.risk or ()),
        work_request=args.work_request,
    )


def _filtered(args: argparse.Namespace) -> bool:
    return any((args.sheet, args.user, args.type, args.risk, args.work_request, args.since, args.until))


def _query(args: argparse.Namespace) -> int:
    deps = trail_deps()
    where = event_filter(args, deps.clock())
    records: list[dict[str, Any]] = []
    for record in deps.query.query(where):
        records.append(record)
        if len(records) >= args.limit:
            break
    if args.json:
        print(json.dumps(records, indent=2, ensure_ascii=False))
        return ExitCode.OK
    print(table(QUERY_COLUMNS, [[record.get(column) for column in QUERY_COLUMNS] for record in records]))
    more = " (--limit reached)" if len(records) >= args.limit else ""
    when = "changed" if where.order_by == "changed_at" else "detected"
    print(f"{len(records):,} events {when} {utc_iso(where.since)} to {utc_iso(where.until)}, oldest first{more}")
    return ExitCode.OK


def export_lines(deps: TrailDeps, args: argparse.Namespace) -> tuple[Iterator[bytes], bool]:
    """The lines to export and whether they are partial: the whole trail in position order, or the
    events a filter selects through the indexes."""
    now = deps.clock()
    if _filtered(args):
        where = event_filter(args, now)
        return (canonical(record) for record in deps.query.query(where)), True
    return (line for line, _ in leaf_lines(deps.trail, now)), False


def _export(args: argparse.Namespace) -> int:
    deps = trail_deps()
    lines, partial = export_lines(deps, args)
    if args.pseudonymize:
        if deps.pseudonym_key is None:
            raise BadInput("--pseudonymize: no pseudonymization key is configured")
        lines = pseudonymized(lines, deps.pseudonym_key())
    latest = deps.digests.latest()
    head = header(
        partial=partial,
        pseudonymized=args.pseudonymize,
        digest=latest.model_dump() if latest is not None and not partial else None,
        generated_at=utc_iso(deps.clock()),
    )
    progress = Progress("exported", total=None if partial else deps.trail.head().size)
    if args.out is None:
        count = write(lines, args.format, sys.stdout.buffer, head, progress.step)
    else:
        with args.out.open("wb") as out:
            count = write(lines, args.format, out, head, progress.step)
    progress.close()
    summary = {
        "events": count,
        "format": args.format,
        "partial": partial,
        "pseudonymized": args.pseudonymize,
        "out": str(args.out) if args.out else None,
    }
    if args.json:
        print(json.dumps(summary), file=sys.stderr if args.out is None else sys.stdout)
    elif args.out is not None:
        print(
            f"exported {count:,} events to {args.out} ({args.format}{', partial' if partial else ''}"
            f"{', pseudonymized' if args.pseudonymize else ''})"
        )
    return ExitCode.OK


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    if len(values) == 1:
        return {"p50": values[0], "p95": values[0], "p99": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def event_stats(records: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Counts and impact (violations only) by type, risk level, person and sheet."""
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("type", "risk", "person", "sheet")}
    impacts: dict[str, defaultdict[str, float]] = {k: defaultdict(float) for k in counts}
    total = 0
    violations = 0
    impact = 0.0
    for record in records:
        total += 1
        value = float(record.get("financial_impact") or 0.0) if record.get("violation") else 0.0
        violations += bool(record.get("violation"))
        impact += value
        keys = {
            "type": str(record.get("type")),
            "risk": str(record.get("risk_level") or "-"),
            "person": str(record.get("changed_by") or "-"),
            "sheet": str(record.get("sheet_name") or record.get("sheet_id")),
        }
        for group, key in keys.items():
            counts[group][key] += 1
            impacts[group][key] += value
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for group, counter in counts.items():
        for key, count in counter.most_common():
            by[group].append({"key": key, "events": count, "impact": round(impacts[group][key], 2)})
    return {"events": total, "violations": violations, "impact": round(impact, 2), "by": dict(by)}


def _stats(args: argparse.Namespace) -> int:
    deps = trail_deps()
    where = event_filter(args, deps.clock())
    stats = event_stats(deps.query.query(where))
    stats["window"] = {"since": utc_iso(where.since), "until": utc_iso(where.until)}
    stats["runs"] = run_stats(where.since, where.until)
    if args.json:
        print(json.dumps(stats, indent=2, ensure_ascii=False))
        return ExitCode.OK
    print(
        f"{stats['events']:,} events, {stats['violations']:,} violations, impact {stats['impact']:,.2f} "
        f"({stats['window']['since']} to {stats['window']['until']})"
    )
    for group in ("type", "risk", "person", "sheet"):
        rows = [[row["key"], row["events"], row["impact"]] for row in stats["by"].get(group, [])[: args.top]]
        print()
        print(table([group, "events", "impact"], rows))
    runs = stats["runs"]
    print()
    if runs.get("runs"):
        rows = [
            [name, runs[name]["p50"], runs[name]["p95"], runs[name]["p99"]]
            for name in ("duration_seconds", "api_calls", "backlog_rows")
        ]
        print(f"{runs['runs']:,} scan runs")
        print(table(["per run", "p50", "p95", "p99"], rows))
    else:
        print(f"scan runs: {runs.get('note', 'none in the window')}")
    return ExitCode.OK


def run_stats(since: datetime, until: datetime) -> dict[str, Any]:
    """The scan runs' duration, Smartsheet calls and backlog, per run, from the product's own
    CloudWatch metrics (one value per run each); p50, p95 and p99 over the runs."""
    from billing_audit.wiring import scan_run_metrics

    series = scan_run_metrics(since, until)
    durations = series.get("duration_seconds", [])
    out: dict[str, Any] = {"runs": len(durations)}
    for name, values in series.items():
        out[name] = percentiles(values)
    if not durations:
        out["note"] = "no scan run reported its duration in the window"
    return out


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sheet", type=int, action="append", help="sheet id (repeatable)")
    parser.add_argument("--user", help="the person's email (any case)")
    parser.add_argument("--type", action="append", help="event type (repeatable)")
    parser.add_argument("--risk", action="append", choices=["LOW", "MEDIUM", "HIGH", "low", "medium", "high"])
    parser.add_argument("--work-request", help="work request #")
    parser.add_argument(
        "--since", type=iso_moment, help="ISO date or date-time, UTC when naive (default: 7 days before --until)"
    )
    parser.add_argument("--until", type=iso_moment, help="ISO date or date-time, UTC when naive (default: now)")


def register_events(commands: Any) -> None:
    group = commands.add_parser("events", help="query or export the stored events").add_subparsers(
        dest="events_command", required=True
    )
    query = group.add_parser("query", help="events matching filters, through the table's indexes")
    _add_filters(query)
    query.add_argument("--limit", type=positive_int, default=50, help="at most this many events (default: 50)")
    query.add_argument("--json", action="store_true", help="one JSON object per event instead of the table")
    query.set_defaults(func=_query)
    export = group.add_parser("export", help="stream events to a file: the whole trail, or the filtered events")
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument("--out", type=Path, help="file to write (default: stdout)")
    export.add_argument("--pseudonymize", action="store_true", help="replace emails by keyed pseudonyms")
    export.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_filters(export)
    export.set_defaults(func=_export)


def register_stats(commands: Any) -> None:
    stats = commands.add_parser("stats", help="counts and impact by type, risk, person and sheet; scan runs")
    _add_filters(stats)
    stats.add_argument("--top", type=positive_int, default=10, help="rows per table")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=_stats)
