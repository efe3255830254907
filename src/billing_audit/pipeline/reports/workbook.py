"""The Excel workbook: Executive Dashboard, Change Details, System Insights, Trends & Analytics,
Access Review.

Written in openpyxl's write-only mode, row by row into a stream, so a 100,000-event report costs its
rows once and not a cell object each.  In that mode a sheet's view (frozen panes) and column widths
are written before its first row, and its filter, conditional formats, hyperlinks and charts after
its last, which is the order the functions below keep.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from billing_audit.domain.alert_messages import TYPE_LABELS
from billing_audit.domain.models import EventType
from billing_audit.domain.values import spreadsheet_time
from billing_audit.pipeline.reports.figures import LEVELS, ReportFigures, ReportRow, Tally

SHEETS = ("Executive Dashboard", "Change Details", "System Insights", "Trends & Analytics", "Access Review")
CURRENCY = '"$"#,##0.00;[Red]-"$"#,##0.00'
DATE_TIME = "yyyy-mm-dd hh:mm"
DATE = "yyyy-mm-dd"
SCORE = "0.00"
# Excel keeps at most 65,530 hyperlinks a sheet; past them a row's link is a HYPERLINK() formula,
# which Excel and LibreOffice open the same way.
MAX_SHEET_HYPERLINKS = 65_530
MAX_CELL_CHARS = 32_767
TOP_CHART_ITEMS = 15
# Excel caps a row at 409 points: a wrapped row grows to 27 lines of 15, and scrolls beyond.
MAX_WRAPPED_LINES = 27
RISK_COLOURS = {"HIGH": "F8CBAD", "MEDIUM": "FFE699", "LOW": "C6E0B4"}
STATUS_COLOURS = {"ACTION REQUIRED": "C00000", "REVIEW": "BF8F00", "CLEAR": "548235"}
HEADER_FILL = "1F3864"
FONT = "Calibri"  # the body font of a new workbook, so styled cells match the rest
# Characters XML 1.0 cannot carry; user-entered cell text may hold them.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

FACTORS_WIDTH = 44
ACTION_COLUMNS = (
    "Changed at", "Sheet", "Work Request #", "Changed by", "Column", "Old value", "New value", "Impact", "Score", "Row",
)  # fmt: skip
DETAIL_COLUMNS: tuple[tuple[str, float], ...] = (
    ("Changed at", 17),
    ("Sheet", 24),
    ("Row", 19),
    ("Work Request #", 16),
    ("Column", 20),
    ("Old value", 18),
    ("New value", 18),
    ("Changed by", 28),
    ("Type", 20),
    ("Violation", 10),
    ("Financial impact", 17),
    ("Risk level", 11),
    ("Risk score", 10),
    ("Risk factors", FACTORS_WIDTH),
    ("Detected at", 17),
    ("Detected via", 12),
    ("Row link", 12),
    ("Event id", 34),
)
UNPRINTED_DETAILS = ("Row link", "Event id")  # DETAIL_COLUMNS' last, not printed


def _styles(book: Workbook) -> None:
    white = Font(name=FONT, bold=True, color="FFFFFF")
    named = [
        NamedStyle(
            "ba_header",
            font=white,
            fill=PatternFill("solid", fgColor=HEADER_FILL),
            alignment=Alignment(wrap_text=True, vertical="top"),
        ),
        NamedStyle("ba_title", font=Font(name=FONT, bold=True, size=16, color=HEADER_FILL)),
        NamedStyle("ba_section", font=Font(name=FONT, bold=True, size=12, color=HEADER_FILL)),
        # Each style names the font: a style without one shows in the viewer's fallback (a serif).
        NamedStyle("ba_money", font=Font(name=FONT), number_format=CURRENCY),
        NamedStyle("ba_datetime", font=Font(name=FONT), number_format=DATE_TIME),
        NamedStyle("ba_date", font=Font(name=FONT), number_format=DATE),
        NamedStyle("ba_score", font=Font(name=FONT), number_format=SCORE),
        NamedStyle("ba_link", font=Font(name=FONT, color="0563C1", underline="single")),
        # Wrapped text sits at the bottom, as every other cell does: a row grown to show it all
        # reads along its last line.
        NamedStyle("ba_wrap", font=Font(name=FONT), alignment=Alignment(wrap_text=True)),
    ]
    named += [
        NamedStyle(f"ba_risk_{level}", fill=PatternFill("solid", fgColor=colour), font=Font(name=FONT, bold=True))
        for level, colour in RISK_COLOURS.items()
    ]
    named += [
        NamedStyle(f"ba_status_{status.replace(' ', '_')}", font=Font(name=FONT, bold=True, size=14, color=colour))
        for status, colour in STATUS_COLOURS.items()
    ]
    for style in named:
        book.add_named_style(style)


class _Sheet:
    """A write-only sheet that counts its rows, so charts and filters can name their ranges."""

    def __init__(self, book: Workbook, title: str, widths: Sequence[float]) -> None:
        self.ws: WriteOnlyWorksheet = book.create_sheet(title)
        self.row = 0
        # Printed (and converted to PDF) landscape, each sheet one page wide.
        self.ws.page_setup.orientation = "landscape"
        self.ws.page_setup.fitToWidth = 1
        self.ws.page_setup.fitToHeight = 0
        self.ws.sheet_properties.pageSetUpPr.fitToPage = True
        for index, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(index)].width = width

    def cell(self, value: Any, style: str | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, value=_safe(value))
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"  # user text, never a formula
        if style:
            cell.style = style
        return cell

    def append(self, values: Sequence[Any], *, lines: int = 1) -> int:
        if lines > 1:
            # A write-only sheet sizes no row to its wrapped text: a wrapped row's height is set.
            self.ws.row_dimensions[self.row + 1].height = 15 * min(lines, MAX_WRAPPED_LINES)
        self.ws.append(list(values))
        self.row += 1
        return self.row

    def blank(self) -> None:
        self.append([])

    def section(self, title: str) -> None:
        self.append([self.cell(title, "ba_section")])

    def header(self, titles: Sequence[str], *, lines: int = 1) -> int:
        return self.append([self.cell(title, "ba_header") for title in titles], lines=lines)


def _wrapped_lines(text: str, width: float) -> int:
    """About how many lines `text` wraps to in a column `width` characters wide."""
    return max(1, math.ceil(len(text) / width))


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
        return value[:MAX_CELL_CHARS]
    return value


def render_workbook(figures: ReportFigures) -> bytes:
    book = Workbook(write_only=True)
    _styles(book)
    _executive(book, figures)
    _details(book, figures)
    _insights(book, figures)
    _trends(book, figures)
    _access_review(book, figures)
    book.properties.title = figures.title
    book.properties.creator = "Billing Audit"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# Columns of local times: a spreadsheet's date-time holds no zone, so their titles name it, on a
# second line of the header.
_LOCAL_TIME_COLUMNS = frozenset({"Changed at", "Detected at"})


def _zoned(titles: Sequence[str], zone: str) -> list[str]:
    return [f"{title}\n({zone})" if title in _LOCAL_TIME_COLUMNS else title for title in titles]


def _period(figures: ReportFigures) -> str:
    return f"{figures.since:%Y-%m-%d %H:%M} to {figures.until:%Y-%m-%d %H:%M} ({figures.zone})"


def _by_type_label(figures: ReportFigures) -> list[tuple[str, Tally]]:
    """The summaries' type names as the alerts write them ("post-close change"); Change Details
    keeps the codes, which `events query --type` and events.jsonl use."""
    return [(TYPE_LABELS[EventType(kind)], tally) for kind, tally in figures.by_type.items()]


def _executive(book: Workbook, figures: ReportFigures) -> None:
    sheet = _Sheet(book, SHEETS[0], (26, 18, 18, 26, 16, 18, 18, 16, 12, 12))
    sheet.append([sheet.cell(figures.title, "ba_title")])
    sheet.append(["Period", _period(figures)])
    sheet.append([f"Generated ({figures.zone})", sheet.cell(figures.generated_at, "ba_datetime")])
    sheet.append(["Status", sheet.cell(figures.status, f"ba_status_{figures.status.replace(' ', '_')}")])
    sheet.blank()
    sheet.section("Totals")
    sheet.append(["Events", figures.total.events])
    sheet.append(["Violations", figures.total.violations])
    sheet.append(["Financial impact of violations", sheet.cell(figures.total.impact, "ba_money")])
    # The net can hide money: a +$300 and a -$300 net to nothing, yet $600 of billing moved.
    sheet.append(["Amount moved by violations (gross)", sheet.cell(figures.total.moved, "ba_money")])
    sheet.append(["Violations outside business hours", figures.after_hours_violations])
    sheet.blank()
    sheet.section("By risk level")
    sheet.header(["Risk level", "Violations", "Impact of violations"])
    for level in LEVELS:
        tally = figures.by_level[level.value]
        sheet.append(
            [sheet.cell(level.value, f"ba_risk_{level.value}"), tally.violations, sheet.cell(tally.impact, "ba_money")]
        )
    sheet.blank()
    sheet.section("By type")
    sheet.header(["Type", "Events", "Violations", "Impact of violations"])
    for kind, tally in _by_type_label(figures):
        sheet.append([kind, tally.events, tally.violations, sheet.cell(tally.impact, "ba_money")])
    sheet.blank()
    sheet.section("Immediate action items")
    if not figures.action_items:
        sheet.append(["No HIGH-risk violations in this period."])
    else:
        sheet.header(_zoned(ACTION_COLUMNS, figures.zone), lines=2)
        for item in figures.action_items:
            sheet.append(
                [
                    sheet.cell(item.changed_at, "ba_datetime"),
                    sheet.cell(item.sheet_name),
                    sheet.cell(item.work_request),
                    sheet.cell(item.changed_by),
                    sheet.cell(item.column),
                    sheet.cell(item.old_value),
                    sheet.cell(item.new_value),
                    sheet.cell(item.impact, "ba_money"),
                    sheet.cell(item.risk_score, "ba_score"),
                    _link_cell(sheet, item.url, real=True),
                ]
            )
    sheet.blank()
    sheet.section("Recommendations")
    for advice in figures.recommendations:
        sheet.append([sheet.cell(advice)])


def _link_cell(sheet: _Sheet, url: str, *, real: bool) -> WriteOnlyCell:
    if real:
        cell = sheet.cell("Open row", "ba_link")
        cell.hyperlink = url
        return cell
    quoted = url.replace('"', '""')
    cell = WriteOnlyCell(sheet.ws, value=f'=HYPERLINK("{quoted}","Open row")')  # our URL: a formula on purpose
    cell.style = "ba_link"
    return cell


def _details(book: Workbook, figures: ReportFigures) -> None:
    sheet = _Sheet(book, SHEETS[1], [width for _, width in DETAIL_COLUMNS])
    sheet.ws.freeze_panes = "A2"
    sheet.header(_zoned([title for title, _ in DETAIL_COLUMNS], figures.zone), lines=2)
    for index, row in enumerate(figures.rows):
        # The factors wrap and the row grows to show them: clipped, a printed page hides why.
        lines = _wrapped_lines(row.factors, FACTORS_WIDTH)
        sheet.append(_detail_values(sheet, row, real_link=index < MAX_SHEET_HYPERLINKS), lines=lines)
    last_column = get_column_letter(len(DETAIL_COLUMNS))
    last_row = max(sheet.row, 2)
    sheet.ws.auto_filter.ref = f"A1:{last_column}{last_row}"
    # On paper: tabloid, the header on every page, and not the row link or event id (for clicking
    # and looking up, not reading), so the text prints at about 6 pt rather than 4.
    sheet.ws.page_setup.paperSize = Worksheet.PAPERSIZE_TABLOID
    sheet.ws.print_title_rows = "1:1"
    printed = [title for title, _ in DETAIL_COLUMNS].index(UNPRINTED_DETAILS[0])
    sheet.ws.print_area = f"A1:{get_column_letter(printed)}{last_row}"
    level_column = get_column_letter([t for t, _ in DETAIL_COLUMNS].index("Risk level") + 1)
    for level, colour in RISK_COLOURS.items():
        # The whole row tinted by its level, kept when people sort or filter.
        sheet.ws.conditional_formatting.add(
            f"A2:{last_column}{last_row}",
            FormulaRule(formula=[f'${level_column}2="{level}"'], fill=PatternFill("solid", bgColor=colour)),
        )


def _detail_values(sheet: _Sheet, row: ReportRow, *, real_link: bool) -> list[Any]:
    return [
        sheet.cell(row.changed_at, "ba_datetime"),
        sheet.cell(row.sheet_name),
        row.row_id,
        sheet.cell(row.work_request),
        sheet.cell(row.column),
        sheet.cell(row.old_value),
        sheet.cell(row.new_value),
        sheet.cell(row.changed_by),
        row.type,
        "Yes" if row.violation else "No",
        sheet.cell(row.impact, "ba_money") if row.impact is not None else None,
        sheet.cell(row.risk_level, f"ba_risk_{row.risk_level}") if row.risk_level else None,
        sheet.cell(row.risk_score, "ba_score"),
        sheet.cell(row.factors, "ba_wrap") if row.factors else None,
        sheet.cell(row.detected_at, "ba_datetime"),
        row.detected_via,
        _link_cell(sheet, row.url, real=real_link),
        row.event_id,
    ]


def _insights(book: Workbook, figures: ReportFigures) -> None:
    system = figures.system
    sheet = _Sheet(book, SHEETS[2], (34, 18, 16, 14, 14, 14))
    sheet.append([sheet.cell("System Insights", "ba_title")])
    sheet.append(["Period", _period(figures)])
    sheet.blank()
    sheet.section("Scan coverage")
    sheet.header(["Sheet", f"Last scan ({figures.zone})", "Rows tracked", "Events", "Violations"])
    if not system.coverage:
        sheet.append(["No sheet state recorded."])
    for sheet_cover in system.coverage:
        sheet.append(
            [
                sheet.cell(sheet_cover.sheet_name or str(sheet_cover.sheet_id)),
                sheet.cell(sheet_cover.last_scan, "ba_datetime") if sheet_cover.last_scan else "never",
                sheet_cover.rows_tracked,
                sheet_cover.events,
                sheet_cover.violations,
            ]
        )
    sheet.blank()
    sheet.section("How events were found")
    sheet.header(["Path", "Events"])
    for via, count in figures.by_via.items():
        sheet.append([via, count])
    sheet.blank()
    sheet.section("API use and webhook health (CloudWatch, this period)")
    if system.metrics is None:
        sheet.append(["Not available where this report was built (no CloudWatch metrics read)."])
    else:
        sheet.header(["Metric", "Total"])
        for name, value in system.metrics.items():
            sheet.append([name, value])
    sheet.blank()
    sheet.section("Scan backlog")
    backlog = system.backlog
    sheet.append(["Sheets with an open backlog", backlog.sheets])
    sheet.append(["Rows left", backlog.rows_left])
    sheet.append(["Cell-history reads left", backlog.history_reads_left])
    sheet.append([f"Open since ({figures.zone})", sheet.cell(backlog.oldest, "ba_datetime") if backlog.oldest else "-"])
    sheet.blank()
    sheet.section("Recommendations")
    for advice in figures.recommendations:
        sheet.append([sheet.cell(advice)])


def _table(
    sheet: _Sheet, title: str, label: str, items: Sequence[tuple[Any, Tally]], *, key_style: str | None = None
) -> tuple[int, int]:
    """A section of label, events, violations, impact; returns its first and last data rows."""
    sheet.section(title)
    sheet.header([label, "Events", "Violations", "Impact of violations"])
    first = sheet.row + 1
    for key, tally in items:
        sheet.append([sheet.cell(key, key_style), tally.events, tally.violations, sheet.cell(tally.impact, "ba_money")])
    if sheet.row < first:
        sheet.append(["(none)", 0, 0, 0])
    return first, sheet.row


def _whole_numbers(chart: BarChart | LineChart, largest: int) -> None:
    """A count axis in whole steps (about six of them): left to itself it ticks 0.5, 1, 1.5."""
    chart.y_axis.number_format = "0"
    chart.y_axis.majorUnit = max(1, math.ceil(largest / 6))


def _trends(book: Workbook, figures: ReportFigures) -> None:
    sheet = _Sheet(book, SHEETS[3], (30, 12, 12, 18))
    ws = sheet.ws
    sheet.append([sheet.cell("Trends & Analytics", "ba_title")])
    sheet.append(["Period", _period(figures)])
    sheet.blank()
    days: list[tuple[date, Tally]] = list(figures.by_day.items())
    first, last = _table(sheet, "By day (date changed)", "Day", days, key_style="ba_date")
    line = LineChart()
    line.title, line.y_axis.title, line.x_axis.title = "Events and violations by day", "Count", "Day"
    line.add_data(Reference(ws, min_col=2, max_col=3, min_row=first - 1, max_row=last), titles_from_data=True)
    line.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    line.x_axis.number_format = DATE
    for series in line.series:
        series.smooth = False  # counts per day: a smoothed curve would draw values no day had
    _whole_numbers(line, max((tally.events for _, tally in days), default=0))
    line.height, line.width = 8, 18
    ws.add_chart(line, "F4")
    sheet.blank()

    people = list(figures.by_person.items())
    first, last = _table(sheet, "By person", "Changed by", people)
    top = min(last, first + TOP_CHART_ITEMS - 1)
    bar = BarChart()
    bar.type, bar.title = "bar", "Violations by person (top 15)"
    _whole_numbers(bar, max((tally.violations for _, tally in people[:TOP_CHART_ITEMS]), default=0))
    bar.add_data(Reference(ws, min_col=3, min_row=first - 1, max_row=top), titles_from_data=True)
    bar.set_categories(Reference(ws, min_col=1, min_row=first, max_row=top))
    bar.height, bar.width = 8, 18
    ws.add_chart(bar, "F22")
    sheet.blank()

    sheets = list(figures.by_sheet.items())
    first, last = _table(sheet, "By sheet", "Sheet", sheets)
    top = min(last, first + TOP_CHART_ITEMS - 1)
    impact = BarChart()
    impact.title = "Financial impact of violations by sheet"
    impact.add_data(Reference(ws, min_col=4, min_row=first - 1, max_row=top), titles_from_data=True)
    impact.set_categories(Reference(ws, min_col=1, min_row=first, max_row=top))
    impact.y_axis.number_format = '"$"#,##0'
    impact.height, impact.width = 8, 18
    ws.add_chart(impact, "F40")
    sheet.blank()

    first, last = _table(sheet, "By type", "Type", _by_type_label(figures))
    pie = PieChart()
    pie.title = "Events by type"
    pie.add_data(Reference(ws, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
    pie.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    pie.height, pie.width = 8, 12
    ws.add_chart(pie, "F58")


ACCESS_COLUMNS: tuple[tuple[str, float], ...] = (
    ("Person", 30),
    ("Sheet", 24),
    ("Sheet id", 18),
    ("Reason", 28),
    ("Detail", 60),
    ("Evidence", 80),
)


def _access_review(book: Workbook, figures: ReportFigures) -> None:
    """The latest access review: when, what it looked at, its counts and every finding with its evidence."""
    review = figures.access_review
    sheet = _Sheet(book, SHEETS[4], [width for _, width in ACCESS_COLUMNS])
    sheet.append([sheet.cell("Access Review", "ba_title")])
    if review is None:
        sheet.append(["No access review stored yet (billing-audit access-review, or its monthly schedule)."])
        return
    reviewed = spreadsheet_time(review.reviewed_at, ZoneInfo(figures.zone))
    sheet.append([f"Reviewed ({figures.zone})", sheet.cell(reviewed, "ba_datetime")])
    sheet.append(["Sheets reviewed", len(review.sheets)])
    sheet.append(["People with access", review.people])
    sheet.append(["Approvals weighed", review.approvals])
    sheet.append(["Last logins from", sheet.cell(review.last_login_source)])
    sheet.blank()
    sheet.section("Findings by reason")
    sheet.header(["Reason", "Findings"])
    for reason, count in review.counts().items():
        sheet.append([reason, count])
    if not review.findings:
        sheet.append(["(none)", 0])
    sheet.blank()
    sheet.section("Findings")
    first = sheet.header([title for title, _ in ACCESS_COLUMNS])
    for finding in review.findings:
        evidence = json.dumps(finding.evidence, sort_keys=True, ensure_ascii=False)
        wrapped = (
            _wrapped_lines(text, width)
            for text, width in ((finding.detail, ACCESS_COLUMNS[4][1]), (evidence, ACCESS_COLUMNS[5][1]))
        )
        sheet.append(
            [
                sheet.cell(finding.person),
                sheet.cell(finding.sheet_name),
                finding.sheet_id,
                finding.reason.value,
                sheet.cell(finding.detail, "ba_wrap"),
                sheet.cell(evidence, "ba_wrap"),
            ],
            lines=max(wrapped),
        )
    if review.findings:
        sheet.ws.auto_filter.ref = f"A{first}:{get_column_letter(len(ACCESS_COLUMNS))}{sheet.row}"
