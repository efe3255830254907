"""What a report says, computed once from the events of its window and the product's own records.

The workbook and the dashboard both render a `ReportFigures`, so their headline figures cannot
differ.  Events are folded into compact rows as they stream in (a 100,000-event window is held once,
in the form the renderers need), and every aggregate is counted on the way.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from billing_audit.domain.access import AccessReviewResult
from billing_audit.domain.models import UNNAMED_EDITORS, AuditEvent, DetectedVia, EventType, RiskLevel
from billing_audit.domain.risk import OFF_HOURS_FACTORS
from billing_audit.domain.values import CellValue, counted, money, spreadsheet_time

LEVELS = (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)
ACTION_ITEMS = 10


@dataclass(slots=True)
class ReportRow:
    """One event as the report shows it: times in the business zone (naive, as spreadsheets hold them)."""

    event_id: str
    sheet_id: int
    sheet_name: str
    row_id: int
    work_request: str
    column: str
    old_value: str | int | float
    new_value: str | int | float
    changed_at: datetime
    changed_by: str
    type: str
    violation: bool
    impact: float | None
    risk_level: str
    risk_score: float
    factors: str
    detected_at: datetime
    detected_via: str
    url: str


@dataclass
class Tally:
    events: int = 0
    violations: int = 0
    impact: float = 0.0  # the violations' financial impact (null counts as 0): net
    moved: float = 0.0  # the violations' impacts summed unsigned: a +$300 and a -$300 moved $600

    def add(self, row: ReportRow) -> None:
        self.events += 1
        if row.violation:
            self.violations += 1
            self.impact += row.impact or 0.0
            self.moved += abs(row.impact or 0.0)


@dataclass
class SheetCoverage:
    sheet_id: int
    sheet_name: str
    last_scan: datetime | None  # business zone, naive; None: never scanned
    rows_tracked: int | None
    events: int
    violations: int


@dataclass
class Backlog:
    sheets: int = 0
    rows_left: int = 0
    history_reads_left: int = 0
    oldest: datetime | None = None  # business zone, naive


@dataclass
class SystemFacts:
    """What the product's records say about its own health over the window (see pipeline/reports/system.py)."""

    coverage: list[SheetCoverage] = field(default_factory=list)
    backlog: Backlog = field(default_factory=Backlog)
    metrics: dict[str, float] | None = None  # CloudWatch sums over the window; None: not readable here


@dataclass
class ReportFigures:
    title: str
    kind: str
    zone: str
    since: datetime  # business zone, naive
    until: datetime
    generated_at: datetime
    rows: list[ReportRow]
    total: Tally
    by_level: dict[str, Tally]
    by_type: dict[str, Tally]
    by_day: dict[date, Tally]
    by_person: dict[str, Tally]
    by_sheet: dict[str, Tally]
    by_via: dict[str, int]
    after_hours_violations: int
    action_items: list[ReportRow]
    system: SystemFacts
    recommendations: list[str] = field(default_factory=list)
    # The latest access review (stored by functions/access_review), shown as it is: not windowed.
    access_review: AccessReviewResult | None = None

    @property
    def violations(self) -> list[ReportRow]:
        return [row for row in self.rows if row.violation]

    @property
    def status(self) -> str:
        if self.by_level[RiskLevel.HIGH].violations:
            return "ACTION REQUIRED"
        if self.by_level[RiskLevel.MEDIUM].violations:
            return "REVIEW"
        return "CLEAR"


# Past this a spreadsheet's numbers (doubles) lose digits: such a value is written as its text.
_EXACT_IN_A_SPREADSHEET = 10**15


