"""Slack messages (Block Kit) for everything the alerts topic carries: a violation, a run's digest,
an operational notice, a CloudWatch alarm, and anything else as plain text.

The notifier Lambda receives the structured document (domain/alert_messages.py) and lays it out
here; every payload is clipped to Block Kit's limits as it is built and checked by `block_problems`
before it is posted.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlparse

from billing_audit.domain.values import money

# Block Kit's limits (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
SLACK_TEXT_LIMIT = 3000  # a section's or context element's text, and our fallback `text`
FIELD_TEXT_LIMIT = 2000  # one section field
MAX_FIELDS = 10
HEADER_LIMIT = 150  # a header's plain_text
BUTTON_TEXT_LIMIT = 75
BUTTON_URL_LIMIT = 3000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS = 25

_LEVEL_EMOJI = {"HIGH": ":rotating_light:", "MEDIUM": ":warning:", "LOW": ":information_source:"}
_ALARM_EMOJI = {"ALARM": ":red_circle:", "OK": ":large_green_circle:", "INSUFFICIENT_DATA": ":grey_question:"}

Block = dict[str, Any]


class SlackNotConfigured(ValueError):
    pass


# ----- pieces, each clipped to its limit ---------------------------------------------------------


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup: the three it asks to escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    return f"<{url}|{escape(label)}>"


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_LIMIT), "emoji": True}}


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SLACK_TEXT_LIMIT)}}


def fields(pairs: Iterable[tuple[str, str]]) -> Block:
    items = [{"type": "mrkdwn", "text": clip(f"*{escape(name)}*\n{value}", FIELD_TEXT_LIMIT)} for name, value in pairs]
    return {"type": "section", "fields": items[:MAX_FIELDS]}


def context(*texts: str) -> Block:
    elements = [{"type": "mrkdwn", "text": clip(text, SLACK_TEXT_LIMIT)} for text in texts if text]
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def buttons(items: Iterable[tuple[str, str | None, str]]) -> Block | None:
    """(label, url, action id) for each link present; None when there is none."""
    elements = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": clip(label, BUTTON_TEXT_LIMIT)},
            "url": url,
            "action_id": action,
        }
        for label, url, action in items
        if url and len(url) <= BUTTON_URL_LIMIT
    ]
    return {"type": "actions", "elements": elements[:MAX_ACTIONS]} if elements else None


def _message(fallback: str, blocks: Iterable[Block | None]) -> dict[str, Any]:
    present = [block for block in blocks if block is not None]
    if len(present) > MAX_BLOCKS:
        present = [*present[: MAX_BLOCKS - 1], context("(shortened: Slack shows at most 50 blocks)")]
    return {"text": clip(fallback, SLACK_TEXT_LIMIT), "blocks": present}


# ----- one layout per kind -----------------------------------------------------------------------


def violation_blocks(document: Mapping[str, Any]) -> dict[str, Any]:
    facts, links, event = document.get("facts", {}), document.get("links", {}), document.get("event", {})
    level = str(event.get("risk_level") or "")
    title = f"{_LEVEL_EMOJI.get(level, '')} {document.get('title', '')}".strip()
    risk = f"*Risk* {escape(str(facts.get('risk', '')))}"
    factors = facts.get("risk_factors") or []
    if factors:
        risk += "\n" + "\n".join(f"• {escape(str(line))}" for line in factors)
    return _message(
        title,
        [
            header(title),
            fields(
                [
                    ("Who", escape(str(facts.get("who", "")))),
                    ("When", escape(str(facts.get("when", "")))),
                    ("Where", escape(str(facts.get("sheet", "")))),
                    ("Column", escape(str(facts.get("column", "")))),
                    (
                        "Change",
                        escape(str(facts.get("change") or f"{facts.get('old_value')} -> {facts.get('new_value')}")),
                    ),
                    ("Impact", escape(str(facts.get("impact", "")))),
                ]
            ),
            section(f"*Why this is a violation*\n{escape(str(facts.get('why', '')))}"),
            section(risk),
            buttons(
                [
                    ("Open row in Smartsheet", links.get("row"), "open_row"),
                    ("Latest report", links.get("report"), "open_report"),
                ]
            ),
            context(f"Event `{event.get('event_id', '?')}` · found by the {event.get('detected_via', '?')}"),
        ],
    )


def digest_blocks(document: Mapping[str, Any]) -> dict[str, Any]:
    by_level = document.get("by_level", {})
    worst = next((level for level in ("HIGH", "MEDIUM", "LOW") if by_level.get(level)), "")
    title = f"{_LEVEL_EMOJI.get(worst, '')} {document.get('title', '')}".strip()
    sheets = document.get("by_sheet", {})
    lines = []
    for item in document.get("top", []):
        line = escape(str(item.get("line", "")))
        lines.append(f"• {line} ({link(item['row_link'], 'row')})" if item.get("row_link") else f"• {line}")
    more = int(document.get("more") or 0)
    below = int(document.get("below_level") or 0)
    notes = []
    if more:
        notes.append(f"… and {more} more in the report")
    if below:
        notes.append(f"{below} below the alert level, in the report only")
    heading = f"*The {len(lines)} worst*" if more else f"*All {len(lines)}*"
    top_sections = _sections_of(lines, heading=heading)
    return _message(
        title,
        [
            header(title),
            fields(
                [
                    ("Violations", str(document.get("count", 0))),
                    ("Net impact", escape(money(document.get("total_impact")))),
                    ("Moved in all", escape(money(document.get("gross_impact")))),
                    ("By risk level", ", ".join(f"{k} {v}" for k, v in by_level.items() if v) or "none"),
                    ("Sheets", escape(", ".join(f"{name} {count}" for name, count in sheets.items()))),
                    ("Sent one by one", str(document.get("singles_sent", 0))),
                    ("Run", escape(str(document.get("run", "")))),
                ]
            ),
            *top_sections,
            context(*notes) if notes else None,
            buttons([("Latest report", (document.get("links") or {}).get("report"), "open_report")]),
        ],
    )


def operational_blocks(document: Mapping[str, Any]) -> dict[str, Any]:
    title = f":gear: {document.get('title', 'Billing Audit')}"
    return _message(
        title,
        [
            header(title),
            section(escape(str(document.get("text", "")))),
            context("About Billing Audit itself, not an audit finding."),
        ],
    )


def access_review_blocks(document: Mapping[str, Any]) -> dict[str, Any]:
    title = f":busts_in_silhouette: {document.get('title', 'Billing Audit')}"
    lines = escape(str(document.get("text", ""))).splitlines()
    return _message(
        title,
        [
            header(title),
            *_sections_of(lines[1:], lines[0] if lines else ""),
            context("Access findings against the roster: act on them in each sheet's sharing."),
        ],
    )


def alarm_blocks(alarm: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudWatch alarm's state change, as CloudWatch publishes it to SNS."""
    name = str(alarm.get("AlarmName", "?"))
    state = str(alarm.get("NewStateValue", "?"))
    title = f"{_ALARM_EMOJI.get(state, ':bell:')} Alarm {name} is {state}"
    trigger = alarm.get("Trigger") or {}
    metric = trigger.get("MetricName") or "(expression)"
    namespace = trigger.get("Namespace")
    threshold = f"{trigger.get('ComparisonOperator', '?')} {trigger.get('Threshold', '?')}"
    if trigger.get("EvaluationPeriods"):
        threshold += f" for {trigger['EvaluationPeriods']} x {trigger.get('Period', '?')} s"
    arn = str(alarm.get("AlarmArn", ""))
    region = arn.split(":")[3] if arn.count(":") >= 6 else None
    console = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{quote(name)}"
        if region
        else None
    )
    return _message(
        title,
        [
            header(title),
            fields(
                [
                    ("State", f"{escape(str(alarm.get('OldStateValue', '?')))} → {escape(state)}"),
                    ("Metric", escape(f"{namespace}/{metric}" if namespace else str(metric))),
                    ("Threshold", escape(threshold)),
                    ("Changed at", escape(str(alarm.get("StateChangeTime", "?")))),
                ]
            ),
            section(f"*Reason*\n{escape(str(alarm.get('NewStateReason', '')))}"),
            context(escape(str(alarm.get("AlarmDescription") or "")), f"Account {alarm.get('AWSAccountId', '?')}"),
            buttons([("Open in CloudWatch", console, "open_alarm")]),
        ],
    )


