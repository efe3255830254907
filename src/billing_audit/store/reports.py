"""Reports' bookkeeping in the state table: the ledger of reports built and the short links to them.

Items (partition `pk`, sort `sk`):
- `report` / `latest` and `latest#<kind>`: the latest report, of any kind and of each (its record as
  JSON); `report` / `built#<time>#<id>`: each one.
- `link#<sha256 of token>` / `link`: the object a short link opens and when it stops opening it.  Only
  the token's hash is stored, and the ledger keeps a report's keys, not its links, so reading the
  table hands out no working link.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from billing_audit.domain.values import parse_instant, utc_iso
from billing_audit.resources import REPORT_LINK_PARTITION_PREFIX
from billing_audit.store.interfaces import ReportRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

LEDGER_PK = "report"


class DynamoReportLedger:
    def __init__(self, table: Table) -> None:
        self.table = table

    def record(self, report: ReportRecord) -> None:
        body = report.model_dump_json()
        # The history item first: a crash between the two writes leaves the previous "latest", so the
        # next run rebuilds rather than skipping a report nobody got.
        self.table.put_item(
            Item={"pk": LEDGER_PK, "sk": f"built#{utc_iso(report.built_at)}#{report.report_id}", "report": body}
        )
        self.table.put_item(Item={"pk": LEDGER_PK, "sk": f"latest#{report.kind}", "report": body})
        self.table.put_item(Item={"pk": LEDGER_PK, "sk": "latest", "report": body})

    def latest(self, kind: str | None = None) -> ReportRecord | None:
        sk = "latest" if kind is None else f"latest#{kind}"
        item = self.table.get_item(Key={"pk": LEDGER_PK, "sk": sk}, ConsistentRead=True).get("Item")
        return None if item is None else ReportRecord.model_validate_json(str(item["report"]))


class DynamoLinkStore:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def _key(token_hash: str) -> dict[str, str]:
        return {"pk": f"{REPORT_LINK_PARTITION_PREFIX}{token_hash}", "sk": "link"}

    def put(self, token_hash: str, key: str, expires_at: datetime) -> None:
        self.table.put_item(
            Item={**self._key(token_hash), "object_key": key, "expires_at": utc_iso(expires_at)},
            ConditionExpression="attribute_not_exists(pk)",  # a token is issued once
        )

    def resolve(self, token_hash: str) -> tuple[str, datetime] | None:
        item = self.table.get_item(Key=self._key(token_hash)).get("Item")
        if item is None:
            return None
        return str(item["object_key"]), parse_instant(str(item["expires_at"]))
