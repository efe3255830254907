"""What an audit run needs from the outside world, built once per process or Lambda container."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from billing_audit.smartsheet.gateway import SmartsheetGateway
from billing_audit.store.interfaces import AlertPublisher, EventStore, StateStore


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuditDeps:
    smartsheet: SmartsheetGateway
    events: EventStore
    state: StateStore
    alerts: AlertPublisher
    clock: Callable[[], datetime] = field(default=wall_clock)
