"""The local cloud's DynamoDB writes are atomic per call, as DynamoDB's are
(billing_audit_local.moto_atomic_writes): of writers racing one conditional write, one wins."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto.dynamodb.models as moto_models
import moto.dynamodb.models.table as moto_table
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from billing_audit_local.moto_atomic_writes import serialize_writes

WRITERS = 4


@pytest.fixture
def slow_condition_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen moto's gap between checking a write's condition and writing, so that without the
    lock every racing writer would pass the check before any of them writes."""

    def slowed(make: Callable[..., Any]) -> Callable[..., Any]:
        def slow(*args: Any, **kwargs: Any) -> Any:
            time.sleep(0.05)
            return make(*args, **kwargs)

        return slow

    # A put reads the current item, then parses its condition; an update checks, then validates.
    monkeypatch.setattr(moto_table, "get_filter_expression", slowed(moto_table.get_filter_expression))
    monkeypatch.setattr(moto_models, "UpdateExpressionValidator", slowed(moto_models.UpdateExpressionValidator))


@pytest.fixture
def table_name() -> Iterator[str]:
    serialize_writes()
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(
            TableName="claims",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield "claims"


def _race(write: Any) -> list[bool]:
    barrier = threading.Barrier(WRITERS)
    won: list[bool] = []

    def run() -> None:
        client = boto3.client("dynamodb", region_name="us-east-1")
        barrier.wait()
        try:
            write(client)
            won.append(True)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            won.append(False)

    threads = [threading.Thread(target=run) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


@pytest.mark.usefixtures("slow_condition_checks")
def test_one_of_racing_conditional_puts_wins(table_name: str) -> None:
    won = _race(
        lambda client: client.put_item(
            TableName=table_name, Item={"pk": {"S": "event-1"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    )
    assert sorted(won) == [False, False, False, True]


@pytest.mark.usefixtures("slow_condition_checks")
def test_one_of_racing_conditional_updates_wins(table_name: str) -> None:
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=table_name, Item={"pk": {"S": "event-1"}})
    won = _race(
        lambda client: client.update_item(
            TableName=table_name,
            Key={"pk": {"S": "event-1"}},
            UpdateExpression="SET claimed = :yes",
            ConditionExpression="attribute_not_exists(claimed)",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )
    )
    assert sorted(won) == [False, False, False, True]
