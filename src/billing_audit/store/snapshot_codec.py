"""How a sheet's snapshot is laid out in a durable store: a header, and its rows in buckets.

The header (columns, taken_at, hold) is read alone by a callback; the rows are spread over
buckets by row id, each bucket's rows one compressed JSON document, so a read of a few rows
decodes the few buckets holding them, never the whole sheet.  `DynamoStateStore` keeps these
documents in items; the scan benchmark's stand-in for it keeps the same documents in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

from pydantic import TypeAdapter

from billing_audit.domain.snapshot import RowSnapshot, SheetSnapshot

ROWS_PER_BUCKET = 500

_ROWS: TypeAdapter[dict[int, RowSnapshot]] = TypeAdapter(dict[int, RowSnapshot])


def encode_header(snapshot: SheetSnapshot) -> str:
    return snapshot.model_copy(update={"rows": {}}).model_dump_json()


def decode_header(document: str | bytes) -> SheetSnapshot:
    return SheetSnapshot.model_validate_json(document)


def encode_buckets(snapshot: SheetSnapshot) -> list[bytes]:
    """The rows, one compressed document per bucket (bucket `row_id % len(result)`)."""
    buckets = max(1, -(-len(snapshot.rows) // ROWS_PER_BUCKET))
    grouped: list[dict[int, RowSnapshot]] = [{} for _ in range(buckets)]
    for row_id, row in snapshot.rows.items():
        grouped[row_id % buckets][row_id] = row
    return [zlib.compress(_ROWS.dump_json(rows, exclude_defaults=True), level=6) for rows in grouped]


def decode_bucket(blob: bytes) -> dict[int, RowSnapshot]:
    return _ROWS.validate_json(zlib.decompress(blob))


def buckets_of(row_ids: Iterable[int], buckets: int) -> list[int]:
    """The buckets, in order, that hold these rows."""
    return sorted({row_id % buckets for row_id in row_ids})


def with_rows(header: SheetSnapshot, blobs: Iterable[bytes]) -> SheetSnapshot:
    """The header given every bucket's rows: the whole snapshot."""
    for blob in blobs:
        header.rows.update(decode_bucket(blob))
    return header


def rows_from(blobs: Sequence[bytes | None], wanted: set[int]) -> dict[int, RowSnapshot]:
    """Of these buckets' rows (None: a bucket with none), the wanted ones."""
    found: dict[int, RowSnapshot] = {}
    for blob in blobs:
        if blob is not None:
            found.update({row_id: row for row_id, row in decode_bucket(blob).items() if row_id in wanted})
    return found
