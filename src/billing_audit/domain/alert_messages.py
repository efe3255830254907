"""What an alert says, in each subscriber's form: plain text for email, a structured document for the
Slack notifier and queues, and the SNS subject and message attributes.

Pure: the pipeline gathers the links (the row in Smartsheet, the latest report) and the names of
people, and publishes what is built here through the topic with `MessageStructure=json`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from billing_audit.domain.alerting import Digest
from billing_audit.domain.models import AuditEvent, EventType
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.values import CellValue, counted, is_blank, money, to_date, utc_iso, week_close

# SNS: a subject is ASCII, starts with a letter, number or punctuation, has no line breaks or
# control characters, and is under 100 characters.
SUBJECT_LIMIT = 99
DOCUMENT_VERSION = 1
# A digest's structured form lists every event id up to this many (SNS messages stop at 256 KB).
DIGEST_MAX_IDS = 2000

TYPE_LABELS = {
    EventType.POST_CLOSE_CHANGE: "post-close change",
    EventType.LOCKED_ROW_CHANGE: "locked-row change",
    EventType.CHANGE: "change",
    EventType.WEEK_ENDING_MOVED: "Week Ending moved",
    EventType.CLOSED_ROW_DELETED: "closed row deleted",
    EventType.BACKDATED_ROW_ADDED: "backdated row added",
    EventType.IMPLAUSIBLE_DATE: "implausible date",
    EventType.PRICE_MISMATCH: "price mismatch",
}

Kind = Literal["violation", "digest", "operational", "access_review"]


class AlertLinks(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: str | None = None
    report: str | None = None


class AlertContext(BaseModel):
    """What wording an alert needs beyond the event: the business zone, the policy, people's names."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    zone: ZoneInfo
    policy: AuditPolicy
    names: Mapping[str, str] = Field(default_factory=dict)  # lower-case email -> name
    report_link: str | None = None


class AlertMessage(BaseModel):
    """One publication to the alerts topic, in every subscriber's form."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    subject: str  # the SNS subject: also the email's
    email: str  # the email body, plain text
    document: dict[str, Any]  # the structured form: the notifier (Slack) and queues read it
    attributes: dict[str, str | list[str]]  # SNS message attributes: kind, risk_level, sheet_id
    events: tuple[AuditEvent, ...] = ()  # what it alerts (none for an operational notice)


# ----- small words ------------------------------------------------------------------------------


def show_value(value: CellValue) -> str:
    if is_blank(value):
        return "(empty)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"{value:,.2f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"
    return str(value)


def local_time(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def when(moment: datetime, zone: ZoneInfo) -> str:
    return f"{local_time(moment, zone)} ({utc_iso(moment).replace('T', ' ').removesuffix('Z')} UTC)"


def person(event: AuditEvent, names: Mapping[str, str]) -> str:
    if not event.changed_by:
        return event.editor
    name = names.get(event.changed_by.lower())
    return f"{name} <{event.changed_by}>" if name else event.changed_by


def subject_safe(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """ASCII printable on one line, within SNS's limit, cut at a word with an ellipsis when long."""
    text = text.replace("·", "-").replace("→", "->")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"[^\x20-\x7e]+", " ", ascii_text)
    ascii_text = re.sub(r"\s+", " ", ascii_text).strip()
    if not ascii_text or not (ascii_text[0].isalnum() or ascii_text[0] in "[(!#$%&*+-./:;<=>?@^_{|}~"):
        ascii_text = f"Billing Audit: {ascii_text}".strip()
    if len(ascii_text) <= limit:
        return ascii_text
    cut = ascii_text[: limit - 3]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" -,;:") + "..."


def where(event: AuditEvent) -> str:
    label = event.work_request or ""
    # "WR SUB-1003", but "WR-1001" as it is: many sheets number their work requests WR-....
    work_request = f" · {label}" if label.upper().startswith("WR") else f" · WR {label}" if label else ""
    return f"{event.sheet_name}{work_request}"


