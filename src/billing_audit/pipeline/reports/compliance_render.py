"""A compliance report rendered as the audit reports are: an Excel workbook (the same named styles,
frozen headers, filters, currency and date formats, landscape one page wide) and one self-contained
HTML page (the dashboard's style, Content-Security-Policy and sortable tables; every value escaped)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from html import escape
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from billing_audit.pipeline.compliance import ComplianceReport, Table
from billing_audit.pipeline.reports.dashboard import CSP, SCRIPT, STYLE
from billing_audit.pipeline.reports.workbook import _Sheet, _styles

SUMMARY = "Summary"
STATUS_STYLE = {"PASS": "ba_risk_LOW", "FAIL": "ba_risk_HIGH", "NOT CHECKED": "ba_risk_MEDIUM"}
OVERALL_STYLE = {
    "CLEAR": "ba_status_CLEAR",
    "INCOMPLETE": "ba_status_REVIEW",
    "EXCEPTIONS": "ba_status_ACTION_REQUIRED",
}
LEVEL_OF = {"PASS": "LOW", "FAIL": "HIGH", "NOT CHECKED": "MEDIUM"}  # the dashboard's colours
_SHEET_TITLE = re.compile(r"[\[\]:*?/\\]")


def _period(report: ComplianceReport) -> str:
    return f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} ({report.zone})"


def render_compliance_workbook(report: ComplianceReport) -> bytes:
    book = Workbook(write_only=True)
    _styles(book)
    sheet = _Sheet(book, SUMMARY, (40, 60, 40))
    sheet.append([sheet.cell(report.title, "ba_title")])
    sheet.append(["Period", _period(report)])
    sheet.append(["Generated", sheet.cell(report.generated_at, "ba_datetime")])
    sheet.append(["Overall", sheet.cell(report.overall, OVERALL_STYLE[report.overall])])
    if report.pseudonymized:
        sheet.append(["People", "keyed pseudonyms (the stored trail keeps the emails)"])
    sheet.blank()
    sheet.section("Controls")
    sheet.header(["Control", "Detail", "Status"])
    for status in report.statuses:
        sheet.append(
            [
                sheet.cell(status.control),
                sheet.cell(status.detail, "ba_wrap"),
                sheet.cell(status.label, STATUS_STYLE[status.label]),
            ]
        )
    sheet.blank()
    sheet.section("Figures")
    for label, value in report.facts:
        sheet.append([sheet.cell(label), sheet.cell(value, "ba_money" if "impact" in label.lower() else None)])
    used = {SUMMARY}
    for table in report.tables:
        _table_sheet(book, table, used, report.zone)
    book.properties.title = report.title
    book.properties.creator = "Billing Audit"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _title(name: str, used: set[str]) -> str:
    """An Excel sheet title: at most 31 characters, none of []:*?/\\, unique in the book."""
    base = _SHEET_TITLE.sub(" ", name)[:31]
    title, number = base, 2
    while title in used:
        title = f"{base[:28]} {number}"
        number += 1
    used.add(title)
    return title


def _table_sheet(book: Workbook, table: Table, used: set[str], zone: str) -> None:
    # A spreadsheet's date-time holds no zone: the title of a column of times names it.
    timed = {index for row in table.rows for index, value in enumerate(row) if isinstance(value, datetime)}
    titles = [f"{column} ({zone})" if index in timed else column for index, column in enumerate(table.columns)]
    widths = [max(12, min(48, len(title) + 6)) for title in titles]
    sheet = _Sheet(book, _title(table.title, used), widths)
    sheet.ws.freeze_panes = "A2"
    sheet.header(titles)
    for row in table.rows:
        sheet.append([_value(sheet, column, value, table) for column, value in zip(table.columns, row, strict=True)])
    if not table.rows:
        sheet.append([sheet.cell("(none in this period)")])
    sheet.ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{max(sheet.row, 2)}"
    if table.note:
        sheet.blank()
        sheet.append([sheet.cell(table.note, "ba_wrap")])


def _value(sheet: _Sheet, column: str, value: Any, table: Table) -> Any:
    if value is None:
        return None
    if column in table.money and isinstance(value, int | float):
        return sheet.cell(value, "ba_money")
    if isinstance(value, datetime):
        return sheet.cell(value, "ba_datetime")
    if isinstance(value, date):
        return sheet.cell(value, "ba_date")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        return value
    return sheet.cell(str(value))


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _fact(label: str, value: Any) -> str:
    if isinstance(value, int | float) and "impact" in label.lower():
        return f"-${abs(value):,.2f}" if value < 0 else f"${value:,.2f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _shown(column: str, value: Any, table: Table) -> tuple[str, str]:
    """(text, sort key) of one cell."""
    if value is None:
        return "", ""
    if column in table.money and isinstance(value, int | float):
        return (f"-${abs(value):,.2f}" if value < 0 else f"${value:,.2f}"), str(value)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}", value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}" if isinstance(value, int) else f"{value:g}", str(value)
    return str(value), str(value)


def _html_table(table: Table) -> str:
    numeric = {
        column
        for index, column in enumerate(table.columns)
        if table.rows and all(isinstance(row[index], int | float) or row[index] is None for row in table.rows)
    }
    head = "".join(
        f'<th data-type="{"num" if column in numeric else "text"}">{_e(column)}</th>' for column in table.columns
    )
    body = []
    for row in table.rows:
        cells = []
        for column, value in zip(table.columns, row, strict=True):
            text, key = _shown(column, value, table)
            css = ' class="num"' if column in numeric else ""
            cells.append(f'<td data-v="{_e(key)}"{css}>{_e(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    rows = "".join(body) if body else ""
    empty = "" if body else '<p class="note">None in this period.</p>'
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    return (
        f'<section class="panel"><h2>{_e(table.title)}</h2>{note}<div class="wrap"><table class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>{empty}</section>"
    )


def render_compliance_html(report: ComplianceReport) -> str:
    overall_class = {"CLEAR": "CLEAR", "INCOMPLETE": "REVIEW", "EXCEPTIONS": "ACTION"}[report.overall]
    cards = [("Overall", f'<span class="status s-{overall_class}">{_e(report.overall)}</span>')]
    cards += [(label, _e(_fact(label, value))) for label, value in report.facts]
    controls = "".join(
        f"<tr><td>{_e(status.control)}</td><td>{_e(status.detail)}</td>"
        f'<td><span class="lvl lvl-{LEVEL_OF[status.label]}">'
        f"{_e(status.label)}</span></td></tr>"
        for status in report.statuses
    )
    people = (
        '<p class="note">People appear as keyed pseudonyms; the stored trail keeps the emails.</p>'
        if report.pseudonymized
        else ""
    )
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{_e(report.title)}</title><style>{STYLE}</style></head><body>",
            f'<header><h1>{_e(report.title)}</h1><div class="meta">{_e(_period(report))} '
            f"&middot; generated {report.generated_at:%Y-%m-%d %H:%M}</div></header><main>",
            '<section class="cards">',
            "".join(f'<div class="card">{_e(label)}<b>{value}</b></div>' for label, value in cards),
            "</section>",
            f'<section class="panel"><h2>Controls</h2>{people}<div class="wrap"><table>'
            "<thead><tr><th>Control</th><th>Detail</th><th>Status</th></tr></thead>"
            f"<tbody>{controls}</tbody></table></div></section>",
            "".join(_html_table(table) for table in report.tables),
            f"</main><script>{SCRIPT}</script></body></html>\n",
        ]
    )
