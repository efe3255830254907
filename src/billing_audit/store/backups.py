"""Where backups live: the ports, the backup bucket (S3, Object Lock) and a run's progress (the state
table).

Objects are written once each with their SHA-256 (S3 checks it on arrival and keeps it), a `tier`
tag the bucket's lifecycle rules expire by, and an Object Lock retention date: until then no one,
not even the product, can delete or overwrite that version.  A run's progress is one item per day
plus one per sheet done, so an invocation that stops (its time is up, Smartsheet failed) is
resumed by the next without backing up a finished sheet again.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from billing_audit.domain.backup import BACKUP_PREFIX, SheetEntry, Tier

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3.client import S3Client

LockMode = Literal["GOVERNANCE", "COMPLIANCE"]


class BackupRun(BaseModel):
    """A day's backup run as its first invocation began it."""

    model_config = ConfigDict(frozen=True)

    day: date
    started_at: datetime
    tier: Tier
    finished_at: datetime | None = None


class BackupStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str, *, tier: Tier, retain_until: datetime) -> str:
        """Store an object, locked until `retain_until`; returns its SHA-256 hex digest."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes as stored now; None when it is missing."""

    def days(self) -> list[date]:
        """Days that have backup objects, oldest first."""


class BackupProgress(Protocol):
    def begin(self, day: date, now: datetime) -> BackupRun:
        """The day's run: begun now, or as an earlier invocation began it.  The first run of a
        month is its monthly one (decided once, atomically)."""

    def done(self, day: date) -> dict[int, SheetEntry]:
        """The sheets this day's run has backed up, by sheet id."""

    def mark_done(self, day: date, entry: SheetEntry) -> None: ...

    def finish(self, day: date, now: datetime) -> None:
        """The day's manifest is written: later invocations that day have nothing to do."""


class S3BackupStore:
    def __init__(self, client: S3Client, bucket: str, lock_mode: LockMode | None = "GOVERNANCE") -> None:
        """`lock_mode` None writes without a retention date (a bucket without Object Lock)."""
        self.client = client
        self.bucket = bucket
        self.lock_mode = lock_mode

    def put(self, key: str, data: bytes, content_type: str, *, tier: Tier, retain_until: datetime) -> str:
        digest = hashlib.sha256(data).hexdigest()
        lock: dict[str, Any] = (
            {"ObjectLockMode": self.lock_mode, "ObjectLockRetainUntilDate": retain_until} if self.lock_mode else {}
        )
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": digest},
            Tagging=f"tier={tier.value}",
            **lock,
        )
        return digest

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def days(self) -> list[date]:
        found: set[date] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=BACKUP_PREFIX, Delimiter="/"
        ):
            for prefix in page.get("CommonPrefixes", []):
                name = prefix.get("Prefix", "").removeprefix(BACKUP_PREFIX).rstrip("/")
                try:
                    found.add(date.fromisoformat(name))
                except ValueError:
                    continue  # not a day's folder
        return sorted(found)


class DynamoBackupProgress:
    """In the state table: `backup#<day>` holds `run` and one `sheet#<id>` item per sheet done;
    `backup#monthly` holds, per month, the day whose run is that month's monthly."""

    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def _pk(day: date) -> str:
        return f"backup#{day.isoformat()}"

    def begin(self, day: date, now: datetime) -> BackupRun:
        try:
            self.table.put_item(
                Item={"pk": "backup#monthly", "sk": f"{day:%Y-%m}", "day": day.isoformat()},
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        monthly = self.table.get_item(Key={"pk": "backup#monthly", "sk": f"{day:%Y-%m}"}, ConsistentRead=True)
        tier = Tier.MONTHLY if monthly.get("Item", {}).get("day") == day.isoformat() else Tier.DAILY
        run = BackupRun(day=day, started_at=now, tier=tier)
        try:
            self.table.put_item(
                Item={"pk": self._pk(day), "sk": "run", "run": run.model_dump_json()},
                ConditionExpression="attribute_not_exists(sk)",
            )
            return run
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        item = self.table.get_item(Key={"pk": self._pk(day), "sk": "run"}, ConsistentRead=True)["Item"]
        return BackupRun.model_validate_json(str(item["run"]))

    def done(self, day: date) -> dict[int, SheetEntry]:
        entries: dict[int, SheetEntry] = {}
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(self._pk(day)) & Key("sk").begins_with("sheet#"),
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**query)
            for item in page.get("Items", []):
                entry = SheetEntry.model_validate_json(str(item["entry"]))
                entries[entry.sheet_id] = entry
            if "LastEvaluatedKey" not in page:
                return entries
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mark_done(self, day: date, entry: SheetEntry) -> None:
        self.table.put_item(
            Item={"pk": self._pk(day), "sk": f"sheet#{entry.sheet_id}", "entry": entry.model_dump_json()}
        )

    def finish(self, day: date, now: datetime) -> None:
        item = self.table.get_item(Key={"pk": self._pk(day), "sk": "run"}, ConsistentRead=True)["Item"]
        run = BackupRun.model_validate_json(str(item["run"])).model_copy(update={"finished_at": now})
        self.table.put_item(Item={"pk": self._pk(day), "sk": "run", "run": run.model_dump_json()})
