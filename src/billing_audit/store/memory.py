"""In-memory stores for unit tests and dry runs."""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Literal

from billing_audit.budget import Cost, Priority, Window
from billing_audit.clock import Clock, system_clock
from billing_audit.domain.alert_messages import AlertMessage
from billing_audit.domain.alerting import AlertingPolicy, Cooldown
from billing_audit.domain.backup import BACKUP_PREFIX, SheetEntry, Tier
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
from billing_audit.resources import ALERT_CLAIM_LEASE_SECONDS
from billing_audit.store.backups import BackupRun
from billing_audit.store.interfaces import AlertClaims, ReportRecord, RunInProgress, StateStore


def _when(event: AuditEvent) -> datetime:
    return event.changed_at


class TimedEvents:
    """Events kept in time order, answering for a span with a binary search, as a store's index by
    time does (the memory store's by person; a run's view of what it read, store/run_events.py)."""

    def __init__(self) -> None:
        self._timed: list[AuditEvent] = []

    def add(self, event: AuditEvent) -> None:
        insort(self._timed, event, key=_when)

    def between(self, start: datetime, end: datetime) -> list[AuditEvent]:
        """Those changed within [start, end], by time then id."""
        chosen = self._timed[bisect_left(self._timed, start, key=_when) : bisect_right(self._timed, end, key=_when)]
        return sorted(chosen, key=lambda e: (e.changed_at, e.event_id))


