"""Alert one run's violations: the bus gets every one, people get the few that matter one by one and
a digest of the rest (domain/alerting.py decides which).

A run is one scan drain invocation or one processed batch of callbacks.  Each collects the scored
events it stores in an `AlertBatch` (pipeline/record.py `record_events(..., batch=...)`) and calls
`AlertBatch.send` once at its end.

No violation is alerted twice, whichever path or run found it: each is claimed in the events table
first (`EventStore.claim_alerts`), and a claim whose alert could not be sent is given back so a
later run alerts it.  The bus is at least once: a run that fails after putting events on it and
is retried puts them again (the detail's `event_id` tells a consumer it has seen one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from billing_audit.config import AuditConfig
from billing_audit.domain.alert_messages import (
    AlertContext,
    AlertLinks,
    digest_message,
    violation_message,
)
from billing_audit.domain.alerting import AlertPlan, plan_alerts, wanted_singles
from billing_audit.domain.models import AuditEvent
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.smartsheet.links import row_url


@dataclass
class AlertOutcome:
    claimed: int = 0  # violations this run was first to claim (all put on the bus)
    singles: int = 0  # messages sent one violation each
    digested: int = 0  # violations folded into the run's digest (0 or 1 message)
    not_alerted: int = 0  # under the alert level: on the bus and in reports only

    @property
    def messages(self) -> int:
        return self.singles + (1 if self.digested else 0)


@dataclass
class AlertBatch:
    """The violations one run stored, alerted together when the run ends.

    Each is held in `deps.pending_alerts` as it is added (after it is stored, before the run moves
    on), and cleared once alerted; `send` alerts whatever a run that died before alerting left there
    too.
    """

    run: str  # how the digest names the run: "scan run", "batch of callbacks"
    events: dict[str, AuditEvent] = field(default_factory=dict)

    def add(self, events: Sequence[AuditEvent], deps: AuditDeps) -> None:
        violations = [event for event in events if event.violation]
        if violations:
            deps.pending_alerts.hold(violations)
            self.events.update((event.event_id, event) for event in violations)

    def send(self, config: AuditConfig, deps: AuditDeps) -> AlertOutcome:
        events = {event.event_id: event for event in deps.pending_alerts.held()}
        events.update(self.events)
        self.events = {}
        outcome = alert_run(list(events.values()), config, deps, run=self.run)
        # Claimed by this run and sent, or already alerted by another: nothing is left to do for any.
        deps.pending_alerts.clear(list(events))
        return outcome


def alert_context(config: AuditConfig, deps: AuditDeps) -> AlertContext:
    names = {user.email.lower(): user.name for user in config.roster if user.name}
    report = deps.report_links.latest() if deps.report_links is not None else None
    return AlertContext(zone=config.zone, policy=config.policy, names=names, report_link=report)


def row_link(event: AuditEvent, deps: AuditDeps) -> str | None:
    return row_url(deps.smartsheet_app_url, event.sheet_id, event.row_id) if deps.smartsheet_app_url else None


def alert_run(events: Sequence[AuditEvent], config: AuditConfig, deps: AuditDeps, *, run: str) -> AlertOutcome:
    """Claim this run's scored violations, put them on the bus and alert them by the policy."""
    violations = {event.event_id: event for event in events if event.violation}
    claimed = deps.events.claim_alerts(list(violations))
    if not claimed:
        return AlertOutcome()
    batch = [violations[event_id] for event_id in claimed]
    unsent = dict.fromkeys(claimed)
    try:
        deps.bus.put(batch)
        plan = _plan(batch, config, deps)
        context = alert_context(config, deps)
        for event in plan.singles:
            links = AlertLinks(row=row_link(event, deps), report=context.report_link)
            deps.alerts.publish(violation_message(event, context, links))
            unsent.pop(event.event_id)
        if plan.digest is not None:
            rows = {event.event_id: row_link(event, deps) for event in plan.digest.top_items}
            deps.alerts.publish(digest_message(plan.digest, context, rows, run))
    except Exception:
        # What was not sent goes back unclaimed: the next run (a retry, the scan) alerts it.
        deps.events.release_alerts(list(unsent))
        raise
    return AlertOutcome(
        claimed=len(claimed),
        singles=len(plan.singles),
        digested=plan.digest.count if plan.digest is not None else 0,
        not_alerted=len(plan.not_alerted),
    )


def _plan(events: list[AuditEvent], config: AuditConfig, deps: AuditDeps) -> AlertPlan:
    policy = config.alerting
    now = deps.clock()
    grants = {
        sheet_id: deps.cooldowns.take(sheet_id, wanted, policy, now)
        for sheet_id, wanted in wanted_singles(events, policy).items()
    }
    return plan_alerts(events, policy, grants)
