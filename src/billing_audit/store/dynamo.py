"""DynamoDB-backed event and scan-state stores."""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from billing_audit.budget import Cost, Prepaid, Priority, Window
from billing_audit.clock import Clock, system_clock
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot
from billing_audit.domain.values import utc_iso
from billing_audit.resources import (
    ALERT_CLAIM_LEASE_SECONDS,
    EVENTS_BY_DETECTED_DAY_INDEX,
    EVENTS_BY_SHEET_INDEX,
    EVENTS_BY_USER_INDEX,
    ROW_MEMORY_DAYS,
    SNAPSHOT_CHUNK_BYTES,
    STATE_TABLE,
)
from billing_audit.store import snapshot_codec as codec
from billing_audit.store.interfaces import AlertClaims, RunInProgress

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class DynamoEventStore:
    """One item per event, keyed by its stable id; `record` keeps the exact JSON of the event."""

    def __init__(self, table: Table, retention_days: int | None = None, clock: Clock = system_clock) -> None:
        self.clock = clock
        self.table = table
        self.retention_days = retention_days

    def _item(self, event: AuditEvent) -> dict[str, Any]:
        record = event.to_record()
        item: dict[str, Any] = {
            "event_id": event.event_id,
            "record": json.dumps(record, sort_keys=True),
            **index_attributes(record),
        }
        if self.retention_days:
            item["expires_at"] = int(event.changed_at.timestamp()) + self.retention_days * 86_400
        return item

    def add(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        new: list[AuditEvent] = []
        for event in events:
            try:
                self.table.put_item(Item=self._item(event), ConditionExpression="attribute_not_exists(event_id)")
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            new.append(event)
        return new

    def claim_alerts(self, event_ids: Sequence[str]) -> AlertClaims:
        claims = AlertClaims()
        now = int(self.clock().timestamp())
        for event_id in dict.fromkeys(event_ids):
            try:
                self.table.update_item(
                    Key={"event_id": event_id},
                    UpdateExpression="SET alert_claimed_until = :until",
                    ConditionExpression=(
                        "attribute_exists(event_id) AND attribute_not_exists(alerted_at)"
                        " AND (attribute_not_exists(alert_claimed_until) OR alert_claimed_until < :now)"
                    ),
                    ExpressionAttributeValues={":until": now + ALERT_CLAIM_LEASE_SECONDS, ":now": now},
                    # The item as it stood tells a settled alert from a live claim, in the same call.
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                if "alerted_at" in exc.response.get("Item", {}):  # type: ignore[operator]
                    claims.settled.append(event_id)
                continue
            claims.claimed.append(event_id)
        return claims

    def mark_alerted(self, event_ids: Sequence[str]) -> None:
        now = self.clock().isoformat()
        for event_id in dict.fromkeys(event_ids):
            self._update_stored(event_id, "SET alerted_at = :now REMOVE alert_claimed_until", {":now": now})

    def release_alerts(self, event_ids: Sequence[str]) -> None:
        for event_id in dict.fromkeys(event_ids):
            self._update_stored(event_id, "REMOVE alert_claimed_until", None)

    def _update_stored(self, event_id: str, expression: str, values: dict[str, Any] | None) -> None:
        """An update of a stored event only: UpdateItem would otherwise create a key-only item."""
        kwargs: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        try:
            self.table.update_item(
                Key={"event_id": event_id},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(event_id)",
                **kwargs,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def changes_by(self, person: str, start: datetime, end: datetime) -> list[AuditEvent]:
        condition = Key("changed_by").eq(person.lower()) & Key("changed_at").between(utc_iso(start), utc_iso(end))
        kwargs: dict[str, Any] = {
            "IndexName": EVENTS_BY_USER_INDEX,
            "KeyConditionExpression": condition,
            "ProjectionExpression": "#r",
            "ExpressionAttributeNames": {"#r": "record"},
        }
        events: list[AuditEvent] = []
        while True:
            page = self.table.query(**kwargs)
            events.extend(AuditEvent.model_validate_json(str(item["record"])) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return events
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def all_events(self) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        kwargs: dict[str, Any] = {"ProjectionExpression": "#r", "ExpressionAttributeNames": {"#r": "record"}}
        while True:
            page = self.table.scan(**kwargs)
            events.extend(AuditEvent.model_validate_json(str(item["record"])) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return events
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def window(
        self,
        start: datetime,
        end: datetime,
        *,
        by: Literal["detected", "changed"] = "detected",
        sheet_ids: Sequence[int] | None = None,
    ) -> Iterator[AuditEvent]:
        # Times are stored to the second as `Z` strings, so string order is time order; BETWEEN is
        # inclusive at both ends, so the end itself is dropped here to keep the window half-open.
        low, high = utc_iso(start), utc_iso(end)
        if by == "changed":
            if not sheet_ids:
                raise ValueError("a window by change time is read per sheet: name the sheets")
            for sheet_id in dict.fromkeys(sheet_ids):
                condition = Key("sheet_key").eq(str(sheet_id)) & Key("changed_at").between(low, high)
                yield from self._index_pages(EVENTS_BY_SHEET_INDEX, condition, "changed_at", high, None)
            return
        sheets = [str(sheet_id) for sheet_id in dict.fromkeys(sheet_ids)] if sheet_ids else None
        day = start.astimezone(UTC).date()
        while day <= end.astimezone(UTC).date():
            condition = Key("detected_day").eq(day.isoformat()) & Key("detected_at").between(low, high)
            yield from self._index_pages(EVENTS_BY_DETECTED_DAY_INDEX, condition, "detected_at", high, sheets)
            day += timedelta(days=1)

    def _index_pages(
        self, index: str, condition: Any, sort_key: str, end: str, sheets: list[str] | None
    ) -> Iterator[AuditEvent]:
        kwargs: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ProjectionExpression": "#r, #s",
            "ExpressionAttributeNames": {"#r": "record", "#s": sort_key},
        }
        if sheets is not None:
            kwargs["FilterExpression"] = Attr("sheet_key").is_in(sheets)
        while True:
            page = self.table.query(**kwargs)
            for item in page["Items"]:
                if str(item[sort_key]) < end:
                    yield AuditEvent.model_validate_json(str(item["record"]))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def detected_day(moment: datetime) -> str:
    """The by-detected-day index's partition: the UTC date of the detection."""
    return moment.astimezone(UTC).date().isoformat()


# The attributes an event's item carries beside its record, for the indexes and queries to read.
INDEX_ATTRIBUTES = ("sheet_key", "changed_at", "detected_day", "detected_at", "type", "changed_by", "risk_level",
                    "work_request")  # fmt: skip


def index_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    """INDEX_ATTRIBUTES as the stored record gives them.  The trail seals the record alone, so its
    verification holds an item's attributes to this (pipeline/trail.py): an index that says
    otherwise would hide an event from, or misplace it in, every query and report."""
    attributes: dict[str, Any] = {
        "sheet_key": str(record["sheet_id"]),
        "changed_at": record["changed_at"],
        "detected_day": detected_day(datetime.fromisoformat(str(record["detected_at"]).replace("Z", "+00:00"))),
        "detected_at": record["detected_at"],
        "type": record["type"],
    }
    # GSI keys must be absent rather than null: the indexes are sparse on purpose.
    if record.get("changed_by"):
        attributes["changed_by"] = str(record["changed_by"]).lower()
    if record.get("risk_level") is not None:
        attributes["risk_level"] = record["risk_level"]
    if record.get("work_request"):
        attributes["work_request"] = record["work_request"]
    return attributes


class DynamoStateStore:
    """A head item per sheet points at the current generation of its snapshot.

    The head holds the snapshot's header (columns, taken_at, hold); its rows are spread over
    buckets by row id, each bucket compressed into one or more chunk items, so a callback that
    touches a few rows reads the few buckets holding them, never the whole sheet.  Chunks of a new
    generation are written first and the head switched last, so a crash at any point leaves a
    complete snapshot (the old or the new) for the next scan to resume from.
    """

    def __init__(self, table: Table, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock

    @staticmethod
    def _pk(sheet_id: int) -> str:
        return f"sheet#{sheet_id}"

    def _head(self, sheet_id: int) -> dict[str, Any] | None:
        key = {"pk": self._pk(sheet_id), "sk": "head"}
        return self.table.get_item(Key=key, ConsistentRead=True).get("Item")

    def load_header(self, sheet_id: int) -> SheetSnapshot | None:
        head = self._head(sheet_id)
        return None if head is None else codec.decode_header(str(head["header"]))

    def load(self, sheet_id: int) -> SheetSnapshot | None:
        pk = self._pk(sheet_id)
        for _attempt in range(3):
            head = self._head(sheet_id)
            if head is None:
                return None
            items = _query(self.table, pk, f"chunk#{head['generation']}#")
            if len(items) == int(str(head["chunks"])):
                return codec.with_rows(codec.decode_header(str(head["header"])), _buckets(items).values())
            # A concurrent save switched generations between the two reads: read the new head.
        raise RuntimeError(f"scan state of sheet {sheet_id} keeps changing under this read")

    def load_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
        wanted = set(row_ids)
        pk = self._pk(sheet_id)
        for _attempt in range(3):
            head = self._head(sheet_id)
            if head is None or not wanted:
                return {}
            generation, buckets = str(head["generation"]), int(str(head["buckets"]))
            needed = codec.buckets_of(wanted, buckets)
            blobs: dict[str, bytes] | None
            if len(needed) <= _BUCKET_QUERIES:
                parts = {
                    f"{bucket:05d}": _query(self.table, pk, f"chunk#{generation}#{bucket:05d}#") for bucket in needed
                }
                # A bucket gone means the generation was replaced meanwhile: read the new head.
                complete = all(parts.values())
                blobs = {key: b"".join(bytes(i["data"].value) for i in items) for key, items in parts.items()}
                blobs = blobs if complete else None
            else:
                # Rows all over the sheet (a scan's backlog): one paged read of the generation, not
                # a query per bucket; only the wanted rows are kept, a bucket at a time.
                items = _query(self.table, pk, f"chunk#{generation}#")
                blobs = _buckets(items) if len(items) == int(str(head["chunks"])) else None
            if blobs is not None:
                return codec.rows_from([blobs.get(f"{bucket:05d}") for bucket in needed], wanted)
        raise RuntimeError(f"scan state of sheet {sheet_id} keeps changing under this read")

    def save(self, snapshot: SheetSnapshot) -> None:
        """Chunks first, then the head, switched only if no other scan switched it meanwhile."""
        pk = self._pk(snapshot.sheet_id)
        old = self._head(snapshot.sheet_id)
        generation = uuid.uuid4().hex
        blobs = codec.encode_buckets(snapshot)
        chunks = 0
        with self.table.batch_writer() as batch:
            for bucket, blob in enumerate(blobs):
                for part, start in enumerate(range(0, max(len(blob), 1), SNAPSHOT_CHUNK_BYTES)):
                    sk = f"chunk#{generation}#{bucket:05d}#{part:03d}"
                    batch.put_item(Item={"pk": pk, "sk": sk, "data": blob[start : start + SNAPSHOT_CHUNK_BYTES]})
                    chunks += 1
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(sk)"}
            if old is None
            else {
                "ConditionExpression": "#g = :previous",
                "ExpressionAttributeNames": {"#g": "generation"},
                "ExpressionAttributeValues": {":previous": old["generation"]},
            }
        )
        head: dict[str, Any] = {
            "pk": pk,
            "sk": "head",
            "generation": generation,
            "chunks": chunks,
            "buckets": len(blobs),
            "header": codec.encode_header(snapshot),
            "version": snapshot.version,
            "taken_at": snapshot.taken_at.isoformat(),
            "rows": len(snapshot.rows),
        }
        try:
            self.table.put_item(Item=head, **condition)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Another scan of this sheet finished first; its snapshot stands and ours is dropped.
            # Our events are stored already (idempotently), so the next scan loses nothing.
            _delete_generation(self.table, pk, generation)
            return
        if old is not None:
            _delete_generation(self.table, pk, str(old["generation"]))

    def mark_webhook_live(self, sheet_id: int, since: datetime) -> None:
        self.table.put_item(Item={"pk": self._pk(sheet_id), "sk": "webhook-live", "since": since.isoformat()})

    def webhook_live_since(self, sheet_id: int) -> datetime | None:
        key = {"pk": self._pk(sheet_id), "sk": "webhook-live"}
        item = self.table.get_item(Key=key, ConsistentRead=True).get("Item")
        return None if item is None else datetime.fromisoformat(str(item["since"]))

    def remember_rows(self, sheet_id: int, rows: dict[int, RowSnapshot]) -> None:
        purge_at = int(self.clock().timestamp()) + ROW_MEMORY_DAYS * 86_400
        ttl = str(STATE_TABLE.ttl_attribute)
        with self.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for row_id, row in rows.items():
                item = {"pk": self._pk(sheet_id), "sk": f"row#{row_id}", "row": row.model_dump_json(), ttl: purge_at}
                batch.put_item(Item=item)

    def recall_rows(self, sheet_id: int, row_ids: Sequence[int]) -> dict[int, RowSnapshot]:
        found: dict[int, RowSnapshot] = {}
        # The table resource's client converts Python values to and from DynamoDB's typed form.
        client = self.table.meta.client
        keys = [{"pk": self._pk(sheet_id), "sk": f"row#{row_id}"} for row_id in dict.fromkeys(row_ids)]
        for start in range(0, len(keys), 100):  # BatchGetItem's limit
            request: Any = {self.table.name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                answer = client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.table.name, []):
                    found[int(str(item["sk"]).removeprefix("row#"))] = RowSnapshot.model_validate_json(str(item["row"]))
                request = answer.get("UnprocessedKeys")
        return found


def _query(table: Table, pk: str, prefix: str) -> list[dict[str, Any]]:
    """Every item of a partition whose sort key starts with `prefix`, in sort-key order."""
    items: list[dict[str, Any]] = []
    condition = Key("pk").eq(pk) & Key("sk").begins_with(prefix) if prefix else Key("pk").eq(pk)
    kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": True}
    while True:
        page = table.query(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# Past this many buckets, rows are read with one paged query of the whole generation.
_BUCKET_QUERIES = 4


def _buckets(items: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    """Chunk items (sort keys chunk#<generation>#<bucket>#<part>, in order) joined per bucket."""
    joined: dict[str, bytes] = {}
    for item in items:
        bucket = str(item["sk"]).split("#")[2]
        joined[bucket] = joined.get(bucket, b"") + bytes(item["data"].value)
    return joined


def _delete_generation(table: Table, pk: str, generation: str) -> None:
    with table.batch_writer() as batch:
        for item in _query(table, pk, f"chunk#{generation}#"):
            batch.delete_item(Key={"pk": pk, "sk": item["sk"]})


def _write_chunks(table: Table, pk: str, prefix: str, data: bytes) -> int:
    """`data` compressed and cut into items under DynamoDB's size limit (sort keys `prefix` + index)."""
    blob = zlib.compress(data, level=6)
    chunks = [blob[i : i + SNAPSHOT_CHUNK_BYTES] for i in range(0, len(blob), SNAPSHOT_CHUNK_BYTES)] or [b""]
    with table.batch_writer() as batch:
        for index, chunk in enumerate(chunks):
            batch.put_item(Item={"pk": pk, "sk": f"{prefix}{index:05d}", "data": chunk})
    return len(chunks)


def _delete_chunks(table: Table, pk: str, prefix: str, count: int) -> None:
    with table.batch_writer() as batch:
        for index in range(count):
            batch.delete_item(Key={"pk": pk, "sk": f"{prefix}{index:05d}"})


class DynamoRunStore:
    """Scan runs in the state table.  Each open run is one item in the `runs` partition (so one query
    lists them, and opening or closing a run is a single conditional write); its plan is in
    compressed chunks and its progress one small item per row done, in the sheet's own partition,
    keyed by run id, so leftovers of a run that crashed while closing can never be mistaken for
    another run's."""

    INDEX_PK = "runs"

    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def _pk(sheet_id: int) -> str:
        return f"run#{sheet_id}"

    def _head_key(self, sheet_id: int) -> dict[str, str]:
        return {"pk": self.INDEX_PK, "sk": f"sheet#{sheet_id}"}

    def begin(self, sheet_id: int, run_id: str, plan: bytes) -> None:
        pk = self._pk(sheet_id)
        chunks = _write_chunks(self.table, pk, f"plan#{run_id}#", plan)
        try:
            self.table.put_item(
                Item={**self._head_key(sheet_id), "sheet_id": sheet_id, "run_id": run_id, "chunks": chunks},
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            _delete_chunks(self.table, pk, f"plan#{run_id}#", chunks)
            raise RunInProgress(f"sheet {sheet_id} has an open run") from None

    def current(self, sheet_id: int) -> tuple[str, bytes] | None:
        head = self.table.get_item(Key=self._head_key(sheet_id), ConsistentRead=True).get("Item")
        if head is None:
            return None
        run_id = str(head["run_id"])
        parts = [bytes(item["data"].value) for item in _query(self.table, self._pk(sheet_id), f"plan#{run_id}#")]
        return run_id, zlib.decompress(b"".join(parts))

    def mark_done(self, sheet_id: int, run_id: str, row_id: int) -> None:
        self.table.put_item(Item={"pk": self._pk(sheet_id), "sk": f"done#{run_id}#{row_id}"})

    def done(self, sheet_id: int, run_id: str) -> set[int]:
        prefix = f"done#{run_id}#"
        return {int(str(item["sk"]).removeprefix(prefix)) for item in _query(self.table, self._pk(sheet_id), prefix)}

    def end(self, sheet_id: int, run_id: str) -> None:
        try:
            # Closing is one conditional delete: after it the run is over, whatever happens next.
            self.table.delete_item(
                Key=self._head_key(sheet_id),
                ConditionExpression="run_id = :run",
                ExpressionAttributeValues={":run": run_id},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return
        pk = self._pk(sheet_id)
        leftovers = _query(self.table, pk, f"done#{run_id}#") + _query(self.table, pk, f"plan#{run_id}#")
        with self.table.batch_writer() as batch:
            for item in leftovers:
                batch.delete_item(Key={"pk": pk, "sk": item["sk"]})

    def open_sheets(self) -> list[int]:
        heads = _query(self.table, self.INDEX_PK, "sheet#")
        return [int(str(item["sheet_id"])) for item in sorted(heads, key=lambda item: str(item["run_id"]))]


class DynamoRequestBudget:
    """The Smartsheet token's window in the state table: one item every user of the token updates
    with a conditional write (a lost race reads again), so the scan and each callback batch draw on
    one allowance wherever they run.

    The window this instance last wrote is kept: while nobody else takes from the budget (a scan
    draining alone, its commonest case) the next take writes on it directly, conditioned on the
    item still holding it, one request instead of a read and a write.  Anyone else's take between
    makes that condition fail, and the take reads the item as it is and tries again."""

    KEY: ClassVar[dict[str, str]] = {"pk": "budget#smartsheet", "sk": "window"}
    ATTEMPTS = 8

    def __init__(self, table: Table, clock: Clock = system_clock) -> None:
        self.table = table
        self.clock = clock
        self._written: str | None = None  # the window's JSON as this instance last wrote it
        self._prepaid = Prepaid()  # a scan's history reads, a row's worth at a time (budget.py)

    def take(self, cost: Cost, priority: Priority) -> float:
        now = self.clock().timestamp()
        if self._prepaid.spend(cost, priority, now):
            return 0.0
        asked = Prepaid.to_ask(cost, priority)
        wait = self._take(asked, priority, now)
        if not wait:
            self._prepaid.granted(cost, asked, now)
        return wait

    def _take(self, cost: Cost, priority: Priority, now: float) -> float:
        seen = self._written
        for _attempt in range(self.ATTEMPTS):
            if seen is None:
                item = self.table.get_item(Key=self.KEY, ConsistentRead=True).get("Item")
                seen = str(item["window"]) if item is not None else ""
            window = Window.model_validate_json(seen) if seen else Window()
            after, wait = window.take(cost, priority, now)
            written = after.model_dump_json()
            condition = (
                {"ConditionExpression": "attribute_not_exists(pk)"}
                if not seen
                else {
                    "ConditionExpression": "#w = :seen",
                    "ExpressionAttributeNames": {"#w": "window"},
                    "ExpressionAttributeValues": {":seen": seen},
                }
            )
            try:
                # Written when refused too: a waiting callback's claim on the reserve must show.
                self.table.put_item(Item={**self.KEY, "window": written}, **condition)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                seen = self._written = None  # someone else took since: read the item as it is
                continue
            self._written = written
            return wait
        # Many writers at once: ask again shortly rather than spin on the table.
        return 0.25
