"""Questions auditors ask of the events table, each answered by one of its keys or indexes.

The most selective filter given picks the index (work request, then person, then sheet, then risk
level: each keyed by change time), or, with none of them, the by-detected-day index one day at a
time; the other filters are applied to what that index returns.  Never a Scan: the table's keys and
indexes are shaped for exactly these reads (resources.EVENTS_TABLE).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from billing_audit.domain.values import utc_iso
from billing_audit.resources import EVENTS_BY_DETECTED_DAY_INDEX, EVENTS_BY_SHEET_INDEX, EVENTS_BY_USER_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

EVENTS_BY_RISK_INDEX = "by_risk_date"
EVENTS_BY_WORK_REQUEST_INDEX = "by_work_request"


@dataclass(frozen=True)
class EventFilter:
    since: datetime
    until: datetime
    sheet_ids: Sequence[int] = ()
    user: str | None = None
    types: Sequence[str] = ()
    risk_levels: Sequence[str] = ()
    work_request: str | None = None

    @property
    def order_by(self) -> str:
        """The time the window applies to and the answer is ordered by: the change time when an
        index keyed by it serves the filter, else the detection time (the by-day index's)."""
        by_change = self.work_request or self.user or self.sheet_ids or self.risk_levels
        return "changed_at" if by_change else "detected_at"

    def matches(self, record: Mapping[str, Any]) -> bool:
        """The filters on a record: what the chosen index did not already apply does no harm twice."""
        moment = str(record.get(self.order_by, ""))
        return (
            utc_iso(self.since) <= moment < utc_iso(self.until)
            and (not self.sheet_ids or record.get("sheet_id") in self.sheet_ids)
            and (self.user is None or str(record.get("changed_by") or "").lower() == self.user.lower())
            and (not self.types or record.get("type") in self.types)
            and (not self.risk_levels or record.get("risk_level") in self.risk_levels)
            and (self.work_request is None or record.get("work_request") == self.work_request)
        )


class EventQuery(Protocol):
    def query(self, where: EventFilter) -> Iterator[dict[str, Any]]:
        """Stored records matching the filter (by change time when an indexed filter is given,
        else by detection time), page by page."""


@dataclass(frozen=True)
class Plan:
    """Which index serves a filter, and its key conditions (one query each)."""

    index: str
    conditions: list[ConditionBase]


def plan(where: EventFilter) -> Plan:
    low, high = utc_iso(where.since), utc_iso(where.until)
    changed = Key("changed_at").between(low, high)
    if where.work_request:
        return Plan(EVENTS_BY_WORK_REQUEST_INDEX, [Key("work_request").eq(where.work_request) & changed])
    if where.user:
        return Plan(EVENTS_BY_USER_INDEX, [Key("changed_by").eq(where.user.lower()) & changed])
    if where.sheet_ids:
        return Plan(
            EVENTS_BY_SHEET_INDEX, [Key("sheet_key").eq(str(s)) & changed for s in dict.fromkeys(where.sheet_ids)]
        )
    if where.risk_levels:
        return Plan(EVENTS_BY_RISK_INDEX, [Key("risk_level").eq(r) & changed for r in dict.fromkeys(where.risk_levels)])
    days: list[ConditionBase] = []
    day = where.since.astimezone(UTC).date()
    while day <= where.until.astimezone(UTC).date():
        days.append(Key("detected_day").eq(day.isoformat()) & Key("detected_at").between(low, high))
        day += timedelta(days=1)
    return Plan(EVENTS_BY_DETECTED_DAY_INDEX, days)


class DynamoEventQuery:
    def __init__(self, table: Table, page_size: int = 500) -> None:
        self.table = table
        self.page_size = page_size

    def query(self, where: EventFilter) -> Iterator[dict[str, Any]]:
        chosen = plan(where)
        extra: ConditionBase | None = None
        if where.types:
            extra = Attr("type").is_in(list(where.types))
        streams = [self._pages(chosen.index, condition, extra, where) for condition in chosen.conditions]
        # Each key's query is in time order; several keys (sheets, risk levels, days) are merged
        # by that time so the answer is one time-ordered stream, still read page by page.
        yield from heapq.merge(*streams, key=lambda record: str(record[where.order_by]))

    def _pages(
        self, index: str, condition: ConditionBase, extra: ConditionBase | None, where: EventFilter
    ) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ProjectionExpression": "#r",
            "ExpressionAttributeNames": {"#r": "record"},
            "Limit": self.page_size,
        }
        if extra is not None:
            kwargs["FilterExpression"] = extra
        while True:
            page = self.table.query(**kwargs)
            for item in page["Items"]:
                record = json.loads(str(item["record"]))
                if where.matches(record):
                    yield record
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class MemoryEventQuery:
    def __init__(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        self.records = records

    def query(self, where: EventFilter) -> Iterator[dict[str, Any]]:
        chosen = [dict(r) for r in self.records.values() if where.matches(r)]
        yield from sorted(chosen, key=lambda r: (str(r[where.order_by]), str(r["event_id"])))
