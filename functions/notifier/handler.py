"""Slack delivery: SNS alerts topic → one Slack message (Block Kit) per notification."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing_audit import resources as res
from billing_audit.notify.slack import (
    SLACK_TEXT_LIMIT,
    SlackNotConfigured,
    block_problems,
    clip,
    post,
    slack_message,
)
from billing_audit.settings import NotifierSettings, load

logger = Logger()
tracer = Tracer()


@cache
def _settings() -> NotifierSettings:
    return load(NotifierSettings)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@event_source(data_class=SNSEvent)
def handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    url = str(parameters.get_secret(_settings().slack_webhook_secret, max_age=res.SECRET_CACHE_SECONDS))
    sent = 0
    for record in event.records:
        payload = slack_message(record.sns.subject, record.sns.message)
        problems = block_problems(payload)
        if problems:
            # Slack refuses the whole post over one bad block: the fallback text still tells the news.
            logger.warning("Slack blocks out of limits; posting text only", extra={"problems": problems})
            payload = {"text": clip(str(payload.get("text", "")), SLACK_TEXT_LIMIT)}
        try:
            post(url, payload)
        except SlackNotConfigured as exc:
            # Not an error to retry: the placeholder secret stays until someone puts the real URL.
            logger.warning("Slack delivery skipped", extra={"reason": str(exc)})
            return {"sent": sent, "skipped": True}
        sent += 1
    return {"sent": sent}
