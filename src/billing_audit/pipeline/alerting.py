"""Alert one run's violations: the bus gets every one, people get the few that matter one by one and
a digest of the rest (domain/alerting.py decides which).

A run is one scan drain invocation or one processed batch of callbacks.  Each collects the scored
events it stores in an `AlertBatch` (pipeline/record.py `record_events(..., batch=...)`) and calls
`AlertBatch.send` once at its end.

No violation is alerted twice, whichever path or run found it: each is claimed in the events table
first (`EventStore.claim_alerts`), published, and recorded as alerted right after its message
(`mark_alerted`); a claim whose alert could not be sent is given back so a later run alerts it.
A run killed after claiming leaves a claim that is never recorded: once it is older than any run
lives (`ALERT_CLAIM_LEASE_SECONDS`), a later run takes it over, so no violation is left unalerted.
SNS publishing is not idempotent, so a violation is alerted twice only when a run dies between a
message's publish and its record, the one write after it (tests/reliability counts such repeats).
The bus is at least once: a run that fails after putting events on it and is retried puts them
again (the detail's `event_id` tells a consumer it has seen one).
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
    # Violations that need nothing more from any run: alerted by this one or recorded by another.
    settled: list[str] = field(default_factory=list)

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
        # Held on for a later run: a violation another run has claimed and may yet fail to alert.
        deps.pending_alerts.clear(outcome.settled)
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
    claims = deps.events.claim_alerts(list(violations))
    if not claims.claimed:
        return AlertOutcome(settled=claims.settled)
    batch = [violations[event_id] for event_id in claims.claimed]
    unsent = dict.fromkeys(claims.claimed)

    def sent(done: Sequence[AuditEvent]) -> None:
        # Recorded right after the message that carried them: a run that dies between the two is
        # the only way a violation is alerted twice (its claim is taken over after the lease).
        ids = [event.event_id for event in done]
        deps.events.mark_alerted(ids)
        for event_id in ids:
            unsent.pop(event_id, None)

    try:
        deps.bus.put(batch)
        plan = _plan(batch, config, deps)
        sent(plan.not_alerted)  # below the alert level: the bus was their only message
        context = alert_context(config, deps)
        for event in plan.singles:
            links = AlertLinks(row=row_link(event, deps), report=context.report_link)
            deps.alerts.publish(violation_message(event, context, links))
            sent([event])
        if plan.digest is not None:
            rows = {event.event_id: row_link(event, deps) for event in plan.digest.top_items}
            deps.alerts.publish(digest_message(plan.digest, context, rows, run))
            sent(plan.digest.events)
    except Exception:
        # What was not sent goes back unclaimed: the next run (a retry, the scan) alerts it.
        deps.events.release_alerts(list(unsent))
        raise
    return AlertOutcome(
        claimed=len(claims.claimed),
        singles=len(plan.singles),
        digested=plan.digest.count if plan.digest is not None else 0,
        not_alerted=len(plan.not_alerted),
        settled=[*claims.settled, *(event_id for event_id in claims.claimed if event_id not in unsent)],
    )


def _plan(events: list[AuditEvent], config: AuditConfig, deps: AuditDeps) -> AlertPlan:
    policy = config.alerting
    now = deps.clock()
    grants = {
        sheet_id: deps.cooldowns.take(sheet_id, wanted, policy, now)
        for sheet_id, wanted in wanted_singles(events, policy).items()
    }
    return plan_alerts(events, policy, grants)