def shown(value: CellValue) -> str | int | float:
    """A cell value as a report shows it: a number stays a number (a workbook can sum it; 12.0 as
    12), anything else its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and abs(value) < _EXACT_IN_A_SPREADSHEET:
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, list | dict) else str(value)


def factors_of(event: AuditEvent) -> str:
    # risk_factors arrives with the risk explanation work (issue 12); older events have none.
    factors = getattr(event, "risk_factors", None) or []
    return "; ".join(f"{f.label} (+{f.weight:g})" for f in factors)


def to_row(event: AuditEvent, zone: ZoneInfo, row_url: str) -> ReportRow:
    return ReportRow(
        event_id=event.event_id,
        sheet_id=event.sheet_id,
        sheet_name=event.sheet_name,
        row_id=event.row_id,
        work_request=event.work_request or "",
        # A price mismatch's old and new are quantity x unit price and the total (FORMAT.md).
        column=event.column or ("(row) qty x price -> total" if event.type is EventType.PRICE_MISMATCH else "(row)"),
        old_value=shown(event.old_value),
        new_value=shown(event.new_value),
        changed_at=spreadsheet_time(event.changed_at, zone),
        changed_by=event.changed_by.lower() if event.changed_by else event.editor,
        type=event.type.value,
        violation=event.violation,
        impact=event.financial_impact,
        risk_level=event.risk_level.value if event.risk_level is not None else "",
        risk_score=event.risk_score,
        factors=factors_of(event),
        detected_at=spreadsheet_time(event.detected_at, zone),
        detected_via=event.detected_via.value,
        url=row_url,
    )


def off_hours(event: AuditEvent) -> bool:
    """Whether its risk factors say it was made off business hours (the risk policy's hours,
    weekends and holidays); a deletion the scan dates only to itself carries none."""
    return any(factor.code in OFF_HOURS_FACTORS for factor in event.risk_factors)


def compute(
    events: Iterable[AuditEvent],
    *,
    zone: ZoneInfo,
    since: datetime,
    until: datetime,
    generated_at: datetime,
    kind: str,
    row_url: Callable[[int, int], str],
    system: SystemFacts | None = None,
) -> ReportFigures:
    rows: list[ReportRow] = []
    total = Tally()
    by_level = {level.value: Tally() for level in LEVELS}
    by_type: dict[str, Tally] = defaultdict(Tally)
    by_day: dict[date, Tally] = defaultdict(Tally)
    by_person: dict[str, Tally] = defaultdict(Tally)
    by_sheet: dict[str, Tally] = defaultdict(Tally)
    by_via: Counter[str] = Counter()
    after_hours = 0
    for event in events:
        row = to_row(event, zone, row_url(event.sheet_id, event.row_id))
        after_hours += event.violation and off_hours(event)
        rows.append(row)
        total.add(row)
        if row.risk_level in by_level:
            by_level[row.risk_level].add(row)
        by_type[row.type].add(row)
        by_day[row.changed_at.date()].add(row)
        by_person[row.changed_by].add(row)
        by_sheet[row.sheet_name].add(row)
        by_via[row.detected_via] += 1
    rows.sort(key=lambda r: (r.changed_at, r.sheet_id, r.row_id, r.column, r.event_id))
    ranked = sorted(
        (r for r in rows if r.violation and r.risk_level == RiskLevel.HIGH),
        key=lambda r: (-r.risk_score, -abs(r.impact or 0.0), r.changed_at),
    )
    local_since, local_until = spreadsheet_time(since, zone), spreadsheet_time(until, zone)
    figures = ReportFigures(
        title=f"Billing Audit {kind.replace('_', '-')} report",
        kind=kind,
        zone=zone.key,
        since=local_since,
        until=local_until,
        generated_at=spreadsheet_time(generated_at, zone),
        rows=rows,
        total=total,
        by_level=by_level,
        by_type=dict(sorted(by_type.items(), key=lambda kv: (-kv[1].violations, -kv[1].events, kv[0]))),
        by_day=_every_day(by_day, local_since.date(), (local_until - timedelta(seconds=1)).date()),
        # Changes no one is named for come last: they are a gap in the record, not a person.
        by_person=dict(
            sorted(
                by_person.items(),
                key=lambda kv: (kv[0] in UNNAMED_EDITORS, -kv[1].violations, -kv[1].impact, kv[0]),
            )
        ),
        by_sheet=dict(sorted(by_sheet.items(), key=lambda kv: (-kv[1].violations, -kv[1].impact, kv[0]))),
        by_via={via.value: by_via.get(via.value, 0) for via in DetectedVia},
        after_hours_violations=after_hours,
        action_items=ranked[:ACTION_ITEMS],
        system=system or SystemFacts(),
    )
    figures.recommendations = recommend(figures)
    return figures


def _every_day(by_day: dict[date, Tally], first: date, last: date) -> dict[date, Tally]:
    """Days without events are shown as zeros, so a trend chart's gaps are real gaps."""
    days: dict[date, Tally] = {}
    if first <= last and (last - first).days <= 400:
        day = first
        while day <= last:
            days[day] = by_day.get(day, Tally())
            day += timedelta(days=1)
    for day, tally in by_day.items():  # events changed before the window (found late) still count
        days.setdefault(day, tally)
    return dict(sorted(days.items()))


