"""Reports from stored events: the window, the figures, the workbook, the dashboard, skipping and links."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from billing_audit.domain.models import DetectedVia, EventType, RiskFactor, RiskLevel
from billing_audit.pipeline.reports import dashboard as dashboard_module
from billing_audit.pipeline.reports import workbook as workbook_module
from billing_audit.pipeline.reports.build import ReportRequest, build_report
from billing_audit.pipeline.reports.figures import SystemFacts, recommend, to_row
from billing_audit.pipeline.reports.links import LatestReportLinks, open_link, token_hash
from billing_audit.pipeline.reports.workbook import CURRENCY, DATE_TIME, FONT, SHEETS
from billing_audit.store.memory import MemoryEventStore
from tests.unit.alert_builders import violation
from tests.unit.compliance_builders import REVIEW
from tests.unit.report_builders import HOSTILE, NOW, report_deps, week_of_events

CHICAGO = ZoneInfo("America/Chicago")


def build(events, **request):
    deps, blobs, links = report_deps(events)
    outcome = build_report(ReportRequest(**request), deps, zone=CHICAGO, configured_sheets=[101, 102, 103, 104])
    return outcome, deps, blobs, links


def test_the_window_is_half_open_by_detection_and_by_sheet():
    events = week_of_events(60)
    store = MemoryEventStore()
    store.add(events)
    start, end = NOW - timedelta(days=2), NOW - timedelta(days=1)
    inside = {e.event_id for e in events if start <= e.detected_at < end}
    assert {e.event_id for e in store.window(start, end)} == inside
    at_start = events[0].detected_at
    assert events[0].event_id in {e.event_id for e in store.window(at_start, at_start + timedelta(seconds=1))}
    assert events[0].event_id not in {e.event_id for e in store.window(at_start - timedelta(hours=1), at_start)}
    only = {e.event_id for e in store.window(start, end, sheet_ids=[102])}
    assert only == {e.event_id for e in events if e.event_id in inside and e.sheet_id == 102}
    by_change = {e.event_id for e in store.window(start, end, by="changed", sheet_ids=[101, 102, 103])}
    assert by_change == {e.event_id for e in events if start <= e.changed_at < end}
    with pytest.raises(ValueError, match="per sheet"):
        list(store.window(start, end, by="changed"))


def test_a_weekly_report_counts_what_was_detected_in_its_week():
    events = week_of_events(200)
    outcome, _deps, blobs, _links = build(events, kind="weekly")
    in_week = [e for e in events if NOW - timedelta(days=7) <= e.detected_at < NOW]
    violations = [e for e in in_week if e.violation]
    figures = outcome.figures
    assert figures is not None and outcome.record is not None
    assert figures.total.events == len(in_week) == outcome.record.events
    assert figures.total.violations == len(violations)
    assert figures.total.impact == pytest.approx(sum(e.financial_impact or 0 for e in violations))
    assert sum(t.violations for t in figures.by_level.values()) == len(violations)
    assert sum(t.events for t in figures.by_day.values()) == len(in_week)
    assert all(item.risk_level == "HIGH" for item in figures.action_items)
    # Dated keys, each stored with the digest the record names.
    for name, key in outcome.record.keys.items():
        assert key.startswith("reports/2026/11/20/weekly-")
        import hashlib

        assert hashlib.sha256(blobs.objects[key]).hexdigest() == outcome.record.sha256[name]


def test_the_workbook_has_its_sheets_formats_filter_links_and_charts():
    outcome, *_ = build(week_of_events(120), kind="weekly")
    book = load_workbook(io.BytesIO(outcome.workbook))
    assert book.sheetnames == list(SHEETS)
    details = book["Change Details"]
    assert details.freeze_panes == "A2"
    # Printed on tabloid with its header on every page, without the row link and event id.
    assert str(details.page_setup.paperSize) == details.PAPERSIZE_TABLOID and details.print_title_rows == "$1:$1"
    assert details.print_area == f"'Change Details'!$A$1:$P${details.max_row}"
    assert [details.cell(1, column).value.split("\n")[0] for column in (16, 17)] == ["Detected via", "Row link"]
    assert details.auto_filter.ref == f"A1:R{details.max_row}"
    header = [cell.value for cell in details[1]]
    # Its date-times hold no zone: their columns' titles name it.
    zone = outcome.figures.zone
    assert header[0] == f"Changed at\n({zone})" and f"Detected at\n({zone})" in header and zone != "UTC"
    assert details.row_dimensions[1].height == 30  # both lines shown
    # Every cell names its font, styled or not: one without a name shows in a viewer's fallback.
    assert {cell.font.name for ws in book.worksheets for row in ws.iter_rows() for cell in row} == {FONT}
    assert "Financial impact" in header and "Row link" in header
    impact_col = header.index("Financial impact")
    rows = list(details.iter_rows(min_row=2))
    assert len(rows) == outcome.figures.total.events
    with_impact = [row for row in rows if row[impact_col].value is not None]
    assert with_impact and all(row[impact_col].number_format == CURRENCY for row in with_impact)
    assert all(row[0].number_format == DATE_TIME and row[0].is_date for row in rows)
    links = [row[header.index("Row link")] for row in rows]
    assert all(cell.hyperlink is not None and "rowId=" in cell.hyperlink.target for cell in links)
    # Times are the business zone's wall time.
    first = outcome.figures.rows[0]
    assert rows[0][0].value == first.changed_at
    # Risk colouring: filled level cells and a tint rule per level over the rows.
    level_col = header.index("Risk level")
    high = next(row[level_col] for row in rows if row[level_col].value == "HIGH")
    assert high.fill.fgColor.rgb.endswith("F8CBAD")
    assert len(details.conditional_formatting) == 1 and len(next(iter(details.conditional_formatting)).rules) == 3
    # User text is text: a sheet named like a formula stays a string, never a formula.
    sheet_col = header.index("Sheet")
    assert any(row[sheet_col].value == '=HYPERLINK("http://x")' and row[sheet_col].data_type == "s" for row in rows)
    # Numbers the cells held are numbers a workbook can sum; text stays text.
    old_col, new_col = header.index("Old value"), header.index("New value")
    assert all(isinstance(row[old_col].value, int) and row[old_col].data_type == "n" for row in rows)
    assert any(row[new_col].value == HOSTILE and row[new_col].data_type == "s" for row in rows)
    trends = book["Trends & Analytics"]
    assert len(trends._charts) == 4
    with zipfile.ZipFile(io.BytesIO(outcome.workbook)) as package:
        charts = [package.read(name).decode() for name in package.namelist() if name.startswith("xl/charts/chart")]
    [by_day] = [chart for chart in charts if "<lineChart>" in chart]
    assert '<smooth val="1"' not in by_day and '<smooth val="0"' in by_day  # counts per day: no curve
    # Count axes tick in whole steps, never 0.5.
    [by_person] = [chart for chart in charts if "Violations by person" in chart]
    assert all('<majorUnit val="' in chart and 'formatCode="0"' in chart for chart in (by_day, by_person))
    executive = book["Executive Dashboard"]
    values = {row[0].value: row[1] for row in executive.iter_rows(min_row=1, max_col=2) if row[0].value}
    assert values["Violations"].value == outcome.figures.total.violations
    assert values["Financial impact of violations"].number_format == CURRENCY


def test_past_excels_hyperlink_limit_links_become_formulas(monkeypatch):
    monkeypatch.setattr(workbook_module, "MAX_SHEET_HYPERLINKS", 5)
    outcome, *_ = build(week_of_events(40), kind="weekly")
    details = load_workbook(io.BytesIO(outcome.workbook))["Change Details"]
    header = [cell.value for cell in details[1]]
    links = [row[header.index("Row link")] for row in details.iter_rows(min_row=2)]
    assert all(cell.hyperlink is not None for cell in links[:5])
    assert all(cell.hyperlink is None and str(cell.value).startswith('=HYPERLINK("https://') for cell in links[5:])
    assert len(details._hyperlinks) <= 5


def test_the_dashboard_is_self_contained_and_escapes_what_users_typed():
    outcome, *_ = build(week_of_events(120), kind="weekly")
    html = outcome.dashboard.decode()
    assert "default-src 'none'" in html
    assert HOSTILE not in html and "<img" not in html and "evil.example/x.png>" not in html
    assert "&lt;script&gt;" in html and "Crew &lt;B&gt; &amp; Co" in html
    # Nothing loads from anywhere: no src= or stylesheet links; the only hrefs are the row links.
    assert " src=" not in html.replace("&lt;img src=", "")
    assert "<link" not in html
    hrefs = [part.split('"', 1)[0] for part in html.split('href="')[1:]]
    assert hrefs and all(href.startswith("https://app.smartsheet.com/sheets/") for href in hrefs)
    figures = outcome.figures
    assert f"${figures.total.impact:,.2f}" in html
    assert html.split("<tbody>", 1)[1].count("<tr>") == len(figures.violations)


def test_the_violations_table_may_wrap_long_types_and_emails_without_changing_their_text():
    outcome, *_ = build(week_of_events(40), kind="weekly")
    html = outcome.dashboard.decode()
    table = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    violation = next(e for e in outcome.figures.violations if "_" in e.type and e.changed_by)
    assert violation.type.replace("_", "_<wbr>") in table
    assert violation.changed_by.replace("@", "@<wbr>") in table
    # A browser drops <wbr> from the text: what is read, copied and sorted stays the value.
    assert violation.type not in table.replace(violation.type.replace("_", "_<wbr>"), "")


def test_without_new_events_a_report_is_skipped_unless_forced():
    events = week_of_events(50)
    deps, _blobs, _links = report_deps(events)
    first = build_report(ReportRequest(kind="daily"), deps, zone=CHICAGO, configured_sheets=[])
    assert not first.skipped
    again = build_report(ReportRequest(kind="daily"), deps, zone=CHICAGO, configured_sheets=[])
    assert again.skipped and again.previous == first.record
    forced = build_report(ReportRequest(kind="daily", force=True), deps, zone=CHICAGO, configured_sheets=[])
    assert not forced.skipped
    # Another kind has its own last report.
    assert not build_report(ReportRequest(kind="weekly"), deps, zone=CHICAGO, configured_sheets=[]).skipped
    later = NOW + timedelta(hours=2)
    deps.clock = lambda: later
    assert build_report(ReportRequest(kind="daily"), deps, zone=CHICAGO, configured_sheets=[]).skipped
    new = week_of_events(1, seed=9, now=later)[0].model_copy(update={"event_id": "new", "detected_at": later})
    deps.events.add([new])
    deps.clock = lambda: later + timedelta(minutes=1)
    assert not build_report(ReportRequest(kind="daily"), deps, zone=CHICAGO, configured_sheets=[]).skipped


def test_a_short_link_redirects_to_a_fresh_url_until_it_expires_then_is_gone():
    outcome, _deps, blobs, links = build(week_of_events(30), kind="daily", link_days=7)
    record = outcome.record
    assert record is not None
    link = record.links["dashboard"]
    token = link.rsplit("/", 1)[1]
    assert link.startswith("https://api.example/prod/r/") and len(token) >= 40
    assert token_hash(token) in links.links and token not in str(links.links)  # only the hash is kept
    six_days = NOW + timedelta(days=6, hours=23)
    blobs.clock = lambda: six_days
    signed_before = len(blobs.signed)
    answer = open_link(token, links, blobs, clock=lambda: six_days)
    assert answer.status == 302 and answer.location is not None
    # Signed at the click (by the link function's own, current credentials), for a few minutes.
    assert blobs.signed[signed_before:] == [(record.keys["dashboard"], 300)]
    assert "X-Amz-Date=20261127T" in answer.location
    # The last minutes: the redirect never outlives the link.
    near_end = record.links_expire_at - timedelta(seconds=40)
    blobs.clock = lambda: near_end
    assert open_link(token, links, blobs, clock=lambda: near_end).location.endswith("X-Amz-Expires=40")
    assert open_link(token, links, blobs, clock=lambda: record.links_expire_at).status == 410
    assert open_link(token + "x", links, blobs, clock=lambda: NOW).status == 404
    assert open_link("", links, blobs, clock=lambda: NOW).status == 404


def test_alerts_get_a_fresh_link_to_the_latest_report_while_its_links_live():
    outcome, deps, _blobs, links = build(week_of_events(30), kind="daily", link_days=2)
    # The ledger keeps the report's keys, never a link: reading it hands out nothing that opens.
    stored = deps.ledger.latest().model_dump_json()
    assert outcome.record.links and not any(link in stored for link in outcome.record.links.values())
    latest = LatestReportLinks(deps.ledger, deps.links, clock=lambda: NOW + timedelta(days=1))
    link = latest.latest()
    assert link not in outcome.record.links.values()  # a link of its own, opening the dashboard till the end
    found = links.resolve(token_hash(link.rsplit("/", 1)[1]))
    assert found == (outcome.record.keys["dashboard"], outcome.record.links_expire_at)
    assert LatestReportLinks(deps.ledger, deps.links, clock=lambda: NOW + timedelta(days=2)).latest() is None


def test_an_empty_window_still_makes_a_readable_report():
    outcome, *_ = build([], kind="daily", force=True)
    book = load_workbook(io.BytesIO(outcome.workbook))
    assert book["Change Details"].max_row == 1 and len(book["Trends & Analytics"]._charts) == 4
    assert outcome.figures.status == "CLEAR"
    assert "No violations in this period." in outcome.dashboard.decode()


def test_a_price_mismatch_row_says_which_value_is_which():
    mismatch = violation(kind=EventType.PRICE_MISMATCH, column=None, impact=None, old_value=300.0, new_value=350)
    row = to_row(mismatch, ZoneInfo("America/Chicago"), "https://app.smartsheet.com/sheets/1?rowId=2")
    assert (row.column, row.old_value, row.new_value) == ("(row) qty x price -> total", 300, 350)
    deleted = violation(kind=EventType.CLOSED_ROW_DELETED, column=None, changed_by=None)
    assert to_row(deleted, ZoneInfo("UTC"), "").column == "(row)"


def test_off_hours_violations_are_those_the_risk_factors_say_were_off_hours():
    # The risk policy's hours, weekends and holidays, as the events' factors carry them; a violation
    # at 05:00 without such a factor (a deletion the scan dates only to itself) is not counted.
    factor = {
        "outside_business_hours": RiskFactor(code="outside_business_hours", label="Outside (19:00)", weight=0.3),
        "weekend": RiskFactor(code="weekend", label="Weekend (Saturday)", weight=0.2),
        "holiday": RiskFactor(code="holiday", label="Holiday (2026-11-26)", weight=0.25),
        "closed_week": RiskFactor(code="closed_week_change", label="Closed week", weight=0.4),
    }
    events = week_of_events(8)
    marked = [["outside_business_hours"], ["weekend", "closed_week"], ["holiday"], ["closed_week"], [], []]
    events = [
        event.model_copy(
            update={
                "violation": index < 5,
                "type": EventType.POST_CLOSE_CHANGE if index < 5 else EventType.CHANGE,
                "risk_factors": [factor[code] for code in (marked[index] if index < len(marked) else ["weekend"])],
            }
        )
        for index, event in enumerate(events)
    ]
    outcome, *_ = build(events, kind="weekly")
    assert outcome.figures.after_hours_violations == 3
    assert any("3 violations were made outside business hours" in advice for advice in outcome.figures.recommendations)


def test_a_net_loss_bar_is_drawn_leftwards_from_zero_in_red():
    svg = dashboard_module._bars([("North Billing", -135.0), ("South Billing", 155.0)], dollars=True)
    (north_x, north_w, north_fill), (south_x, _south_w, south_fill) = re.findall(
        r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="16" rx="2" fill="([^"]+)"/>', svg
    )
    zero = float(re.search(r'<line x1="([\d.]+)"', svg).group(1))
    assert float(north_x) + float(north_w) == pytest.approx(zero) and north_fill == dashboard_module.NEGATIVE
    assert float(south_x) == pytest.approx(zero) and south_fill != dashboard_module.NEGATIVE
    assert "-$135.00" in svg and "$155.00" in svg
    # All positive: bars start at the labels' edge, no zero line.
    plain = dashboard_module._bars([("A", 1.0), ("B", 2.0)])
    assert "<line" not in plain and dashboard_module.NEGATIVE not in plain


def test_recommendations_name_medium_violations_and_access_findings_before_saying_all_is_well():
    quiet = {"violation": False, "type": EventType.CHANGE, "risk_level": None, "detected_via": DetectedVia.WEBHOOK}
    events = [e.model_copy(update=quiet) for e in week_of_events(20)]
    clear = build(events, kind="weekly")[0].figures
    clear.system = SystemFacts()  # every sheet scanned, no backlog: nothing but the events to weigh
    assert clear.status == "CLEAR" and recommend(clear)[0].startswith("No action needed")
    changed = {
        "violation": True,
        "type": EventType.POST_CLOSE_CHANGE,
        "risk_level": RiskLevel.MEDIUM,
        "financial_impact": -300.0,
    }
    review = build([events[0], events[1].model_copy(update=changed)], kind="weekly")[0].figures
    review.system = SystemFacts()
    assert review.status == "REVIEW"
    assert recommend(review) == [
        "Review the 1 MEDIUM-risk violation (-$300.00) with the editors: each changed a closed or locked "
        "week's billing."
    ]
    clear.access_review = REVIEW
    assert recommend(clear) == ["The access review of 2026-11-20 has 1 finding (inactive user 1): see Access Review."]


def test_changes_no_one_is_named_for_come_last_by_person_and_are_never_the_editor_to_check():
    deleted = {
        "violation": True,
        "type": EventType.CLOSED_ROW_DELETED,
        "risk_level": RiskLevel.MEDIUM,
        "financial_impact": -300.0,
        "changed_by": None,
        "detected_via": DetectedVia.SCAN,
        "column": None,
    }
    base = week_of_events(20)
    ana = {"violation": True, "type": EventType.POST_CLOSE_CHANGE, "risk_level": RiskLevel.LOW}
    events = [e.model_copy(update=deleted) for e in base[:4]]
    events += [e.model_copy(update={**ana, "changed_by": "ana@example.com"}) for e in base[4:7]]
    outcome = build(events, kind="weekly")[0]
    figures = outcome.figures
    assert list(figures.by_person) == ["ana@example.com", "(not known: deleted between scans)"]
    # The dashboard says their time is when the scan noticed them, not when they happened.
    table = outcome.dashboard.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    noticed = [row for row in table.split("<tr>") if "deleted between scans" in row]
    assert len(noticed) == 4 and all("(noticed)</td>" in row for row in noticed)
    advice = " ".join(recommend(figures))
    assert "ana@example.com made 3 of the 7 violations" not in advice  # 43 %: under the half
    assert "(not known" not in advice


def test_the_risk_column_sorts_by_severity_not_by_name():
    """Sorted by the level's name, a click on "Risk" put LOW between HIGH and MEDIUM."""
    outcome, *_ = build(week_of_events(120), kind="weekly")
    table = outcome.dashboard.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    risk = {
        cell.split('"', 1)[0]: cell.split("lvl-", 1)[1].split('"', 1)[0]
        for cell in table.split('<td data-v="')[1:]
        if 'class="lvl' in cell
    }
    assert {level: rank for rank, level in risk.items()} == {"LOW": "0", "MEDIUM": "1", "HIGH": "2"}
    head = outcome.dashboard.decode().split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert '<th data-type="num">Risk</th>' in head


