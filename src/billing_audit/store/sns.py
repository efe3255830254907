"""Alerts through the SNS topic, each subscriber in its own form (`MessageStructure=json`).

Email subscribers get the plain text; every other protocol (the Slack notifier Lambda, queues,
HTTPS endpoints, email-json) gets the structured document under `default`.  Attributes let a
subscription filter by `kind`, `risk_level` and `sheet_id` (a String.Array).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from billing_audit.domain.alert_messages import AlertMessage, operational_message

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient


def sns_message(message: AlertMessage) -> str:
    """The per-protocol message: SNS picks the subscriber's protocol key, else `default`."""
    return json.dumps({"default": json.dumps(message.document), "email": message.email})


def sns_attributes(message: AlertMessage) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, value in message.attributes.items():
        if isinstance(value, list):
            attributes[name] = {"DataType": "String.Array", "StringValue": json.dumps(value)}
        else:
            attributes[name] = {"DataType": "String", "StringValue": value}
    return attributes


class SnsAlertPublisher:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self.client = client
        self.topic_arn = topic_arn

    def publish(self, message: AlertMessage) -> None:
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=message.subject,
            Message=sns_message(message),
            MessageStructure="json",
            MessageAttributes=sns_attributes(message),
        )

    def notify(self, subject: str, text: str) -> None:
        """An operational alert, not an audit event: same topic, `kind` says which."""
        self.publish(operational_message(subject, text))
