"""What a scan run keeps and reports: the backlog it saves when it starts, what each step did.

A run's backlog is saved per sheet in the run store (opaque bytes there), so an invocation that
dies leaves it for the next; `RunProgress` is what one invocation reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from pydantic import BaseModel

from billing_audit.domain.models import AuditEvent
from billing_audit.smartsheet.models import SheetData


@dataclass
class SheetScanResult:
    sheet_id: int
    sheet_name: str = ""
    baseline: bool = False
    unchanged: bool = False
    rows_modified: int = 0
    rows_added: int = 0
    rows_deleted: int = 0
    history_reads: int = 0
    events: list[AuditEvent] = field(default_factory=list)
    new_events: int = 0
    error: str | None = None  # Smartsheet could not be read for this sheet; its state did not move
    held: str | None = None  # a rule column changed: the sheet's audit is held (pipeline/holds.py)
    # At the baseline: the policy's columns the sheet has not (AuditPolicy.missing_columns).
    lacks: list[str] = field(default_factory=list)


@dataclass
class ScanResult:
    sheets: list[SheetScanResult] = field(default_factory=list)

    @property
    def failed(self) -> list[SheetScanResult]:
        return [sheet for sheet in self.sheets if sheet.error is not None]

    @property
    def events(self) -> list[AuditEvent]:
        return [event for sheet in self.sheets for event in sheet.events]


class Urgency(IntEnum):
    """The order a backlog is drained in: what can hide a violation first."""

    CHANGED_CLOSED = 0  # closed or locked, and a tracked value differs from the last run
    CLOSED = 1  # closed or locked, tracked values as before (a change and its revert may hide here)
    OTHER = 2  # open rows with differing cells, rows added since


class RowWork(BaseModel):
    row_id: int
    added: bool
    urgency: Urgency
    history_columns: tuple[str, ...]


class SheetBacklog(BaseModel):
    """One sheet's part of a run, saved when the run starts."""

    run_id: str
    sheet_id: int
    read_at: datetime  # the run's read of the sheet: the next snapshot's `taken_at`
    sheet: SheetData  # what that read returned (the modified rows)
    deleted: list[int]
    work: list[RowWork]  # in drain order
    accepted: str | None = None  # rule-column changes this run accepted (`--accept-columns`)

    @property
    def history_reads(self) -> int:
        return sum(len(item.history_columns) for item in self.work)

    def dump(self) -> bytes:
        return self.model_dump_json().encode()


@dataclass
class RunProgress:
    """What one invocation did, and what is left for the next."""

    sheets: list[SheetScanResult] = field(default_factory=list)
    rows_done: int = 0
    history_reads: int = 0
    rows_left: int = 0
    history_reads_left: int = 0
    open_since: datetime | None = None  # when the oldest open backlog was read

    @property
    def finished(self) -> bool:
        return self.rows_left == 0

    @property
    def events(self) -> list[AuditEvent]:
        return [event for sheet in self.sheets for event in sheet.events]

    @property
    def failed(self) -> list[SheetScanResult]:
        return [sheet for sheet in self.sheets if sheet.error is not None]
