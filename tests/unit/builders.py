"""Small builders for row timelines, so each rule's test reads like the rule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from billing_audit.domain.detect import AuditContext
from billing_audit.domain.models import CellEntry, DetectedVia, RowCreation, RowTimeline
from billing_audit.domain.policy import AuditPolicy
from billing_audit.domain.values import CellValue

COLUMNS = frozenset(
    {"Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman"}
)
CREATED = datetime(2026, 10, 20, 14, tzinfo=UTC)
BASELINE = datetime(2026, 11, 9, 12, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def context(
    policy: AuditPolicy | None = None, zone: str = "America/Chicago", columns: frozenset[str] = COLUMNS
) -> AuditContext:
    return AuditContext(
        policy=policy or AuditPolicy(),
        zone=ZoneInfo(zone),
        sheet_columns=columns,
        detected_at=NOW,
        detected_via=DetectedVia.SCAN,
    )


def billing_row(**overrides: CellValue) -> dict[str, CellValue]:
    row: dict[str, CellValue] = {
        "Work Request #": "WR-1",
        "Week Ending": "2026-11-08",
        "Status": "In Progress",
        "Quantity": 10,
        "Unit Price": 100.0,
        "Redlined Total Price": 1000.0,
        "Foreman": "J. Diaz",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


Save = tuple[str, str | None, dict[str, CellValue]]


def timeline(
    start: dict[str, CellValue],
    saves: list[Save],
    *,
    added: Save | None = None,
    row_id: int = 1,
    columns: frozenset[str] = COLUMNS,
    created_at: datetime = CREATED,
) -> RowTimeline:
    """A row with full history: creation entries (or an add), then the given saves in order."""
    history: list[CellEntry] = []
    current: dict[str, CellValue] = {}
    created = None
    if added is None:
        history += [CellEntry(column=c, value=v, at=created_at, by="creator@example.com") for c, v in start.items()]
        current.update(start)
    else:
        when, by, cells = added
        created = RowCreation(at=at(when), by=by)
        history += [CellEntry(column=c, value=v, at=at(when), by=by) for c, v in cells.items() if v is not None]
        current.update(cells)
    for when, by, cells in saves:
        history += [CellEntry(column=c, value=v, at=at(when), by=by) for c, v in cells.items()]
        current.update(cells)
    # The row's modifiedAt and modifiedBy as the API reads them: the last entry of the latest second.
    last = max(reversed(history), key=lambda entry: entry.at, default=None)
    return RowTimeline(
        sheet_id=4001,
        sheet_name="Crew 12 Billing",
        row_id=row_id,
        start={} if added else dict(start),
        current=current,
        current_modified_at=last.at if last else None,
        current_modified_by=last.by if last else None,
        history_columns=columns,
        history=history,
        created=created,
    )