def test_summaries_name_types_as_alerts_do_and_times_name_their_zone():
    outcome, *_ = build(week_of_events(40), kind="weekly")
    book = load_workbook(io.BytesIO(outcome.workbook))
    labels = {row[0] for row in book["Executive Dashboard"].iter_rows(values_only=True) if row[0]}
    assert "post-close change" in labels and "post_close_change" not in labels
    assert f"Generated ({outcome.figures.zone})" in labels
    trends = {row[0] for row in book["Trends & Analytics"].iter_rows(values_only=True) if row[0]}
    assert "locked-row change" in trends
    # Change Details keeps the codes that events.jsonl and `events query --type` use.
    details = book["Change Details"]
    column = [cell.value for cell in details[1]].index("Type")
    assert {row[column] for row in details.iter_rows(min_row=2, values_only=True)} >= {"post_close_change"}


def test_the_totals_show_what_moved_beside_the_net():
    """A +$300 and a -$300 net to nothing; the reports also say $600 of billing moved."""
    base = week_of_events(2)
    update = {"violation": True, "type": EventType.POST_CLOSE_CHANGE, "risk_level": RiskLevel.MEDIUM}
    events = [base[0].model_copy(update={**update, "financial_impact": 300.0})]
    events.append(base[1].model_copy(update={**update, "financial_impact": -300.0}))
    outcome = build(events, kind="weekly")[0]
    assert (outcome.figures.total.impact, outcome.figures.total.moved) == (0.0, 600.0)
    executive = load_workbook(io.BytesIO(outcome.workbook))["Executive Dashboard"]
    values = {row[0]: row[1] for row in executive.iter_rows(values_only=True, max_col=2) if row[0]}
    assert (values["Financial impact of violations"], values["Amount moved by violations (gross)"]) == (0, 600)
    assert '<div class="card">Amount moved (gross)<b>$600.00</b></div>' in outcome.dashboard.decode()


