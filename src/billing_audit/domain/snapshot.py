"""What a scan remembers of a sheet between runs (the scan state)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import BaseModel, Field

from billing_audit.domain.values import CellValue


class RowSnapshot(BaseModel):
    """A row as the product last saw it.

    `seen_at` is when it was read (None in a scan snapshot: the snapshot's `taken_at`).  `deferred`
    marks a row whose later changes the webhook path left to the scan: its values are still the
    right start for a replay of the full history, but not a base to derive changes from.
    """

    modified_at: datetime | None = None
    values: dict[str, CellValue] = Field(default_factory=dict)
    seen_at: datetime | None = None
    deferred: bool = False


class SheetSnapshot(BaseModel):
    """A sheet as the last completed scan saw it.

    `taken_at` is that scan's instant (a deletion found later is judged as of it); `watermark`
    is the newest row modification seen, so the next `rowsModifiedSince` read depends only on
    Smartsheet's own clock.  `columns` are the sheet's column ids by title; `held` is why the
    sheet's audit is held, once a scan has alerted it (see `rule_column_changes`).
    """

    sheet_id: int
    sheet_name: str
    version: int
    taken_at: datetime
    watermark: datetime | None = None
    columns: dict[str, int] = Field(default_factory=dict)
    rows: dict[int, RowSnapshot] = Field(default_factory=dict)
    held: str | None = None

    def rule_column_changes(self, current: Mapping[str, int], rule_columns: Iterable[str]) -> list[str]:
        """What became of the rule columns this snapshot knew, if anything, in the sheet's `current`
        column ids by title: gone (renamed or deleted), or re-created (the title under a new id, whose
        cell history starts afresh).  A rule column the sheet never had is no change."""
        changes: list[str] = []
        for title in dict.fromkeys(rule_columns):
            known = self.columns.get(title)
            if known is None:
                continue
            now = current.get(title)
            if now is None:
                changes.append(f"rule column {title!r} is gone (renamed or deleted)")
            elif now != known:
                changes.append(
                    f"rule column {title!r} was re-created (column id {known} is now {now}): its history is gone"
                )
        return changes
