"""Compliance reports (`billing-audit compliance-report`): what a SOX or a GDPR review asks of the
product, from its own records, for one period.

SOX: the changes to closed billing periods and who made them, segregation-of-duties findings
(people who changed a row's billed values and approved that row, from the approvals kept beside the
events), and the status of the trail's verification, of the backups and of the access review.
GDPR: what personal data the product holds, where, for how long and on what basis, and whose data
the period's events hold.  Built as plain tables (`ComplianceReport`) that the workbook and the HTML
page render alike (pipeline/reports/compliance_render.py).

Events are taken as the reports take them: those *detected* in the period (each event is in exactly
one period's report, however late it was found).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from billing_audit.clock import Clock, system_clock
from billing_audit.config import AuditConfig
from billing_audit.domain.access import AccessReviewResult, segregation_findings
from billing_audit.domain.models import UNNAMED_EDITORS, AuditEvent
from billing_audit.domain.pseudonym import Pseudonymizer, pseudonymize_event, pseudonymize_review
from billing_audit.domain.risk import CLOSED_WEEK_TYPES
from billing_audit.domain.trail import BENIGN
from billing_audit.domain.values import counted, spreadsheet_time
from billing_audit.pipeline.access_review import billed_columns
from billing_audit.pipeline.backup import verify_backup
from billing_audit.pipeline.trail import TrailDeps, verify_stored
from billing_audit.store.access import AccessReviewStore, ApprovalStore
from billing_audit.store.backups import BackupStore
from billing_audit.store.interfaces import EventStore

Standard = Literal["SOX", "GDPR"]
STANDARDS: tuple[Standard, ...] = ("SOX", "GDPR")


@dataclass(frozen=True)
class Status:
    """One control's state: `ok` True (passed), False (failed) or None (not checked or unknown)."""

    control: str
    ok: bool | None
    detail: str

    @property
    def label(self) -> str:
        return {True: "PASS", False: "FAIL", None: "NOT CHECKED"}[self.ok]


StatusCheck = Callable[[], Status]


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    money: tuple[str, ...] = ()  # columns that hold dollars


@dataclass
class ComplianceReport:
    standard: Standard
    title: str
    since: datetime  # business zone, naive (as the reports show times)
    until: datetime
    generated_at: datetime
    zone: str
    statuses: list[Status] = field(default_factory=list)
    facts: list[tuple[str, Any]] = field(default_factory=list)  # headline figures
    tables: list[Table] = field(default_factory=list)
    pseudonymized: bool = False

    @property
    def overall(self) -> str:
        if any(status.ok is False for status in self.statuses):
            return "EXCEPTIONS"
        if any(status.ok is None for status in self.statuses):
            return "INCOMPLETE"
        return "CLEAR"


@dataclass
class ComplianceDeps:
    events: EventStore
    approvals: ApprovalStore
    reviews: AccessReviewStore
    clock: Clock = field(default=system_clock)
    # Each control the report states, checked when the report is built (None: not available here).
    trail_check: StatusCheck | None = None
    backup_check: StatusCheck | None = None
    pseudonyms: Pseudonymizer | None = None
    # Deployment facts the runtime cannot read (retention of reports, logs and backups), for GDPR.
    retention: dict[str, str] = field(default_factory=dict)


def _checked(check: StatusCheck | None, control: str) -> Status:
    if check is None:
        return Status(control, None, "not available where this report was built")
    try:
        return check()
    except Exception as exc:
        return Status(control, None, f"could not be checked: {type(exc).__name__}: {exc}")


def review_status(review: AccessReviewResult | None, until: datetime, policy_days: int) -> Status:
    """The access review is current when one ran within `policy_days` before the period's end."""
    if review is None:
        return Status("Access review", False, "no access review has been stored")
    age = until - review.reviewed_at
    counts = ", ".join(f"{reason} {count}" for reason, count in review.counts().items()) or "no findings"
    detail = f"last review {review.reviewed_at:%Y-%m-%d %H:%M} UTC ({age.days} days before the period's end): {counts}"
    if age > timedelta(days=policy_days):
        return Status("Access review", False, f"overdue: {detail}")
    return Status("Access review", not review.findings, detail)


