"""Webhook burst at real size: a 500-row paste and 2,000 single-cell edits through signed callbacks.

One sheet of `--rows` rows (default 20,000), its week closed; the webhook enabled before the
baseline, as a deployment does it.  After the baseline: a paste of 500 backdated rows in one save,
then 2,000 single-cell edits to distinct rows, one every `--gap` seconds.  Smartsheet's limits are
on (the simulator's virtual clock); callbacks go out as Smartsheet bundles them (a bundle's callback
`bundle_seconds` after its first event, 60 s), signed, through the local API front, the FIFO queue
and the process handler, as in AWS.

Reported:
- cell-history reads per callback, and by cause (goal: 0 for single edits);
- virtual time from edit to stored event (detected_at - changed_at): p50, p99, max;
- virtual time from edit to its alert on the alerts topic (an SQS queue subscribed to the topic on
  moto receives every alert; the clock is read as each is published): p50, p99, max, against the
  bound the goal sets, Smartsheet's bundling interval plus the product's own waits (the request
  budget's pacing and retry backoff, all on the virtual clock) between the save and the alert; and
  whether every alert met it;
- processing wall time per callback: p50, p99, against its floor: every HTTP request the processing
  of every `--floor-every`-th callback (default 4; the first, the paste, among them) sent, to
  Smartsheet through the SDK and to AWS through botocore, recorded as sent and replayed raw with
  one `requests` session right after that callback, on the same simulator and moto server, so the
  replay meets the tables the processing met (moto's queries walk the whole table).  A replayed
  conditional write is refused (a 400: the item is there); every other write puts what is already
  there, so the replay changes nothing the run goes on to measure;
- callbacks queued by reference (the paste is larger than a queue message), and the DLQ's depth
  (goal: 0);
- whether every edit and every pasted row gave its finding.

    .venv/bin/python -m bench.bench_webhook_burst [--rows 20000]   (section "webhook_burst" of bench/results.json)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import requests

from bench.results_file import RESULTS, publish
from billing_audit.config import AuditConfig
from billing_audit.domain.alert_messages import AlertMessage
from billing_audit.pipeline.alerting import AlertBatch
from billing_audit.pipeline.callbacks import CallbackResult, process_callback
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.resources import ALERTS_TOPIC_ENV
from billing_audit.smartsheet.webhooks import WebhookCallback
from billing_audit.store.interfaces import AlertPublisher
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import local_lambda_environment
from billing_audit_local.scan_runs import LocalScanRuns
from billing_audit_local.scenario import config_for
from billing_audit_local.serve import LocalWebhookStack
from billing_audit_local.wiring import simulator_deps
from smartsheet_sim import Simulator
from smartsheet_sim.scenario import parse_scenario

SHEET = 9100
PASTE = 500
EDITS = 2_000
HISTORY = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"
TITLES = ("Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman")


def _clock(seconds: int) -> str:
    return f"2026-11-24T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"


def scenario(rows: int, gap: int) -> dict[str, Any]:
    columns: list[dict[str, Any]] = [{"title": t, "type": "TEXT_NUMBER"} for t in TITLES]
    columns[0]["primary"] = True
    columns[1]["type"] = "DATE"
    cells = {
        "Week Ending": "2026-11-22",
        "Status": "Completed",
        "Quantity": 10,
        "Unit Price": 100.0,
        "Redlined Total Price": 1000.0,
        "Foreman": "J. Diaz",
    }
    base = SHEET * 100_000
    edits: list[dict[str, Any]] = [
        {  # the paste: one save of 500 rows
            "at": _clock(3600),
            "by": "ana@example.com",
            "sheet": SHEET,
            "add": {"id": base + rows + n, "cells": {"Work Request #": f"WR-P-{n}", **cells}},
        }
        for n in range(PASTE)
    ]
    step = rows // EDITS
    edits += [
        {
            "at": _clock(2 * 3600 + n * gap),
            "by": "bob@example.com",
            "sheet": SHEET,
            "row": base + n * step,
            "set": {"Quantity": 11},
        }
        for n in range(EDITS)
    ]
    return {
        "name": f"webhook burst on {rows} rows",
        "timezone": "America/Chicago",
        "baseline_at": "2026-11-23T12:00:00Z",
        "now": "2026-11-25T12:00:00Z",
        "users": [
            {"id": 5001, "email": "ana@example.com", "name": "Ana Ortiz"},
            {"id": 5002, "email": "bob@example.com", "name": "Bob Kline"},
        ],
        "sheets": [
            {
                "id": SHEET,
                "name": "Crew Billing",
                "columns": columns,
                "rows": [
                    {
                        "id": base + n,
                        "created_at": "2026-11-16T15:00:00Z",
                        "created_by": "ana@example.com",
                        "cells": {"Work Request #": f"WR-{n}", **cells},
                    }
                    for n in range(rows)
                ],
            }
        ],
        "edits": edits,
    }


@dataclass
class SentRequest:
    """One HTTP request as a client sent it: enough to send it again, raw."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def _body(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    raise TypeError(f"a streamed request body ({type(body).__name__}) cannot be replayed")