def headline(event: AuditEvent) -> str:
    """`[HIGH] $49,500.00 post-close change · Subcontractor Billing · WR SUB-1003`."""
    amount = f"{money(event.financial_impact)} " if event.financial_impact is not None else ""
    return f"[{event.risk_level}] {amount}{TYPE_LABELS[event.type]} · {where(event)}"


def why(event: AuditEvent, context: AlertContext) -> str:
    """The rule the change broke, in the event's own facts (FORMAT.md, "What each change is")."""
    policy, zone = context.policy, context.zone
    week = getattr(event, "week_ending", None)
    closed = _closed_at(week, context)
    at = local_time(event.changed_at, zone)
    grace = f" plus {policy.close_grace_hours:g} h of grace" if policy.close_grace_hours else ""
    week_text = (
        f"The row's week (Week Ending {show_value(week)}) closed at {local_time(closed, zone)}"
        if closed is not None
        else f"The row's week had closed (a week closes at midnight after its Week Ending, {zone.key}{grace})"
    )
    locked = ", ".join(policy.locked_statuses)
    match event.type:
        case EventType.POST_CLOSE_CHANGE:
            return f"{week_text}; {event.column} was changed after that, at {at}."
        case EventType.LOCKED_ROW_CHANGE:
            return (
                f"The row's Status was a locked status ({locked}) while its week was still open; "
                f"{event.column} was changed at {at}."
            )
        case EventType.WEEK_ENDING_MOVED:
            return (
                f"The Week Ending moved from {show_value(event.old_value)} to {show_value(event.new_value)} at {at}, "
                "and the old or the new week had already closed: the change moves billed work between weeks."
            )
        case EventType.CLOSED_ROW_DELETED:
            return f"{week_text}; the row, billed at {show_value(event.old_value)}, was deleted (noticed {at})."
        case EventType.BACKDATED_ROW_ADDED:
            return f"The row was added at {at} into a week that had already closed ({_week_of(event, week)})."
        case EventType.IMPLAUSIBLE_DATE:
            return (
                f"The Week Ending was set to {show_value(event.new_value)} at {at}: not a date, or more than "
                f"{policy.implausible_date_days} days from the day of the change."
            )
        case EventType.PRICE_MISMATCH:
            return (
                f"After the save at {at} the row's total {show_value(event.new_value)} differs from quantity x unit "
                f"price {show_value(event.old_value)} by more than the tolerance "
                f"(${policy.price_tolerance.absolute:,.2f} or {policy.price_tolerance.relative:.1%})."
            )
        case _:
            return "Not a violation."


def _closed_at(week: CellValue, context: AlertContext) -> datetime | None:
    if to_date(week) is None:
        return None
    return week_close(week, context.zone, context.policy.close_grace_hours)


def _week_of(event: AuditEvent, week: CellValue) -> str:
    return f"Week Ending {show_value(week)}" if not is_blank(week) else "its Week Ending"


def factor_lines(event: AuditEvent) -> list[str]:
    """`label (+weight)` for each risk factor the event records."""
    factors = getattr(event, "risk_factors", None) or []
    return [f"{factor.label} (+{factor.weight:g})" for factor in factors]


def _attributes(kind: Kind, level: str | None, sheet_ids: Sequence[int]) -> dict[str, str | list[str]]:
    attributes: dict[str, str | list[str]] = {"kind": kind}
    if level:
        attributes["risk_level"] = level
    if sheet_ids:
        attributes["sheet_id"] = [str(sheet_id) for sheet_id in dict.fromkeys(sheet_ids)]
    return attributes


# ----- one violation ----------------------------------------------------------------------------


