"""Building many objects at once: without the cyclic garbage collector walking them as they come,
and without pydantic resolving each model's fields again for every instance.

A sheet's read, snapshot and save allocate hundreds of thousands of small objects (decoded JSON,
rows, their values) that hold no reference cycles: reference counting frees them.  Yet every few
hundred allocations the collector runs, and each full collection walks every live object, the
growing sheet included; on a 20,000-row sheet that was a third of the scan's own time.  Pausing
the collector for one such step costs nothing it would have freed; it resumes after the step.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off for the block (left off if it already was), then as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def prevalidated(model: type[M]) -> Callable[..., M]:
    """A constructor of `model` instances from fields already validated, for building many at once.

    It makes what `model.model_construct(**fields)` makes (the same `__dict__`, defaults filled
    in, the same fields set; tests/unit/test_bulk.py holds them equal) at a third of the cost:
    pydantic's `model_construct` resolves every field's aliases and defaults again for each
    instance, which was a quarter of a baseline scan's own time for the rows and snapshots of a
    20,000-row sheet.  Only for models without aliases, extra fields, private attributes or
    `model_post_init`; anything else gets pydantic's own `model_construct`.
    """
    fields = model.model_fields
    plain = (
        model.model_config.get("extra") in (None, "ignore")
        and not model.__private_attributes__
        and not model.__pydantic_post_init__
        and not model.__pydantic_root_model__
        and all(f.alias is None and f.validation_alias is None for f in fields.values())
    )
    if not plain:
        return model.model_construct
    # Every field in order, holding its default (a factory's is made per instance; a required
    # field's is a placeholder, removed when it is not given, as model_construct leaves it out).
    template = {
        name: None if f.is_required() or f.default_factory is not None else f.default for name, f in fields.items()
    }
    factories = [(name, f.default_factory) for name, f in fields.items() if f.default_factory is not None]
    required = [name for name, f in fields.items() if f.is_required()]
    count = len(fields)
    new, setattr_ = model.__new__, object.__setattr__

    def build(**values: Any) -> M:
        instance = new(model)
        given = set(values)
        if len(values) < count:
            merged = template.copy()
            merged.update(values)  # the fields' order stays the template's
            for name, factory in factories:
                if name not in given:
                    merged[name] = factory()  # type: ignore[call-arg]
            for name in required:
                if name not in given:
                    del merged[name]
            values = merged
        setattr_(instance, "__dict__", values)
        setattr_(instance, "__pydantic_fields_set__", given)
        setattr_(instance, "__pydantic_extra__", None)
        setattr_(instance, "__pydantic_private__", None)
        return instance

    return build
