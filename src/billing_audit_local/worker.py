"""A local stand-in for Lambda's SQS event source mapping in front of functions/process.

It receives from the callback queue (moto), builds real SQS event records (messageId,
receiptHandle, body, attributes with ApproximateReceiveCount, messageAttributes, eventSourceARN),
invokes the process handler with a LambdaContext (billing_audit_local.lambdas), deletes what succeeded and leaves what
failed (partial batch response) for a later receive.  Moving a message to the dead-letter queue
after maxReceiveCount receives is SQS's job: moto does it on receive when the queue has a
RedrivePolicy (`ensure_dead_letter_queue` sets one up if the deployment has none).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from billing_audit import resources as res
from billing_audit.ingest.process import CallbackProcessor
from billing_audit_local.environment import deployed_name
from billing_audit_local.lambdas import Handler, LocalLambdaContext, load_handler

if TYPE_CHECKING:  # type stubs only
    from mypy_boto3_sqs.client import SQSClient

_log = logging.getLogger(__name__)
# functions/process's timeout (infra/constructs/processing.py sizes it from the same constant).
TIMEOUT_SECONDS = float(res.PROCESS_TIMEOUT_SECONDS)


def _queue_arn(client: SQSClient, queue_url: str) -> str:
    return client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def ensure_dead_letter_queue(
    client: SQSClient | None = None,
    queue_url: str | None = None,
    *,
    max_receive_count: int = res.CALLBACK_MAX_RECEIVE_COUNT,
) -> str:
    """The callback queue's DLQ URL, creating the DLQ and the RedrivePolicy if the queue has none.

    With a deployment that already has them (the CDK template, whose CALLBACK_DLQ_URL the local
    cloud exports), this only finds the DLQ.
    """
    client = client or boto3.client("sqs")
    queue_url = queue_url or deployed_name(res.CALLBACK_QUEUE_ENV)
    attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    policy = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else None
    if policy is not None:
        dlq_name = str(policy["deadLetterTargetArn"]).rsplit(":", 1)[-1]
        dlq_url = client.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    else:
        name = queue_url.rstrip("/").rsplit("/", 1)[-1]
        dlq_url = client.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})[
            "QueueUrl"
        ]
        client.set_queue_attributes(
            QueueUrl=queue_url,
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": _queue_arn(client, dlq_url), "maxReceiveCount": str(max_receive_count)}
                )
            },
        )
    return dlq_url


def detach_lambda_pollers(queue_arn: str) -> int:
    """Disable moto's Lambda event source mappings on the queue; returns how many were disabled.

    A deployment from the CDK template has one (queue -> process function).  moto would then try
    to run the function in Docker on every send, and its receive counts against maxReceiveCount;
    the worker is the only consumer locally, as Lambda's poller is the only one in AWS.
    """
    client = boto3.client("lambda")
    disabled = 0
    marker: str | None = None
    while True:
        kwargs: dict[str, Any] = {"EventSourceArn": queue_arn}
        if marker:
            kwargs["Marker"] = marker
        page = client.list_event_source_mappings(**kwargs)
        for mapping in page.get("EventSourceMappings", []):
            if mapping.get("State") not in ("Disabled", "Disabling"):
                client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
                disabled += 1
        marker = page.get("NextMarker")
        if not marker:
            return disabled


@dataclass
class DrainReport:
    batches: int = 0
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    failed_ids: list[str] = field(default_factory=list)

    def add(self, other: DrainReport) -> None:
        self.batches += other.batches
        self.received += other.received
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.failed_ids.extend(other.failed_ids)


class QueueWorker:
    """`drain()` for tests and the demo; `start()`/`stop()` for a background loop (serve)."""

    def __init__(
        self,
        queue_url: str | None = None,
        *,
        handler: Handler | None = None,
        processor: CallbackProcessor | None = None,
        client: SQSClient | None = None,
        batch_size: int = 10,
        visibility_timeout: int = 30,
        timeout_seconds: float = TIMEOUT_SECONDS,
        retry_failed_now: bool = True,
        function_name: str = f"{res.APP_NAME}-process",
        region: str | None = None,
        take_over_queue: bool = True,
    ) -> None:
        self.queue_url = queue_url or deployed_name(res.CALLBACK_QUEUE_ENV)
        self.client = client or boto3.client("sqs")
        # The invocation's deadline runs on the audit's clock: the simulator's when its waits are virtual.
        self.clock: Callable[[], float] = time.monotonic
        if processor is not None:
            audit_clock = processor.deps.clock
            self.clock = lambda: audit_clock().timestamp()
        if handler is None:
            module = load_handler("process", fresh=True)
            module.configure(processor)
            handler = module.handler
        elif processor is not None:
            raise ValueError("pass a handler or a processor, not both")
        self.handler: Handler = handler
        self.batch_size = batch_size
        self.visibility_timeout = visibility_timeout
        self.timeout_seconds = timeout_seconds
        self.retry_failed_now = retry_failed_now
        self.function_name = function_name
        self.region = region or self.client.meta.region_name
        self.queue_arn = _queue_arn(self.client, self.queue_url)
        self.detached = detach_lambda_pollers(self.queue_arn) if take_over_queue else 0
        self.totals = DrainReport()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- one batch -------------------------------------------------------------------------------
    def poll_once(self, wait_seconds: int = 0) -> DrainReport:
        with self._lock:
            answer = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=self.visibility_timeout,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            report = DrainReport()
            if not messages:
                return report
            report.batches, report.received = 1, len(messages)
            event = {"Records": [self.record(dict(m)) for m in messages]}
            failed = self._invoke(event)
            for message in messages:
                if message["MessageId"] in failed:
                    report.failed += 1
                    report.failed_ids.append(message["MessageId"])
                    if self.retry_failed_now:
                        # Tests do not wait out the visibility timeout; the receive count still grows.
                        self.client.change_message_visibility(
                            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                        )
                else:
                    report.succeeded += 1
                    self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.totals.add(report)
            return report

    def _invoke(self, event: dict[str, Any]) -> set[str]:
        """Message ids that failed: the partial batch response, or all of them if the handler raised."""
        every = {r["messageId"] for r in event["Records"]}
        try:
            context = LocalLambdaContext(self.function_name, timeout_seconds=self.timeout_seconds, clock=self.clock)
            response = self.handler(event, context)
        except Exception as exc:
            _log.error(
                "process handler raised %s: the whole batch returns to the queue",
                type(exc).__name__,
                exc_info=_log.isEnabledFor(logging.DEBUG),
            )
            return every
        if not isinstance(response, dict):
            return set()
        return {str(item.get("itemIdentifier")) for item in response.get("batchItemFailures", [])} & every

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["Body"]
        attributes = {
            key: str(message.get("Attributes", {}).get(key, default))
            for key, default in (
                ("ApproximateReceiveCount", "1"),
                ("SentTimestamp", "0"),
                ("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
                ("ApproximateFirstReceiveTimestamp", "0"),
            )
        }
        for key in ("MessageGroupId", "MessageDeduplicationId", "SequenceNumber"):  # FIFO queues only
            if key in message.get("Attributes", {}):
                attributes[key] = str(message["Attributes"][key])
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        }
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }

    # -- loops -----------------------------------------------------------------------------------
    def drain(self, until_empty: bool = True, max_batches: int = 1000) -> DrainReport:
        """Process batches until a receive comes back empty (or once, without `until_empty`)."""
        report = DrainReport()
        for _ in range(max_batches):
            batch = self.poll_once()
            report.add(batch)
            if not batch.received or not until_empty:
                break
        return report

    def start(self, wait_seconds: int = 1) -> None:
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll_once(wait_seconds=wait_seconds)
                except Exception as exc:  # keep serving; moto may be stopping
                    _log.warning("queue worker: %s", type(exc).__name__)
                    self._stop.wait(1.0)

        self._thread = threading.Thread(target=loop, name="queue-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def dead_letters(self, dlq_url: str | None = None, *, delete: bool = False) -> list[dict[str, Any]]:
        """Messages now in the DLQ (left there, visible, unless `delete`); for tests and inspection."""
        dlq_url = dlq_url or deployed_name(res.CALLBACK_DLQ_ENV)
        found: dict[str, dict[str, Any]] = {}
        for _ in range(10):
            answer = self.client.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            new = [m for m in messages if m["MessageId"] not in found]
            if not new:
                break
            found.update((m["MessageId"], dict(m)) for m in new)
        if delete:
            for message in found.values():
                self.client.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return list(found.values())
