"""The scan planner: the fewest cell-history reads that still miss no violation (FORMAT.md, "Scan mode").

- A row closed or locked at the previous scan or now: the history of every rule column it has.
- Any other modified row: only the rule columns whose value differs between then and now.
- A row added since and edited after creation, or closed or locked now: every rule column, to learn
  what it was created with (an edit in the second of its creation leaves `modifiedAt` at its
  `createdAt`); an open one never edited since creation needs none (its current values are its
  creation values).
- A row the webhook path has already audited through its current `modifiedAt`: nothing at all.

Some reads are decided after the replay (`columns_to_confirm`): the cells a row read in part
needs before a finding that rests on them is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from billing_audit.domain.detect import AuditContext
from billing_audit.domain.models import AuditEvent, ColumnMap, EventType
from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
from billing_audit.domain.values import values_equal
from billing_audit.smartsheet.models import RowData, SheetData

# Smartsheet's times are to the second: the rows read again are those of the watermark's own second
# too, whether `rowsModifiedSince` counts its boundary in or not, so a save in that second after
# the previous read is not lost.  Rows seen there already and unchanged cost no history read.
READ_LOOKBACK = timedelta(seconds=1)


def rows_modified_since(watermark: datetime | None) -> datetime | None:
    """The `rowsModifiedSince` of the next read of a sheet whose newest `modifiedAt` seen is `watermark`."""
    return watermark - READ_LOOKBACK if watermark is not None else None


@dataclass
class ScanPlan:
    changed_rows: list[RowData] = field(default_factory=list)  # existed at the previous scan
    added_rows: list[RowData] = field(default_factory=list)
    history_columns: dict[int, tuple[str, ...]] = field(default_factory=dict)  # row id -> titles
    already_audited: list[int] = field(default_factory=list)

    @property
    def history_reads(self) -> int:
        return sum(len(columns) for columns in self.history_columns.values())


def plan_scan(
    snapshot: SheetSnapshot,
    changes: SheetData,
    ctx: AuditContext,
    now: datetime,
    audited_through: Mapping[int, datetime | None] | None = None,
) -> ScanPlan:
    """`audited_through` holds, per row, the `modifiedAt` up to which the webhook path audited it."""
    present = [title for title in ctx.policy.rule_columns if changes.columns.has(title)]
    plan = ScanPlan()
    audited_through = audited_through or {}
    for row in changes.rows:
        audited = audited_through.get(row.id)
        if audited is not None and row.modified_at is not None and audited >= row.modified_at:
            plan.already_audited.append(row.id)
            continue
        known = snapshot.rows.get(row.id)
        if known is None:
            plan.added_rows.append(row)
            # Edited since creation, or closed or locked now: read.  An edit in the second of its
            # creation leaves `modifiedAt` at `createdAt`; by someone else it still shows, as a
            # `modifiedBy` that is not the `createdBy` (by the creator it cannot be told).
            edited = (
                row.created_at is None
                or row.modified_at is None
                or row.modified_at > row.created_at
                or (row.modified_by is not None and row.modified_by != row.created_by)
            )
            if edited or ctx.closed_or_locked(row.values, now):
                plan.history_columns[row.id] = tuple(present)
            continue
        if not _modified_since(row, known, changes.columns):
            continue
        plan.changed_rows.append(row)
        if ctx.closed_or_locked(known.values, snapshot.taken_at) or ctx.closed_or_locked(row.values, now):
            columns = present
        else:
            columns = [t for t in present if not values_equal(known.values.get(t), row.values.get(t))]
        if columns:
            plan.history_columns[row.id] = tuple(columns)
    return plan


def columns_to_confirm(
    events: Sequence[AuditEvent], read: Sequence[str], ctx: AuditContext, columns: ColumnMap
) -> tuple[str, ...]:
    """The cells to read before a replay's findings that rest on unread ones are reported.  A cell
    whose history was not read was taken as unchanged since it was last seen; a change there and
    back would make a finding that never was:
    - a price mismatch, or a violation on the quantity (priced at the unit price after the save),
      rests on the price cells (quantity, unit price, total): a unit price raised with its total and
      lowered again would make a mismatch;
    - a locked-row change rests on the Week Ending too: a week moved into a closed one and back
      makes the changes between post-close changes, which come first.
    Read only when the replay found such a finding: most rows have none."""
    policy = ctx.policy
    wanted: list[str] = []
    if any(
        event.type is EventType.PRICE_MISMATCH or (event.violation and event.column == policy.quantity_column)
        for event in events
    ):
        wanted += [policy.quantity_column, policy.unit_price_column, policy.total_price_column]
    if any(event.type is EventType.LOCKED_ROW_CHANGE for event in events):
        wanted.append(policy.week_ending_column)
    return tuple(title for title in dict.fromkeys(wanted) if title not in read and columns.has(title))


def _modified_since(row: RowData, known: RowSnapshot, columns: ColumnMap) -> bool:
    """Whether the row was saved after it was last seen.

    `modifiedAt` is to the second, so a save in the second the row was last read, after the read,
    leaves it unmoved: such a row is told by its values instead (the scan reads that second again),
    in the columns the sheet still has.
    """
    if row.modified_at is None or known.modified_at is None:
        return True
    if row.modified_at != known.modified_at:
        return row.modified_at > known.modified_at
    return any(
        not values_equal(value, row.values.get(title)) for title, value in known.values.items() if columns.has(title)
    )
