"""What the Smartsheet API told us, free of SDK objects so the planner and pipeline stay testable."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from billing_audit.domain.models import ColumnMap
from billing_audit.domain.values import CellValue


class RowData(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    created_at: datetime | None = None
    created_by: str | None = None
    modified_at: datetime | None = None
    modified_by: str | None = None
    values: dict[str, CellValue] = Field(default_factory=dict)  # by column title


class SheetData(BaseModel):
    """One read of a sheet: all of it, or only the rows a filter asked for."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    version: int
    total_row_count: int
    columns: ColumnMap
    primary_column_id: int | None = None
    rows: list[RowData] = Field(default_factory=list)


class SheetRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str


class UserData(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    email: str
    name: str | None = None
    status: str | None = None
    last_login: datetime | None = None
