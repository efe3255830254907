"""AWS faults: the webhook cannot queue (it answers 500 so Smartsheet retries, and the retry is
queued once), and DynamoDB throttles the event store (botocore's retries absorb a short burst; a
lasting one fails the drain, which stores nothing half-way that the next drain does not finish)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from billing_audit import resources as res
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import drain, new_run_id, run_scan, start_run
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.smartsheet.webhooks import sign
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.memory import MemoryAlertPublisher, MemoryStateStore
from billing_audit_local.lambdas import LocalLambdaContext, load_handler
from billing_audit_local.scenario import bundled_example, config_for
from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import load_scenario
from tests.reliability.support import RawBody

pytestmark = pytest.mark.reliability

HOOK = 8801
SECRET = "aws-fault-secret-0123456789"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "3",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


# ----- the webhook cannot queue ----------------------------------------------------------------


def _event(body: str) -> dict[str, Any]:
    headers = {"Smartsheet-Hmac-SHA256": sign(SECRET, body.encode())}
    return {
        "resource": "/webhook",
        "path": "/webhook",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": {"requestId": "r-1", "stage": "prod", "identity": {"sourceIp": "127.0.0.1"}},
        "body": body,
        "isBase64Encoded": False,
    }


def test_a_webhook_that_cannot_queue_answers_500_and_the_retry_is_queued_once(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("dynamodb").create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="callbacks.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    boto3.client("s3").create_bucket(Bucket="payloads")
    boto3.client("secretsmanager").create_secret(
        Name=f"{res.WEBHOOK_SECRET_PREFIX}{HOOK}", SecretString=json.dumps({"current": SECRET})
    )
    monkeypatch.setenv(res.IDEMPOTENCY_TABLE.env_var, "idempotency")
    monkeypatch.setenv(res.CALLBACK_PAYLOADS_BUCKET.env_var, "payloads")
    body = json.dumps(
        {
            "nonce": "n-500",
            "timestamp": "2026-11-12T10:00:00Z",
            "webhookId": HOOK,
            "scope": "sheet",
            "scopeObjectId": 4001,
            "events": [{"objectType": "row", "eventType": "updated", "id": 1, "timestamp": "2026-11-12T10:00:00Z"}],
        }
    )
    context = LocalLambdaContext("webhook", timeout_seconds=10, memory_limit_in_mb=256)
    # A container whose queue refuses the send (deleted, denied, throttled: SQS said no).
    monkeypatch.setenv(res.CALLBACK_QUEUE_ENV, queue.replace("callbacks.fifo", "gone.fifo"))
    broken = load_handler("webhook", fresh=True)
    assert broken.handler(_event(body), context)["statusCode"] == 500  # Smartsheet retries a 500
    # The retry, in a container whose queue works: queued once, and once only.
    monkeypatch.setenv(res.CALLBACK_QUEUE_ENV, queue)
    working = load_handler("webhook", fresh=True)
    first = working.handler(_event(body), context)
    again = working.handler(_event(body), context)
    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert json.loads(again["body"]) == {"status": "duplicate"}
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"


# ----- DynamoDB throttles the event store --------------------------------------------------------


class Throttle:
    """Answers PutItem with DynamoDB's ProvisionedThroughputExceededException while `left` > 0, at
    the HTTP layer (before-send), so botocore's own retries meet it as they would the real one."""

    def __init__(self) -> None:
        self.left = 0
        self.answered = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if self.left <= 0:
            return None
        self.left -= 1
        self.answered += 1
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "The level of configured provisioned throughput for the table was exceeded.",
            }
        ).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(body))}
        return AWSResponse(request.url, 400, headers, RawBody(body))


def _scan_world(sim: Simulator, events: DynamoEventStore) -> AuditDeps:
    adapter = SdkSmartsheet(
        token=sim.token,
        api_base=sim.api_base or sim.start(),
        backoff=ExponentialBackoff(base_seconds=0, sleep=sim.sleep),
        sleep=sim.sleep,
    )
    return AuditDeps(
        smartsheet=adapter,
        events=events,
        state=MemoryStateStore(),
        alerts=MemoryAlertPublisher(),
        notifier=MemoryAlertPublisher(),
        clock=lambda: sim.now,
    )


def _events_table() -> DynamoEventStore:
    """The events table as resources.py lays it out (its indexes: scoring queries them)."""
    spec = res.EVENTS_TABLE
    keys = [spec.partition, *(key for index in spec.indexes for key in (index.partition, index.sort) if key)]
    boto3.client("dynamodb").create_table(
        TableName="events",
        KeySchema=[{"AttributeName": spec.partition.name, "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": k.name, "AttributeType": k.type} for k in {k.name: k for k in keys}.values()
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": index.partition.name, "KeyType": "HASH"}]
                + ([{"AttributeName": index.sort.name, "KeyType": "RANGE"}] if index.sort else []),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in spec.indexes
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return DynamoEventStore(boto3.resource("dynamodb").Table("events"))


def test_throttled_event_writes_lose_nothing_and_store_nothing_twice(aws: None) -> None:
    scenario = load_scenario(bundled_example())
    config = config_for(scenario)
    store = _events_table()
    throttle = Throttle()
    # First: moto answers before-send too, and the first answer wins.
    store.table.meta.client.meta.events.register_first("before-send.dynamodb.PutItem", throttle)
    with Simulator(scenario, SimulatorOptions(rate_limits=False)) as sim:
        deps = _scan_world(sim, store)
        sim.apply_edits_through(scenario.baseline_at)
        sim.set_time(scenario.baseline_at)
        run_scan(config, deps)
        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        start_run(config, deps, new_run_id(sim.now))
        # A burst shorter than botocore's retries: absorbed, the drain never sees it.
        throttle.left = 2
        first = drain(config, deps, time_left=_rows(1))
        assert throttle.answered == 2 and first.rows_done == 1
        # A lasting one: the drain fails with DynamoDB's error, its row not marked done.
        throttle.left = 10_000
        with pytest.raises(Exception, match="ProvisionedThroughputExceeded"):
            drain(config, deps)
        assert deps.runs.open_sheets()  # the run is still open where it stopped
        throttle.left = 0
        drain(config, deps)
        assert not deps.runs.open_sheets()
    stored = [event.event_id for event in store.all_events()]
    assert len(stored) == len(set(stored))
    with Simulator(scenario, SimulatorOptions(rate_limits=False)) as clean:
        reference = _events_table_reference(clean, scenario, config)
    assert sorted(stored) == reference


def _rows(count: int) -> Any:
    """A `time_left` that lets a drain do `count` rows."""
    calls = {"n": 0}

    def time_left() -> float:
        calls["n"] += 1
        return 1.0 if calls["n"] <= count else 0.0

    return time_left


def _events_table_reference(sim: Simulator, scenario: Any, config: Any) -> list[str]:
    from billing_audit.store.memory import MemoryEventStore

    deps = _scan_world(sim, DynamoEventStore.__new__(DynamoEventStore))
    deps.events = MemoryEventStore()
    sim.apply_edits_through(scenario.baseline_at)
    sim.set_time(scenario.baseline_at)
    run_scan(config, deps)
    sim.apply_edits_through(scenario.now)
    sim.set_time(scenario.now)
    run_scan(config, deps)
    return sorted(event.event_id for event in deps.events.all_events())
