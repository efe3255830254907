"""Alerts through the deployed resources in moto's server: the topic's per-protocol messages
(`MessageStructure=json`), the event bus, and the cooldown and pending alerts in the state table."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest

from billing_audit import resources as res
from billing_audit.domain.alert_messages import AlertContext, AlertLinks, operational_message, violation_message
from billing_audit.domain.alerting import AlertingPolicy
from billing_audit.domain.policy import AuditPolicy
from billing_audit.store.alert_state import DynamoAlertCooldowns, DynamoPendingAlerts
from billing_audit.store.eventbridge import EventBridgeBus
from billing_audit.store.sns import SnsAlertPublisher
from tests.unit.alert_builders import CHANGED, high, violation

CONTEXT = AlertContext(zone=ZoneInfo("America/Chicago"), policy=AuditPolicy(), names={"ana.ortiz@example.com": "Ana"})


def _queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _receive(sqs, url: str, count: int) -> list[dict]:
    messages: list[dict] = []
    for _ in range(10):
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        messages.extend(answer.get("Messages", []))
        if len(messages) >= count:
            break
    return messages


def test_each_subscriber_gets_its_own_form_and_the_attributes(cloud):
    topic = os.environ[res.ALERTS_TOPIC_ENV]
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    envelope_url, envelope_arn = _queue(sqs, "alerts-envelope")
    raw_url, raw_arn = _queue(sqs, "alerts-raw")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=envelope_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    # A subscriber that wants only HIGH violations filters on the attributes.
    high_url, high_arn = _queue(sqs, "alerts-high-only")
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=high_arn,
        Attributes={"FilterPolicy": json.dumps({"kind": ["violation"], "risk_level": ["HIGH"]})},
    )

    publisher = SnsAlertPublisher(sns, topic)
    event = high(300101)
    message = violation_message(event, CONTEXT, AlertLinks(row="https://app.smartsheet.com/sheets/4001?rowId=300101"))
    publisher.publish(message)
    publisher.publish(violation_message(violation(7, impact=500.0), CONTEXT, AlertLinks()))
    publisher.notify("webhook of sheet 4001 not enabled", "creating one")

    envelopes = [json.loads(m["Body"]) for m in _receive(sqs, envelope_url, 3)]
    assert [e["Subject"] for e in envelopes] == [
        message.subject,
        violation_message(violation(7, impact=500.0), CONTEXT, AlertLinks()).subject,
        operational_message("webhook of sheet 4001 not enabled", "creating one").subject,
    ]
    # Queues get the structured document (`default`), never the email text or the per-protocol map.
    document = json.loads(envelopes[0]["Message"])
    assert document["kind"] == "violation" and document["event"]["event_id"] == event.event_id
    assert envelopes[0]["MessageAttributes"]["risk_level"] == {"Type": "String", "Value": "HIGH"}
    assert envelopes[0]["MessageAttributes"]["sheet_id"]["Type"] == "String.Array"
    assert json.loads(envelopes[2]["Message"])["kind"] == "operational"

    raw = _receive(sqs, raw_url, 3)
    assert json.loads(raw[0]["Body"]) == document
    assert raw[0]["MessageAttributes"]["kind"]["StringValue"] == "violation"

    filtered = _receive(sqs, high_url, 1)
    assert [json.loads(json.loads(m["Body"])["Message"])["event"]["row_id"] for m in filtered] == [300101]


def test_a_long_non_ascii_subject_is_published_as_sns_takes_it(cloud):
    """moto refuses subjects over 100 characters as SNS does; ours are cut to ASCII below it."""
    sns = boto3.client("sns")
    huge = high(1, sheet_name="Ω Crew Billing " * 30)
    message = violation_message(huge, CONTEXT, AlertLinks())
    assert len(message.subject) <= 99 and message.subject.isascii()
    SnsAlertPublisher(sns, os.environ[res.ALERTS_TOPIC_ENV]).publish(message)


def test_violations_reach_a_rule_on_the_event_bus(cloud):
    bus_name = os.environ[res.EVENT_BUS_ENV]
    events, sqs = boto3.client("events"), boto3.client("sqs")
    url, arn = _queue(sqs, "bus-post-close")
    events.put_rule(
        Name="post-close-to-queue",
        EventBusName=bus_name,
        EventPattern=json.dumps(
            {"source": [res.EVENT_SOURCE], "detail-type": [res.event_detail_type("post_close_change")]}
        ),
    )
    events.put_targets(Rule="post-close-to-queue", EventBusName=bus_name, Targets=[{"Id": "q", "Arn": arn}])
    found = [high(row) for row in range(12)] + [
        violation(99, impact=500.0, kind=__import__("billing_audit").domain.models.EventType.LOCKED_ROW_CHANGE)
    ]
    EventBridgeBus(events, bus_name).put(found)  # 13 entries: two PutEvents requests
    delivered = [json.loads(m["Body"]) for m in _receive(sqs, url, 12)]
    assert sorted(d["detail"]["row_id"] for d in delivered) == list(range(12))
    assert {d["detail-type"] for d in delivered} == {"Billing Audit post_close_change"}
    assert delivered[0]["detail"]["event_id"] in {e.event_id for e in found}


@pytest.fixture
def state_table(cloud):
    return boto3.resource("dynamodb").Table(os.environ[res.STATE_TABLE.env_var])


def test_the_cooldown_is_shared_by_every_writer_of_the_table(state_table):
    policy = AlertingPolicy(max_singles_per_sheet=10, cooldown_minutes=60)
    one, other = DynamoAlertCooldowns(state_table), DynamoAlertCooldowns(state_table)
    assert one.take(4001, 7, policy, CHANGED) == 7
    assert other.take(4001, 7, policy, CHANGED + timedelta(minutes=1)) == 3
    assert one.take(4001, 1, policy, CHANGED + timedelta(minutes=2)) == 0
    assert other.take(4002, 10, policy, CHANGED) == 10  # per sheet
    assert one.take(4001, 4, policy, CHANGED + timedelta(hours=1)) == 4  # a new window


def test_pending_alerts_survive_until_cleared(state_table):
    pending = DynamoPendingAlerts(state_table)
    events = [high(row) for row in range(30)]
    pending.hold(events)
    pending.hold(events[:5])  # held twice: still once
    assert sorted(e.event_id for e in DynamoPendingAlerts(state_table).held()) == sorted(e.event_id for e in events)
    pending.clear([e.event_id for e in events[:25]])
    assert sorted(pending.held(), key=lambda e: e.row_id) == events[25:]
