"""The HTML dashboard: one self-contained file (it opens from a presigned link and offline).

No external script, style, font or image: styles and the sorting script are inline, charts are inline
SVG, and a Content-Security-Policy of `default-src 'none'` makes the browser refuse any request the
page might still make.  Every value from an event is user-entered text and is escaped.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from billing_audit.domain.alerting import LEVEL_RANK
from billing_audit.domain.models import NOTICED_BETWEEN_SCANS, RiskLevel
from billing_audit.domain.values import counted, money
from billing_audit.pipeline.reports.figures import LEVELS, ReportFigures, ReportRow

# The table lists the riskiest violations first; the workbook has every event.
MAX_TABLE_ROWS = 2_000
BAR_ITEMS = 10
RISK_COLOURS = {"HIGH": "#c0392b", "MEDIUM": "#d68910", "LOW": "#5d8c3a"}

STYLE = """
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1b2631;background:#f4f6f8}header{background:#1f3864;color:#fff;padding:16px 20px}
h1{margin:0;font-size:1.35em}h2{font-size:1.1em;margin:0 0 10px}main{padding:14px;max-width:1600px;margin:auto}
.meta{opacity:.85;font-size:.9em}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.card,.panel{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card b{display:block;font-size:1.35em;overflow-wrap:anywhere}.panel{margin-top:14px}.grid{display:grid;gap:14px;
grid-template-columns:repeat(auto-fit,minmax(min(520px,100%),1fr))}.grid .panel{margin-top:0}
.status{font-weight:700}.s-ACTION{color:#c0392b}.s-REVIEW{color:#b7950b}.s-CLEAR{color:#27ae60}
svg{width:100%;max-width:560px;height:auto}svg text{font-size:11px;fill:#333}.wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.88em}th,td{padding:6px 8px;border-bottom:1px solid #e5e8eb;
text-align:left;vertical-align:top}th{background:#1f3864;color:#fff;cursor:pointer;position:sticky;top:0;
white-space:nowrap}th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;white-space:nowrap}.lvl{font-weight:700;border-radius:4px;padding:1px 6px;color:#fff}
.lvl-HIGH{background:#c0392b}.lvl-MEDIUM{background:#d68910}.lvl-LOW{background:#5d8c3a}
td.factors{min-width:16em}ul{margin:0;padding-left:20px}.note{color:#566573;font-size:.85em}
@media (max-width:600px){body{font-size:14px}main{padding:8px}.hide-sm{display:none}}
"""

SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function(table){
  var heads=table.querySelectorAll('th');
  heads.forEach(function(th,col){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      heads.forEach(function(h){h.removeAttribute('aria-sort')});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      var numeric=th.dataset.type==='num';
      rows.sort(function(a,b){
        var x=a.cells[col].dataset.v||a.cells[col].textContent,y=b.cells[col].dataset.v||b.cells[col].textContent;
        if(numeric){x=parseFloat(x)||0;y=parseFloat(y)||0;return asc?x-y:y-x}
        return asc?x.localeCompare(y):y.localeCompare(x);
      });
      rows.forEach(function(r){body.appendChild(r)});
    });
  });
});
"""
# The page runs only the script it was written with: allowed by its hash, so text that got past the
# escaping could still run no script of its own.  (Styles stay inline: a style runs nothing.)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; img-src data:"


NEGATIVE = "#c0392b"  # a bar below zero


def _e(value: object) -> str:
    return escape(str(value), quote=True)


# A bar's label fits its 170 units at 11px (an email such as carl.wu@example.com whole); longer
# ones are cut, with the whole label as the bar's tooltip.
LABEL_CHARS = 25


def _bars(
    items: Sequence[tuple[str, float]],
    *,
    colour: str = "#2e86c1",
    dollars: bool = False,
    colours: Sequence[str] = (),
) -> str:
    """A horizontal bar chart as inline SVG, labels left, values right.  With a negative value the
    bars start from a zero line in the middle, negative ones leftwards in red, so a net loss never
    reads as a gain."""
    if not items:
        return '<p class="note">No data in this period.</p>'
    row_height, label_width, bar_width = 22, 170, 170
    largest = max((abs(value) for _, value in items), default=0) or 1
    signed = any(value < 0 for _, value in items)
    zero, scale = (label_width + bar_width / 2, bar_width / 2) if signed else (label_width, bar_width)
    height = row_height * len(items) + 6
    parts = [
        f'<svg viewBox="0 0 {label_width + bar_width + 90} {height}" role="img" xmlns="http://www.w3.org/2000/svg">'
    ]
    if signed:
        parts.append(f'<line x1="{zero:.1f}" y1="2" x2="{zero:.1f}" y2="{height - 2}" stroke="#999"/>')
    for index, (label, value) in enumerate(items):
        y = index * row_height + 4
        width = max(abs(value) / largest * scale, 1 if value else 0)
        shown = money(value, missing="") if dollars else f"{value:,.0f}"
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "\u2026"
        fill = NEGATIVE if value < 0 else colours[index] if index < len(colours) else colour
        x = zero - width if value < 0 else zero
        # A negative bar's value sits right of the zero line, where its row has no bar.
        text_x = zero + 6 if value < 0 else zero + width + 6
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end"><title>{_e(label)}</title>{_e(short)}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="16" rx="2" fill="{fill}"/>'
            f'<text x="{text_x:.1f}" y="{y + 15}">{_e(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _columns(items: Sequence[tuple[str, int, int]]) -> str:
    """Events (light) and violations (dark) per day as inline SVG columns."""
    if not items:
        return '<p class="note">No data in this period.</p>'
    width, height, pad = 640, 200, 28
    step = (width - pad * 2) / len(items)
    largest = max(events for _, events, _ in items) or 1
    parts = [f'<svg viewBox="0 0 {width} {height + 40}" role="img" xmlns="http://www.w3.org/2000/svg">']
    parts.append(f'<line x1="{pad}" y1="{height}" x2="{width - pad}" y2="{height}" stroke="#999"/>')
    label_every = max(1, len(items) // 10)
    for index, (label, events, violations) in enumerate(items):
        x = pad + index * step
        h_events = events / largest * (height - 20)
        h_violations = violations / largest * (height - 20)
        parts.append(
            f'<rect x="{x + step * 0.1:.1f}" y="{height - h_events:.1f}" width="{step * 0.8:.1f}" '
            f'height="{h_events:.1f}" fill="#aed6f1"><title>{_e(label)}: {events} events</title></rect>'
            f'<rect x="{x + step * 0.25:.1f}" y="{height - h_violations:.1f}" width="{step * 0.5:.1f}" '
            f'height="{h_violations:.1f}" fill="#c0392b"><title>{_e(label)}: {violations} violations</title></rect>'
        )
        if index % label_every == 0:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height + 16}" text-anchor="middle">{_e(label[5:])}</text>')
    parts.append(
        f'<rect x="{pad}" y="{height + 24}" width="10" height="10" fill="#aed6f1"/>'
        f'<text x="{pad + 14}" y="{height + 33}">events</text>'
        f'<rect x="{pad + 70}" y="{height + 24}" width="10" height="10" fill="#c0392b"/>'
        f'<text x="{pad + 84}" y="{height + 33}">violations</text></svg>'
    )
    return "".join(parts)


def _cell(value: object, *, sort: object | None = None, cls: str = "", breaks: str = "") -> str:
    """`breaks`: characters after which a long word may wrap (a type's underscores, an email's
    @), so the violations table fits a laptop's width with its risk factors in view."""
    attributes = f' data-v="{_e(sort)}"' if sort is not None else ""
    attributes += f' class="{cls}"' if cls else ""
    text = _e(value)
    for char in breaks:
        text = text.replace(char, f"{char}<wbr>")
    return f"<td{attributes}>{text}</td>"


def _violation_row(row: ReportRow) -> str:
    level = row.risk_level or ""
    rank = LEVEL_RANK[RiskLevel(level)] if level else -1  # sorted by severity, not by name
    return (
        "<tr>"
        # A deletion a scan found: the time it was noticed, which the cell must not pass off as the change's.
        + _cell(
            f"{row.changed_at:%Y-%m-%d %H:%M}{' (noticed)' if row.changed_by == NOTICED_BETWEEN_SCANS else ''}",
            sort=row.changed_at.isoformat(),
        )
        + (f'<td data-v="{rank}"><span class="lvl lvl-{_e(level)}">{_e(level)}</span></td>')
        + _cell(f"{row.risk_score:.2f}", sort=row.risk_score, cls="num")
        + _cell(money(row.impact, missing=""), sort=row.impact or 0, cls="num")
        + _cell(row.type, breaks="_")
        + _cell(row.sheet_name)
        + _cell(row.work_request)
        + _cell(row.column)
        + _cell(row.old_value, cls="hide-sm")
        + _cell(row.new_value, cls="hide-sm")
        + _cell(row.changed_by, breaks="@")
        + _cell(row.factors, cls="hide-sm factors")
        + f'<td><a href="{_e(row.url)}" rel="noopener noreferrer" target="_blank">row</a></td>'
        + "</tr>"
    )


def _access_review_section(figures: ReportFigures) -> str:
    """The latest access review: when, its counts and its findings (evidence: the workbook)."""
    review = figures.access_review
    if review is None:
        return '<section class="panel"><h2>Access review</h2><p class="note">No access review stored yet.</p></section>'
    when = review.reviewed_at.astimezone(ZoneInfo(figures.zone))
    counts = ", ".join(f"{_e(reason)} {count}" for reason, count in review.counts().items()) or "no findings"
    rows = "".join(
        "<tr>"
        + _cell(finding.person)
        + _cell(finding.sheet_name)
        + _cell(finding.reason.value)
        + _cell(finding.detail, cls="hide-sm")
        + "</tr>"
        for finding in review.findings
    )
    head = "".join(
        f'<th data-type="text"{" class=" + chr(34) + "hide-sm" + chr(34) if title == "Detail" else ""}>{title}</th>'
        for title in ("Person", "Sheet", "Reason", "Detail")
    )
    table = (
        f'<div class="wrap"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        if rows
        else ""
    )
    return (
        '<section class="panel"><h2>Access review</h2>'
        f'<p class="note">Reviewed {when:%Y-%m-%d %H:%M} ({_e(figures.zone)}): '
        f"{counted(len(review.sheets), 'sheet')}, {counted(review.people, 'person', 'people')} with access, "
        f"{counted(review.approvals, 'approval')} weighed; {counts}.</p>"
        f"{table}</section>"
    )


def render_dashboard(figures: ReportFigures) -> str:
    total = figures.total
    status_class = figures.status.split()[0]
    cards = [
        ("Status", f'<span class="status s-{_e(status_class)}">{_e(figures.status)}</span>'),
        ("Events", f"{total.events:,}"),
        ("Violations", f"{total.violations:,}"),
        ("Impact of violations (net)", _e(money(total.impact, missing=""))),
        ("Amount moved (gross)", _e(money(total.moved, missing=""))),
    ] + [(f"{level.value} risk", f"{figures.by_level[level.value].violations:,}") for level in LEVELS]
    ranked = sorted(figures.violations, key=lambda r: (-r.risk_score, -abs(r.impact or 0.0), r.changed_at))
    shown = ranked[:MAX_TABLE_ROWS]
    table_note = (
        f'<p class="note">The {len(shown):,} riskiest of {len(ranked):,} violations; '
        "the workbook lists every event.</p>"
        if len(ranked) > len(shown)
        else ""
    )
    headers = [
        ("Changed at", ""),
        ("Risk", "num"),
        ("Score", "num"),
        ("Impact", "num"),
        ("Type", ""),
        ("Sheet", ""),
        ("Work Request #", ""),
        ("Column", ""),
        ("Old", "hide-sm"),
        ("New", "hide-sm"),
        ("Changed by", ""),
        ("Risk factors", "hide-sm"),
        ("Row", ""),
    ]
    head = "".join(
        f'<th data-type="{"num" if kind == "num" else "text"}"'
        f"{' class=' + chr(34) + kind + chr(34) if kind == 'hide-sm' else ''}>{_e(title)}</th>"
        for title, kind in headers
    )
    by_level = [(level.value, float(figures.by_level[level.value].violations)) for level in LEVELS]
    level_colours = [RISK_COLOURS[level.value] for level in LEVELS]
    people = [(name, float(t.violations)) for name, t in list(figures.by_person.items())[:BAR_ITEMS] if t.violations]
    sheets = [(name, t.impact) for name, t in list(figures.by_sheet.items())[:BAR_ITEMS] if t.violations]
    days = [(day.isoformat(), t.events, t.violations) for day, t in figures.by_day.items()]
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{_e(figures.title)}</title><style>{STYLE}</style></head><body>",
            f'<header><h1>{_e(figures.title)}</h1><div class="meta">'
            f"{figures.since:%Y-%m-%d %H:%M} to {figures.until:%Y-%m-%d %H:%M} ({_e(figures.zone)}) "
            f"&middot; generated {figures.generated_at:%Y-%m-%d %H:%M}</div></header><main>",
            '<section class="cards">',
            "".join(f'<div class="card">{_e(label)}<b>{value}</b></div>' for label, value in cards),
            "</section>",
            '<section class="grid" style="margin-top:14px">',
            f'<div class="panel"><h2>Violations by risk level</h2>{_bars(by_level, colours=level_colours)}</div>',
            f'<div class="panel"><h2>Events and violations by day</h2>{_columns(days)}</div>',
            f'<div class="panel"><h2>Violations by person</h2>{_bars(people, colour="#7d3c98")}</div>',
            '<div class="panel"><h2>Impact of violations by sheet</h2>'
            f"{_bars(sheets, colour='#1f618d', dollars=True)}</div>",
            "</section>",
            '<section class="panel"><h2>Recommendations</h2><ul>',
            "".join(f"<li>{_e(advice)}</li>" for advice in figures.recommendations),
            "</ul></section>",
            f'<section class="panel"><h2>Violations</h2>{table_note}<div class="wrap">',
            f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>',
            "".join(_violation_row(row) for row in shown),
            "</tbody></table></div>",
            "" if shown else '<p class="note">No violations in this period.</p>',
            "</section>",
            _access_review_section(figures),
            "</main>",
            f"<script>{SCRIPT}</script></body></html>\n",
        ]
    )