class MemoryEventStore:
    def __init__(self, clock: Clock = system_clock) -> None:
        self.clock = clock
        self.events: dict[str, AuditEvent] = {}
        self.alerted: set[str] = set()
        self.claimed_until: dict[str, datetime] = {}  # live claims not yet recorded as alerted
        # By person, in time order, as the DynamoDB store's index by editor: a scan asks once a
        # replayed row, and reading every event each time would make a benchmark's stand-in cost
        # what no store does.
        self._by_person: defaultdict[str, TimedEvents] = defaultdict(TimedEvents)

    def add(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        new: list[AuditEvent] = []
        for event in events:
            if event.event_id not in self.events:  # an id twice in `events`: its first, once
                self.events[event.event_id] = event
                self._by_person[(event.changed_by or "").lower()].add(event)
                new.append(event)
        return new

    def claim_alerts(self, event_ids: Sequence[str]) -> AlertClaims:
        now = self.clock()
        claims = AlertClaims()
        for event_id in dict.fromkeys(event_ids):
            if event_id in self.alerted:
                claims.settled.append(event_id)
            elif event_id in self.events and self.claimed_until.get(event_id, now) <= now:
                self.claimed_until[event_id] = now + timedelta(seconds=ALERT_CLAIM_LEASE_SECONDS)
                claims.claimed.append(event_id)
        return claims

    def mark_alerted(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            if event_id in self.events:
                self.claimed_until.pop(event_id, None)
                self.alerted.add(event_id)

    def release_alerts(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self.claimed_until.pop(event_id, None)

    def changes_by(self, person: str, start: datetime, end: datetime) -> list[AuditEvent]:
        timed = self._by_person.get(person.lower())
        return timed.between(start, end) if timed is not None else []

    def all_events(self) -> list[AuditEvent]:
        return list(self.events.values())

    def window(
        self,
        start: datetime,
        end: datetime,
        *,
        by: Literal["detected", "changed"] = "detected",
        sheet_ids: Sequence[int] | None = None,
    ) -> Iterator[AuditEvent]:
        if by == "changed" and not sheet_ids:
            raise ValueError("a window by change time is read per sheet: name the sheets")
        sheets = set(sheet_ids) if sheet_ids else None
        chosen = [
            event
            for event in self.events.values()
            if start <= (event.detected_at if by == "detected" else event.changed_at) < end
            and (sheets is None or event.sheet_id in sheets)
        ]
        yield from sorted(chosen, key=lambda e: (e.detected_at if by == "detected" else e.changed_at, e.event_id))


class MemoryStateStore:
    def __init__(self) -> None:
        self.snapshots: dict[int, SheetSnapshot] = {}
        self.latest_rows: dict[tuple[int, int], RowSnapshot] = {}
        self.live_since: dict[int, datetime] = {}

    def load(self, sheet_id: int) -> SheetSnapshot | None:
        snapshot = self.snapshots.get(sheet_id)
        return snapshot.model_copy(deep=True) if snapshot else None

    def save(self, snapshot: SheetSnapshot) -> None:
        self.snapshots[snapshot.sheet_id] = snapshot.model_copy(deep=True)

    def remember_rows(self, sheet_id: int, rows: dict[int, RowSnapshot]) -> None:
        for row_id, row in rows.items():
            self.latest_rows[(sheet_id, row_id)] = row.model_copy(deep=True)

    def recall_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
        return {i: self.latest_rows[(sheet_id, i)] for i in row_ids if (sheet_id, i) in self.latest_rows}

    def load_header(self, sheet_id: int) -> SheetSnapshot | None:
        snapshot = self.snapshots.get(sheet_id)
        # Rows dropped before the deep copy: copying a whole sheet's rows to throw them away is waste.
        return snapshot.model_copy(update={"rows": {}}).model_copy(deep=True) if snapshot else None

    def load_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
        snapshot = self.snapshots.get(sheet_id)
        rows = snapshot.rows if snapshot else {}
        return {i: rows[i].model_copy(deep=True) for i in row_ids if i in rows}

    def mark_webhook_live(self, sheet_id: int, since: datetime) -> None:
        self.live_since[sheet_id] = since

    def webhook_live_since(self, sheet_id: int) -> datetime | None:
        return self.live_since.get(sheet_id)


class MemoryAlertPublisher:
    def __init__(self) -> None:
        self.messages: list[AlertMessage] = []
        self.published: list[AuditEvent] = []  # every event alerted, singles and digests alike
        self.notes: list[tuple[str, str]] = []

    def publish(self, message: AlertMessage) -> None:
        self.messages.append(message)
        self.published.extend(message.events)

    def notify(self, subject: str, text: str) -> None:
        self.notes.append((subject, text))


class MemoryAlertCooldowns:
    def __init__(self) -> None:
        self.state: dict[int, Cooldown] = {}

    def take(self, sheet_id: int, wanted: int, policy: AlertingPolicy, now: datetime) -> int:
        granted, self.state[sheet_id] = self.state.get(sheet_id, Cooldown()).grant(wanted, policy, now)
        return granted


class MemoryPendingAlerts:
    def __init__(self) -> None:
        self.pending: dict[str, AuditEvent] = {}

    def hold(self, events: Sequence[AuditEvent]) -> None:
        self.pending.update((event.event_id, event) for event in events)

    def held(self) -> list[AuditEvent]:
        return list(self.pending.values())

    def clear(self, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self.pending.pop(event_id, None)


class MemoryEventBus:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def put(self, events: Sequence[AuditEvent]) -> None:
        self.events.extend(events)


class MemoryRunStore:
    def __init__(self) -> None:
        self.plans: dict[int, tuple[str, bytes]] = {}
        self.progress: dict[tuple[int, str], set[int]] = {}

    def begin(self, sheet_id: int, run_id: str, plan: bytes) -> None:
        if sheet_id in self.plans:
            raise RunInProgress(f"sheet {sheet_id} has an open run")
        self.plans[sheet_id] = (run_id, plan)
        self.progress[(sheet_id, run_id)] = set()

    def current(self, sheet_id: int) -> tuple[str, bytes] | None:
        return self.plans.get(sheet_id)

    def mark_done(self, sheet_id: int, run_id: str, row_id: int) -> None:
        self.progress.setdefault((sheet_id, run_id), set()).add(row_id)

    def done(self, sheet_id: int, run_id: str) -> set[int]:
        return set(self.progress.get((sheet_id, run_id), set()))

    def end(self, sheet_id: int, run_id: str) -> None:
        if self.plans.get(sheet_id, ("", b""))[0] == run_id:
            del self.plans[sheet_id]
        self.progress.pop((sheet_id, run_id), None)

    def open_sheets(self) -> list[int]:
        return list(self.plans)


class MemoryRequestBudget:
    """The token's window in this process only: for a process that is the token's only user."""

    def __init__(self, clock: Clock = system_clock) -> None:
        self.clock = clock
        self.window = Window()

    def take(self, cost: Cost, priority: Priority) -> float:
        self.window, wait = self.window.take(cost, priority, self.clock().timestamp())
        return wait


class OverlayStateStore:
    """Reads from a real state store, keeps every write in memory: what a dry run writes through."""

    def __init__(self, base: StateStore) -> None:
        self.base = base
        self.saved: dict[int, SheetSnapshot] = {}

    def load(self, sheet_id: int) -> SheetSnapshot | None:
        return self.saved[sheet_id] if sheet_id in self.saved else self.base.load(sheet_id)

    def save(self, snapshot: SheetSnapshot) -> None:
        self.saved[snapshot.sheet_id] = snapshot

    def remember_rows(self, sheet_id: int, rows: dict[int, RowSnapshot]) -> None:
        return None

    def recall_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
        return self.base.recall_rows(sheet_id, row_ids)

    def load_header(self, sheet_id: int) -> SheetSnapshot | None:
        if sheet_id in self.saved:
            return self.saved[sheet_id].model_copy(update={"rows": {}})
        return self.base.load_header(sheet_id)

    def load_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
        if sheet_id in self.saved:
            rows = self.saved[sheet_id].rows
            return {i: rows[i] for i in row_ids if i in rows}
        return self.base.load_rows(sheet_id, row_ids)

    def mark_webhook_live(self, sheet_id: int, since: datetime) -> None:
        """A dry run changes no webhook."""

    def webhook_live_since(self, sheet_id: int) -> datetime | None:
        return self.base.webhook_live_since(sheet_id)


class MemoryReportLedger:
    def __init__(self) -> None:
        self.reports: list[ReportRecord] = []

    def record(self, report: ReportRecord) -> None:
        self.reports.append(report)

    def latest(self, kind: str | None = None) -> ReportRecord | None:
        reports = [r for r in self.reports if kind is None or r.kind == kind]
        return max(reports, key=lambda r: r.built_at) if reports else None


class MemoryLinkStore:
    def __init__(self) -> None:
        self.links: dict[str, tuple[str, datetime]] = {}

    def put(self, token_hash: str, key: str, expires_at: datetime) -> None:
        self.links[token_hash] = (key, expires_at)

    def resolve(self, token_hash: str) -> tuple[str, datetime] | None:
        return self.links.get(token_hash)


class MemoryMetrics:
    def __init__(self, totals: dict[str, float] | None = None) -> None:
        self.totals = totals or {}

    def sums(self, names: Sequence[str], start: datetime, end: datetime) -> dict[str, float]:
        return {name: self.totals.get(name, 0.0) for name in names}


class MemoryBackupStore:
    """The backup bucket in memory: objects with their tier and retention date."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.tiers: dict[str, str] = {}
        self.retain_until: dict[str, datetime] = {}

    def put(self, key: str, data: bytes, content_type: str, *, tier: Tier, retain_until: datetime) -> str:
        self.objects[key] = data
        self.tiers[key] = tier.value
        self.retain_until[key] = retain_until
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def days(self) -> list[date]:
        found = set()
        for key in self.objects:
            try:
                found.add(date.fromisoformat(key.removeprefix(BACKUP_PREFIX).split("/", 1)[0]))
            except ValueError:
                continue
        return sorted(found)


class MemoryBackupProgress:
    def __init__(self) -> None:
        self.runs: dict[date, BackupRun] = {}
        self.entries: dict[date, dict[int, SheetEntry]] = {}
        self.monthly: dict[str, date] = {}

    def begin(self, day: date, now: datetime) -> BackupRun:
        self.monthly.setdefault(f"{day:%Y-%m}", day)
        tier = Tier.MONTHLY if self.monthly[f"{day:%Y-%m}"] == day else Tier.DAILY
        return self.runs.setdefault(day, BackupRun(day=day, started_at=now, tier=tier))

    def done(self, day: date) -> dict[int, SheetEntry]:
        return dict(self.entries.get(day, {}))

    def mark_done(self, day: date, entry: SheetEntry) -> None:
        self.entries.setdefault(day, {})[entry.sheet_id] = entry

    def finish(self, day: date, now: datetime) -> None:
        self.runs[day] = self.runs[day].model_copy(update={"finished_at": now})