def violation_message(event: AuditEvent, context: AlertContext, links: AlertLinks) -> AlertMessage:
    zone = context.zone
    title = headline(event)
    impact = money(event.financial_impact, signed=True)
    facts: dict[str, Any] = {
        "who": person(event, context.names),
        "when": when(event.changed_at, zone),
        "sheet": f"{event.sheet_name} (sheet {event.sheet_id}), row {event.row_id}",
        "work_request": event.work_request,
        "column": event.column or "(whole row)",
        "old_value": show_value(event.old_value),
        "new_value": show_value(event.new_value),
        "change": change_text(event),
        "impact": impact,
        "why": why(event, context),
        "risk": f"{event.risk_level}, score {event.risk_score:.2f}",
        "risk_factors": factor_lines(event),
    }
    lines = [
        title,
        "",
        f"Who:     {facts['who']}",
        f"When:    {facts['when']}",
        f"Where:   {facts['sheet']}" + (f", work request {event.work_request}" if event.work_request else ""),
        f"Column:  {facts['column']}",
        f"Change:  {facts['change']}",
        f"Impact:  {impact}",
        "",
        "Why this is a violation:",
        f"  {facts['why']}",
        "",
        f"Risk:    {facts['risk']}",
        *(f"  - {line}" for line in facts["risk_factors"]),
        "",
    ]
    if links.row:
        lines.append(f"Open the row in Smartsheet: {links.row}")
    if links.report:
        lines.append(f"Latest report: {links.report}")
    lines += [
        "",
        f"Event {event.event_id}, found by the {event.detected_via.value} at {when(event.detected_at, zone)}.",
        "-- Billing Audit",
    ]
    document = {
        "kind": "violation",
        "version": DOCUMENT_VERSION,
        "title": title,
        "facts": facts,
        "links": links.model_dump(),
        "event": event.to_record(),
    }
    return AlertMessage(
        kind="violation",
        subject=subject_safe(title),
        email="\n".join(lines) + "\n",
        document=document,
        attributes={
            **_attributes("violation", str(event.risk_level), [event.sheet_id]),
            "type": event.type.value,
        },
        events=(event,),
    )


# ----- a run's digest ---------------------------------------------------------------------------


def change_text(event: AuditEvent) -> str:
    """The change as people read it: old and new values, except a price mismatch's, whose two values
    are the expected total and the row's (FORMAT.md)."""
    if event.type is EventType.PRICE_MISMATCH:
        return f"total {show_value(event.new_value)}, quantity x unit price {show_value(event.old_value)}"
    return f"{show_value(event.old_value)} -> {show_value(event.new_value)}"


def digest_line(event: AuditEvent, context: AlertContext) -> str:
    column = event.column or "(whole row)"
    change = change_text(event)
    # A finding with no money impact (a moved week, a mismatch) shows none rather than "n/a".
    impact = "" if event.financial_impact is None else f"{money(event.financial_impact, signed=True)} "
    return (
        f"[{event.risk_level}] {impact}{TYPE_LABELS[event.type]} · "
        f"{where(event)} · row {event.row_id} {column}: {change} · "
        f"{event.editor} · {'noticed ' if event.noticed_between_scans else ''}"
        f"{local_time(event.changed_at, context.zone)}"
    )


def impact_summary(digest: Digest) -> str:
    """The digest's money in a few words: none, the net, or the net and what moved when they differ
    (a +$300 and a -$300 are not "$0.00" of nothing)."""
    if not digest.gross_impact:
        return "no money impact"
    if digest.gross_impact == abs(digest.total_impact):
        return f"{money(digest.total_impact)} net"
    return f"{money(digest.total_impact)} net, {money(digest.gross_impact)} moved"


