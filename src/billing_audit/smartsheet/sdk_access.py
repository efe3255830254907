"""Shares, groups and Event Reporting over the SDK adapter's one request path (`SdkSmartsheet.call`).

Raw GETs (`Passthrough`): the SDK's list of sheet shares moved to `/shares` and drops the scope of
workspace shares in places, its group model is fine but one shape less to map, and its Event model
keeps no field it does not know, such as `eventDetails.sourceIpAddress` (NOTES.md).  Every request
is still paced by the shared budget, counted and turned into one-line errors by `call`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from billing_audit.smartsheet.access import ReportedEvent, ShareData
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.models import UserData
from billing_audit.smartsheet.sdk_client import SdkSmartsheet

# The most events one request may ask for (the OpenAPI file's maximum).
EVENTS_PER_REQUEST = 10_000
# A stream that keeps saying "more" without moving is cut here rather than looping.
MAX_EVENT_PAGES = 1_000


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


class SdkAccess:
    """The `SharingApi` and `EventReportingApi` ports over one `SdkSmartsheet`."""

    def __init__(self, sdk: SdkSmartsheet) -> None:
        self.sdk = sdk

    def _get(self, endpoint: str, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        body = self.sdk.call(endpoint, self.sdk.client.Passthrough.get, path, query or {}).data
        if not isinstance(body, dict):
            raise SmartsheetError(f"Smartsheet {endpoint} failed: the answer is not a JSON object")
        return body

    def sheet_shares(self, sheet_id: int) -> list[ShareData]:
        items = self.sdk.list_all(
            "GET /sheets/{sheetId}/shares", f"/sheets/{int(sheet_id)}/shares", {"include": "workspaceShares"}
        )
        return [
            ShareData(
                type=str(item.get("type") or "USER").upper(),
                access_level=str(item.get("accessLevel") or ""),
                scope=str(item.get("scope") or "ITEM").upper(),
                email=item.get("email") or None,
                group_id=_int(item.get("groupId")),
                name=item.get("name") or None,
            )
            for item in items
            if item.get("accessLevel")
        ]

    def group_members(self, group_id: int) -> list[str]:
        body = self._get("GET /groups/{groupId}", f"/groups/{int(group_id)}")
        return [str(m["email"]) for m in body.get("members") or [] if isinstance(m, dict) and m.get("email")]

    def users(self) -> list[UserData]:
        return self.sdk.users()

    def events(self, since: datetime, until: datetime | None = None) -> list[ReportedEvent]:
        query: dict[str, Any] = {
            "since": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "maxCount": EVENTS_PER_REQUEST,
        }
        found: list[ReportedEvent] = []
        for _ in range(MAX_EVENT_PAGES):
            body = self._get("GET /events", "/events", query)
            for item in body.get("data") or []:
                event = _event(item)
                if event is not None and (until is None or event.at < until):
                    found.append(event)
            position = body.get("nextStreamPosition")
            if not body.get("moreAvailable") or not position or position == query.get("streamPosition"):
                break
            query = {"streamPosition": position, "maxCount": EVENTS_PER_REQUEST}
        return found


def _event(item: Any) -> ReportedEvent | None:
    # Smartsheet's documentation and SDK spell it eventTimestamp; the OpenAPI file eventTimeStamp.
    at = item.get("eventTimestamp") or item.get("eventTimeStamp") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not item.get("eventId") or not at:
        return None
    details: dict[str, Any] = item["eventDetails"] if isinstance(item.get("eventDetails"), dict) else {}
    extra: dict[str, Any] = item["additionalDetails"] if isinstance(item.get("additionalDetails"), dict) else {}
    return ReportedEvent(
        event_id=str(item["eventId"]),
        object_type=str(item.get("objectType") or "").upper(),
        action=str(item.get("action") or "").upper(),
        object_id=str(item["objectId"]) if item.get("objectId") is not None else None,
        at=at,
        user_id=_int(item.get("userId")),
        source=item.get("source") or None,
        ip_address=details.get("sourceIpAddress") or None,
        details={**extra, **{k: v for k, v in details.items() if k != "sourceIpAddress"}},
    )
