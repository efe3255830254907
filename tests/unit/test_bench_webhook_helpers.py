"""The webhook benchmarks' own bookkeeping: what their verdicts rest on, checked without a cloud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bench.bench_webhook import _empty
from bench.bench_webhook_burst import Waits

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_waits_between_counts_only_the_waiting_inside_the_span() -> None:
    waits = Waits([(at(0), 10.0, "request budget"), (at(30), 5.0, "retry backoff")])

    assert waits.between(at(5), at(32)) == pytest.approx(5.0 + 2.0)
    assert waits.between(at(0), at(60)) == pytest.approx(15.0)
    assert waits.between(at(12), at(29)) == 0.0
    assert waits.between(at(40), at(50)) == 0.0


class FakeQueue:
    """SQS's receive (at most 10) and batch delete over a list of messages."""

    def __init__(self, count: int) -> None:
        self.messages = [f"m{n}" for n in range(count)]

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int, VisibilityTimeout: int) -> dict[str, Any]:
        return {"Messages": [{"ReceiptHandle": m} for m in self.messages[:MaxNumberOfMessages]]}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        handles = {entry["ReceiptHandle"] for entry in Entries}
        self.messages = [m for m in self.messages if m not in handles]
        return {"Successful": Entries}


def test_emptying_the_queue_takes_every_message_sent() -> None:
    queue = FakeQueue(23)

    assert _empty(queue, "url", 23) == 23
    assert queue.messages == []


def test_a_message_missing_from_the_queue_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="held 10 messages, 11 were sent"):
        _empty(FakeQueue(10), "url", 11)
