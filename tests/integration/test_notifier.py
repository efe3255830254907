"""The Slack notifier handler: an SNS event in, a Block Kit post out (to a loopback stand-in for Slack)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

from billing_audit import resources as res
from billing_audit.domain.alert_messages import AlertContext, AlertLinks, violation_message
from billing_audit.domain.policy import AuditPolicy
from billing_audit.notify.slack import block_problems
from billing_audit.store.sns import sns_message
from billing_audit_local.lambdas import invoke
from tests.unit.alert_builders import high

CONTEXT = AlertContext(zone=ZoneInfo("America/Chicago"), policy=AuditPolicy())


def _sns_event(subject: str, message: str) -> dict:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:x",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "1",
                    "TopicArn": "arn:aws:sns:us-east-1:1:t",
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": "2026-11-14T15:00:00Z",
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def test_alerts_reach_slack(cloud, monkeypatch):
    received: list[dict] = []

    class Slack(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secrets = cloud.client("secretsmanager")
    name = "test/slack-url"
    secrets.create_secret(Name=name, SecretString=f"http://127.0.0.1:{server.server_address[1]}/hook")
    monkeypatch.setenv(res.SLACK_WEBHOOK_SECRET_ENV, name)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    event = high(300101)
    message = violation_message(event, CONTEXT, AlertLinks(row="https://app.smartsheet.com/sheets/4001?rowId=300101"))
    # The notifier's subscription receives the structured form (`default`).
    body = json.loads(sns_message(message))["default"]
    try:
        assert invoke("notifier", _sns_event(message.subject, body), cold=True) == {"sent": 1}
    finally:
        server.shutdown()
    assert len(received) == 1
    posted = received[0]
    assert block_problems(posted) == [] and posted["blocks"][0]["type"] == "header"
    assert posted["blocks"][0]["text"]["text"].startswith(":rotating_light: [HIGH] $49,500.00 post-close change")
    assert posted["text"]  # the fallback for notifications and clients without blocks


def test_a_placeholder_secret_skips_without_failing(cloud, monkeypatch):
    secrets = cloud.client("secretsmanager")
    secrets.create_secret(Name="test/slack-placeholder", SecretString="x9Q2-random-placeholder")
    monkeypatch.setenv(res.SLACK_WEBHOOK_SECRET_ENV, "test/slack-placeholder")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert invoke("notifier", _sns_event("s", "m"), cold=True) == {"sent": 0, "skipped": True}
