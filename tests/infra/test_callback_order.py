"""A sheet's callbacks are processed in order by construction, and big ones travel by reference."""

from __future__ import annotations

import json
from typing import Any

from infra.constants import CALLBACK_PAYLOADS_ARN_EXPORT

from billing_audit import resources as shared
from tests.infra.test_stack import of_type, role_policy_text


def _queue(template_json: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return template_json["Resources"][logical_id]["Properties"]


def test_the_callback_queue_and_its_dlq_are_fifo_with_sender_set_deduplication(template_json):
    queue = _queue(template_json, shared.CALLBACK_QUEUE_LOGICAL_ID)
    dlq = _queue(template_json, shared.CALLBACK_DLQ_LOGICAL_ID)
    assert queue["FifoQueue"] is True and dlq["FifoQueue"] is True
    # The webhook sets (webhookId, nonce) as the deduplication id; the body alone could repeat.
    assert queue.get("ContentBasedDeduplication") is False


def test_process_is_the_queues_only_consumer(template_json):
    mappings = of_type(template_json, "AWS::Lambda::EventSourceMapping")
    sources = [m["Properties"]["EventSourceArn"] for m in mappings.values()]
    assert sources.count({"Fn::GetAtt": [shared.CALLBACK_QUEUE_LOGICAL_ID, "Arn"]}) == 1


def test_payloads_bucket_is_data_and_expires(data_template_json):
    bucket = data_template_json["Resources"][shared.CALLBACK_PAYLOADS_BUCKET.logical_id]
    assert bucket["DeletionPolicy"] == "Retain"
    [rule] = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == shared.CALLBACK_PAYLOAD_DAYS
    exports = [o.get("Export", {}).get("Name") for o in data_template_json["Outputs"].values()]
    assert CALLBACK_PAYLOADS_ARN_EXPORT in exports


def test_webhook_only_puts_and_process_only_gets_payloads(template_json):
    key = f"/{shared.CALLBACK_PAYLOAD_PREFIX}*"
    webhook, process = role_policy_text(template_json, "webhook"), role_policy_text(template_json, "process")
    scan = role_policy_text(template_json, "scan")
    for text, allowed, refused in (
        (webhook, "s3:PutObject", "s3:GetObject"),
        (process, "s3:GetObject", "s3:PutObject"),
    ):
        statements = [s for s in json.loads(text) for s in s if CALLBACK_PAYLOADS_ARN_EXPORT in json.dumps(s)]
        assert [s["Action"] for s in statements] == [allowed] and key in json.dumps(statements)
        assert refused not in json.dumps(statements)
    assert CALLBACK_PAYLOADS_ARN_EXPORT not in scan
