"""Turning what Smartsheet served into the replay's input: row timelines and row snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from billing_audit.bulk import prevalidated
from billing_audit.domain.models import CellEntry, RowCreation, RowTimeline
from billing_audit.domain.snapshot import RowSnapshot
from billing_audit.smartsheet.gateway import SmartsheetGateway
from billing_audit.smartsheet.models import RowData, SheetData

_build_snapshot_row = prevalidated(RowSnapshot)

# The `since` of a row added after the snapshot: its creation is always a finding to judge.
ADDED_SINCE_ANY_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def newest_seen(*rows: RowSnapshot | None) -> RowSnapshot | None:
    """Of several memories of one row (the scan's snapshot, the webhook path's), the latest."""
    known = [row for row in rows if row is not None]
    dated = [row for row in known if row.modified_at is not None]
    if dated:
        return max(dated, key=lambda row: row.modified_at or ADDED_SINCE_ANY_TIME)
    return known[0] if known else None


def snapshot_rows(rows: Iterable[RowData], columns: Sequence[str]) -> dict[int, RowSnapshot]:
    # Built without validating again: RowData's fields were validated as the sheet was read, and a
    # baseline makes one of these per row of every sheet.
    build = _build_snapshot_row
    return {
        row.id: build(modified_at=row.modified_at, values={c: row.values[c] for c in columns if c in row.values})
        for row in rows
    }


def build_timeline(
    sheet: SheetData,
    row: RowData,
    gateway: SmartsheetGateway,
    history_columns: Sequence[str],
    *,
    known: RowSnapshot | None,
) -> RowTimeline:
    """`known` is the row as last seen; None for a row added since, which then carries its creation."""
    history = _histories(sheet, row.id, gateway, history_columns)
    created = None
    if known is None and row.created_at is not None:
        created = RowCreation(at=row.created_at, by=row.created_by)
    return RowTimeline(
        sheet_id=sheet.id,
        sheet_name=sheet.name,
        row_id=row.id,
        start=dict(known.values) if known is not None else {},
        start_modified_at=known.modified_at if known is not None else None,
        current=row.values,
        current_modified_at=row.modified_at,
        current_modified_by=row.modified_by,
        history_columns=frozenset(history_columns),
        history=history,
        created=created,
    )


def with_history_of(
    timeline: RowTimeline, sheet: SheetData, gateway: SmartsheetGateway, more: Sequence[str], order: Sequence[str]
) -> RowTimeline:
    """The timeline with the histories of `more` columns read as well, its entries in `order` of
    their columns (the order a replay gives saves of one second), each column's as served."""
    read = _histories(sheet, timeline.row_id, gateway, more)
    columns = timeline.history_columns | frozenset(more)
    rank = {title: index for index, title in enumerate(order)}
    history = sorted([*timeline.history, *read], key=lambda entry: rank.get(entry.column, len(rank)))
    return timeline.model_copy(update={"history_columns": columns, "history": history})


def _histories(sheet: SheetData, row_id: int, gateway: SmartsheetGateway, columns: Sequence[str]) -> list[CellEntry]:
    history: list[CellEntry] = []
    for title in columns:
        column_id = sheet.columns.id_of(title)
        if column_id is not None:
            history.extend(gateway.cell_history(sheet.id, row_id, column_id, title))
    return history
