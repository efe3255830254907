"""Approvals and access-review results, kept in the state table beside the audit's own state.

Approvals are not audit events (FORMAT.md's event types stay as they are) and never enter the
events table or its trail.  Items (partition `pk`, sort `sk`):
- `approval#<YYYY-MM>` / `<at>#<approval id>`: one approval, by the UTC month of its time, so a
  window is one query per month it spans; a replayed row writes the same item again.
- `access-review` / `latest` and `access-review` / `run#<reviewed at>`: each review's result.

With the audit's `retention_days`, each item carries the state table's TTL attribute: kept as long
as an event of the same moment is (approvals and reviews are the evidence a compliance report
weighs beside the events).  DynamoDB deletes an item some time after it, not at it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from boto3.dynamodb.conditions import Key

from billing_audit.domain.access import AccessReviewResult, Approval
from billing_audit.domain.values import utc_iso
from billing_audit.resources import STATE_TABLE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

REVIEW_PK = "access-review"


class ApprovalStore(Protocol):
    def add(self, approvals: Sequence[Approval]) -> None:
        """Keep these approvals (the same approval twice is kept once)."""

    def between(self, start: datetime, end: datetime) -> list[Approval]:
        """Approvals timed in [start, end), oldest first."""


class AccessReviewStore(Protocol):
    def save(self, result: AccessReviewResult) -> None: ...

    def latest(self) -> AccessReviewResult | None: ...


def _purge(item: dict[str, Any], at: datetime, retention_days: int | None) -> dict[str, Any]:
    """The item, with the time DynamoDB may delete it where the audit keeps events for a while."""
    if retention_days:
        item[str(STATE_TABLE.ttl_attribute)] = int(at.timestamp()) + retention_days * 86_400
    return item


def _months(start: datetime, end: datetime) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class DynamoApprovalStore:
    def __init__(self, table: Table, retention_days: int | None = None) -> None:
        self.table = table
        self.retention_days = retention_days

    def add(self, approvals: Sequence[Approval]) -> None:
        if not approvals:
            return
        with self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for approval in approvals:
                at = utc_iso(approval.at)
                item = {
                    "pk": f"approval#{at[:7]}",
                    "sk": f"{at}#{approval.approval_id}",
                    "approval": approval.model_dump_json(),
                }
                batch.put_item(Item=_purge(item, approval.at, self.retention_days))

    def between(self, start: datetime, end: datetime) -> list[Approval]:
        found: list[Approval] = []
        low, high = utc_iso(start), utc_iso(end)
        for month in _months(start.astimezone(end.tzinfo), end):
            kwargs = {"KeyConditionExpression": Key("pk").eq(f"approval#{month}") & Key("sk").between(low, high)}
            while True:
                page = self.table.query(**kwargs)  # type: ignore[arg-type]
                for item in page.get("Items", []):
                    approval = Approval.model_validate_json(str(item["approval"]))
                    if start <= approval.at < end:
                        found.append(approval)
                last = page.get("LastEvaluatedKey")
                if not last:
                    break
                kwargs["ExclusiveStartKey"] = last  # type: ignore[assignment]
        return sorted(found, key=lambda a: (a.at, a.approval_id))


class DynamoAccessReviewStore:
    def __init__(self, table: Table, retention_days: int | None = None) -> None:
        self.table = table
        self.retention_days = retention_days

    def save(self, result: AccessReviewResult) -> None:
        body = json.dumps(result.to_record(), sort_keys=True)
        for sk in (f"run#{utc_iso(result.reviewed_at)}", "latest"):
            item = {"pk": REVIEW_PK, "sk": sk, "review": body}
            self.table.put_item(Item=_purge(item, result.reviewed_at, self.retention_days))

    def latest(self) -> AccessReviewResult | None:
        item = self.table.get_item(Key={"pk": REVIEW_PK, "sk": "latest"}, ConsistentRead=True).get("Item")
        return None if item is None else AccessReviewResult.from_record(json.loads(str(item["review"])))


class MemoryApprovalStore:
    def __init__(self) -> None:
        self.approvals: dict[str, Approval] = {}

    def add(self, approvals: Sequence[Approval]) -> None:
        for approval in approvals:
            self.approvals[approval.approval_id] = approval

    def between(self, start: datetime, end: datetime) -> list[Approval]:
        chosen = [a for a in self.approvals.values() if start <= a.at < end]
        return sorted(chosen, key=lambda a: (a.at, a.approval_id))


class MemoryAccessReviewStore:
    def __init__(self) -> None:
        self.results: list[AccessReviewResult] = []

    def save(self, result: AccessReviewResult) -> None:
        self.results.append(result)

    def latest(self) -> AccessReviewResult | None:
        return self.results[-1] if self.results else None