def digest_message(
    digest: Digest, context: AlertContext, row_links: Mapping[str, str | None], run: str
) -> AlertMessage:
    """One message for the rest of a run's violations: counts, total impact, the worst by name."""
    sheets = digest.by_sheet
    sheet_text = next(iter(sheets)) if len(sheets) == 1 else f"{len(sheets)} sheets"
    title = (
        f"[{digest.worst_level}] {counted(digest.count, 'violation')}, {impact_summary(digest)} · {sheet_text} · digest"
    )
    levels = ", ".join(f"{level} {count}" for level, count in digest.by_level.items() if count)
    more = digest.count - len(digest.top_items)
    lines = [
        title,
        "",
        f"This {run} found {counted(digest.count, 'violation')} that "
        + ("was" if digest.count == 1 else "were")
        + " not sent one by one"
        + (f" (and {digest.singles_sent} sent one by one)." if digest.singles_sent else "."),
        f"By risk level: {levels}",
        f"Net money impact: {money(digest.total_impact, signed=True)}"
        + (f" ({money(digest.gross_impact)} moved in all)" if digest.gross_impact != abs(digest.total_impact) else ""),
        "By sheet: " + ", ".join(f"{name} {count}" for name, count in sheets.items()),
        "",
        f"The {len(digest.top_items)} worst:"
        if more
        else ("The violation:" if digest.count == 1 else f"All {digest.count}:"),
    ]
    for event in digest.top_items:
        lines.append(f"  - {digest_line(event, context)}")
        if row_links.get(event.event_id):
            lines.append(f"    {row_links[event.event_id]}")
    if more:
        lines.append(f"  ... and {more} more, all in the report.")
    if digest.below_level:
        lines += [
            "",
            f"{digest.below_level} more below the alert level "
            + ("is" if digest.below_level == 1 else "are")
            + " in the report only.",
        ]
    if context.report_link:
        lines += ["", f"Latest report: {context.report_link}"]
    lines += ["", "-- Billing Audit"]
    ids = [event.event_id for event in digest.events]
    document = {
        "kind": "digest",
        "version": DOCUMENT_VERSION,
        "title": title,
        "run": run,
        "count": digest.count,
        "by_level": digest.by_level,
        "by_sheet": sheets,
        "total_impact": digest.total_impact,
        "gross_impact": digest.gross_impact,
        "singles_sent": digest.singles_sent,
        "below_level": digest.below_level,
        "top": [
            {"line": digest_line(event, context), "row_link": row_links.get(event.event_id), "event": event.to_record()}
            for event in digest.top_items
        ],
        "more": more,
        "event_ids": ids[:DIGEST_MAX_IDS],
        "event_ids_complete": len(ids) <= DIGEST_MAX_IDS,
        "links": {"report": context.report_link},
    }
    return AlertMessage(
        kind="digest",
        subject=subject_safe(title),
        email="\n".join(lines) + "\n",
        document=document,
        attributes=_attributes("digest", str(digest.worst_level), [event.sheet_id for event in digest.events]),
        events=digest.events,
    )


# ----- operational notices ----------------------------------------------------------------------


def access_review_message(subject: str, text: str, sheet_ids: Sequence[int]) -> AlertMessage:
    """An access review's digest: findings about people's access to the audited sheets, which is
    neither an audit event nor a notice about the product."""
    title = f"Billing Audit: {subject}"
    email = (
        f"{title}\n\n{text}\n\nAccess findings: who holds what on the audited sheets, against the roster;"
        " act on them in each sheet's sharing.\n-- Billing Audit\n"
    )
    return AlertMessage(
        kind="access_review",
        subject=subject_safe(title),
        email=email,
        document={"kind": "access_review", "version": DOCUMENT_VERSION, "title": title, "text": text},
        attributes=_attributes("access_review", None, sheet_ids),
    )


def operational_message(subject: str, text: str) -> AlertMessage:
    """A notice about the product itself (a webhook disabled, a sheet held), not an audit finding."""
    title = f"Billing Audit: {subject}"
    email = f"{title}\n\n{text}\n\nNo audit finding: this is about Billing Audit itself.\n-- Billing Audit\n"
    return AlertMessage(
        kind="operational",
        subject=subject_safe(title),
        email=email,
        document={"kind": "operational", "version": DOCUMENT_VERSION, "title": title, "text": text},
        attributes=_attributes("operational", None, []),
    )
