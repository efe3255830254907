"""Which violations a run alerts, and how: one message each for the worst, one digest for the rest.

Pure: the pipeline (pipeline/alerting.py) claims the violations, asks the cooldown store how many
single alerts each sheet may still send, and hands both here.  The rules:

- violations below `min_level` are not alerted (they are stored, on the event bus and in reports);
- HIGH ones are alerted one by one, worst first, up to `max_singles_per_sheet` per run and sheet,
  and fewer while the sheet's cooldown window has already spent them (see `Cooldown`);
- every other alerted violation (HIGH past the limit, MEDIUM, LOW when `min_level` is LOW) goes into
  one digest for the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from billing_audit.domain.models import AuditEvent, RiskLevel

LEVEL_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}


class AlertingPolicy(BaseModel):
    """`alerting` in the product configuration; every key has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_level: RiskLevel = RiskLevel.MEDIUM
    # HIGH violations alerted one by one per run and sheet, and per cooldown window and sheet.
    max_singles_per_sheet: int = Field(default=10, ge=0)
    # How long a sheet's allowance of single alerts lasts once it starts being spent; 0 turns the
    # cooldown off (each run may send the full allowance again).
    cooldown_minutes: float = Field(default=60, ge=0)
    # How many items a digest lists by name (the rest are counted).
    digest_top: int = Field(default=10, ge=1, le=20)

    def alerted(self, event: AuditEvent) -> bool:
        return (
            event.violation
            and event.risk_level is not None
            and LEVEL_RANK[event.risk_level] >= LEVEL_RANK[self.min_level]
        )


class Cooldown(BaseModel):
    """A sheet's single-alert allowance across runs: how many were sent since `window_start`."""

    model_config = ConfigDict(frozen=True)

    window_start: datetime | None = None
    sent: int = 0

    def grant(self, wanted: int, policy: AlertingPolicy, now: datetime) -> tuple[int, Cooldown]:
        """How many of `wanted` singles may go now, and the state after sending them.

        A window opens with the first single sent after the previous one expired; within it the
        sheet may send `max_singles_per_sheet` singles in all, so a burst spread over many runs
        (a bulk edit arriving as many callback batches) still sends only that many one by one.
        """
        if wanted <= 0:
            return 0, self
        window = timedelta(minutes=policy.cooldown_minutes)
        expired = self.window_start is None or now - self.window_start >= window
        start, sent = (now, 0) if expired else (self.window_start, self.sent)
        granted = max(0, min(wanted, policy.max_singles_per_sheet - sent))
        if granted == 0:
            return 0, self
        return granted, Cooldown(window_start=start, sent=sent + granted)


def severity_key(event: AuditEvent) -> tuple[int, float, float, datetime, str]:
    """Worst first: level, then the size of the money impact, then the risk score."""
    level = LEVEL_RANK[event.risk_level] if event.risk_level is not None else -1
    return (-level, -abs(event.financial_impact or 0.0), -event.risk_score, event.changed_at, event.event_id)


class Digest(BaseModel):
    """One run's alerted violations that were not sent one by one."""

    model_config = ConfigDict(frozen=True)

    events: tuple[AuditEvent, ...]  # worst first
    singles_sent: int = 0  # sent one by one by the same run, for the reader's count
    below_level: int = 0  # violations of the run under `min_level`: counted, not alerted
    top: int = 10

    @property
    def count(self) -> int:
        return len(self.events)

    @property
    def by_level(self) -> dict[str, int]:
        counts = Counter(str(event.risk_level) for event in self.events)
        return {level.value: counts[level.value] for level in (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)}

    @property
    def by_sheet(self) -> dict[str, int]:
        return dict(Counter(event.sheet_name for event in self.events).most_common())

    @property
    def total_impact(self) -> float:
        return round(sum(event.financial_impact or 0.0 for event in self.events), 2)

    @property
    def gross_impact(self) -> float:
        """The size of every change summed: a +$300 and a -$300 net to nothing, yet moved $600."""
        return round(sum(abs(event.financial_impact or 0.0) for event in self.events), 2)

    @property
    def top_items(self) -> tuple[AuditEvent, ...]:
        return self.events[: self.top]

    @property
    def worst_level(self) -> RiskLevel | None:
        return self.events[0].risk_level if self.events else None


class AlertPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    singles: tuple[AuditEvent, ...] = ()
    digest: Digest | None = None
    not_alerted: tuple[AuditEvent, ...] = ()  # under `min_level`


def wanted_singles(events: Iterable[AuditEvent], policy: AlertingPolicy) -> dict[int, int]:
    """Per sheet, how many HIGH violations this run would like to send one by one."""
    counts: Counter[int] = Counter(
        event.sheet_id for event in events if policy.alerted(event) and event.risk_level is RiskLevel.HIGH
    )
    return {sheet_id: min(count, policy.max_singles_per_sheet) for sheet_id, count in counts.items()}


def plan_alerts(events: Sequence[AuditEvent], policy: AlertingPolicy, grants: Mapping[int, int]) -> AlertPlan:
    """Split one run's claimed violations into singles, one digest and the ones not alerted.

    `grants`: per sheet, how many singles the cooldown allows now (absent means none).
    """
    alerted = sorted((event for event in events if policy.alerted(event)), key=severity_key)
    not_alerted = tuple(event for event in events if event.violation and not policy.alerted(event))
    left = dict(grants)
    singles: list[AuditEvent] = []
    rest: list[AuditEvent] = []
    for event in alerted:
        if event.risk_level is RiskLevel.HIGH and left.get(event.sheet_id, 0) > 0:
            left[event.sheet_id] -= 1
            singles.append(event)
        else:
            rest.append(event)
    digest = (
        Digest(events=tuple(rest), singles_sent=len(singles), below_level=len(not_alerted), top=policy.digest_top)
        if rest
        else None
    )
    return AlertPlan(singles=tuple(singles), digest=digest, not_alerted=not_alerted)
