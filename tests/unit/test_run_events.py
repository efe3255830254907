"""A run's view of the event store (store/run_events.py): the same neighbours as the store gives,
each person's events read once over the span asked, and the run's own events seen as stored."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_audit.domain.models import AuditEvent, DetectedVia, EventType
from billing_audit.store.memory import MemoryEventStore
from billing_audit.store.run_events import RunEvents

AT = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)


def event(index: int, minutes: int, by: str = "bob@x.com") -> AuditEvent:
    return AuditEvent(
        event_id=f"e{index}",
        sheet_id=1,
        sheet_name="S",
        row_id=10 + index,
        column="Quantity",
        old_value=1,
        new_value=2,
        changed_at=AT + timedelta(minutes=minutes),
        changed_by=by,
        type=EventType.CHANGE,
        violation=False,
        detected_at=AT + timedelta(days=2),
        detected_via=DetectedVia.SCAN,
    )


class CountingStore(MemoryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []  # the ids each changes_by returned, as often as returned

    def changes_by(self, person: str, start: datetime, end: datetime) -> list[AuditEvent]:
        found = super().changes_by(person, start, end)
        self.read.extend(e.event_id for e in found)
        return found


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 600)), min_size=1, max_size=25), st.randoms())
def test_answers_equal_the_stores_and_each_event_is_read_at_most_twice(
    asks: list[tuple[int, int]], rng: random.Random
) -> None:
    store = CountingStore()
    store.add([event(n, rng.randint(0, 3600), rng.choice(["bob@x.com", "Ana@x.com"])) for n in range(200)])
    run = RunEvents(store)
    for offset, span in asks:
        who = rng.choice(["BOB@x.com", "ana@x.com"])
        start, end = AT + timedelta(minutes=offset), AT + timedelta(minutes=offset + span)
        assert run.changes_by(who, start, end) == MemoryEventStore.changes_by(store, who, start, end)
    # Spans grow from their edges: an event is read again only where two reads meet.
    assert max((store.read.count(i) for i in set(store.read)), default=0) <= 2


def test_the_runs_own_events_are_neighbours_without_reading_again() -> None:
    store = CountingStore()
    store.add([event(1, 0)])
    run = RunEvents(store)
    start, end = AT - timedelta(hours=1), AT + timedelta(hours=1)
    assert [e.event_id for e in run.changes_by("bob@x.com", start, end)] == ["e1"]
    reads = len(store.read)
    assert run.add([event(2, 10), event(1, 0)]) == [event(2, 10)]  # e1 was stored already
    assert [e.event_id for e in run.changes_by("bob@x.com", start, end)] == ["e1", "e2"]
    assert len(store.read) == reads  # answered from what the run read and stored
    assert [e.event_id for e in store.all_events()] == ["e1", "e2"]


def test_an_id_twice_in_one_add_is_stored_and_returned_once_as_the_dynamodb_store_does() -> None:
    store = MemoryEventStore()
    again = event(1, 5)  # the same id, a later reading of it
    assert store.add([event(1, 0), event(2, 0), again]) == [event(1, 0), event(2, 0)]
    assert store.changes_by("bob@x.com", AT - timedelta(hours=1), AT + timedelta(hours=1)) == [event(1, 0), event(2, 0)]
