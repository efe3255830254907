"""Every stored violation on the product's own EventBridge bus, for rules other systems add
(Discord, Teams, PagerDuty, a SIEM through an API destination: see the README)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from billing_audit.domain.models import AuditEvent
from billing_audit.resources import EVENT_SOURCE, event_detail_type

PUT_EVENTS_BATCH = 10  # PutEvents' limit of entries per request
PUT_EVENTS_ATTEMPTS = 3


class EventBridgeBus:
    """`client`: a boto3 `events` client (no type stubs for it among the dev dependencies)."""

    def __init__(self, client: Any, bus_name: str) -> None:
        self.client = client
        self.bus_name = bus_name

    def entry(self, event: AuditEvent) -> dict[str, Any]:
        return {
            "EventBusName": self.bus_name,
            "Source": EVENT_SOURCE,
            "DetailType": event_detail_type(event.type.value),
            "Detail": json.dumps(event.to_record()),
            "Time": event.changed_at,
            "Resources": [],
        }

    def put(self, events: Sequence[AuditEvent]) -> None:
        for start in range(0, len(events), PUT_EVENTS_BATCH):
            entries = [self.entry(event) for event in events[start : start + PUT_EVENTS_BATCH]]
            for _attempt in range(PUT_EVENTS_ATTEMPTS):
                answer = self.client.put_events(Entries=entries)
                if not answer.get("FailedEntryCount"):
                    break
                # Only the refused entries go again (throttled or an internal failure).
                entries = [
                    entry for entry, result in zip(entries, answer["Entries"], strict=True) if result.get("ErrorCode")
                ]
            else:
                raise RuntimeError(f"EventBridge refused {len(entries)} events on {self.bus_name}")
