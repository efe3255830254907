"""What an audit run needs from the outside world, built once per process or Lambda container.

Every port the pipeline uses is here, so pipeline code never asks which adapter it was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from billing_audit.clock import Clock, system_clock
from billing_audit.domain.models import AuditEvent
from billing_audit.pipeline.provenance import SaveSources
from billing_audit.smartsheet.gateway import SmartsheetGateway, WebhookApi
from billing_audit.store.access import ApprovalStore, MemoryApprovalStore
from billing_audit.store.interfaces import (
    AlertCooldowns,
    AlertPublisher,
    EventBus,
    EventStore,
    Notifier,
    PendingAlerts,
    ReportLinks,
    RunStore,
    SecretStore,
    StateStore,
)
from billing_audit.store.memory import MemoryAlertCooldowns, MemoryEventBus, MemoryPendingAlerts, MemoryRunStore
from billing_audit.store.trail import TrailLog


class AnomalyScorer(Protocol):
    """The learned half of the risk score (billing_audit.ml.scorer in AWS)."""

    def anomaly_scores(self, events: Sequence[AuditEvent], neighbours: Sequence[AuditEvent]) -> list[float] | None:
        """One score in [0, 1] per event, or None when no usable model is at hand (the rules alone
        then score; the scorer has said why).  `neighbours` are stored events near them in time."""


@dataclass
class AuditDeps:
    smartsheet: SmartsheetGateway
    events: EventStore
    state: StateStore
    alerts: AlertPublisher
    notifier: Notifier
    clock: Clock = field(default=system_clock)
    # A scan run's durable backlog (the state table in AWS); in memory, a run lives as long as its process.
    runs: RunStore = field(default_factory=MemoryRunStore)
    # Where the product manages Smartsheet webhooks (deployed): the scheduled scan's upkeep uses them.
    webhooks: WebhookApi | None = None
    webhook_secrets: SecretStore | None = None
    # Alerts: each sheet's single-alert cooldown and the violations stored but not yet alerted (the
    # state table in AWS), the product's event bus, the latest report's link and Smartsheet's web
    # app (for links to rows), where known.
    cooldowns: AlertCooldowns = field(default_factory=MemoryAlertCooldowns)
    pending_alerts: PendingAlerts = field(default_factory=MemoryPendingAlerts)
    bus: EventBus = field(default_factory=MemoryEventBus)
    report_links: ReportLinks | None = None
    smartsheet_app_url: str | None = None
    # The anomaly model; None scores with the rules alone (local runs without a model, tests).
    anomaly: AnomalyScorer | None = None
    # The tamper-evident log every stored event is appended to (the state table in AWS); None logs
    # nothing (dry runs, tests of other things).
    trail: TrailLog | None = None
    # Moves of rows into an approving status, found in the Status histories the replay reads (the
    # state table in AWS): the access review's segregation of duties reads them.
    approvals: ApprovalStore = field(default_factory=MemoryApprovalStore)
    # Source and IP from Smartsheet's Event Reporting (only where configured and the plan has it).
    sources: SaveSources | None = None
