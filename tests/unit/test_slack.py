"""Slack delivery details; the layouts of each alert kind are in test_alert_messages.py."""

from __future__ import annotations

import pytest

from billing_audit.notify.slack import (
    SLACK_TEXT_LIMIT,
    SlackNotConfigured,
    block_problems,
    checked_webhook_url,
    slack_message,
)


def test_a_message_that_is_not_ours_is_posted_as_text_within_the_limits():
    payload = slack_message("webhook 7 is DISABLED", "re-enabling")
    assert payload["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*webhook 7 is DISABLED*\nre-enabling"}}
    ]
    long = slack_message(None, "x" * 10_000)
    assert len(long["text"]) == SLACK_TEXT_LIMIT and block_problems(long) == []


@pytest.mark.parametrize("url", ["not a url", "ftp://hooks.slack.com/x", "http://hooks.slack.com/x"])
def test_only_real_webhook_urls(url):
    with pytest.raises(SlackNotConfigured):
        checked_webhook_url(url)
    assert checked_webhook_url("https://hooks.slack.com/services/T/B/X") == "https://hooks.slack.com/services/T/B/X"