def test_change_details_wraps_risk_factors_and_grows_the_row_to_show_them_all():
    many = [
        RiskFactor(code="outside_business_hours", label="Outside business hours (23:40)", weight=0.3),
        RiskFactor(code="closed_week_change", label="Change to a closed week", weight=0.4),
        RiskFactor(code="large_change", label="Large change relative to the row's value (40%)", weight=0.3),
    ]
    events = [
        event.model_copy(update={"risk_factors": many if index == 0 else many[:1]})
        for index, event in enumerate(week_of_events(3))
    ]
    outcome, *_ = build(events, kind="weekly")
    details = load_workbook(io.BytesIO(outcome.workbook))["Change Details"]
    column = [cell.value.split("\n")[0] for cell in details[1]].index("Risk factors") + 1
    by_lines = {}
    for row in range(2, details.max_row + 1):
        cell = details.cell(row, column)
        assert cell.alignment.wrap_text
        wraps = len(cell.value) > workbook_module.FACTORS_WIDTH
        by_lines[wraps] = details.row_dimensions[row].height
        if wraps:  # a grown row reads along its last line, every cell of it
            assert {c.alignment.vertical for c in details[row] if c.value is not None} <= {None, "bottom"}
    # Three factors take three lines of the column; one fits a line and leaves the row's height alone.
    assert by_lines == {True: 15 * 3, False: None}
