"""The processing worker in a process of its own, for the crash-consistency test to SIGKILL.

    python -m tests.reliability.process_child API_BASE TOKEN NOW CONFIG_FILE LOG_FILE [DIE_AT]

It drains the callback queue as Lambda's event source mapping drives functions/process (the local
QueueWorker around the real CallbackProcessor, with Powertools' idempotency on the deployed
table, as the function has it), against the local cloud the parent started (its
endpoint and resource names are in the environment this process inherits) and the parent's
simulator, its clock frozen at NOW.  Every alert it claims, publishes and records as sent is
written to LOG_FILE as it happens, one line each, so the parent knows where a kill fell.

DIE_AT `claimed` or `published`: the process SIGKILLs itself right after the first claim of one or
more alerts (before any is published), or right after its first publish returns (before the
publish is recorded): the two windows a random kill rarely hits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from billing_audit import resources as res
from billing_audit.config import parse_config
from billing_audit.domain.alert_messages import AlertMessage
from billing_audit.ingest.process import CallbackProcessor
from billing_audit.ingest.queue import SqsDeadLetters
from billing_audit.settings import AuditSettings, load
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from billing_audit.store.interfaces import AlertClaims, AlertPublisher, EventStore
from billing_audit.store.s3 import S3Blobs
from billing_audit.wiring import aws_dependencies
from billing_audit_local.environment import deployed_name
from billing_audit_local.worker import QueueWorker

# Short, so a killed run's messages are received again by the next run without a long wait; SQS
# counts each receive, and a message received more than maxReceiveCount times is dead-lettered.
VISIBILITY_SECONDS = 1
BATCH_SIZE = 4
# Each invocation's timeout, short for the same reason: Powertools' idempotency holds a callback
# whose invocation died as in progress until that invocation's time is up (in AWS, the function's
# timeout; SQS redelivers only after six of them).  The parent waits this out after each kill.
INVOCATION_SECONDS = 3.0


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Log:
    def __init__(self, handle: TextIO, die_at: str | None) -> None:
        self.handle = handle
        self.die_at = die_at

    def line(self, step: str, event_ids: Sequence[str]) -> None:
        self.handle.write(json.dumps({"step": step, "ids": list(event_ids)}) + "\n")
        self.handle.flush()  # written through before the next step: a kill cannot take it back
        if self.die_at == step and event_ids:
            _die()


class LoggedEvents:
    """The event store, with each claim and record of an alert written to the log."""

    def __init__(self, inner: EventStore, log: Log) -> None:
        self.inner = inner
        self.log = log

    def claim_alerts(self, event_ids: Sequence[str]) -> AlertClaims:
        claims = self.inner.claim_alerts(event_ids)
        self.log.line("claimed", claims.claimed)
        return claims

    def mark_alerted(self, event_ids: Sequence[str]) -> None:
        self.inner.mark_alerted(event_ids)
        self.log.line("recorded", event_ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LoggedPublisher:
    """The SNS publisher, with each message's events written before it is sent and after."""

    def __init__(self, inner: AlertPublisher, log: Log) -> None:
        self.inner = inner
        self.log = log

    def publish(self, message: AlertMessage) -> None:
        ids = [event.event_id for event in message.events]
        self.log.line("publishing", ids)
        self.inner.publish(message)
        self.log.line("published", ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def main(argv: list[str]) -> int:
    api_base, token, now_text, config_file, log_file, *rest = argv
    now = datetime.fromisoformat(now_text)
    config = parse_config(json.loads(Path(config_file).read_text()))
    gateway = SdkSmartsheet(token=token, api_base=api_base, backoff=ExponentialBackoff(base_seconds=0))
    deps = aws_dependencies(config, load(AuditSettings), smartsheet=gateway, clock=lambda: now)
    with Path(log_file).open("a", encoding="utf-8") as handle:
        log = Log(handle, rest[0] if rest else None)
        deps.events = LoggedEvents(deps.events, log)
        deps.alerts = LoggedPublisher(deps.alerts, log)
        processor = CallbackProcessor(
            config,
            deps,
            deps.notifier,
            persistence=DynamoDBPersistenceLayer(table_name=deployed_name(res.IDEMPOTENCY_TABLE.env_var)),
            payloads=S3Blobs(boto3.client("s3"), deployed_name(res.CALLBACK_PAYLOADS_BUCKET.env_var)),
            dead_letters=SqsDeadLetters(boto3.client("sqs"), deployed_name(res.CALLBACK_DLQ_ENV)),
        )
        worker = QueueWorker(
            processor=processor,
            batch_size=BATCH_SIZE,
            visibility_timeout=VISIBILITY_SECONDS,
            timeout_seconds=INVOCATION_SECONDS,
            retry_failed_now=False,
        )
        print("processing", flush=True)  # the parent's kills fall after this line, within the drain
        report = worker.drain()
    print(f"processed: {report.succeeded} of {report.received} received, {report.failed} failed", flush=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
