"""One report: the events detected in a window, rendered twice (workbook, dashboard), stored in S3
under dated keys with their SHA-256, linked for a configured lifetime, and recorded in the ledger.

A report covers the events *detected* in its window, so every event is in exactly one daily report
however long after the change it was found.  Without `force`, a report with nothing new to say (no
event detected since the last report of its kind) is not built.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from billing_audit.clock import Clock, system_clock
from billing_audit.domain.pseudonym import Pseudonymizer, pseudonymize_event, pseudonymize_review
from billing_audit.pipeline.reports.dashboard import render_dashboard
from billing_audit.pipeline.reports.figures import ReportFigures, compute, recommend
from billing_audit.pipeline.reports.links import LinkIssuer
from billing_audit.pipeline.reports.system import per_sheet, system_facts
from billing_audit.pipeline.reports.workbook import render_workbook
from billing_audit.resources import REPORT_LINK_DEFAULT_DAYS, REPORT_PREFIX
from billing_audit.smartsheet.links import row_url
from billing_audit.store.access import AccessReviewStore
from billing_audit.store.interfaces import (
    BlobStore,
    EventStore,
    MetricsReader,
    ReportLedger,
    ReportRecord,
    RunStore,
    StateStore,
)

KIND_SPANS = {"daily": timedelta(days=1), "weekly": timedelta(days=7), "on_demand": timedelta(days=7)}
WORKBOOK = (
    "workbook",
    "billing-audit-report.xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
DASHBOARD = ("dashboard", "dashboard.html", "text/html; charset=utf-8")


@dataclass
class ReportDeps:
    events: EventStore
    state: StateStore
    runs: RunStore
    blobs: BlobStore
    ledger: ReportLedger
    links: LinkIssuer
    app_base: str  # Smartsheet's web app, for row links
    metrics: MetricsReader | None = None
    clock: Clock = field(default=system_clock)
    # The latest access review is shown on its own sheet (None: the sheet says none is stored).
    access_reviews: AccessReviewStore | None = None
    # People's emails replaced by keyed pseudonyms in what the report shows (the trail keeps them).
    pseudonyms: Pseudonymizer | None = None


@dataclass
class ReportRequest:
    kind: str = "on_demand"
    since: datetime | None = None
    until: datetime | None = None
    sheet_ids: list[int] = field(default_factory=list)
    force: bool = False
    link_days: int = REPORT_LINK_DEFAULT_DAYS


@dataclass
class ReportOutcome:
    record: ReportRecord | None  # None: skipped, nothing new since `previous`
    previous: ReportRecord | None
    figures: ReportFigures | None = None
    workbook: bytes = b""
    dashboard: bytes = b""

    @property
    def skipped(self) -> bool:
        return self.record is None


def _second(moment: datetime) -> datetime:
    # Events are stored to the second: a window's ends are too, so memory and DynamoDB agree.
    return moment.astimezone(UTC).replace(microsecond=0)


def build_report(
    request: ReportRequest, deps: ReportDeps, *, zone: ZoneInfo, configured_sheets: list[int]
) -> ReportOutcome:
    if request.kind not in KIND_SPANS:
        raise ValueError(f"unknown report kind {request.kind!r}")
    now = _second(deps.clock())
    until = _second(request.until) if request.until is not None else now
    since = _second(request.since) if request.since is not None else until - KIND_SPANS[request.kind]
    if since >= until:
        raise ValueError(f"the report's window is empty: {since.isoformat()} is not before {until.isoformat()}")
    sheets = request.sheet_ids or None
    previous = deps.ledger.latest(request.kind)
    if not request.force and previous is not None and not _anything_new(deps.events, previous, now, sheets):
        return ReportOutcome(record=None, previous=previous)

    events = deps.events.window(since, until, by="detected", sheet_ids=sheets)
    if deps.pseudonyms is not None:
        pseudonyms = deps.pseudonyms
        events = (pseudonymize_event(event, pseudonyms) for event in events)
    figures = compute(
        events,
        zone=zone,
        since=since,
        until=until,
        generated_at=now,
        kind=request.kind,
        row_url=lambda sheet_id, row_id: row_url(deps.app_base, sheet_id, row_id),
    )
    names, counts = per_sheet([(row.sheet_id, row.sheet_name, row.violation) for row in figures.rows])
    covered = sheets or [*configured_sheets, *names]
    figures.system = system_facts(
        sheet_ids=covered,
        names=names,
        counts=counts,
        state=deps.state,
        runs=deps.runs,
        metrics=deps.metrics,
        since=since,
        until=until,
        zone=zone,
    )
    review = deps.access_reviews.latest() if deps.access_reviews is not None else None
    if review is not None and deps.pseudonyms is not None:
        review = pseudonymize_review(review, deps.pseudonyms)
    figures.access_review = review
    figures.recommendations = recommend(figures)
    workbook = render_workbook(figures)
    dashboard = render_dashboard(figures).encode()

    report_id = uuid.uuid4().hex[:12]
    folder = f"{REPORT_PREFIX}{until.astimezone(zone):%Y/%m/%d}/{request.kind}-{until:%Y%m%dT%H%M%SZ}-{report_id}"
    expires_at = now + timedelta(days=request.link_days)
    keys: dict[str, str] = {}
    digests: dict[str, str] = {}
    links: dict[str, str] = {}
    for (name, filename, content_type), data in ((WORKBOOK, workbook), (DASHBOARD, dashboard)):
        keys[name] = f"{folder}/{filename}"
        digests[name] = deps.blobs.put(keys[name], data, content_type)
    # Links only once both files are stored: a run that fails on the second leaves no link to a
    # half report, only an unlisted object under a folder no record names, and raises.
    for name, key in keys.items():
        links[name] = deps.links.issue(key, expires_at)
    record = ReportRecord(
        report_id=report_id,
        kind=request.kind,
        built_at=now,
        since=since,
        until=until,
        events=figures.total.events,
        violations=figures.total.violations,
        keys=keys,
        sha256=digests,
        links=links,
        links_expire_at=expires_at,
    )
    deps.ledger.record(record)
    return ReportOutcome(record=record, previous=previous, figures=figures, workbook=workbook, dashboard=dashboard)


def _anything_new(events: EventStore, previous: ReportRecord, now: datetime, sheets: list[int] | None) -> bool:
    if previous.built_at >= now:
        return False
    return next(iter(events.window(previous.built_at, now, by="detected", sheet_ids=sheets)), None) is not None
