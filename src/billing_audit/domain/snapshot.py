"""What a scan remembers of a sheet between runs (the scan state)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from billing_audit.domain.values import CellValue


class RowSnapshot(BaseModel):
    modified_at: datetime | None = None
    values: dict[str, CellValue] = Field(default_factory=dict)


class SheetSnapshot(BaseModel):
    """A sheet as the last completed scan saw it.

    `taken_at` is that scan's instant (a deletion found later is judged as of it); `watermark`
    is the newest row modification seen, so the next `rowsModifiedSince` read depends only on
    Smartsheet's own clock.
    """

    sheet_id: int
    sheet_name: str
    version: int
    taken_at: datetime
    watermark: datetime | None = None
    columns: dict[str, int] = Field(default_factory=dict)
    rows: dict[int, RowSnapshot] = Field(default_factory=dict)
