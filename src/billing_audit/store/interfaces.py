"""The interfaces the pipeline writes through; boto3 stays behind them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from billing_audit.domain.alert_messages import AlertMessage
from billing_audit.domain.alerting import AlertingPolicy
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
from billing_audit.store.secrets import WebhookSecret


@dataclass(frozen=True)
class AlertClaims:
    """What `EventStore.claim_alerts` found for each event asked about."""

    claimed: list[str] = field(default_factory=list)  # the caller's to alert now
    settled: list[str] = field(default_factory=list)  # recorded as alerted by an earlier run
    # Any other id is not stored, or claimed by a run that may still be publishing it.


class EventStore(Protocol):
    def add(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Store events not stored before (by event id); returns the ones that were new."""

    def claim_alerts(self, event_ids: Sequence[str]) -> AlertClaims:
        """Claim the right to alert these stored events: each not recorded as alerted and not
        claimed by another run within the last `ALERT_CLAIM_LEASE_SECONDS`.

        Atomic per event, so two writers replaying the same change (two callbacks, a callback and
        a scan) alert it once; a claim older than the lease is a dead run's, and is taken over.
        """

    def mark_alerted(self, event_ids: Sequence[str]) -> None:
        """Record these claimed events as alerted (right after publishing them): the claim becomes final."""

    def release_alerts(self, event_ids: Sequence[str]) -> None:
        """Give claims back (their alert could not be sent), so a later run alerts them."""

    def changes_by(self, person: str, start: datetime, end: datetime) -> list[AuditEvent]:
        """Stored events by this person (e-mail, any case) changed in [start, end]: what a burst or a
        revert is judged against.  Read through the by-person index, never a scan."""

    def all_events(self) -> list[AuditEvent]: ...

    def window(
        self,
        start: datetime,
        end: datetime,
        *,
        by: Literal["detected", "changed"] = "detected",
        sheet_ids: Sequence[int] | None = None,
    ) -> Iterator[AuditEvent]:
        """Events whose detection (or change) time is in [start, end), of these sheets only if given.

        Read through the table's keys and indexes, never a full scan, and yielded page by page so a
        large window is never held twice.  `by="changed"` needs `sheet_ids` (the per-sheet index).
        """


class StateStore(Protocol):
    def load(self, sheet_id: int) -> SheetSnapshot | None: ...

    def save(self, snapshot: SheetSnapshot) -> None:
        """Replace the sheet's snapshot atomically: a crash leaves the old one or the new one."""

    def remember_rows(self, sheet_id: int, rows: dict[int, RowSnapshot]) -> None:
        """Keep the latest values seen of rows the webhook path has fully audited.

        The memory serves later deletions (what the row held), and lets the scan skip re-reading the
        history of a row audited through its current `modifiedAt`.
        """

    def recall_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
        """The remembered rows among these ids (absent ids are simply missing)."""

    def load_header(self, sheet_id: int) -> SheetSnapshot | None:
        """The snapshot without its rows (columns, taken_at, hold): one small read."""

    def load_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
        """The snapshot's rows among these ids, reading only the parts of the snapshot that hold them."""

    def mark_webhook_live(self, sheet_id: int, since: datetime) -> None:
        """The sheet's webhook delivers every change from `since` on (it was created or re-enabled then)."""

    def webhook_live_since(self, sheet_id: int) -> datetime | None:
        """Since when the sheet's callbacks are known to be complete; None if never marked."""


class AlertPublisher(Protocol):
    def publish(self, message: AlertMessage) -> None:
        """One alert (a violation, a run's digest, an operational notice) in every subscriber's form."""


class AlertCooldowns(Protocol):
    """Each sheet's allowance of single alerts across runs (domain.alerting.Cooldown), kept durable."""

    def take(self, sheet_id: int, wanted: int, policy: AlertingPolicy, now: datetime) -> int:
        """Spend up to `wanted` singles of the sheet's allowance atomically; returns how many were granted."""


