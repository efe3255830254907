"""The local cloud's one-partition query gives exactly moto's own answers (billing_audit_local.moto_partitions)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from billing_audit_local import moto_partitions

PKS = ["a", "b", "c", "sheet#1"]
item_strategy = st.fixed_dictionaries(
    {
        "pk": st.sampled_from(PKS),
        "sk": st.text(alphabet="ab#0129", min_size=1, max_size=6),
        "n": st.integers(0, 9),
        "g": st.sampled_from(["x", "y"]),
    }
)
query_strategy = st.fixed_dictionaries(
    {
        "pk": st.sampled_from([*PKS, "missing"]),
        "range": st.sampled_from(["none", "begins", "between", "gt"]),
        "bound": st.text(alphabet="ab#0129", min_size=1, max_size=3),
        "forward": st.booleans(),
        "limit": st.sampled_from([None, 1, 2, 5]),
        "filter": st.booleans(),
    }
)


@pytest.fixture(scope="module")
def tables() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        db = boto3.resource("dynamodb", region_name="us-east-1")
        ranged = db.create_table(
            TableName="ranged",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        plain = db.create_table(
            TableName="plain",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield ranged, plain
    moto_partitions.read_one_partition()  # as the rest of the session had it


def _empty(table: Any, keys: tuple[str, ...]) -> None:
    for item in table.scan()["Items"]:
        table.delete_item(Key={k: item[k] for k in keys})


def _pages(table: Any, kwargs: dict[str, Any]) -> list[list[dict[str, Any]]]:
    pages, start = [], None
    while True:
        answer = table.query(**kwargs, **({"ExclusiveStartKey": start} if start else {}))
        pages.append(answer["Items"])
        start = answer.get("LastEvaluatedKey")
        if start is None or len(pages) > 100:
            return pages


def _both(table: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    moto_partitions.restore()
    moto_own = _pages(table, kwargs)
    moto_partitions.read_one_partition()
    return moto_own, _pages(table, kwargs)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(items=st.lists(item_strategy, max_size=30), queries=st.lists(query_strategy, min_size=1, max_size=4))
def test_table_key_queries_answer_as_moto_does(tables: tuple[Any, Any], items: list[dict[str, Any]], queries) -> None:
    ranged, plain = tables
    _empty(ranged, ("pk", "sk"))
    _empty(plain, ("pk",))
    for item in items:
        ranged.put_item(Item=item)
        plain.put_item(Item=item)
    for q in queries:
        condition = Key("pk").eq(q["pk"])
        if q["range"] == "begins":
            condition = condition & Key("sk").begins_with(q["bound"])
        elif q["range"] == "between":
            condition = condition & Key("sk").between(q["bound"], q["bound"] + "z")
        elif q["range"] == "gt":
            condition = condition & Key("sk").gt(q["bound"])
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": q["forward"]}
        if q["limit"]:
            kwargs["Limit"] = q["limit"]
        if q["filter"]:
            kwargs["FilterExpression"] = Attr("n").gt(4)
        moto_own, ours = _both(ranged, kwargs)
        assert ours == moto_own
        on_index = {**kwargs, "IndexName": "by-g", "KeyConditionExpression": Key("g").eq("x")}
        moto_own, ours = _both(ranged, on_index)
        assert ours == moto_own
        moto_own, ours = _both(plain, {"KeyConditionExpression": Key("pk").eq(q["pk"])})
        assert ours == moto_own


def test_a_query_reads_only_its_partition(tables: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of it: a table-key query no longer walks the whole table."""
    from moto.dynamodb.models.table import Table

    ranged, _plain = tables
    _empty(ranged, ("pk", "sk"))
    for n in range(50):
        ranged.put_item(Item={"pk": "a" if n < 3 else "b", "sk": f"{n:03d}", "n": n, "g": "x"})
    moto_partitions.read_one_partition()
    walked: list[int] = []
    items = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: walked.append(len(found := items(self))) or found)
    answer = ranged.query(KeyConditionExpression=Key("pk").eq("a"))["Items"]
    assert [int(item["n"]) for item in answer] == [0, 1, 2]
    assert walked == [3]  # moto's own walks all 50
