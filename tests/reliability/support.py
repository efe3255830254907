"""What several reliability tests share: a canned HTTP body for faults injected at botocore's
before-send, and the count of alerts moto's topic carried."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from moto.sns.models import sns_backends

from billing_audit_local.environment import REGION
from billing_audit_local.lambdas import ACCOUNT_ID


class RawBody:
    """The raw stream an `AWSResponse` reads its body from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.body


def alerted_ids(topic_arn: str) -> Counter[str]:
    """Each violation's count of messages moto's alerts topic carried (singles and digests)."""
    counts: Counter[str] = Counter()
    for sent in sns_backends[ACCOUNT_ID][REGION].topics[topic_arn].sent_notifications:
        document = json.loads(json.loads(sent[1])["default"])
        if document["kind"] == "violation":
            counts[document["event"]["event_id"]] += 1
        elif document["kind"] == "digest":
            assert document["event_ids_complete"], "a digest naming only some of its violations"
            counts.update(document["event_ids"])
    return counts
