"""Alerts through the SNS topic; email subscribers and the Slack notifier read the same message."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from billing_audit.domain.models import AuditEvent

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient


def alert_text(event: AuditEvent) -> str:
    impact = "n/a" if event.financial_impact is None else f"${event.financial_impact:,.2f}"
    where = f"{event.sheet_name} row {event.row_id}" + (f" ({event.work_request})" if event.work_request else "")
    column = f" {event.column}" if event.column else ""
    return (
        f"[{event.risk_level}] {event.type.value}{column} on {where}: "
        f"{event.old_value!r} -> {event.new_value!r} by {event.changed_by or 'unknown'} "
        f"at {event.to_record()['changed_at']}, impact {impact}"
    )


class SnsAlertPublisher:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self.client = client
        self.topic_arn = topic_arn

    def publish(self, events: Sequence[AuditEvent]) -> None:
        for event in events:
            self.client.publish(
                TopicArn=self.topic_arn,
                Subject=f"Billing Audit {event.risk_level}: {event.type.value}"[:100],
                # One JSON document for every subscriber: a readable summary plus the event itself.
                Message=json.dumps({"summary": alert_text(event), "event": event.to_record()}),
                MessageAttributes={
                    "risk_level": {"DataType": "String", "StringValue": str(event.risk_level)},
                    "type": {"DataType": "String", "StringValue": event.type.value},
                },
            )

    def notify(self, subject: str, text: str) -> None:
        """An operational alert, not an audit event: same topic, `kind` says which."""
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=f"Billing Audit: {subject}"[:100],
            Message=json.dumps({"summary": text, "kind": "operational"}),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "operational"}},
        )
