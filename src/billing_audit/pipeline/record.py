"""Score, store and alert: what every path does with the events it detected."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from billing_audit.config import AuditConfig
from billing_audit.domain.access import approvals_in
from billing_audit.domain.features import REVERT_WINDOW
from billing_audit.domain.models import AuditEvent, RowTimeline
from billing_audit.domain.risk import blend, score_with_rules
from billing_audit.pipeline.alerting import AlertBatch
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.trail import log_events


def neighbours_of(events: Sequence[AuditEvent], config: AuditConfig, deps: AuditDeps) -> list[AuditEvent]:
    """Stored events by the same people around these events' times: a burst or a revert may span
    callbacks, or rows of a scan.  One indexed query per person, never a scan of the table."""
    timed = [event for event in events if event.changed_by]
    if not timed:
        return []
    before = max(REVERT_WINDOW, timedelta(minutes=config.risk.burst_minutes))
    start = min(event.changed_at for event in timed) - before
    end = max(event.changed_at for event in timed) + timedelta(minutes=config.risk.burst_minutes)
    people = dict.fromkeys((event.changed_by or "").lower() for event in timed)
    found: list[AuditEvent] = []
    for person in people:
        found.extend(deps.events.changes_by(person, start, end))
    return found


def record_approvals(timeline: RowTimeline, since: datetime, config: AuditConfig, deps: AuditDeps) -> None:
    """Keep the row's moves into an approving status after `since` (its Status history, where the
    replay read it): the access review weighs them against who changed the row's billed values."""
    policy = config.policy
    found = approvals_in(
        timeline,
        policy.status_column,
        config.access_review.approving_statuses,
        since,
        work_request_column=policy.work_request_column,
    )
    if found:
        deps.approvals.add(found)


def score_events(events: Sequence[AuditEvent], config: AuditConfig, deps: AuditDeps) -> list[AuditEvent]:
    """Rule factors and score for every event, blended with the anomaly score when a model is at
    hand (domain/risk.py `blend`); without one, `risk_score` is the rule score and `anomaly_score` 0."""
    if not events:
        return []
    if deps.sources is not None:
        # Before scoring: a save from outside the allow-lists is a risk factor.
        events = deps.sources.attach(events)
    neighbours = neighbours_of(events, config, deps)
    ruled = score_with_rules(events, config.risk_context(), neighbours)
    anomalies = deps.anomaly.anomaly_scores(ruled, neighbours) if deps.anomaly is not None else None
    if anomalies is None:
        return ruled
    weight = config.risk.anomaly_weight
    return [
        event.model_copy(update={"anomaly_score": anomaly, "risk_score": blend(event.risk_score, anomaly, weight)})
        for event, anomaly in zip(ruled, anomalies, strict=True)
    ]


def record_events(
    events: Sequence[AuditEvent], config: AuditConfig, deps: AuditDeps, *, batch: AlertBatch | None = None
) -> list[AuditEvent]:
    """Store what is new and alert every violation not yet alerted, including ones a crashed run stored.

    With `batch`, the violations wait in it for the run's end (`AlertBatch.send`), so a run's burst
    becomes a few messages and one digest; without, they are alerted now, as a run of their own.
    Returns the events stored for the first time.
    """
    scored = score_events(events, config, deps)
    new = deps.events.add(scored)
    if deps.trail is not None:
        # Logged before alerting: an alerted event is always in the trail.
        log_events(new, scored, deps.trail)
    if batch is not None:
        batch.add(scored, deps)
    else:
        alone = AlertBatch(run="callback")
        alone.add(scored, deps)
        alone.send(config, deps)
    return new