def plain_blocks(subject: str | None, message: str) -> dict[str, Any]:
    text = f"*{escape(subject)}*\n{escape(message)}" if subject else escape(message)
    return _message(f"{subject}: {message}" if subject else message, [section(text)])


def slack_message(subject: str | None, message: str) -> dict[str, Any]:
    """The Slack payload for one SNS message, whatever published it."""
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict):
        kind = document.get("kind")
        if kind == "violation":
            return violation_blocks(document)
        if kind == "digest":
            return digest_blocks(document)
        if kind == "operational":
            return operational_blocks(document)
        if kind == "access_review":
            return access_review_blocks(document)
        if "AlarmName" in document:
            return alarm_blocks(document)
    return plain_blocks(subject, message)


def _sections_of(lines: list[str], heading: str) -> list[Block]:
    """Lines in as few sections as fit Slack's text limit, the heading on the first."""
    blocks: list[Block] = []
    current = heading
    for line in lines:
        candidate = f"{current}\n{line}"
        if len(candidate) > SLACK_TEXT_LIMIT:
            blocks.append(section(current))
            current = line
        else:
            current = candidate
    if lines:
        blocks.append(section(current))
    return blocks


# ----- checks ------------------------------------------------------------------------------------


def block_problems(message: Mapping[str, Any]) -> list[str]:
    """Where a payload breaks Block Kit's limits (empty when it fits)."""
    problems: list[str] = []
    blocks = message.get("blocks", [])
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (at most {MAX_BLOCKS})")
    if len(message.get("text", "")) > SLACK_TEXT_LIMIT:
        problems.append("fallback text longer than 3000")
    for index, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {index} ({kind})"
        if kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or len(text.get("text", "")) > HEADER_LIMIT:
                problems.append(f"{where}: a header is plain_text of at most {HEADER_LIMIT}")
        elif kind == "section":
            if "text" in block and len(block["text"].get("text", "")) > SLACK_TEXT_LIMIT:
                problems.append(f"{where}: text longer than {SLACK_TEXT_LIMIT}")
            items = block.get("fields", [])
            if len(items) > MAX_FIELDS:
                problems.append(f"{where}: {len(items)} fields (at most {MAX_FIELDS})")
            if any(len(item.get("text", "")) > FIELD_TEXT_LIMIT for item in items):
                problems.append(f"{where}: a field longer than {FIELD_TEXT_LIMIT}")
            if "text" not in block and not items:
                problems.append(f"{where}: neither text nor fields")
        elif kind == "context":
            elements = block.get("elements", [])
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(f"{where}: 1 to {MAX_CONTEXT_ELEMENTS} elements")
            if any(len(element.get("text", "")) > SLACK_TEXT_LIMIT for element in elements):
                problems.append(f"{where}: an element longer than {SLACK_TEXT_LIMIT}")
        elif kind == "actions":
            elements = block.get("elements", [])
            if not elements or len(elements) > MAX_ACTIONS:
                problems.append(f"{where}: 1 to {MAX_ACTIONS} elements")
            for element in elements:
                if len(element["text"]["text"]) > BUTTON_TEXT_LIMIT or len(element.get("url", "")) > BUTTON_URL_LIMIT:
                    problems.append(f"{where}: a button's text or url is too long")
        else:
            problems.append(f"{where}: not a block type this product sends")
    return problems


# ----- delivery ----------------------------------------------------------------------------------


def checked_webhook_url(url: str) -> str:
    """The secret must be an incoming-webhook URL; until someone puts one, Slack is off."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise SlackNotConfigured("the Slack webhook secret does not hold a URL")
    if parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost"):
        raise SlackNotConfigured("the Slack webhook URL must use https")
    return url.strip()


def post(url: str, payload: dict[str, Any], timeout: float = 10.0) -> None:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked by checked_webhook_url
        checked_webhook_url(url),
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"Slack answered HTTP {response.status}")
