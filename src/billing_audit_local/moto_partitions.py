"""moto's DynamoDB query, made to read one partition as DynamoDB does.

moto 5 answers every query on a table's own key by sorting *all* the table's items and keeping
those of the asked partition: each query costs O(items in the table), where DynamoDB's costs what
it returns.  The product keeps many small partitions in one table (the state table's snapshots,
row memory, run plans and markers, budget and trail records), so a long local run slowed with the
square of its size, an artefact of the stand-in that production does not have.

`read_one_partition()` makes a table-key query see only its partition's items; what the query
does with them (key conditions, order, paging, limits, filters, projections) is moto's own, so
the answers are the same (tests/integration/test_moto_partitions.py compares them with moto's).
Index queries and scans are left as they are.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from moto.dynamodb.models.table import Table

_PARTITION: ContextVar[Any] = ContextVar("moto_query_partition", default=None)
_LOCK = threading.Lock()
_original: tuple[Callable[..., Any], Callable[..., Any]] | None = None


def read_one_partition() -> None:
    """Patch moto's Table in this process (idempotent); moto's server threads share it."""
    global _original
    with _LOCK:
        if _original is not None:
            return
        query, all_items = Table.query, Table.all_items
        signature = inspect.signature(query)

        def partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
            # moto's backend passes index_name by position; bind to find it wherever it is.
            index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
            if index_name or hash_key is None:
                return query(self, hash_key, *args, **kwargs)
            token = _PARTITION.set(hash_key)
            try:
                return query(self, hash_key, *args, **kwargs)
            finally:
                _PARTITION.reset(token)

        def partition_items(self: Table) -> Any:
            hash_key = _PARTITION.get()
            if hash_key is None:
                return all_items(self)
            # Only this partition; moto's query filters and orders them exactly as before.
            found = self.items.get(hash_key)
            if found is None:
                return []
            return list(found.values()) if self.range_key_attr else [found]

        _original = (query, all_items)
        Table.query = partition_query  # type: ignore[method-assign]
        Table.all_items = partition_items  # type: ignore[method-assign]


def restore() -> None:
    """moto's own query again (for the test that compares the two)."""
    global _original
    with _LOCK:
        if _original is None:
            return
        Table.query, Table.all_items = _original  # type: ignore[method-assign]
        _original = None
