"""What the audit reasons about: sheets' columns, rows, cell-history entries and audit events."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from billing_audit.domain.values import CellValue, utc_iso


class EventType(StrEnum):
    POST_CLOSE_CHANGE = "post_close_change"
    LOCKED_ROW_CHANGE = "locked_row_change"
    CHANGE = "change"
    WEEK_ENDING_MOVED = "week_ending_moved"
    CLOSED_ROW_DELETED = "closed_row_deleted"
    BACKDATED_ROW_ADDED = "backdated_row_added"
    IMPLAUSIBLE_DATE = "implausible_date"
    PRICE_MISMATCH = "price_mismatch"


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class DetectedVia(StrEnum):
    SCAN = "scan"
    WEBHOOK = "webhook"


class ColumnMap(BaseModel):
    """Column ids by title for one sheet: ids differ per sheet, order is free, columns may be missing."""

    model_config = ConfigDict(frozen=True)

    ids_by_title: dict[str, int]

    def id_of(self, title: str) -> int | None:
        return self.ids_by_title.get(title)

    def has(self, title: str) -> bool:
        return title in self.ids_by_title

    @property
    def titles_by_id(self) -> dict[int, str]:
        return {column_id: title for title, column_id in self.ids_by_title.items()}


class CellEntry(BaseModel):
    """One cell-history entry: the value a save wrote, when and by whom."""

    model_config = ConfigDict(frozen=True)

    column: str
    value: CellValue = None
    at: datetime
    by: str | None = None


class RowCreation(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    by: str | None = None


class RowTimeline(BaseModel):
    """Everything known about one row between two audit instants, ready to replay.

    `start` is the row as the previous scan (or the baseline) saw it, empty for a row created
    since; `start_modified_at` is the row's `modifiedAt` when it was seen.  `history` holds every
    entry Smartsheet serves of the columns in `history_columns` (none from before a sheet was
    copied or imported); every other column kept the value in `current` throughout.
    `current_modified_at`/`current_modified_by` are the row's `modifiedAt`/`modifiedBy` as `current`
    was read: who saved the row last, the one thing the API says about the order of the saves
    several people made in one second (history is to the second).
    """

    sheet_id: int
    sheet_name: str
    row_id: int
    start: dict[str, CellValue] = Field(default_factory=dict)
    start_modified_at: datetime | None = None
    current: dict[str, CellValue] = Field(default_factory=dict)
    current_modified_at: datetime | None = None
    current_modified_by: str | None = None
    history_columns: frozenset[str] = frozenset()
    history: list[CellEntry] = Field(default_factory=list)
    created: RowCreation | None = None  # set only for a row added since `start` was taken


class RiskFactor(BaseModel):
    """One reason an event's risk score is what it is: alerts and reports show `label (+weight)`."""

    model_config = ConfigDict(frozen=True)

    code: str  # stable machine id, e.g. "outside_business_hours"
    label: str  # for people, e.g. "Outside business hours (18:40 local)"
    weight: float

    def render(self) -> str:
        return f"{self.label} (+{self.weight:g})"


_PROVENANCE = ("source", "ip_address")


# What `AuditEvent.editor` says when no one is named: shown where a person would be, never one.
NOTICED_BETWEEN_SCANS = "(not known: deleted between scans)"
NAMED_BY_NO_ONE = "(not known: Smartsheet names no one)"
UNNAMED_EDITORS = frozenset({NOTICED_BETWEEN_SCANS, NAMED_BY_NO_ONE})


class AuditEvent(BaseModel):
    """One line of events.jsonl (FORMAT.md, "What a run writes"), plus the product's `risk_factors`."""

    event_id: str
    sheet_id: int
    sheet_name: str
    row_id: int
    work_request: str | None = None
    column: str | None = None
    old_value: CellValue = None
    new_value: CellValue = None
    changed_at: datetime
    changed_by: str | None = None
    type: EventType
    violation: bool
    financial_impact: float | None = None
    risk_level: RiskLevel | None = None
    risk_score: float = Field(default=0.0, ge=0, le=1)
    anomaly_score: float = Field(default=0.0, ge=0, le=1)
    risk_factors: list[RiskFactor] = Field(default_factory=list)
    # The row's Week Ending as it stood before the change (for the risk score's days after close).
    week_ending: CellValue = None
    detected_at: datetime
    detected_via: DetectedVia
    # Where the save came from, as Smartsheet's Event Reporting tells it (domain/provenance.py):
    # only where it is configured and the plan has it; absent from the record otherwise.
    source: str | None = None
    ip_address: str | None = None

    @property
    def noticed_between_scans(self) -> bool:
        """A deletion a scan found: its `changed_at` is when the scan noticed the row gone, not when
        it was deleted, and no one is named (FORMAT.md, "Scan mode")."""
        return self.detected_via is DetectedVia.SCAN and self.type is EventType.CLOSED_ROW_DELETED

    @property
    def editor(self) -> str:
        """Who saved it, for people: the email, or why no one is named."""
        if self.changed_by:
            return self.changed_by
        return NOTICED_BETWEEN_SCANS if self.noticed_between_scans else NAMED_BY_NO_ONE

    def to_record(self) -> dict[str, object]:
        """The JSON object written to events.jsonl and stored, times as UTC `Z` strings."""
        record = self.model_dump(mode="json", exclude={name for name in _PROVENANCE if getattr(self, name) is None})
        record["changed_at"] = utc_iso(self.changed_at)
        record["detected_at"] = utc_iso(self.detected_at)
        return record


def event_id_for(
    sheet_id: int,
    row_id: int,
    event_type: EventType,
    column: str | None,
    changed_at: datetime | None,
    occurrence: int = 0,
) -> str:
    """The same change seen twice (scan and webhook, or a retry) gets the same id.

    A row can be deleted only once, so a deletion's id leaves out its time, which the scan can
    only estimate.
    """
    when = "" if event_type is EventType.CLOSED_ROW_DELETED or changed_at is None else utc_iso(changed_at)
    parts = [str(sheet_id), str(row_id), event_type.value, column or "", when]
    if occurrence:
        # Two saves of one cell within the same second: told apart by their order in the history.
        parts.append(str(occurrence))
    material = "|".join(parts)
    return hashlib.sha256(material.encode()).hexdigest()[:32]
