"""What the access review and Event Reporting read from Smartsheet, free of SDK objects.

Ports (`SharingApi`, `EventReportingApi`) and their data; the SDK adapter is `sdk_access.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from billing_audit.smartsheet.models import UserData


class ShareData(BaseModel):
    """One share of a sheet: with a user (`email`) or a group (`group_id`), at the sheet itself
    (`scope` ITEM) or inherited from its workspace (WORKSPACE)."""

    model_config = ConfigDict(frozen=True)

    type: str  # USER or GROUP
    access_level: str
    scope: str = "ITEM"
    email: str | None = None
    group_id: int | None = None
    name: str | None = None


class ReportedEvent(BaseModel):
    """One Event Reporting event (`GET /2.0/events`): a sheet save, a login, ..."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    object_type: str  # SHEET, USER, ...
    action: str  # UPDATE, LOGIN, LOGOUT, ...
    object_id: str | None = None
    at: datetime
    user_id: int | None = None
    source: str | None = None  # WEB_APP, MOBILE_IOS, API_INTEGRATED_APP, ...
    ip_address: str | None = None  # eventDetails.sourceIpAddress (since the 2026-06-08 changelog)
    details: dict[str, Any] = Field(default_factory=dict)


class SharingApi(Protocol):
    """Who can reach a sheet: its shares, the groups they name, the users list."""

    def sheet_shares(self, sheet_id: int) -> list[ShareData]:
        """The sheet's own shares and those it inherits from its workspace."""

    def group_members(self, group_id: int) -> list[str]:
        """The emails of a group's members."""

    def users(self) -> list[UserData]: ...


class EventReportingApi(Protocol):
    def events(self, since: datetime, until: datetime | None = None) -> list[ReportedEvent]:
        """Every event from `since` (Smartsheet rounds it to the hour) until `until`, all pages."""
