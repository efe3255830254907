"""Which violations a run alerts and how (domain/alerting.py), and the run's alerting end to end over
the in-memory stores (pipeline/alerting.py): singles, one digest, cooldowns, never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing_audit.config import AuditConfig
from billing_audit.domain.alerting import AlertingPolicy, Cooldown, plan_alerts, wanted_singles
from billing_audit.domain.models import EventType, RiskLevel
from billing_audit.pipeline.alerting import AlertBatch, alert_run
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventBus, MemoryEventStore, MemoryStateStore
from tests.unit.alert_builders import CHANGED, DETECTED, high, violation

POLICY = AlertingPolicy()


class NoSmartsheet:
    """Alerting reads nothing from Smartsheet."""


def deps_for(store: MemoryEventStore | None = None) -> AuditDeps:
    publisher = MemoryAlertPublisher()
    return AuditDeps(
        smartsheet=NoSmartsheet(),  # type: ignore[arg-type]
        events=store or MemoryEventStore(),
        state=MemoryStateStore(),
        alerts=publisher,
        notifier=publisher,
        clock=lambda: DETECTED,
        smartsheet_app_url="https://app.smartsheet.com",
    )


def test_high_ones_go_alone_worst_first_up_to_the_limit_the_rest_in_one_digest():
    highs = [high(row, impact=1000.0 + row) for row in range(15)]
    medium = violation(99, impact=500.0)
    low = violation(98, impact=5.0)
    plan = plan_alerts([*highs, medium, low], POLICY, grants={4001: 10})
    assert [e.row_id for e in plan.singles] == list(range(14, 4, -1))  # the ten largest impacts
    assert plan.digest is not None
    assert [e.risk_level for e in plan.digest.events] == [RiskLevel.HIGH] * 5 + [RiskLevel.MEDIUM]
    assert plan.digest.singles_sent == 10 and plan.digest.below_level == 1
    assert plan.not_alerted == (low,)


def test_min_level_decides_what_is_alerted_at_all():
    low = violation(1, impact=5.0)
    assert plan_alerts([low], POLICY, {}).digest is None
    everything = AlertingPolicy(min_level=RiskLevel.LOW)
    assert plan_alerts([low], everything, {}).digest is not None
    only_high = AlertingPolicy(min_level=RiskLevel.HIGH)
    plan = plan_alerts([violation(2, impact=500.0), high(3)], only_high, {4001: 1})
    assert [e.row_id for e in plan.singles] == [3] and plan.digest is None and len(plan.not_alerted) == 1


def test_singles_are_granted_per_sheet():
    events = [high(1), high(2, sheet_id=4002), high(3, sheet_id=4002)]
    assert wanted_singles(events, POLICY) == {4001: 1, 4002: 2}
    plan = plan_alerts(events, POLICY, {4001: 1, 4002: 1})
    assert sorted(e.row_id for e in plan.singles) == [1, 2]
    assert plan.digest is not None and [e.row_id for e in plan.digest.events] == [3]


def test_cooldown_spends_the_allowance_across_runs_then_renews():
    policy = AlertingPolicy(max_singles_per_sheet=10, cooldown_minutes=60)
    state = Cooldown()
    granted, state = state.grant(7, policy, CHANGED)
    assert granted == 7
    granted, state = state.grant(7, policy, CHANGED + timedelta(minutes=5))
    assert granted == 3
    granted, same = state.grant(7, policy, CHANGED + timedelta(minutes=59))
    assert granted == 0 and same == state
    granted, state = state.grant(7, policy, CHANGED + timedelta(minutes=60))
    assert granted == 7 and state.window_start == CHANGED + timedelta(minutes=60)


def test_no_cooldown_gives_each_run_its_full_allowance():
    policy = AlertingPolicy(max_singles_per_sheet=2, cooldown_minutes=0)
    granted, state = Cooldown().grant(5, policy, CHANGED)
    assert granted == 2
    assert state.grant(5, policy, CHANGED)[0] == 2


@pytest.mark.parametrize("count", [300, 1000])
def test_a_bulk_edit_becomes_a_few_messages_and_one_digest(count):
    """A 300-row bulk edit of closed rows: at most max-per-run singles and one digest, not 300 messages."""
    deps = deps_for()
    events = [high(row, impact=2000.0 + row, minutes=row % 3) for row in range(count)]
    deps.events.add(events)
    outcome = alert_run(events, AuditConfig(), deps, run="scan run")
    publisher = deps.alerts
    assert isinstance(publisher, MemoryAlertPublisher)
    kinds = [message.kind for message in publisher.messages]
    assert kinds == ["violation"] * 10 + ["digest"]
    assert outcome.messages == 11 and outcome.singles == 10 and outcome.digested == count - 10
    # Every violation is alerted exactly once, and put on the bus.
    assert sorted(e.event_id for e in publisher.published) == sorted(e.event_id for e in events)
    bus = deps.bus
    assert isinstance(bus, MemoryEventBus) and len(bus.events) == count


def test_a_burst_over_many_runs_sends_singles_only_until_the_cooldown_spends_them():
    deps = deps_for()
    config = AuditConfig()
    kinds = []
    for run in range(30):  # the same bulk edit, arriving as 30 callback batches of 10 rows
        events = [high(run * 10 + row, impact=5000.0) for row in range(10)]
        deps.events.add(events)
        before = len(deps.alerts.messages)  # type: ignore[attr-defined]
        alert_run(events, config, deps, run="batch of callbacks")
        kinds.append([m.kind for m in deps.alerts.messages[before:]])  # type: ignore[attr-defined]
    assert kinds[0] == ["violation"] * 10
    assert all(batch == ["digest"] for batch in kinds[1:])
    assert len(deps.alerts.published) == 300  # type: ignore[attr-defined]


def test_nothing_is_alerted_twice_whichever_run_finds_it():
    store = MemoryEventStore()
    scan, webhook = deps_for(store), deps_for(store)
    events = [high(1), violation(2, impact=500.0)]
    store.add(events)
    alert_run(events, AuditConfig(), webhook, run="batch of callbacks")
    again = alert_run(events, AuditConfig(), scan, run="scan run")
    assert again.claimed == 0 and scan.alerts.messages == []  # type: ignore[attr-defined]
    assert len(webhook.alerts.published) == 2  # type: ignore[attr-defined]


class FailingPublisher(MemoryAlertPublisher):
    def publish(self, message):  # type: ignore[no-untyped-def]
        if message.kind == "digest":
            raise ConnectionError("SNS is down")
        super().publish(message)


def test_what_could_not_be_sent_is_left_for_the_next_run():
    store = MemoryEventStore()
    deps = deps_for(store)
    deps.alerts = FailingPublisher()
    events = [high(1), violation(2, impact=500.0)]
    store.add(events)
    batch = AlertBatch(run="scan run")
    batch.add(events, deps)
    with pytest.raises(ConnectionError):
        batch.send(AuditConfig(), deps)
    assert [e.row_id for e in deps.alerts.published] == [1]  # type: ignore[attr-defined]
    # The next run (here: one that found nothing itself) alerts what is still pending, once.
    deps.alerts = MemoryAlertPublisher()
    outcome = AlertBatch(run="batch of callbacks").send(AuditConfig(), deps)
    assert outcome.digested == 1 and [e.row_id for e in deps.alerts.published] == [2]
    assert deps.pending_alerts.held() == []


def test_change_events_are_never_alerted():
    deps = deps_for()
    change = violation(5, kind=EventType.CHANGE, impact=5000.0)
    deps.events.add([change])
    assert alert_run([change], AuditConfig(), deps, run="scan run").claimed == 0


class LatestReport:
    def __init__(self, link: str | None) -> None:
        self.link = link

    def latest(self) -> str | None:
        return self.link


def test_alerts_carry_the_row_and_the_latest_report_when_there_is_one():
    deps = deps_for()
    deps.report_links = LatestReport("https://reports.example.com/r/Zq3")
    events = [high(1), violation(2, impact=500.0)]
    deps.events.add(events)
    alert_run(events, AuditConfig(), deps, run="scan run")
    single, digest = deps.alerts.messages  # type: ignore[attr-defined]
    assert single.document["links"] == {
        "row": "https://app.smartsheet.com/sheets/4001?rowId=1",
        "report": "https://reports.example.com/r/Zq3",
    }
    assert digest.document["links"] == {"report": "https://reports.example.com/r/Zq3"}
    assert digest.document["top"][0]["row_link"] == "https://app.smartsheet.com/sheets/4001?rowId=2"
    deps.report_links = LatestReport(None)  # the latest report's links have expired
    again = [high(3)]
    deps.events.add(again)
    alert_run(again, AuditConfig(), deps, run="scan run")
    assert deps.alerts.messages[-1].document["links"]["report"] is None  # type: ignore[attr-defined]
    assert "Latest report" not in deps.alerts.messages[-1].email  # type: ignore[attr-defined]


def test_a_scan_run_alerts_once_at_its_end_and_a_dry_run_alerts_nothing_and_keeps_what_is_pending():
    from billing_audit.config import SheetSelection
    from billing_audit.pipeline.scan import run_scan
    from tests.unit.builders import BASELINE, at, billing_row
    from tests.unit.fake_smartsheet import FakeSheet

    columns = ["Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman"]
    rows = {row: billing_row(**{"Work Request #": f"WR-{row}"}) for row in range(1, 16)}
    sheet = FakeSheet(4001, columns, rows, created=at("2026-10-20T14:00:00Z"))
    config = AuditConfig(timezone="America/Chicago", sheets=SheetSelection(sheet_ids=[4001]))
    now = [BASELINE]
    deps = deps_for()
    deps.smartsheet, deps.clock = sheet, lambda: now[0]
    run_scan(config, deps)  # the baseline
    for row in rows:  # a bulk edit: every closed row's total raised by $5,000
        sheet.save(row, at("2026-11-12T10:00:00Z"), "ana@example.com", Redlined_Total_Price=6000.0)
    now[0] = at("2026-11-12T11:00:00Z")

    left_by_a_dead_run = violation(999, impact=700.0)
    deps.events.add([left_by_a_dead_run])
    deps.pending_alerts.hold([left_by_a_dead_run])
    dry = run_scan(config, deps, dry_run=True)
    assert dry.events and deps.alerts.messages == []  # type: ignore[attr-defined]
    assert deps.pending_alerts.held() == [left_by_a_dead_run]

    run_scan(config, deps)
    kinds = [message.kind for message in deps.alerts.messages]  # type: ignore[attr-defined]
    assert kinds == ["violation"] * 10 + ["digest"]
    digest = deps.alerts.messages[-1]  # type: ignore[attr-defined]
    # The five HIGH post-close changes past the limit, and the dead run's MEDIUM one; the price
    # mismatches are LOW, under the alert level.
    assert digest.document["count"] == 6 and digest.document["below_level"] == 15
    assert left_by_a_dead_run.event_id in digest.document["event_ids"]
    assert deps.pending_alerts.held() == []
