"""bulk.py: the collector paused for a step; prevalidated makes exactly what model_construct makes."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, Field

from billing_audit.bulk import collector_paused, prevalidated
from billing_audit.domain.snapshot import RowSnapshot
from billing_audit.smartsheet.models import RowData


def test_the_collector_is_off_within_and_back_on_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_on_after_an_error() -> None:
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("the step failed")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


AT = datetime(2026, 11, 16, 15, tzinfo=UTC)


class WithAlias(BaseModel):
    name: str = Field(alias="Name")


class WithFactory(BaseModel):
    first: int
    tags: list[str] = Field(default_factory=list)
    note: str | None = "none"


CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (
        RowData,
        {"id": 7, "created_at": AT, "created_by": "a@x", "modified_at": AT, "modified_by": "b@x", "values": {"Q": 1}},
    ),
    (RowData, {"id": 7, "values": {"Q": 1}}),
    (RowSnapshot, {"modified_at": AT, "values": {"Status": "Invoiced", "Quantity": 11}}),
    (RowSnapshot, {"modified_at": None, "values": {}, "seen_at": AT, "deferred": True}),
    (RowSnapshot, {}),
    (WithFactory, {"first": 1}),
    (WithFactory, {"tags": ["x"]}),  # a required field left out: left out by both
]


@pytest.mark.parametrize(("model", "fields"), CASES)
def test_the_same_instance_as_model_construct(model: type[BaseModel], fields: dict[str, Any]) -> None:
    ours, theirs = prevalidated(model)(**dict(fields)), model.model_construct(**dict(fields))
    assert type(ours) is type(theirs) is model
    assert list(ours.__dict__.items()) == list(theirs.__dict__.items())  # values and their order
    assert ours.model_fields_set == theirs.model_fields_set
    assert (ours.__pydantic_extra__, ours.__pydantic_private__) == (
        theirs.__pydantic_extra__,
        theirs.__pydantic_private__,
    )
    assert ours == theirs and repr(ours) == repr(theirs)
    if not set(model.model_fields) - set(fields) - {n for n, f in model.model_fields.items() if not f.is_required()}:
        assert ours.model_dump_json(exclude_defaults=True) == theirs.model_dump_json(exclude_defaults=True)


def test_a_default_factory_gives_each_instance_its_own() -> None:
    build = prevalidated(WithFactory)
    one, two = build(first=1), build(first=2)
    one.tags.append("x")
    assert two.tags == []


def test_a_model_with_aliases_is_left_to_pydantic() -> None:
    assert prevalidated(WithAlias) == WithAlias.model_construct
    assert prevalidated(WithAlias)(Name="x").name == "x"
