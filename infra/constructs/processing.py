"""Webhook callbacks (SQS queue + DLQ) processed by `process`, and the periodic `scan`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from infra.config import InfraConfig
from infra.constants import shared
from infra.constructs.function import AuditFunction

# Longer than the longest one Smartsheet request may take plus the rest of a batch
# (resources.PROCESS_TIMEOUT_SECONDS, derived from the SDK adapter's own limits).
PROCESS_TIMEOUT = cdk.Duration.seconds(shared.PROCESS_TIMEOUT_SECONDS)
SCAN_TIMEOUT = cdk.Duration.minutes(15)


def secure_queue(scope: Construct, construct_id: str, **props: Any) -> sqs.Queue:
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        **props,
    )
    cfn = queue.node.default_child
    assert isinstance(cfn, cdk.CfnResource)
    cfn.override_logical_id(construct_id)
    return queue


class Processing(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        layers: Sequence[lambda_.ILayerVersion],
        audit_environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        # FIFO, one message group per sheet (ingest/queue.py): a sheet's callbacks are processed in
        # the order they arrived, which deriving changes from the row memory depends on.
        self.dead_letters = secure_queue(
            self,
            shared.CALLBACK_DLQ_LOGICAL_ID,
            fifo=True,
            retention_period=cdk.Duration.days(14),
        )
        self.queue = secure_queue(
            self,
            shared.CALLBACK_QUEUE_LOGICAL_ID,
            fifo=True,
            content_based_deduplication=False,  # the sender sets (webhookId, nonce) as the deduplication id
            # Six times the function timeout, as Lambda recommends for SQS sources.
            visibility_timeout=cdk.Duration.seconds(PROCESS_TIMEOUT.to_seconds() * 6),
            retention_period=cdk.Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=config.processing.max_receive_count, queue=self.dead_letters
            ),
        )
        self.process = AuditFunction(
            self,
            "Process",
            name="process",
            config=config,
            layers=layers,
            environment=audit_environment,
            timeout=PROCESS_TIMEOUT,
            memory_mb=1024,
            description="Audits the rows named by queued Smartsheet webhook callbacks",
        )
        # A callback failing its last attempt is dead-lettered by `process` itself, so the callbacks
        # queued after it in its FIFO group do not share its fate (ingest/queue.SqsDeadLetters).
        self.process.function.add_environment(shared.CALLBACK_DLQ_ENV, self.dead_letters.queue_url)
        self.process.function.add_environment(
            shared.CALLBACK_MAX_RECEIVE_COUNT_ENV, str(config.processing.max_receive_count)
        )
        self.dead_letters.grant_send_messages(self.process.role)
        self.process.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=config.processing.batch_size,
                # Lambda keeps a FIFO group's messages in order across concurrent pollers.
                max_concurrency=config.processing.max_concurrency,
                report_batch_item_failures=True,
            )
        )
        self.scan = AuditFunction(
            self,
            "Scan",
            name="scan",
            config=config,
            layers=layers,
            environment=audit_environment,
            timeout=SCAN_TIMEOUT,
            memory_mb=1024,
            # One scan invocation at a time: a run's rows are never replayed twice at once.
            reserved_concurrency=1,
            description="Replays the configured sheets' cell histories since the last scan",
        )
