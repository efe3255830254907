"""What an audit run needs from the outside world, built once per process or Lambda container.

Every port the pipeline uses is here, so pipeline code never asks which adapter it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from billing_audit.clock import Clock, system_clock
from billing_audit.smartsheet.gateway import SmartsheetGateway, WebhookApi
from billing_audit.store.interfaces import AlertPublisher, EventStore, Notifier, RunStore, SecretStore, StateStore
from billing_audit.store.memory import MemoryRunStore


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
