"""Compliance reports: SOX (closed-period changes, segregation of duties, controls) and GDPR (what
personal data is held, where, how long, on what basis), rendered as a workbook and an HTML page."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from billing_audit.domain.pseudonym import Pseudonymizer
from billing_audit.pipeline.compliance import build_compliance, review_status
from billing_audit.pipeline.reports.compliance_render import render_compliance_html, render_compliance_workbook
from billing_audit.pipeline.reports.workbook import CURRENCY, DATE_TIME
from tests.unit.compliance_builders import CONFIG, REVIEW, SINCE, UNTIL, compliance_deps


def table(report, title):
    return next(t for t in report.tables if t.title == title)


def test_sox_lists_closed_period_changes_who_made_them_and_segregation_of_duties() -> None:
    report = build_compliance("SOX", SINCE, UNTIL, CONFIG, compliance_deps())
    closed = table(report, "Changes to closed periods")
    assert [row[-1] for row in closed.rows] == ["e0", "e1", "e4"]  # not the plain change, not the locked row
    people = [(row[0], row[1], row[2]) for row in table(report, "Who changed closed periods").rows]
    assert people == [  # no one named is a gap in the record, not a person: last
        ("bob@example.com", 1, 1500.0),
        ("carl@example.com", 1, 0),
        ("(not known: deleted between scans)", 1, -300.0),
    ]
    duties = table(report, "Segregation of duties").rows
    assert [(row[0], row[2], row[4]) for row in duties] == [("bob@example.com", 100, "Approved")]
    statuses = {status.control: status for status in report.statuses}
    assert statuses["Segregation of duties"].ok is False and statuses["Trail verification"].ok is True
    assert statuses["Backups"].ok is True
    assert statuses["Access review"].ok is False  # current, but with a finding
    assert report.overall == "EXCEPTIONS"
    assert dict(report.facts)["Net impact of changes to closed periods"] == 1200.0


def test_controls_not_available_make_the_report_incomplete_not_clear() -> None:
    report = build_compliance("SOX", SINCE, UNTIL, CONFIG, compliance_deps(trail_ok=None))
    trail = next(s for s in report.statuses if s.control == "Trail verification")
    assert trail.ok is None and trail.label == "NOT CHECKED"
    # An access review older than the review policy's window is overdue; none at all fails too.
    assert review_status(REVIEW, UNTIL.replace(year=2027), 35).detail.startswith("overdue")
    assert review_status(None, UNTIL, 35).ok is False


def test_gdpr_says_what_is_held_where_how_long_and_why() -> None:
    report = build_compliance("GDPR", SINCE, UNTIL, CONFIG, compliance_deps())
    held = {row[0]: row for row in table(report, "Personal data held").rows}
    assert held["Editors' emails"][3].startswith("2557 days") and "Art. 6(1)(c)" in held["Editors' emails"][4]
    # Approvals and access reviews are kept as long as the events (the state table's TTL).
    assert held["Approvers' emails"][3] == held["Access reviews"][3]
    assert held["Approvers' emails"][3].startswith("2557 days from the approval or review (DynamoDB TTL)")
    forever = CONFIG.model_copy(update={"retention_days": None})
    kept = {
        r[0]: r[3]
        for r in table(build_compliance("GDPR", SINCE, UNTIL, forever, compliance_deps()), "Personal data held").rows
    }
    assert kept["Approvers' emails"] == kept["Editors' emails"] == "kept until deleted (no retention_days configured)"
    assert "Source and IP address of saves" not in held  # Event Reporting is off
    on = CONFIG.model_copy(update={"event_reporting": CONFIG.event_reporting.model_copy(update={"enabled": True})})
    assert "Source and IP address of saves" in {
        r[0] for r in table(build_compliance("GDPR", SINCE, UNTIL, on, compliance_deps()), "Personal data held").rows
    }
    people = [row[0] for row in table(report, "People in the period").rows]
    assert people == ["bob@example.com", "ana@example.com", "carl@example.com"]
    rights = dict(tuple(row) for row in table(report, "Data subject rights").rows)
    assert "events export --user EMAIL" in rights["Access (Art. 15)"]


def test_pseudonymized_reports_hold_no_email() -> None:
    deps = compliance_deps()
    deps.pseudonyms = Pseudonymizer(b"k" * 32)
    for standard in ("SOX", "GDPR"):
        report = build_compliance(standard, SINCE, UNTIL, CONFIG, deps)
        html = render_compliance_html(report)
        book = load_workbook(io.BytesIO(render_compliance_workbook(report)))
        cells = " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value)
        for shown in (html, cells):
            assert "bob@example.com" not in shown and deps.pseudonyms.email("bob@example.com") in shown


def test_the_workbook_and_page_look_like_the_audit_reports() -> None:
    report = build_compliance("SOX", SINCE, UNTIL, CONFIG, compliance_deps())
    book = load_workbook(io.BytesIO(render_compliance_workbook(report)))
    assert book.sheetnames == ["Summary", "Changes to closed periods", "Who changed closed periods",
                               "Segregation of duties", "Access review findings"]  # fmt: skip
    summary = {row[0].value: row for row in book["Summary"].iter_rows() if row[0].value}
    assert summary["Overall"][1].value == "EXCEPTIONS" and summary["Overall"][1].font.b
    closed = book["Changes to closed periods"]
    assert closed.freeze_panes == "A2" and closed.auto_filter.ref == "A1:M4"
    header = [cell.value for cell in closed[1]]
    rows = list(closed.iter_rows(min_row=2, max_row=4))
    assert all(row[0].number_format == DATE_TIME for row in rows)
    # Its date-times hold no zone: the title of their column names it.
    assert header[0] == f"Changed at ({CONFIG.timezone})" and header[-1] == "Event id"
    assert rows[0][header.index("Impact")].number_format == CURRENCY
    # User text stays text: a value typed "=2+2" is not a formula.
    formula = next(row[header.index("New value")] for row in rows if row[header.index("New value")].value == "=2+2")
    assert formula.data_type == "s"
    html = render_compliance_html(report)
    assert "default-src 'none'" in html and 'class="sortable"' in html
    assert "Crew &lt;12&gt; Billing" in html and "Crew <12>" not in html
    assert "<h2>Segregation of duties</h2>" in html and "EXCEPTIONS" in html


def test_an_empty_or_unknown_request_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        build_compliance("SOX", UNTIL, SINCE, CONFIG, compliance_deps())
    with pytest.raises(ValueError, match="unknown standard"):
        build_compliance("HIPAA", SINCE, UNTIL, CONFIG, compliance_deps())  # type: ignore[arg-type]