class PendingAlerts(Protocol):
    """Violations stored by a run and not yet alerted: what a run that died before alerting left."""

    def hold(self, events: Sequence[AuditEvent]) -> None: ...

    def held(self) -> list[AuditEvent]: ...

    def clear(self, event_ids: Sequence[str]) -> None: ...


class EventBus(Protocol):
    """Where every stored violation is published for other systems (EventBridge in AWS)."""

    def put(self, events: Sequence[AuditEvent]) -> None:
        """Publish each event (detail-type by event type, the event as detail); raises if any is refused."""


@runtime_checkable
class Notifier(Protocol):
    def notify(self, subject: str, text: str) -> None:
        """An operational alert (a webhook disabled, a callback failing) to the alert subscribers."""


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store an object; returns its SHA-256 hex digest."""

    def get(self, key: str) -> bytes: ...

    def link(self, key: str, seconds: int = 3600) -> str:
        """A presigned, expiring download link: the only way people fetch objects."""


class SecretStore(Protocol):
    """The webhooks' shared secrets, written by sync and rotation (Secrets Manager in AWS)."""

    def read(self, webhook_id: int) -> WebhookSecret | None: ...

    def store_current(self, webhook_id: int, secret: str) -> bool: ...

    def mark_pending(self, webhook_id: int) -> None: ...

    def delete(self, webhook_id: int) -> None: ...


class RunStore(Protocol):
    """A scan run's durable backlog, per sheet: its plan written once, then its rows marked done one
    by one, so a run spread over many invocations never redoes a row.  The plan is opaque bytes here:
    what it holds is the pipeline's business."""

    def begin(self, sheet_id: int, run_id: str, plan: bytes) -> None:
        """Record the sheet's plan for this run; refused (RunInProgress) while another run of the sheet is open."""

    def current(self, sheet_id: int) -> tuple[str, bytes] | None:
        """The open run of the sheet (its id and plan), if any."""

    def mark_done(self, sheet_id: int, run_id: str, row_id: int) -> None: ...

    def done(self, sheet_id: int, run_id: str) -> set[int]: ...

    def end(self, sheet_id: int, run_id: str) -> None:
        """Close the run and forget its plan and progress."""

    def open_sheets(self) -> list[int]:
        """Sheets with an open run, in the order their runs began."""


class RunInProgress(RuntimeError):
    """A sheet already has an open run: it must be drained before another begins."""


class ReportRecord(BaseModel):
    """What one report was: its window, its objects and the links handed out for them."""

    model_config = ConfigDict(frozen=True)

    report_id: str
    kind: str  # "daily", "weekly" or "on_demand"
    built_at: datetime
    since: datetime
    until: datetime
    events: int
    violations: int
    keys: dict[str, str]  # "workbook" / "dashboard" -> S3 key
    sha256: dict[str, str]  # same names -> hex digest
    # Same names -> the links people were given: bearer links, so never stored (excluded from the
    # ledger's JSON); whoever needs one later issues it again from `keys` (pipeline/reports/links.py).
    links: dict[str, str] = Field(default_factory=dict, exclude=True)
    links_expire_at: datetime


class ReportLedger(Protocol):
    """The reports built so far: the latest of a kind decides whether a new one has anything new to say."""

    def record(self, report: ReportRecord) -> None: ...

    def latest(self, kind: str | None = None) -> ReportRecord | None:
        """The latest report of this kind, or of any kind."""


class LinkStore(Protocol):
    """Short links to report objects: a token's hash, the object it opens and when it stops."""

    def put(self, token_hash: str, key: str, expires_at: datetime) -> None: ...

    def resolve(self, token_hash: str) -> tuple[str, datetime] | None:
        """The object key and expiry of a token, or None for a token never issued."""


class ReportLinks(Protocol):
    """The port alerts use to point at the latest report (its dashboard), while its link lives."""

    def latest(self) -> str | None: ...


class MetricsReader(Protocol):
    """The product's own CloudWatch metrics, summed over a window (reports' System Insights)."""

    def sums(self, names: Sequence[str], start: datetime, end: datetime) -> dict[str, float]: ...
