"""Score, store and alert: what every path does with the events it detected."""

from __future__ import annotations

from collections.abc import Sequence

from billing_audit.config import AuditConfig
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.risk import risk_score
from billing_audit.pipeline.deps import AuditDeps


def score_events(events: Sequence[AuditEvent], config: AuditConfig) -> list[AuditEvent]:
    roster = config.roster_index()
    return [
        event.model_copy(update={"risk_score": risk_score(event, config.policy, config.zone, roster)})
        for event in events
    ]


def record_events(events: Sequence[AuditEvent], config: AuditConfig, deps: AuditDeps) -> list[AuditEvent]:
    """Store what is new and alert every violation not yet alerted, including ones a crashed run stored.

    Returns the events stored for the first time.
    """
    scored = score_events(events, config)
    new = deps.events.add(scored)
    violations = {event.event_id: event for event in scored if event.violation}
    claimed = deps.events.claim_alerts(list(violations))
    for index, event_id in enumerate(claimed):
        try:
            deps.alerts.publish([violations[event_id]])
        except Exception:
            # What was not sent goes back unclaimed: the next run (a retry, the scan) alerts it.
            deps.events.release_alerts(claimed[index:])
            raise
    return new
