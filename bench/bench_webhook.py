"""The webhook function: its latency in a warm container and its cold import, each against a floor.

- Latency: `--callbacks` (default 10,000) signed callbacks, each a new nonce, handed to the
  webhook handler in process as API Gateway proxy events, its clients warm, on the moto server of
  the local cloud.  The floor is its own AWS calls made bare on the same server with the same
  kind of clients: one conditional idempotency write and one FIFO queue send per callback (goal:
  the handler's p99 at most 1.5x the floor's).  Powertools' idempotency also marks the record
  completed after the send, a second write that floor leaves out, so the ratio errs against us; a
  second floor makes all three calls the handler makes (write, send, completing update), reported
  beside it, so the two ratios tell the third call's share from the handler's own work.
  moto's FIFO send walks every message in the queue several times (its attributes), so a send
  slows as the queue fills (59 ms at 1,000 messages, 175 ms at 2,000 on this machine).  The two
  are interleaved and the queue is emptied every `--drain-every` callbacks (default 5, untimed), so
  both meet the same small queue, as a queue with a consumer stays in AWS.  moto's server shares
  this process, but not to our cost: the floor's calls against a moto server in a process of its
  own took the same time here (about 5 ms a write, 12 ms a send).
- Cold import: a fresh interpreter importing functions/webhook/handler.py, against one importing
  boto3 and Powertools' Logger, Metrics and Tracer alone (the issue's floor), and against one that
  also builds the three as any handler using them does (a Tracer loads the X-Ray SDK and patches
  boto3 when built: no traced function escapes it); the median of `--imports` (default 7) runs
  each, interleaved (goal at most 1.3x).  A fourth interpreter imports what the handler imports
  from boto3 and Powertools, then pydantic with one model: pydantic's own share of the cold import
  (`pydantic_import_s`), which the settings and callback models need and nothing lighter replaces.

    .venv/bin/python -m bench.bench_webhook [--callbacks 10000]   (section "webhook" of bench/results.json)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.results_file import RESULTS, publish

P99_GOAL = 1.5
IMPORT_GOAL = 1.3
REPO = Path(__file__).resolve().parent.parent


def _event(body: str, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the local front builds one."""
    request_id = str(uuid.uuid4())
    return {
        "resource": "/webhook",
        "path": "/webhook",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/webhook",
            "httpMethod": "POST",
            "path": "/prod/webhook",
            "stage": "prod",
            "requestId": request_id,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "Smartsheet"},
            "apiId": "bench",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _payload(webhook_id: int, sheet_id: int, n: int) -> dict[str, Any]:
    at = "2026-11-12T10:00:00.000+00:00"
    return {
        "nonce": str(uuid.uuid4()),
        "timestamp": at,
        "webhookId": webhook_id,
        "scope": "sheet",
        "scopeObjectId": sheet_id,
        "events": [
            {"objectType": "sheet", "eventType": "updated", "id": sheet_id, "userId": 5002, "timestamp": at},
            {
                "objectType": "cell",
                "eventType": "updated",
                "rowId": 1 + n % 5,
                "columnId": 11,
                "userId": 5002,
                "timestamp": at,
            },
        ],
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": ordered[len(ordered) // 2] * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def _empty(sqs: Any, queue_url: str, expected: int) -> int:
    """Receive and delete the `expected` messages in the queue (FIFO: a purge is refused within 60 s of
    the last); one missing is an error.  Returns how many were deleted."""
    deleted = 0
    while deleted < expected:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not messages:
            raise RuntimeError(f"the callback queue held {deleted} messages, {expected} were sent")
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        failed = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            raise RuntimeError(f"could not empty the callback queue: {failed[0]}")
        deleted += len(entries)
    return deleted


def latency(callbacks: int, drain_every: int) -> dict[str, Any]:
    import boto3

    from billing_audit import resources as res
    from billing_audit.smartsheet.webhooks import sign
    from billing_audit_local.cloud import LocalCloud
    from billing_audit_local.environment import deployed_name
    from billing_audit_local.lambdas import LocalLambdaContext, local_lambda_environment
    from billing_audit_local.scenario import config_for
    from billing_audit_local.serve import LocalWebhookStack
    from billing_audit_local.wiring import simulator_deps
    from smartsheet_sim import Simulator
    from smartsheet_sim.scenario import parse_scenario
    from smartsheet_sim.testing import small_scenario

    scenario = parse_scenario(small_scenario())
    config = config_for(scenario)
    with local_lambda_environment(), LocalCloud() as cloud, Simulator(scenario) as sim:
        cloud.provision()
        stack = LocalWebhookStack(sim, config, simulator_deps(sim, config))
        stack.start()
        try:
            report = stack.sync()
            sheet_id, webhook_id = next((row.sheet_id, row.webhook_id) for row in report.rows if row.webhook_id)
            assert sheet_id is not None and webhook_id is not None
            secret = sim.webhooks.get(webhook_id).shared_secret
            handler = stack.front.handler  # type: ignore[union-attr]
            context = LocalLambdaContext("webhook", timeout_seconds=10, memory_limit_in_mb=256)
            bodies = [json.dumps(_payload(webhook_id, sheet_id, n)) for n in range(callbacks + 20)]
            events = [
                _event(
                    body, {"Content-Type": "application/json", "Smartsheet-Hmac-SHA256": sign(secret, body.encode())}
                )
                for body in bodies
            ]
            dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
            table = deployed_name(res.IDEMPOTENCY_TABLE.env_var)
            queue_url = cloud.names[res.CALLBACK_QUEUE_ENV]

            def floor_calls(body: str) -> str:
                """The handler's own AWS calls, bare: one conditional idempotency write, one FIFO send."""
                key = f"floor#{uuid.uuid4()}"
                dynamodb.put_item(
                    TableName=table,
                    Item={"id": {"S": key}, "status": {"S": "INPROGRESS"}},
                    ConditionExpression="attribute_not_exists(id)",
                )
                sqs.send_message(
                    QueueUrl=queue_url,
                    MessageBody=body,
                    MessageGroupId=str(sheet_id),
                    MessageDeduplicationId=uuid.uuid4().hex,
                )
                return key

            def all_calls(body: str) -> None:
                """Every AWS call the handler makes: the same two, then the record marked completed."""
                dynamodb.update_item(
                    TableName=table,
                    Key={"id": {"S": floor_calls(body)}},
                    UpdateExpression="SET #status = :status, #data = :data",
                    ExpressionAttributeNames={"#status": "status", "#data": "data"},
                    ExpressionAttributeValues={":status": {"S": "COMPLETED"}, ":data": {"S": '{"statusCode": 200}'}},
                )

            handler_seconds: list[float] = []
            floor_seconds: list[float] = []
            all_calls_seconds: list[float] = []
            statuses: dict[int, int] = {}
            queued = sent = 0
            started_all = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # the metrics' EMF lines
                for event, body in zip(events[:20], bodies[:20], strict=True):  # warm: clients, secret, connections
                    handler(event, context)
                    floor_calls(body)
                    all_calls(body)
                _empty(sqs, queue_url, 60)
                # Interleaved, so both meet the same queue and table sizes.
                for n, (event, body) in enumerate(zip(events[20:], bodies[20:], strict=True), start=1):
                    started = time.perf_counter()
                    response = handler(event, context)
                    handler_seconds.append(time.perf_counter() - started)
                    statuses[response["statusCode"]] = statuses.get(response["statusCode"], 0) + 1
                    started = time.perf_counter()
                    floor_calls(body)
                    floor_seconds.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    all_calls(body)
                    all_calls_seconds.append(time.perf_counter() - started)
                    sent += 2 + (response["statusCode"] == 200)
                    if n % drain_every == 0 or n == callbacks:
                        queued += _empty(sqs, queue_url, sent)
                        sent = 0
            wall = time.perf_counter() - started_all
        finally:
            stack.stop()
    ours, floor, every = _percentiles(handler_seconds), _percentiles(floor_seconds), _percentiles(all_calls_seconds)
    return {
        "callbacks": callbacks,
        "accepted": statuses.get(200, 0),
        # Every accepted callback's message and both floors' sends, received from the queue.
        "queued_messages": queued,
        "drain_every": drain_every,
        "latency_wall_s": round(wall, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "handler_p50_ms": round(ours["p50"], 2),
        "handler_p99_ms": round(ours["p99"], 2),
        "floor_p50_ms": round(floor["p50"], 2),
        "floor_p99_ms": round(floor["p99"], 2),
        "p99_ratio": round(ours["p99"] / floor["p99"], 2),
        "all_calls_p50_ms": round(every["p50"], 2),
        "all_calls_p99_ms": round(every["p99"], 2),
        "p99_ratio_all_calls": round(ours["p99"] / every["p99"], 2),
        "p99_goal": P99_GOAL,
    }


_IMPORT_HANDLER = """
import importlib.util, sys, time
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["handler"] = module
spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""
_IMPORT_FLOOR = """
import time
started = time.perf_counter()
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
print(time.perf_counter() - started)
"""
_IMPORT_FLOOR_BUILT = """
import time
started = time.perf_counter()
import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
service = "billing-audit"
Logger(service=service), Metrics(namespace="BillingAudit", service=service), Tracer(service=service)
print(time.perf_counter() - started)
"""

_IMPORT_PYDANTIC_AFTER_DEPENDENCIES = """
import time
import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.parameters import SecretsProvider
started = time.perf_counter()
from pydantic import BaseModel
class Settings(BaseModel):
    name: str
print(time.perf_counter() - started)
"""


def cold_import(runs: int) -> dict[str, Any]:
    handler = REPO / "functions" / "webhook" / "handler.py"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "POWERTOOLS_SERVICE_NAME": "billing-audit",
    }
    ours: list[float] = []
    floor: list[float] = []
    built: list[float] = []
    pydantic_share: list[float] = []
    scripts: list[tuple[str, list[float], list[str]]] = [
        (_IMPORT_HANDLER, ours, [str(handler)]),
        (_IMPORT_FLOOR, floor, []),
        (_IMPORT_FLOOR_BUILT, built, []),
        (_IMPORT_PYDANTIC_AFTER_DEPENDENCIES, pydantic_share, []),
    ]
    for _ in range(runs):
        for script, samples, args in scripts:
            done = subprocess.run(
                [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=True
            )
            samples.append(float(done.stdout.strip().splitlines()[-1]))
    handler_median, floor_median, built_median, pydantic_median = (
        statistics.median(s) for s in (ours, floor, built, pydantic_share)
    )
    return {
        "import_runs": runs,
        "handler_import_s": round(handler_median, 3),
        "floor_import_s": round(floor_median, 3),
        "import_ratio": round(handler_median / floor_median, 2),
        "floor_built_s": round(built_median, 3),
        "import_ratio_built": round(handler_median / built_median, 2),
        "pydantic_import_s": round(pydantic_median, 3),
        "import_ratio_without_pydantic": round((handler_median - pydantic_median) / floor_median, 2),
        "import_goal": IMPORT_GOAL,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callbacks", type=int, default=10_000, help="signed callbacks timed (default 10,000)")
    parser.add_argument(
        "--drain-every", type=int, default=5, help="callbacks between emptyings of the queue (default 5)"
    )
    parser.add_argument("--imports", type=int, default=7, help="cold imports timed, each (default 7)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default: bench/results.json)")
    args = parser.parse_args(argv)
    result = {
        **cold_import(args.imports),
        **latency(args.callbacks, args.drain_every),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    publish("webhook", result, args.out)
    # Every callback queued once by the handler and once by each floor.
    ok = result["accepted"] == args.callbacks and result["queued_messages"] == 3 * args.callbacks
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
