"""The event store as one run sees it: `changes_by` answered from what the run already read.

Scoring asks, for every replayed row, for its editors' stored events over the revert window (a
day) around the row's changes (pipeline/record.py `neighbours_of`).  A scan replaying a person's
thousand edits asked the store a thousand times for nearly the same day of events: the same items
read a thousand times over.  Here each person's events are read once over the span asked so far;
a later question reads only the part of its span not yet read, and the events the run stores are
added as it stores them.

What another writer stores during the run (the webhook path, a concurrent invocation) inside a
span already read is not seen until the next run: it weighs only in risk scores (bursts and
reverts), never in what is detected, and an invocation lasts minutes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Literal

from billing_audit.domain.models import AuditEvent
from billing_audit.store.interfaces import AlertClaims, EventStore
from billing_audit.store.memory import TimedEvents


class _Person:
    """One person's events read so far (by id, and in time order) and the span they cover."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.end = start, end
        self.ids: set[str] = set()
        self.timed = TimedEvents()

    def keep(self, events: Sequence[AuditEvent]) -> None:
        for event in events:
            if event.event_id not in self.ids:
                self.ids.add(event.event_id)
                self.timed.add(event)


class RunEvents:
    """`EventStore` for one run, over the store itself; everything but `changes_by` passes through."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._people: dict[str, _Person] = {}

    def add(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        new = self.store.add(events)
        # Every event handed in is stored now, by this call or before it: all of it is the run's.
        for event in events:
            person = self._people.get((event.changed_by or "").lower()) if event.changed_by else None
            if person is not None:
                person.keep([event])
        return new

    def changes_by(self, person: str, start: datetime, end: datetime) -> list[AuditEvent]:
        who = person.lower()
        known = self._people.get(who)
        if known is None:
            known = self._people[who] = _Person(start, end)
            known.keep(self.store.changes_by(who, start, end))
        else:
            # Only the parts of the span not read yet; each ends where the read one begins, so the
            # span read stays one interval (its edges read twice, kept once).
            if start < known.start:
                known.keep(self.store.changes_by(who, start, known.start))
                known.start = start
            if end > known.end:
                known.keep(self.store.changes_by(who, known.end, end))
                known.end = end
        return known.timed.between(start, end)

    def claim_alerts(self, event_ids: Sequence[str]) -> AlertClaims:
        return self.store.claim_alerts(event_ids)

    def mark_alerted(self, event_ids: Sequence[str]) -> None:
        self.store.mark_alerted(event_ids)

    def release_alerts(self, event_ids: Sequence[str]) -> None:
        self.store.release_alerts(event_ids)

    def all_events(self) -> list[AuditEvent]:
        return self.store.all_events()

    def window(
        self,
        start: datetime,
        end: datetime,
        *,
        by: Literal["detected", "changed"] = "detected",
        sheet_ids: Sequence[int] | None = None,
    ) -> Iterator[AuditEvent]:
        return self.store.window(start, end, by=by, sheet_ids=sheet_ids)
