"""The interfaces the pipeline writes through; boto3 stays behind them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from billing_audit.domain.models import AuditEvent
from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
from billing_audit.store.secrets import WebhookSecret


class EventStore(Protocol):
    def add(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Store events not stored before (by event id); returns the ones that were new."""

    def claim_alerts(self, event_ids: Sequence[str]) -> list[str]:
        """Claim the right to alert these stored events; returns those no one had claimed before.

        Atomic per event, so two writers replaying the same change (two callbacks, a callback and
        a scan) alert it once.
        """

    def release_alerts(self, event_ids: Sequence[str]) -> None:
        """Give claims back (their alert could not be sent), so a later run alerts them."""

    def all_events(self) -> list[AuditEvent]: ...


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


class AlertPublisher(Protocol):
    def publish(self, events: Sequence[AuditEvent]) -> None: ...


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
