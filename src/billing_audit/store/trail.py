"""The trail's log: one append-only log of every stored event, in the state table.

Layout (partition `trail`): `entry#<position, 12 digits>` per leaf (position, event id, leaf hash,
the previous leaf's hash and event id, the event's detection day and expiry) and `head` (size, last
leaf, the Merkle frontier: domain.trail.Frontier).  A marker `trail-event#<event id>` says an event
is logged and where, so no event is logged twice.  An append moves the head from the size it was
read at by one conditional write that carries the batch's entries, which are then written with
their markers; a writer that lost the race reads the head again, and any writer first finishes the
batch the head carries, so a writer that died halfway leaves no hole.  (Not a DynamoDB transaction:
moto's, which the local cloud and tests run on, are not safe under concurrent writers.)  The
entries never expire: they keep an expired event's leaf hash.  Entries are one partition: appends
are serialised on the head anyway, and reading the log in order is one query.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from billing_audit.domain.trail import Frontier, leaf_hash, leaf_line
from billing_audit.resources import EVENTS_BY_DETECTED_DAY_INDEX, TRAIL_PARTITION
from billing_audit.store.dynamo import INDEX_ATTRIBUTES, index_attributes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Record = Mapping[str, Any]
# At most 100 items per transaction: the head, and an entry and a marker per event.
APPEND_BATCH = 40


@dataclass(frozen=True)
class TrailEntry:
    position: int
    event_id: str
    leaf_hash: bytes
    prev: bytes | None
    prev_event_id: str | None
    detected_day: str | None = None
    expires_at: int | None = None  # epoch seconds: the event's TTL, after which its record may be gone

    def line_for(self, record: Record) -> bytes:
        return leaf_line(record, self.position, self.prev, self.prev_event_id)


@dataclass(frozen=True)
class TrailHead:
    size: int
    last_leaf: bytes | None
    last_event_id: str | None
    frontier: Frontier


@dataclass(frozen=True)
class StoredEvent:
    record: Record
    # The item's attributes beside the record that say otherwise than it (store/dynamo.py
    # index_attributes): names only, never values.
    disagreeing: tuple[str, ...] = ()
    expires_at: int | None = None  # when the table's TTL deletes it


class TrailContention(RuntimeError):
    """The head kept moving under every attempt to append: too many writers at once."""


class TrailLog(Protocol):
    def append(self, records: Sequence[tuple[str, Record]]) -> list[TrailEntry]:
        """Log these stored events (event id, the record exactly as stored) that are not logged yet;
        returns the entries written."""

    def unlogged(self, event_ids: Sequence[str]) -> list[str]:
        """Those of these events that have no entry."""

    def head(self) -> TrailHead: ...

    def entries(self) -> Iterator[TrailEntry]:
        """Every entry, in position order."""

    def entry_of(self, event_id: str) -> TrailEntry | None: ...

    def stored_records(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records of these events as the events table holds them now (absent ids are missing)."""

    def stored_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        """The same, each with what of its item does not agree with its record (absent ids are missing)."""

    def stored_ids(self, day: str) -> Iterator[str]:
        """Ids of the events the table holds that were detected on this UTC day (through its index)."""


def _expiry(record: Record, retention_days: int | None) -> int | None:
    if not retention_days:
        return None
    changed = datetime.fromisoformat(str(record["changed_at"]).replace("Z", "+00:00"))
    return int(changed.timestamp()) + retention_days * 86_400


def _plan(
    head: TrailHead, records: Sequence[tuple[str, Record]], retention_days: int | None
) -> tuple[list[TrailEntry], TrailHead]:
    frontier = Frontier(head.frontier.size, list(head.frontier.peaks))
    prev, prev_id = head.last_leaf, head.last_event_id
    entries: list[TrailEntry] = []
    for event_id, record in records:
        position = frontier.size
        leaf = leaf_hash(leaf_line(record, position, prev, prev_id))
        frontier.append(leaf)
        detected = str(record.get("detected_at") or "")[:10] or None
        entries.append(TrailEntry(position, event_id, leaf, prev, prev_id, detected, _expiry(record, retention_days)))
        prev, prev_id = leaf, event_id
    return entries, TrailHead(frontier.size, prev, prev_id, frontier)


