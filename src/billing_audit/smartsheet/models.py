"""What the Smartsheet API told us, free of SDK objects so the planner and pipeline stay testable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

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


class WebhookStatus(StrEnum):
    """A webhook's status as Smartsheet reports it (GET /webhooks; `newWebhookStatus` in callbacks).

    Smartsheet may add values, so a reported status stays a string, compared with these.
    """

    ENABLED = "ENABLED"
    NEW_NOT_VERIFIED = "NEW_NOT_VERIFIED"
    DISABLED_ADMINISTRATIVE = "DISABLED_ADMINISTRATIVE"
    DISABLED_APP_REVOKED = "DISABLED_APP_REVOKED"
    DISABLED_BY_OWNER = "DISABLED_BY_OWNER"
    DISABLED_CALLBACK_FAILED = "DISABLED_CALLBACK_FAILED"
    DISABLED_SCOPE_INACCESSIBLE = "DISABLED_SCOPE_INACCESSIBLE"
    DISABLED_VERIFICATION_FAILED = "DISABLED_VERIFICATION_FAILED"


@dataclass(frozen=True)
class WebhookInfo:
    """One webhook as the webhooks API describes it."""

    id: int
    name: str
    callback_url: str
    sheet_id: int | None
    enabled: bool
    status: str
    shared_secret: str | None = field(default=None, repr=False)
    disabled_details: str | None = None
    last_success: datetime | None = None

    @property
    def is_enabled(self) -> bool:
        return self.status == WebhookStatus.ENABLED