# Derived from the figures; each names the evidence, so a reader can check it.
STALE_SCAN_HOURS = 24
WEBHOOK_MISS_SHARE = 0.25


def recommend(figures: ReportFigures) -> list[str]:
    advice: list[str] = []
    high, medium = figures.by_level[RiskLevel.HIGH], figures.by_level[RiskLevel.MEDIUM]
    if high.violations:
        advice.append(
            f"Review the {counted(high.violations, 'HIGH-risk violation')} ({money(high.impact)}), the riskiest "
            "first, with the editors and billing before the next invoice run."
        )
    if medium.violations:
        advice.append(
            f"Review the {counted(medium.violations, 'MEDIUM-risk violation')} ({money(medium.impact)}) with the "
            "editors: each changed a closed or locked week's billing."
        )
    named = [(editor, tally) for editor, tally in figures.by_person.items() if editor not in UNNAMED_EDITORS]
    if figures.total.violations and named:
        editor, tally = named[0]
        share = tally.violations / figures.total.violations
        if tally.violations >= 3 and share >= 0.5:
            advice.append(
                f"{editor} made {tally.violations} of the {figures.total.violations} violations "
                f"({share:.0%}): check their access level and whether closed weeks should be locked."
            )
    if figures.after_hours_violations:
        advice.append(
            f"{counted(figures.after_hours_violations, 'violation')} "
            f"{'was' if figures.after_hours_violations == 1 else 'were'} made outside business hours, on a weekend "
            f"or on a holiday ({figures.zone}; see their risk factors): confirm they were authorised."
        )
    scanned = sum(figures.by_via.values())
    scan_only = figures.by_via.get(DetectedVia.SCAN.value, 0)
    metrics = figures.system.metrics or {}
    if metrics.get("WebhookCallbacksAccepted", 0) and scanned and scan_only / scanned > WEBHOOK_MISS_SHARE:
        advice.append(
            f"The scan found {scan_only} of {scanned} events before any webhook callback did: run "
            "`billing-audit webhooks status` and check that every audited sheet has an enabled webhook."
        )
    if metrics.get("WebhookCallbacksFailed", 0):
        advice.append(
            f"{counted(metrics['WebhookCallbacksFailed'], 'webhook callback')} failed processing in this period: "
            "check the process function's errors and the callback dead-letter queue."
        )
    stale_before = figures.generated_at - timedelta(hours=STALE_SCAN_HOURS)
    for sheet in figures.system.coverage:
        if sheet.last_scan is None:
            advice.append(
                f"Sheet {sheet.sheet_name or sheet.sheet_id} has never been scanned: check the scan schedule."
            )
        elif sheet.last_scan < stale_before:
            advice.append(
                f"Sheet {sheet.sheet_name or sheet.sheet_id} was last scanned {sheet.last_scan:%Y-%m-%d %H:%M}: "
                "check the scan schedule and the scan function's errors."
            )
    backlog = figures.system.backlog
    if backlog.rows_left:
        advice.append(
            f"A scan backlog of {counted(backlog.rows_left, 'row')} on {counted(backlog.sheets, 'sheet')} "
            f"is still open (since {backlog.oldest:%Y-%m-%d %H:%M}): the audit of those rows is behind."
            if backlog.oldest
            else f"A scan backlog of {counted(backlog.rows_left, 'row')} is still open."
        )
    review = figures.access_review
    if review is not None and review.findings:
        reasons = ", ".join(f"{reason.replace('_', ' ')} {count}" for reason, count in review.counts().items())
        advice.append(
            f"The access review of {review.reviewed_at.astimezone(ZoneInfo(figures.zone)):%Y-%m-%d} has "
            f"{counted(len(review.findings), 'finding')} ({reasons}): see Access Review."
        )
    if not advice:
        advice.append(
            "No action needed: no HIGH- or MEDIUM-risk violation, no access finding, and the audit kept up "
            "over this period."
        )
    return advice