class RequestLog:
    """The HTTP requests one thread sends while `recording()`: botocore's (every client of boto3's
    default session made after `install`) and the Smartsheet SDK's (requests)."""

    def __init__(self) -> None:
        self.requests: list[SentRequest] = []
        self._thread: int | None = None

    def install(self) -> None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-send", self._botocore)
        log, send = self, requests.Session.send

        def recorded_send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
            if log._thread == threading.get_ident():
                headers = {k: v if isinstance(v, str) else v.decode() for k, v in request.headers.items()}
                log.requests.append(
                    SentRequest(request.method or "GET", request.url or "", headers, _body(request.body))
                )
            return send(session, request, **kwargs)

        requests.Session.send = recorded_send  # type: ignore[method-assign,assignment]

    def _botocore(self, request: Any, **_: Any) -> None:
        if self._thread == threading.get_ident():
            headers = {k: v if isinstance(v, str) else v.decode() for k, v in request.headers.items()}
            self.requests.append(SentRequest(request.method, request.url, headers, _body(request.body)))

    @contextmanager
    def recording(self) -> Iterator[list[SentRequest]]:
        self.requests, self._thread = [], threading.get_ident()
        try:
            yield self.requests
        finally:
            self._thread = None


class Measured:
    """process_callback, with what each call read and how long it took; every `floor_every`-th
    callback's HTTP requests (the first's, the paste, among them) are then sent again raw, at once,
    so they meet the tables and limits the processing met."""

    def __init__(self, log: RequestLog, floor_every: int) -> None:
        self.log = log
        self.floor_every = floor_every
        self.results: list[CallbackResult] = []
        self.seconds: list[float] = []
        self.floor: dict[int, float] = {}  # callback index -> seconds of its requests replayed
        self.floor_statuses: Counter[int] = Counter()
        self.session = requests.Session()

    def __call__(
        self,
        callback: WebhookCallback,
        config: AuditConfig,
        deps: AuditDeps,
        *,
        history_allowance: int | None,
        batch: AlertBatch | None,
    ) -> CallbackResult:
        with self.log.recording() as sent:
            started = time.perf_counter()
            result = process_callback(callback, config, deps, history_allowance=history_allowance, batch=batch)
            self.seconds.append(time.perf_counter() - started)
        index = len(self.results)
        self.results.append(result)
        if index % self.floor_every == 0:
            self.floor[index] = self.replay(sent)
        return result

    def replay(self, sent: list[SentRequest]) -> float:
        """The requests sent again, raw, in order: a conditional write meets the item it wrote and is
        refused (a 400, its cost much the same); every other write puts what is already there."""
        total = 0.0
        for request in sent:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("expect", "content-length")}
            started = time.perf_counter()
            response = self.session.request(request.method, request.url, headers=headers, data=request.body)
            response.content  # noqa: B018 - the whole answer read, as the clients read it
            total += time.perf_counter() - started
            self.floor_statuses[response.status_code] += 1
        return total


@dataclass
class Published:
    """The product's alert publisher, noting the virtual time each alert reached the topic and the
    events it carried."""

    inner: AlertPublisher
    clock: Callable[[], datetime]
    alerts: list[tuple[datetime, AlertMessage]] = field(default_factory=list)

    def publish(self, message: AlertMessage) -> None:
        self.inner.publish(message)
        self.alerts.append((self.clock(), message))


