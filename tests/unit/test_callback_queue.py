"""Queueing a verified callback: FIFO per sheet, deduplicated on (webhookId, nonce), big ones by reference."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from billing_audit.ingest.queue import (
    PAYLOAD_REF_FIELD,
    PayloadMissing,
    SqsCallbackSink,
    message_group,
    message_size,
    resolve_payload,
)


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> dict[str, str]:
        self.sent.append(kwargs)
        return {"MessageId": f"m-{len(self.sent)}"}


class Blobs:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, content_type: str) -> str:
        self.objects[key] = data
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def link(self, key: str, seconds: int = 3600) -> str:
        return f"https://example.invalid/{key}"


def _callback(events: int, nonce: str = "n-1") -> dict[str, Any]:
    return {
        "nonce": nonce,
        "webhookId": 7,
        "scope": "sheet",
        "scopeObjectId": 4001,
        "events": [
            {
                "objectType": "cell",
                "eventType": "updated",
                "rowId": n,
                "columnId": 3,
                "userId": 5,
                "timestamp": "2026-11-12T10:00:00Z",
            }
            for n in range(events)
        ],
    }


def _sink(limit: int = 262_144) -> tuple[SqsCallbackSink, FakeSqs, Blobs]:
    sqs, blobs = FakeSqs(), Blobs()
    sink = SqsCallbackSink(
        sqs,
        "https://queue.example/q.fifo",
        persistence=None,
        payloads=blobs,  # type: ignore[arg-type]
        max_message_bytes=limit,
    )
    return sink, sqs, blobs


def test_each_sheet_is_one_message_group_and_the_nonce_deduplicates():
    sink, sqs, _ = _sink()
    callback = _callback(2)
    sink._send_message(callback=callback, body=json.dumps(callback))
    [sent] = sqs.sent
    assert sent["MessageGroupId"] == "sheet-4001" == message_group(callback)
    assert sent["MessageDeduplicationId"] == hashlib.sha256(b"7:n-1").hexdigest()
    assert json.loads(sent["MessageBody"]) == callback  # the body as received


def test_a_callback_too_big_for_a_message_is_stored_and_queued_by_reference():
    sink, sqs, blobs = _sink()
    callback = _callback(3000)  # a big paste: far beyond 256 KB
    body = json.dumps(callback)
    assert len(body) > 262_144
    sink._send_message(callback=callback, body=body)
    [sent] = sqs.sent
    assert message_size(sent["MessageBody"], sent["MessageAttributes"]) < 1024
    reference = json.loads(sent["MessageBody"])
    assert resolve_payload(reference, blobs) == callback
    assert reference[PAYLOAD_REF_FIELD]["bytes"] == len(body.encode())


def test_the_limit_counts_the_attributes_too():
    callback = _callback(1)
    body = json.dumps(callback)
    sink, sqs, _ = _sink(limit=len(body.encode()))  # the body alone fits exactly; with attributes it does not
    sink._send_message(callback=callback, body=body)
    assert PAYLOAD_REF_FIELD in json.loads(sqs.sent[0]["MessageBody"])


def test_an_altered_or_missing_stored_payload_is_refused():
    sink, sqs, blobs = _sink(limit=100)
    callback = _callback(5)
    sink._send_message(callback=callback, body=json.dumps(callback))
    reference = json.loads(sqs.sent[0]["MessageBody"])
    key = reference[PAYLOAD_REF_FIELD]["key"]
    blobs.objects[key] = blobs.objects[key].replace(b"4001", b"4002")
    with pytest.raises(PayloadMissing):
        resolve_payload(reference, blobs)
    with pytest.raises(PayloadMissing):
        resolve_payload(reference, None)
