"""What alerting keeps in the state table between runs.

- Each sheet's single-alert cooldown: one small item per sheet, updated with a conditional write,
  so two runs alerting at once (a scan drain and a callback batch) never together send more singles
  than the allowance.
- Violations stored but not yet alerted: a run holds them here as it stores them and clears them
  once alerted, so a run that dies (or cannot publish) between storing and alerting leaves them for
  the next run of either path, even though it will not detect them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from billing_audit.domain.alerting import AlertingPolicy, Cooldown
from billing_audit.domain.models import AuditEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class DynamoAlertCooldowns:
    PK = "alerts#cooldown"
    ATTEMPTS = 8

    def __init__(self, table: Table) -> None:
        self.table = table

    def _key(self, sheet_id: int) -> dict[str, str]:
        return {"pk": self.PK, "sk": f"sheet#{sheet_id}"}

    def take(self, sheet_id: int, wanted: int, policy: AlertingPolicy, now: datetime) -> int:
        if wanted <= 0:
            return 0
        key = self._key(sheet_id)
        for _attempt in range(self.ATTEMPTS):
            item = self.table.get_item(Key=key, ConsistentRead=True).get("Item")
            seen = Cooldown.model_validate_json(str(item["cooldown"])) if item is not None else Cooldown()
            granted, after = seen.grant(wanted, policy, now)
            if granted == 0:
                return 0
            condition: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if item is None
                else {
                    "ConditionExpression": "#c = :seen",
                    "ExpressionAttributeNames": {"#c": "cooldown"},
                    "ExpressionAttributeValues": {":seen": item["cooldown"]},
                }
            )
            try:
                self.table.put_item(Item={**key, "cooldown": after.model_dump_json()}, **condition)
                return granted
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        # Contended beyond reason: send none one by one; the run's digest still carries them all.
        return 0


class DynamoPendingAlerts:
    PK = "alerts#pending"

    def __init__(self, table: Table) -> None:
        self.table = table

    def hold(self, events: Sequence[AuditEvent]) -> None:
        with self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for event in events:
                batch.put_item(Item={"pk": self.PK, "sk": f"event#{event.event_id}", "event": event.model_dump_json()})

    def held(self) -> list[AuditEvent]:
        items: list[AuditEvent] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": self.PK},
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**kwargs)
            items.extend(AuditEvent.model_validate_json(str(item["event"])) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def clear(self, event_ids: Sequence[str]) -> None:
        with self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for event_id in dict.fromkeys(event_ids):
                batch.delete_item(Key={"pk": self.PK, "sk": f"event#{event_id}"})
