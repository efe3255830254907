"""Slack messages for the alerts topic: audit findings, CloudWatch alarms and operational notices."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlparse

SLACK_TEXT_LIMIT = 3000
_LEVEL_EMOJI = {"HIGH": ":rotating_light:", "MEDIUM": ":warning:", "LOW": ":information_source:"}


class SlackNotConfigured(ValueError):
    pass


def slack_message(subject: str | None, message: str) -> dict[str, Any]:
    """The Slack payload for one SNS message, whatever published it."""
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and "summary" in document:
        level = str((document.get("event") or {}).get("risk_level") or "")
        text = f"{_LEVEL_EMOJI.get(level, '')} {document['summary']}".strip()
    elif isinstance(document, dict) and "AlarmName" in document:
        text = (
            f":bell: Alarm {document['AlarmName']} is {document.get('NewStateValue', '?')}: "
            f"{document.get('NewStateReason', '')}"
        )
    else:
        text = f"*{subject}*\n{message}" if subject else message
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[: SLACK_TEXT_LIMIT - 1] + "…"
    return {"text": text}


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