def build_compliance(
    standard: Standard, since: datetime, until: datetime, config: AuditConfig, deps: ComplianceDeps
) -> ComplianceReport:
    if standard not in STANDARDS:
        raise ValueError(f"unknown standard {standard!r}: use SOX or GDPR")
    if since >= until:
        raise ValueError(f"the period is empty: {since.isoformat()} is not before {until.isoformat()}")
    zone = config.zone
    events: Iterable[AuditEvent] = deps.events.window(since, until, by="detected")
    if deps.pseudonyms is not None:
        pseudonyms = deps.pseudonyms
        events = (pseudonymize_event(event, pseudonyms) for event in events)
    report = ComplianceReport(
        standard=standard,
        title=f"Billing Audit {standard} compliance report",
        since=spreadsheet_time(since, zone),
        until=spreadsheet_time(until, zone),
        generated_at=spreadsheet_time(deps.clock(), zone),
        zone=config.timezone,
        pseudonymized=deps.pseudonyms is not None,
    )
    if standard == "SOX":
        _sox(report, list(events), since, until, config, deps)
    else:
        _gdpr(report, events, config, deps)
    return report


def _sox(
    report: ComplianceReport,
    events: list[AuditEvent],
    since: datetime,
    until: datetime,
    config: AuditConfig,
    deps: ComplianceDeps,
) -> None:
    zone = config.zone
    closed = [event for event in events if event.type in CLOSED_WEEK_TYPES]
    closed.sort(key=lambda e: (e.changed_at, e.sheet_id, e.row_id, e.column or ""))
    people: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in closed:
        people[event.editor].append(event)
    approvals = deps.approvals.between(since, until)
    if deps.pseudonyms is not None:
        pseudonyms = deps.pseudonyms
        approvals = [a.model_copy(update={"by": pseudonyms.maybe(a.by)}) for a in approvals]
    duties = segregation_findings(approvals, events, billed_columns(config))
    review = deps.reviews.latest()
    if review is not None and deps.pseudonyms is not None:
        review = pseudonymize_review(review, deps.pseudonyms)
    report.statuses = [
        _checked(deps.trail_check, "Trail verification"),
        _checked(deps.backup_check, "Backups"),
        review_status(review, until, config.access_review.lookback_days),
        Status(
            "Segregation of duties",
            not duties,
            f"{counted(len(duties), 'person-sheet pair')} changed billed values and approved the same rows"
            if duties
            else f"no one changed and approved the same row ({counted(len(approvals), 'approval')} in the period)",
        ),
    ]
    impact = round(sum(event.financial_impact or 0.0 for event in closed), 2)
    report.facts = [
        ("Events detected in the period", len(events)),
        ("Changes to closed periods", len(closed)),
        ("People who changed closed periods", len(people)),
        ("Net impact of changes to closed periods", impact),
        ("Approvals in the period", len(approvals)),
    ]
    report.tables.append(
        Table(
            "Changes to closed periods",
            [
                "Changed at",
                "Sheet",
                "Row",
                "Work Request #",
                "Column",
                "Old value",
                "New value",
                "Type",
                "Impact",
                "Risk level",
                "Changed by",
                "Found by",
                "Event id",
            ],
            [
                [
                    spreadsheet_time(e.changed_at, zone),
                    e.sheet_name,
                    e.row_id,
                    e.work_request,
                    e.column,
                    e.old_value,
                    e.new_value,
                    e.type.value,
                    e.financial_impact,
                    e.risk_level.value if e.risk_level else None,
                    e.changed_by,
                    e.detected_via.value,
                    e.event_id,
                ]
                for e in closed
            ],
            note="Post-close changes, closed rows deleted, backdated rows and moved week endings detected "
            "in the period.",
            money=("Impact",),
        )
    )
    report.tables.append(
        Table(
            "Who changed closed periods",
            ["Person", "Changes", "Net impact", "Types", "First", "Last"],
            [
                [
                    person,
                    len(items),
                    round(sum(e.financial_impact or 0.0 for e in items), 2),
                    ", ".join(
                        f"{kind} {count}" for kind, count in sorted(Counter(e.type.value for e in items).items())
                    ),
                    spreadsheet_time(min(e.changed_at for e in items), zone),
                    spreadsheet_time(max(e.changed_at for e in items), zone),
                ]
                for person, items in sorted(
                    people.items(), key=lambda item: (item[0] in UNNAMED_EDITORS, -len(item[1]), item[0])
                )
            ],
            money=("Net impact",),
        )
    )
    report.tables.append(
        Table(
            "Segregation of duties",
            ["Person", "Sheet", "Row", "Work Request #", "Approved", "Approved at", "Billed changes"],
            [
                [
                    finding.person,
                    finding.sheet_name,
                    row["row_id"],
                    row.get("work_request"),
                    row["approved"]["status"],
                    row["approved"]["at"],
                    "; ".join(
                        f"{change['column']} {change['old_value']} -> {change['new_value']} at {change['at']}"
                        for change in row["changes"]
                    ),
                ]
                for finding in duties
                for row in finding.evidence["rows"]
            ],
            note="Approvals are moves of a row into an approving status ("
            + ", ".join(config.access_review.approving_statuses)
            + ") in its Status history; billed changes are the period's events of the billed columns.",
        )
    )
    if review is not None:
        report.tables.append(
            Table(
                "Access review findings",
                ["Person", "Sheet", "Reason", "Detail"],
                [[f.person, f.sheet_name, f.reason.value, f.detail] for f in review.findings],
                note=f"The latest review, {review.reviewed_at:%Y-%m-%d %H:%M} UTC.",
            )
        )


