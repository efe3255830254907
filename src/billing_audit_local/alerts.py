"""Every alert of a local run, as each kind of subscriber of the alerts topic receives it.

moto's SNS delivers to queues (the `sqs` or `default` form) but not to email, and runs no Lambda
here (cloud.py detaches the notifier).  So, while a run goes on:

- a queue subscribed to the topic receives what queue subscribers get, delivered by moto;
- after the run, each notification the topic carried (moto's record of the publish, with every
  protocol's form) is delivered as SNS would to the two subscribers moto skips: its `email` form
  (subject and text), and its `lambda` form through the real notifier handler, run in process,
  which posts to a loopback stand-in for Slack; the payload it posted is what is written, checked
  against Block Kit's limits.

`AlertTap.collect()` returns one record per subscriber and notification, in publish order.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aws_lambda_powertools.utilities import parameters
from moto.sns.models import sns_backends

from billing_audit.notify.slack import block_problems
from billing_audit.resources import ALERTS_TOPIC_ENV, SLACK_WEBHOOK_SECRET_ENV
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.environment import REGION
from billing_audit_local.lambdas import ACCOUNT_ID, invoke

QUEUE_NAME = "billing-audit-local-alert-subscriber"


class _SlackStandIn:
    """Slack's incoming webhook on loopback: records every payload posted to it.  One per process, so
    the URL the notifier has cached from its secret stays valid across local clouds."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/local"


_SLACK: _SlackStandIn | None = None
_SLACK_LOCK = threading.Lock()


def slack_stand_in() -> _SlackStandIn:
    global _SLACK
    with _SLACK_LOCK:
        if _SLACK is None:
            _SLACK = _SlackStandIn()
        return _SLACK


class AlertTap:
    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.topic_arn = ""
        self.queue_url = ""
        self.slack = slack_stand_in()

    def start(self) -> AlertTap:
        """Subscribe the queue and point the Slack secret at the stand-in (the cloud is provisioned)."""
        self.topic_arn = self.cloud.names[ALERTS_TOPIC_ENV]
        sqs, sns = self.cloud.client("sqs"), self.cloud.client("sns")
        self.queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        secret = self.cloud.names[SLACK_WEBHOOK_SECRET_ENV]
        self.cloud.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=self.slack.url)
        # The notifier caches secrets per process: an earlier local cloud's placeholder must not answer.
        parameters.clear_caches()
        return self

    def _published(self) -> list[tuple[str, str, str | None, dict[str, Any]]]:
        """(message id, message, subject, attributes) of each publish to the topic, in order."""
        topic = sns_backends[ACCOUNT_ID][REGION].topics[self.topic_arn]
        return [(sent[0], sent[1], sent[2], sent[3] or {}) for sent in topic.sent_notifications]

    def _queued(self) -> dict[str, dict[str, Any]]:
        sqs = self.cloud.client("sqs")
        found: dict[str, dict[str, Any]] = {}
        while True:
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                envelope = json.loads(message["Body"])
                found[envelope["MessageId"]] = envelope
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def collect(self) -> list[dict[str, Any]]:
        queued = self._queued()
        records: list[dict[str, Any]] = []
        for message_id, message, subject, attributes in self._published():
            forms = _forms(message)
            kind = _kind(forms.get("default", message))
            records.append(
                {"subscriber": "email", "kind": kind, "subject": subject, "text": forms.get("email", message)}
            )
            records.append(self._slack(kind, message_id, subject, forms.get("lambda", forms.get("default", message))))
            envelope = queued.get(message_id)
            records.append(
                {
                    "subscriber": "queue",
                    "kind": kind,
                    "attributes": {name: value.get("Value") for name, value in attributes.items()},
                    "message": json.loads(envelope["Message"]) if envelope else None,
                }
            )
        return records

    def _slack(self, kind: str, message_id: str, subject: str | None, message: str) -> dict[str, Any]:
        before = len(self.slack.received)
        outcome = invoke("notifier", _sns_event(self.topic_arn, message_id, subject, message))
        posted = self.slack.received[before:]
        payload = posted[0] if posted else None
        return {
            "subscriber": "slack",
            "kind": kind,
            "notifier": outcome,
            "payload": payload,
            "block_kit_problems": block_problems(payload) if payload is not None else None,
        }


def _forms(message: str) -> dict[str, str]:
    """The per-protocol forms of a `MessageStructure=json` publish; a plain message is its own default."""
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        return {"default": message}
    if isinstance(document, dict) and isinstance(document.get("default"), str):
        return {key: value for key, value in document.items() if isinstance(value, str)}
    return {"default": message}


def _kind(default: str) -> str:
    try:
        document = json.loads(default)
    except json.JSONDecodeError:
        return "text"
    return str(document.get("kind", "other")) if isinstance(document, dict) else "other"


def _sns_event(topic_arn: str, message_id: str, subject: str | None, message: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:local",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": "1970-01-01T00:00:00.000Z",  # moto keeps no publish time; no one reads it
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }
