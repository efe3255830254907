"""Score, store and alert: what every path does with the events it detected."""

from __future__ import annotations

from collections.abc import Sequence

from billing_audit.config import AuditConfig
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.risk import risk_score
from billing_audit.pipeline.alerting import AlertBatch
from billing_audit.pipeline.deps import AuditDeps


def score_events(events: Sequence[AuditEvent], config: AuditConfig) -> list[AuditEvent]:
    roster = config.roster_index()
    return [
        event.model_copy(update={"risk_score": risk_score(event, config.policy, config.zone, roster)})
        for event in events
    ]


def record_events(
    events: Sequence[AuditEvent], config: AuditConfig, deps: AuditDeps, *, batch: AlertBatch | None = None
) -> list[AuditEvent]:
    """Store what is new and alert every violation not yet alerted, including ones a crashed run stored.

    With `batch`, the violations wait in it for the run's end (`AlertBatch.send`), so a run's burst
    becomes a few messages and one digest; without, they are alerted now, as a run of their own.
    Returns the events stored for the first time.
    """
    scored = score_events(events, config)
    new = deps.events.add(scored)
    if batch is not None:
        batch.add(scored, deps)
    else:
        alone = AlertBatch(run="callback")
        alone.add(scored, deps)
        alone.send(config, deps)
    return new