# Personal data the product keeps: (category, what, where, retention key, basis).  The retention of
# the events is the configuration's; the others are the deployment's (README, "Retention").
_HELD = (
    (
        "Editors' emails",
        "changed_by of every audit event; the person's events index",
        "DynamoDB events table; the trail's log (state table); the event bus's consumers",
        "events",
        "Art. 6(1)(c) legal obligation (accounting records); Art. 6(1)(f) legitimate interest (internal control)",
    ),
    (
        "Approvers' emails",
        "who moved a row into an approving status, and when",
        "DynamoDB state table (approval items)",
        "approvals",
        "Art. 6(1)(f) legitimate interest (segregation of duties)",
    ),
    (
        "Roster",
        "email, name, role, access level, last permission review",
        "the configuration parameter (SSM)",
        "roster",
        "Art. 6(1)(f) legitimate interest (access control)",
    ),
    (
        "Access reviews",
        "people with access, their last login and findings",
        "DynamoDB state table (access-review items)",
        "approvals",
        "Art. 6(1)(f) legitimate interest (access control); Art. 32 security of processing",
    ),
    (
        "Reports",
        "editors' emails (keyed pseudonyms where reports.pseudonymize is on)",
        "S3 reports bucket",
        "reports",
        "Art. 6(1)(f) legitimate interest (internal control)",
    ),
    (
        "Sheet backups",
        "whatever people typed in the audited sheets (names in cells, editors)",
        "S3 backup bucket (Object Lock)",
        "backups",
        "Art. 6(1)(c) legal obligation (accounting records); Art. 32 (availability)",
    ),
    (
        "Alert recipients",
        "email addresses subscribed to the alerts",
        "SNS subscriptions",
        "roster",
        "Art. 6(1)(f) legitimate interest (operations)",
    ),
    (
        "Function logs",
        "errors and run summaries (no token, secret or webhook body)",
        "CloudWatch Logs",
        "logs",
        "Art. 6(1)(f) legitimate interest (operations, security)",
    ),
)
RIGHTS = (
    ("Access (Art. 15)", "billing-audit events export --user EMAIL: every event of that person"),
    (
        "Rectification (Art. 16)",
        "correct the roster in the configuration; audit events record what Smartsheet said and are not edited",
    ),
    (
        "Erasure (Art. 17)",
        "events expire with their retention; the tamper-evident trail is not edited before then "
        "(Art. 17(3)(b): a legal obligation)",
    ),
    (
        "Restriction and objection (Art. 18, 21)",
        "pseudonymized reports and exports (keyed hash, key in Secrets Manager)",
    ),
)
DEFAULT_RETENTION = {
    "roster": "while configured",
    "reports": "365 days (deployment default retention.reports_days)",
    "backups": "dailies 30 days, monthlies 12 months, under Object Lock (deployment default backups.*)",
    "logs": "90 days (deployment default retention.logs_days)",
}


