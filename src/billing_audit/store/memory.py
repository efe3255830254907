"""In-memory stores for unit tests and dry runs."""

from __future__ import annotations

from collections.abc import Sequence

from billing_audit.domain.models import AuditEvent
from billing_audit.domain.snapshot import SheetSnapshot


class MemoryEventStore:
    def __init__(self) -> None:
        self.events: dict[str, AuditEvent] = {}
        self.alerted: set[str] = set()

    def add(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        new = [event for event in events if event.event_id not in self.events]
        for event in new:
            self.events[event.event_id] = event
        return new

    def unalerted(self, event_ids: Sequence[str]) -> set[str]:
        return {i for i in event_ids if i in self.events and i not in self.alerted}

    def mark_alerted(self, event_ids: Sequence[str]) -> None:
        self.alerted.update(event_ids)

    def all_events(self) -> list[AuditEvent]:
        return list(self.events.values())


class MemoryStateStore:
    def __init__(self) -> None:
        self.snapshots: dict[int, SheetSnapshot] = {}

    def load(self, sheet_id: int) -> SheetSnapshot | None:
        snapshot = self.snapshots.get(sheet_id)
        return snapshot.model_copy(deep=True) if snapshot else None

    def save(self, snapshot: SheetSnapshot) -> None:
        self.snapshots[snapshot.sheet_id] = snapshot.model_copy(deep=True)


class MemoryAlertPublisher:
    def __init__(self) -> None:
        self.published: list[AuditEvent] = []

    def publish(self, events: Sequence[AuditEvent]) -> None:
        self.published.extend(events)
