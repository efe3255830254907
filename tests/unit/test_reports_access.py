"""Reports: the latest access review on its own sheet and in the dashboard, and pseudonymous reports."""

from __future__ import annotations

import io
import json
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from billing_audit.domain.access import AccessFinding, AccessReason, AccessReviewResult
from billing_audit.domain.pseudonym import Pseudonymizer
from billing_audit.pipeline.reports.build import ReportRequest, build_report
from billing_audit.store.access import MemoryAccessReviewStore
from tests.unit.report_builders import NOW, report_deps, week_of_events

CHICAGO = ZoneInfo("America/Chicago")
KEY = b"pseudonym-key-for-tests-0123456789"


def review() -> AccessReviewResult:
    return AccessReviewResult(
        reviewed_at=NOW,
        sheets=[{"sheet_id": 101, "sheet_name": "Subcontractor Billing", "people": 3}],
        people=3,
        approvals=2,
        findings=[
            AccessFinding(
                person="ana.ortiz@example.com",
                sheet_id=101,
                sheet_name="Subcontractor Billing",
                reason=AccessReason.SEGREGATION_OF_DUTIES,
                detail="changed billed values of 1 row and approved the same row",
                evidence={"rows": [{"row_id": 5000, "approved": {"status": "Approved", "at": "2026-11-18T15:00:00Z"}}]},
            ),
            AccessFinding(
                person="zed@outside.example",
                sheet_id=101,
                sheet_name="Subcontractor Billing",
                reason=AccessReason.NOT_IN_ROSTER,
                detail="holds EDITOR but is not in the roster",
                evidence={"access_level": "EDITOR", "grants": [{"access_level": "EDITOR", "via": "sheet"}]},
            ),
        ],
    )


def build(pseudonyms: Pseudonymizer | None = None, stored: AccessReviewResult | None = None):
    deps, *_ = report_deps(week_of_events(60))
    deps.access_reviews = MemoryAccessReviewStore()
    if stored is not None:
        deps.access_reviews.save(stored)
    deps.pseudonyms = pseudonyms
    return build_report(ReportRequest(kind="weekly", force=True), deps, zone=CHICAGO, configured_sheets=[101])


def test_the_latest_review_has_its_sheet_and_dashboard_section() -> None:
    outcome = build(stored=review())
    sheet = load_workbook(io.BytesIO(outcome.workbook))["Access Review"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert ["People with access", 3] in [row[:2] for row in rows]
    header = next(index for index, row in enumerate(rows) if row[0] == "Person")
    findings = rows[header + 1 :]
    assert [(row[0], row[3]) for row in findings] == [
        ("ana.ortiz@example.com", "segregation_of_duties"),
        ("zed@outside.example", "editor_not_in_roster"),
    ]
    assert json.loads(findings[0][5])["rows"][0]["approved"]["status"] == "Approved"
    assert sheet.auto_filter.ref == f"A{header + 1}:F{sheet.max_row}"
    # A write-only sheet sizes no row to its text: a row is made as high as its evidence wraps (80
    # characters a line), so it does not run over the next finding.
    for offset, finding in enumerate(findings):
        lines = -(-len(str(finding[5])) // 80)
        assert lines > 1 and sheet.row_dimensions[header + 2 + offset].height == 15 * lines
    html = outcome.dashboard.decode()
    assert "<h2>Access review</h2>" in html and "zed@outside.example" in html and "segregation_of_duties 1" in html


def test_without_a_stored_review_the_sheet_says_so() -> None:
    outcome = build()
    sheet = load_workbook(io.BytesIO(outcome.workbook))["Access Review"]
    assert "No access review stored yet" in str(sheet["A2"].value)
    assert "No access review stored yet." in outcome.dashboard.decode()


def test_pseudonymous_reports_show_no_email_anywhere() -> None:
    pseudonyms = Pseudonymizer(KEY)
    outcome = build(pseudonyms, stored=review())
    book = load_workbook(io.BytesIO(outcome.workbook))
    text = " ".join(str(cell.value) for ws in book.worksheets for row in ws.iter_rows() for cell in row if cell.value)
    html = outcome.dashboard.decode()
    for shown in (text, html):
        assert "@example.com" not in shown and "@outside.example" not in shown
        assert pseudonyms.email("ana.ortiz@example.com") in shown
        assert pseudonyms.email("zed@outside.example") in shown
    # Only what the report shows: the stored events keep their emails.
    plain = build(stored=review())
    assert "ana.ortiz@example.com" in plain.dashboard.decode()
