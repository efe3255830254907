"""A run that dies while alerting (pipeline/alerting.py over the in-memory stores): a violation it
claimed but never published is alerted by a later run once the claim is older than any run lives;
one it published but never recorded is alerted again (the only repeat); one recorded never is."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from billing_audit.config import AuditConfig
from billing_audit.domain.alert_messages import AlertMessage
from billing_audit.pipeline.alerting import AlertBatch
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.resources import ALERT_CLAIM_LEASE_SECONDS
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from tests.unit.alert_builders import DETECTED, high, violation

LEASE = timedelta(seconds=ALERT_CLAIM_LEASE_SECONDS)


class Killed(BaseException):
    """SIGKILL, as far as the run can tell: no `except Exception` of it runs."""


class DyingPublisher(MemoryAlertPublisher):
    """Dies at its `die_at`-th publish, before the message leaves (`after=False`) or just after."""

    def __init__(self, die_at: int, *, after: bool) -> None:
        super().__init__()
        self.die_at, self.after, self.calls = die_at, after, 0

    def publish(self, message: AlertMessage) -> None:
        self.calls += 1
        if self.calls == self.die_at and not self.after:
            raise Killed
        super().publish(message)
        if self.calls == self.die_at:
            raise Killed


class World:
    def __init__(self) -> None:
        self.now = DETECTED
        self.store = MemoryEventStore(clock=lambda: self.now)
        self.state = MemoryStateStore()
        self.events = [high(1), high(2), violation(3, impact=500.0)]  # two singles and a digest
        self.store.add(self.events)
        self.first = self.deps(MemoryAlertPublisher())

    def deps(self, publisher: MemoryAlertPublisher) -> AuditDeps:
        deps = AuditDeps(
            smartsheet=object(),  # type: ignore[arg-type]
            events=self.store,
            state=self.state,
            alerts=publisher,
            notifier=publisher,
            clock=lambda: self.now,
        )
        if hasattr(self, "first"):
            deps.pending_alerts = self.first.pending_alerts  # the state table's, shared by every run
        return deps

    def run(self, publisher: MemoryAlertPublisher, *, found: bool = True) -> AuditDeps:
        deps = self.deps(publisher)
        batch = AlertBatch(run="batch of callbacks")
        if found:
            batch.add(self.events, deps)
        batch.send(AuditConfig(), deps)
        return deps

    def at(self, moment: datetime) -> None:
        self.now = moment


@pytest.mark.parametrize("die_at", [1, 2, 3])
def test_a_run_killed_before_a_message_leaves_loses_nothing_and_repeats_nothing(die_at: int) -> None:
    world = World()
    dying = DyingPublisher(die_at, after=False)
    with pytest.raises(Killed):
        world.run(dying)
    # The redelivered batch comes back at once: the dead run's claims may still be publishing.
    early = MemoryAlertPublisher()
    world.run(early)
    assert early.published == []
    # Later (SQS redelivers after its visibility timeout, longer than any run lives): taken over.
    world.at(DETECTED + LEASE + timedelta(seconds=1))
    later = MemoryAlertPublisher()
    final = world.run(later, found=False)  # a run that found nothing alerts what was held
    delivered = [e.event_id for e in [*dying.published, *later.published]]
    assert sorted(delivered) == sorted(e.event_id for e in world.events)  # each once
    assert final.pending_alerts.held() == []


@pytest.mark.parametrize("die_at", [1, 2, 3])
def test_only_a_kill_between_publish_and_record_repeats_and_only_that_message(die_at: int) -> None:
    world = World()
    dying = DyingPublisher(die_at, after=True)
    with pytest.raises(Killed):
        world.run(dying)
    in_window = {e.event_id for e in dying.messages[-1].events}  # published, never recorded
    world.at(DETECTED + LEASE + timedelta(seconds=1))
    later = MemoryAlertPublisher()
    world.run(later)
    delivered = [e.event_id for e in [*dying.published, *later.published]]
    assert sorted(set(delivered)) == sorted(e.event_id for e in world.events)
    repeated = {event_id for event_id in delivered if delivered.count(event_id) > 1}
    assert repeated == in_window