class DynamoTrail:
    PK = TRAIL_PARTITION
    HEAD_KEY: Mapping[str, str] = {"pk": TRAIL_PARTITION, "sk": "head"}
    ATTEMPTS = 60

    def __init__(
        self,
        state: Table,
        events: Table,
        retention_days: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = state
        self.events = events
        self.retention_days = retention_days
        self.sleep = sleep

    @staticmethod
    def _marker(event_id: str) -> dict[str, str]:
        return {"pk": f"trail-event#{event_id}", "sk": "logged"}

    @staticmethod
    def _entry_sk(position: int) -> str:
        return f"entry#{position:012d}"

    def head(self) -> TrailHead:
        item = self.state.get_item(Key=dict(self.HEAD_KEY), ConsistentRead=True).get("Item")
        return _head_from(item)

    def unlogged(self, event_ids: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(event_ids))
        logged: set[str] = set()
        client = self.state.meta.client
        for start in range(0, len(wanted), 100):
            keys = [self._marker(event_id) for event_id in wanted[start : start + 100]]
            request: Any = {self.state.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.state.name, []):
                    logged.add(str(item["pk"]).removeprefix("trail-event#"))
                request = answer.get("UnprocessedKeys")
        return [event_id for event_id in wanted if event_id not in logged]

    def append(self, records: Sequence[tuple[str, Record]]) -> list[TrailEntry]:
        unique = list({event_id: (event_id, record) for event_id, record in records}.values())
        written: list[TrailEntry] = []
        for start in range(0, len(unique), APPEND_BATCH):
            written.extend(self._append_batch(unique[start : start + APPEND_BATCH]))
        return written

    def _append_batch(self, batch: list[tuple[str, Record]]) -> list[TrailEntry]:
        """Move the head by one conditional write that also carries the batch's entries; then
        write the entries and their markers.  Every writer first finishes the batch the head
        carries (idempotent puts) and only then decides what is unlogged, so a writer that died
        after moving the head leaves no hole, and no event is logged twice."""
        for attempt in range(self.ATTEMPTS):
            item = self.state.get_item(Key=dict(self.HEAD_KEY), ConsistentRead=True).get("Item")
            self._finish(item)
            still = set(self.unlogged([event_id for event_id, _ in batch]))
            batch = [pair for pair in batch if pair[0] in still]
            if not batch:
                return []
            head = _head_from(item)
            entries, after = _plan(head, batch, self.retention_days)
            condition: dict[str, Any] = (
                {"ConditionExpression": "attribute_not_exists(sk)"}
                if item is None
                else {
                    "ConditionExpression": "#s = :seen",
                    "ExpressionAttributeNames": {"#s": "size"},
                    "ExpressionAttributeValues": {":seen": head.size},
                }
            )
            new_head = {
                **self.HEAD_KEY,
                "size": after.size,
                "last_leaf": after.last_leaf.hex() if after.last_leaf else None,
                "last_event_id": after.last_event_id,
                "frontier": after.frontier.to_hex(),
                "pending": [self._entry_item(entry) for entry in entries],
            }
            try:
                self.state.put_item(Item=new_head, **condition)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                # Another writer moved the head first: read it again, after a short random wait.
                self.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** min(attempt, 6))))
                continue
            self._finish(new_head)
            return entries
        raise TrailContention(f"the trail's head moved under {self.ATTEMPTS} attempts to append")

    def _finish(self, head: Mapping[str, Any] | None) -> None:
        """Write the entries (and markers) of the batch the head carries; harmless when done already."""
        pending = list(head.get("pending", [])) if head else []
        if not pending:
            return
        with self.state.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as writer:
            for entry in pending:
                writer.put_item(Item=dict(entry))
                writer.put_item(Item={**self._marker(str(entry["event_id"])), "position": entry["position"]})

    def _entry_item(self, entry: TrailEntry) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": self.PK,
            "sk": self._entry_sk(entry.position),
            "position": entry.position,
            "event_id": entry.event_id,
            "leaf_hash": entry.leaf_hash.hex(),
        }
        if entry.prev is not None:
            item["prev"] = entry.prev.hex()
        if entry.prev_event_id is not None:
            item["prev_event_id"] = entry.prev_event_id
        if entry.detected_day:
            item["detected_day"] = entry.detected_day
        if entry.expires_at is not None:
            item["expires_at"] = entry.expires_at
        return item

    def entries(self) -> Iterator[TrailEntry]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(self.PK) & Key("sk").begins_with("entry#"),
            "ConsistentRead": True,
        }
        while True:
            page = self.state.query(**kwargs)
            for item in page["Items"]:
                yield _entry_from(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def entry_of(self, event_id: str) -> TrailEntry | None:
        marker = self.state.get_item(Key=self._marker(event_id), ConsistentRead=True).get("Item")
        if marker is None:
            return None
        key = {"pk": self.PK, "sk": self._entry_sk(int(str(marker["position"])))}
        item = self.state.get_item(Key=key, ConsistentRead=True).get("Item")
        return None if item is None else _entry_from(item)

    def stored_records(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {event_id: dict(stored.record) for event_id, stored in self._read(event_ids, []).items()}

    def stored_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        return self._read(event_ids, [*INDEX_ATTRIBUTES, "expires_at"])

    def _read(self, event_ids: Sequence[str], attributes: list[str]) -> dict[str, StoredEvent]:
        found: dict[str, StoredEvent] = {}
        client = self.events.meta.client
        wanted = list(dict.fromkeys(event_ids))
        names = {f"#a{index}": name for index, name in enumerate(["event_id", "record", *attributes])}
        for start in range(0, len(wanted), 100):
            keys = [{"event_id": event_id} for event_id in wanted[start : start + 100]]
            request: Any = {
                self.events.name: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": ", ".join(names),
                    "ExpressionAttributeNames": names,
                }
            }
            while request:
                answer = client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.events.name, []):
                    record = json.loads(str(item["record"]))
                    disagreeing: tuple[str, ...] = ()
                    if attributes:
                        try:
                            expected = index_attributes(record)
                        except (KeyError, TypeError, ValueError):  # not an event's record: its hash says so
                            expected = {}
                        disagreeing = tuple(name for name in INDEX_ATTRIBUTES if item.get(name) != expected.get(name))
                    expiry = item.get("expires_at")
                    found[str(item["event_id"])] = StoredEvent(
                        record, disagreeing, int(str(expiry)) if expiry is not None else None
                    )
                request = answer.get("UnprocessedKeys")
        return found

    def stored_ids(self, day: str) -> Iterator[str]:
        kwargs: dict[str, Any] = {
            "IndexName": EVENTS_BY_DETECTED_DAY_INDEX,
            "KeyConditionExpression": Key("detected_day").eq(day),
            "ProjectionExpression": "event_id",
        }
        while True:
            page = self.events.query(**kwargs)
            for item in page["Items"]:
                yield str(item["event_id"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _head_from(item: Mapping[str, Any] | None) -> TrailHead:
    if item is None:
        return TrailHead(0, None, None, Frontier())
    size = int(str(item["size"]))
    last = item.get("last_leaf")
    return TrailHead(
        size,
        bytes.fromhex(str(last)) if last else None,
        str(item["last_event_id"]) if item.get("last_event_id") else None,
        Frontier.from_hex(size, [str(peak) for peak in item.get("frontier", [])]),
    )


def _entry_from(item: Mapping[str, Any]) -> TrailEntry:
    prev = item.get("prev")
    return TrailEntry(
        position=int(str(item["position"])),
        event_id=str(item["event_id"]),
        leaf_hash=bytes.fromhex(str(item["leaf_hash"])),
        prev=bytes.fromhex(str(prev)) if prev else None,
        prev_event_id=str(item["prev_event_id"]) if item.get("prev_event_id") else None,
        detected_day=str(item["detected_day"]) if item.get("detected_day") else None,
        expires_at=int(str(item["expires_at"])) if item.get("expires_at") is not None else None,
    )


class MemoryTrail:
    """The log in this process (unit tests, dry runs), over a dict of stored records."""

    def __init__(self, records: Callable[[], Mapping[str, Record]], retention_days: int | None = None) -> None:
        self._records = records
        self.retention_days = retention_days
        self.log: list[TrailEntry] = []
        self._head = TrailHead(0, None, None, Frontier())
        self._lock = threading.Lock()

    def append(self, records: Sequence[tuple[str, Record]]) -> list[TrailEntry]:
        with self._lock:
            logged = {entry.event_id for entry in self.log}
            fresh = list({i: (i, r) for i, r in records if i not in logged}.values())
            entries, self._head = _plan(self._head, fresh, self.retention_days)
            self.log.extend(entries)
            return entries

    def unlogged(self, event_ids: Sequence[str]) -> list[str]:
        logged = {entry.event_id for entry in self.log}
        return [event_id for event_id in dict.fromkeys(event_ids) if event_id not in logged]

    def head(self) -> TrailHead:
        return self._head

    def entries(self) -> Iterator[TrailEntry]:
        yield from list(self.log)

    def entry_of(self, event_id: str) -> TrailEntry | None:
        return next((entry for entry in self.log if entry.event_id == event_id), None)

    def stored_records(self, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        held = self._records()
        return {event_id: dict(held[event_id]) for event_id in event_ids if event_id in held}

    def stored_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        # Records held as they are: no attribute beside them to disagree; they expire as logged.
        return {
            event_id: StoredEvent(record, expires_at=_expiry(record, self.retention_days))
            for event_id, record in self.stored_records(event_ids).items()
        }

    def stored_ids(self, day: str) -> Iterator[str]:
        for event_id, record in self._records().items():
            if str(record.get("detected_at", ""))[:10] == day:
                yield event_id
