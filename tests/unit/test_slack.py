"""Slack message shapes for everything the alerts topic carries."""

from __future__ import annotations

import json

import pytest

from billing_audit.notify.slack import SLACK_TEXT_LIMIT, SlackNotConfigured, checked_webhook_url, slack_message


def test_audit_finding_uses_its_summary_and_level():
    body = json.dumps({"summary": "[HIGH] post_close_change ...", "event": {"risk_level": "HIGH"}})
    assert slack_message("x", body) == {"text": ":rotating_light: [HIGH] post_close_change ..."}


def test_cloudwatch_alarm():
    body = json.dumps({"AlarmName": "CallbackDlqDepth", "NewStateValue": "ALARM", "NewStateReason": "1 message"})
    assert slack_message(None, body)["text"] == ":bell: Alarm CallbackDlqDepth is ALARM: 1 message"


def test_plain_notice_and_length_cap():
    assert slack_message("webhook 7 is DISABLED", "re-enabling")["text"] == "*webhook 7 is DISABLED*\nre-enabling"
    assert len(slack_message(None, "x" * 10_000)["text"]) == SLACK_TEXT_LIMIT


@pytest.mark.parametrize("url", ["not a url", "ftp://hooks.slack.com/x", "http://hooks.slack.com/x"])
def test_only_real_webhook_urls(url):
    with pytest.raises(SlackNotConfigured):
        checked_webhook_url(url)
    assert checked_webhook_url("https://hooks.slack.com/services/T/B/X") == "https://hooks.slack.com/services/T/B/X"
