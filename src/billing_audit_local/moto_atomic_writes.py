"""moto's DynamoDB writes, made atomic per call as DynamoDB's are.

moto's server answers requests on many threads, and its backend checks a write's condition and
then applies it with nothing in between held: two threads can both pass `attribute_not_exists`
on the same item and both write.  DynamoDB never lets that happen, and the product's exactly-once
claims (an event stored once, an alert claimed once, a scan run opened once) rest on it.  Racing
the product against moto would then fail for moto's sake, now and then, on a busy machine.

`serialize_writes()` holds one lock around each item write (put, update, delete, a transaction);
a batch write is many puts, each atomic on its own, as in DynamoDB.  Reads are left concurrent.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_WRITE_LOCK = threading.RLock()
_PATCH_LOCK = threading.Lock()
_patched = False


def _atomic(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def atomic_write(*args: Any, **kwargs: Any) -> Any:
        with _WRITE_LOCK:
            return write(*args, **kwargs)

    return atomic_write


def serialize_writes() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent); moto's server threads share it."""
    global _patched
    with _PATCH_LOCK:
        if _patched:
            return
        for name in _WRITES:
            setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))
        _patched = True