@dataclass
class Waits:
    """Every wait of the product on the simulator's clock: (start, seconds, cause)."""

    waits: list[tuple[datetime, float, str]] = field(default_factory=list)

    def install(self, sim: Simulator) -> None:
        real = sim.sleep
        causes = {"_pace": "request budget", "calc_backoff": "retry backoff"}

        def sleep(seconds: float) -> int:
            caller = sys._getframe(1).f_code.co_name
            self.waits.append((sim.now, seconds, causes.get(caller, caller)))
            return real(seconds)

        setattr(sim, "sleep", sleep)  # noqa: B010 - before the product's clients take it

    def between(self, start: datetime, end: datetime) -> float:
        """Seconds of waiting within [start, end]."""
        total = 0.0
        for at, seconds, _ in self.waits:
            overlap = min(end, at + timedelta(seconds=seconds)) - max(start, at)
            total += max(0.0, overlap.total_seconds())
        return total


def _alert_queue(cloud: LocalCloud) -> str:
    """An SQS queue subscribed to the alerts topic: what reaches the topic reaches it."""
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    url: str = sqs.create_queue(QueueName="bench-webhook-burst-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=cloud.names[ALERTS_TOPIC_ENV], Protocol="sqs", Endpoint=arn)
    return url


def _received(cloud: LocalCloud, url: str) -> list[str]:
    """The subjects of the notifications the subscribed queue received."""
    sqs = cloud.client("sqs")
    subjects: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            subjects.append(json.loads(message["Body"]).get("Subject", ""))
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    return subjects


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run(rows: int, gap: int, floor_every: int) -> dict[str, Any]:
    parsed = parse_scenario(scenario(rows, gap))
    config = config_for(parsed)
    log = RequestLog()
    waits = Waits()
    with local_lambda_environment(), LocalCloud() as cloud, Simulator(parsed) as sim:
        cloud.provision()
        log.install()
        waits.install(sim)
        deps = simulator_deps(sim, config)
        published = Published(deps.alerts, lambda: sim.now)
        deps.alerts = published
        alert_queue = _alert_queue(cloud)
        measured = Measured(log, floor_every)
        runs = LocalScanRuns(cloud, sim, config, deps)
        sim.apply_edits_through(parsed.baseline_at)
        sim.set_time(parsed.baseline_at)
        stack = LocalWebhookStack(sim, config, deps, process=measured)
        stack.start()
        try:
            if not stack.sync().ok:
                raise RuntimeError("the webhook could not be enabled")
            runs.run()  # the baseline
            published.alerts.clear()
            waits.waits.clear()
            _received(cloud, alert_queue)
            sim.reset_call_counts()
            bundle = timedelta(seconds=sim.options.bundle_seconds)
            pending: datetime | None = None
            started = time.perf_counter()
            for edit in parsed.ordered_edits():
                if pending is not None and edit.at - pending >= bundle:
                    sim.set_time(pending + bundle)  # the bundle's callback goes out
                    stack.pump()
                    pending = None
                sim.apply_edit(edit)
                pending = pending or edit.at
            if pending is not None:
                sim.set_time(pending + bundle)
                stack.pump()
            wall = time.perf_counter() - started
            calls = dict(sim.call_counts)
            dead = stack.worker.dead_letters(stack.dlq_url) if stack.worker else []
            subjects = _received(cloud, alert_queue)
            events = deps.events.all_events()
        finally:
            stack.stop()
    causes: Counter[str] = Counter()
    for result in measured.results:
        causes.update({cause.name: n for cause, n in result.history_reads.items()})
    callbacks = len(measured.results)
    lags = [(e.detected_at - e.changed_at).total_seconds() for e in events if e.changed_at and e.detected_at]
    added = {e.row_id for e in events if e.type.value == "backdated_row_added"}
    edited = {e.row_id for e in events if e.type.value == "post_close_change" and e.column == "Quantity"}
    per_callback = [sum(r.history_reads.values()) for r in measured.results]
    # Edit to alert: each violation against the moment the message carrying it reached the topic.
    alerted_at = {event.event_id: at for at, message in published.alerts for event in message.events}
    violations = [e for e in events if e.violation and e.changed_at]
    alert_lags: list[float] = []
    bounds: list[float] = []
    for event in violations:
        at = alerted_at.get(event.event_id)
        if at is not None and event.changed_at is not None:
            alert_lags.append((at - event.changed_at).total_seconds())
            bounds.append(bundle.total_seconds() + waits.between(event.changed_at, at))
    wait_causes: dict[str, float] = {}
    for _, seconds, cause in waits.waits:
        wait_causes[cause] = wait_causes.get(cause, 0.0) + seconds
    sampled = sorted(measured.floor)
    floor_seconds = [measured.floor[n] for n in sampled]
    processing, floor = sum(measured.seconds[n] for n in sampled), sum(floor_seconds)
    ratios = [measured.seconds[n] / measured.floor[n] for n in sampled if measured.floor[n]]
    return {
        "rows": rows,
        "paste_rows": PASTE,
        "single_edits": EDITS,
        "callbacks": callbacks,
        "history_reads": calls.get(HISTORY, 0),
        "history_reads_by_cause": dict(causes),
        "history_reads_per_callback_max": max(per_callback, default=0),
        "rows_derived": sum(r.rows_derived for r in measured.results),
        "rows_deferred": sum(r.rows_deferred for r in measured.results),
        "edit_to_event_virtual_seconds_p50": round(_percentile(lags, 0.5), 1),
        "edit_to_event_virtual_seconds_p99": round(_percentile(lags, 0.99), 1),
        "edit_to_event_virtual_seconds_max": round(max(lags, default=0.0), 1),
        "alerts_published": len(published.alerts),
        "alerts_on_topic": len(subjects),
        "every_alert_on_topic": sorted(subjects) == sorted(m.subject for _, m in published.alerts),
        "violations": len(violations),
        "violations_alerted": len(alert_lags),
        # Violations no message carried (under the alert level: on the bus and in reports only).
        "violations_not_messaged_by_type": dict(
            Counter(e.type.value for e in violations if e.event_id not in alerted_at)
        ),
        "edit_to_alert_virtual_seconds_p50": round(_percentile(alert_lags, 0.5), 1),
        "edit_to_alert_virtual_seconds_p99": round(_percentile(alert_lags, 0.99), 1),
        "edit_to_alert_virtual_seconds_max": round(max(alert_lags, default=0.0), 1),
        "edit_to_alert_bound_bundle_seconds": bundle.total_seconds(),
        "edit_to_alert_bound_max_seconds": round(max(bounds, default=0.0), 1),
        "product_waits_virtual_seconds": {cause: round(seconds, 1) for cause, seconds in wait_causes.items()},
        "every_alert_within_bound": all(lag <= bound + 1e-6 for lag, bound in zip(alert_lags, bounds, strict=True)),
        "processing_wall_ms_per_callback_p50": round(1000 * statistics.median(measured.seconds), 1),
        "processing_wall_ms_per_callback_p99": round(1000 * _percentile(measured.seconds, 0.99), 1),
        "floor_wall_ms_per_callback_p50": round(1000 * statistics.median(floor_seconds), 1) if floor_seconds else None,
        "floor_wall_ms_per_callback_p99": round(1000 * _percentile(floor_seconds, 0.99), 1),
        "floor_callbacks": len(sampled),
        "processing_floor_ratio": round(processing / floor, 2) if floor else None,
        "processing_floor_ratio_per_callback_p50": round(statistics.median(ratios), 2) if ratios else None,
        "floor_requests": sum(measured.floor_statuses.values()),
        "floor_statuses": {str(k): v for k, v in sorted(measured.floor_statuses.items())},
        "wall_seconds": round(wall, 1),
        "dead_letters": len(dead),
        "pasted_rows_found": len(added),
        "edits_found": len(edited),
        "every_finding": len(added) == PASTE and len(edited) == EDITS,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows in the sheet (default 20,000)")
    parser.add_argument("--gap", type=int, default=2, help="seconds between single edits (default 2)")
    parser.add_argument(
        "--floor-every", type=int, default=4, help="replay every Nth callback's requests as the floor (default 4)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: bench/results.json)")
    args = parser.parse_args(argv)
    result = run(args.rows, args.gap, args.floor_every)
    publish("webhook_burst", result, args.out)
    ok = result["every_finding"] and result["dead_letters"] == 0
    ok = ok and result["every_alert_on_topic"] and result["every_alert_within_bound"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