def _kinds(events: list[AuditEvent]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(Counter(e.type.value for e in events).items()))


def _gdpr(report: ComplianceReport, events: Iterable[AuditEvent], config: AuditConfig, deps: ComplianceDeps) -> None:
    zone = config.zone
    retention = {**DEFAULT_RETENTION, **deps.retention}
    retention["events"] = (
        f"{config.retention_days} days from the change (DynamoDB TTL); trail digests as long"
        if config.retention_days
        else "kept until deleted (no retention_days configured)"
    )
    retention["approvals"] = (
        f"{config.retention_days} days from the approval or review (DynamoDB TTL), as long as the events"
        if config.retention_days
        else "kept until deleted (no retention_days configured)"
    )
    held = [[*row[:3], retention[row[3]], row[4]] for row in _HELD]
    if config.event_reporting.enabled:
        held.insert(
            1,
            [
                "Source and IP address of saves",
                "source and ip_address of audit events (Smartsheet Event Reporting)",
                "DynamoDB events table",
                retention["events"],
                "Art. 6(1)(f) legitimate interest (fraud prevention, security)",
            ],
        )
    seen: dict[str, list[datetime]] = defaultdict(list)
    count = 0
    for event in events:
        count += 1
        if event.changed_by:
            seen[event.changed_by.lower()].append(event.changed_at)
    report.statuses = [
        Status(
            "Pseudonymized output",
            True if report.pseudonymized else None,
            "people appear as keyed pseudonyms in this report"
            if report.pseudonymized
            else "people appear by email (set reports.pseudonymize, or pass --pseudonymize)",
        ),
        Status(
            "Retention configured",
            config.retention_days is not None,
            retention["events"],
        ),
    ]
    report.facts = [
        ("Events detected in the period", count),
        ("People whose data the period's events hold", len(seen)),
        ("Roster entries", len(config.roster)),
        ("Event Reporting (source and IP)", "on" if config.event_reporting.enabled else "off"),
    ]
    report.tables.append(Table("Personal data held", ["Category", "What", "Where", "How long", "Basis"], held))
    report.tables.append(
        Table(
            "People in the period",
            ["Person", "Events", "First change", "Last change"],
            [
                [person, len(times), spreadsheet_time(min(times), zone), spreadsheet_time(max(times), zone)]
                for person, times in sorted(seen.items(), key=lambda item: (-len(item[1]), item[0]))
            ],
            note="Whose personal data the period's events hold: scope for a data subject's access request.",
        )
    )
    report.tables.append(
        Table(
            "Data subject rights",
            ["Right", "How"],
            [list(right) for right in RIGHTS],
        )
    )


def trail_status(deps: TrailDeps) -> Status:
    """The stored trail verified now: signed digests, the log and every event against its leaf."""
    control = "Trail verification"
    digests = list(deps.digests.all())
    if not digests:
        return Status(control, False, "no digest has been written: the trail is not sealed")
    outcome = verify_stored(deps.trail, digests, deps.signer.public_key_pem().encode(), deps.clock())
    verdict = outcome.verdict
    sealed = f"{counted(outcome.digests, 'signed digest')}, the latest {digests[-1].digest_time}"
    if verdict.ok:
        return Status(
            control,
            True,
            f"{verdict.verified:,} events verified against {sealed}; {outcome.unsealed} logged since, not sealed yet",
        )
    problems = [finding for finding in verdict.findings if finding.kind not in BENIGN]
    return Status(control, False, f"{counted(len(problems), 'finding')} against {sealed}; first: {problems[0].detail}")


def backup_status(store: BackupStore) -> Status:
    """The latest day's backup re-read now against its manifest (every object's SHA-256 and size)."""
    days = store.days()
    if not days:
        return Status("Backups", False, "no backup in the backup bucket")
    result = verify_backup(store, days[-1])
    if result.ok:
        return Status(
            "Backups", True, f"{days[-1].isoformat()}: {counted(result.checked, 'object')} re-read, all match"
        )
    return Status(
        "Backups",
        False,
        f"{days[-1].isoformat()}: {counted(len(result.problems), 'problem')}; first: {result.problems[0].line()}",
    )
