"""The queue side: SQS FIFO batches of verified callbacks, processed one record at a time, in order.

The queue is FIFO with one message group per sheet, so a sheet's callbacks arrive in the order they
were queued (the webhook path derives changes from the row as last seen, which needs that order).
Powertools `SqsFifoPartialProcessor` keeps it within a batch: after a failure, the failed record
and every later record of the same sheet go back to the queue; other sheets' records go on.  A
callback too large for a message arrives by reference (ingest/queue.py) and is read from S3 here.
Each callback runs once per (webhookId, nonce) through Powertools idempotency; below that,
`process_callback` is idempotent per cell-history entry (stable event ids), so SQS redelivery, a
Smartsheet retry or a duplicate delivery never stores or alerts an event twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from billing_audit import resources as res
from billing_audit.budget import HISTORY_PER_MINUTE
from billing_audit.ingest.queue import PAYLOAD_REF_FIELD, callback_idempotency, resolve_payload
from billing_audit.pipeline.alerting import AlertBatch
from billing_audit.pipeline.callbacks import CallbackResult, process_callback
from billing_audit.pipeline.webhook_alerts import webhook_status_changed
from billing_audit.smartsheet.models import WebhookStatus
from billing_audit.smartsheet.webhooks import WebhookCallback

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from billing_audit.config import AuditConfig
    from billing_audit.pipeline.deps import AuditDeps
    from billing_audit.store.interfaces import BlobStore, Notifier

PROCESSED_KEY_PREFIX = f"{res.APP_NAME}.callback-processed"


class DeadLetters(Protocol):
    def send(self, record: SQSRecord, error: Exception) -> None: ...


class ProcessFn(Protocol):
    def __call__(
        self,
        callback: WebhookCallback,
        config: AuditConfig,
        deps: AuditDeps,
        *,
        history_allowance: int | None,
        batch: AlertBatch | None,
    ) -> CallbackResult: ...


def history_allowance(seconds_left: float) -> int:
    """The cell-history reads that fit the time left, keeping one request at its longest in reserve."""
    spare = seconds_left - res.SMARTSHEET_REQUEST_MAX_SECONDS
    return max(0, int(spare * HISTORY_PER_MINUTE / 60))


def default_process() -> ProcessFn:
    return process_callback


@dataclass(frozen=True)
class RecordResult:
    webhook_id: int
    nonce: str | None
    events: int
    status_alert: bool
    history_reads: int = 0
    rows_deferred: int = 0


class CallbackProcessor:
    """One SQS batch in, a partial-batch response out.  Build once per container."""

    def __init__(
        self,
        config: AuditConfig,
        deps: AuditDeps,
        notifier: Notifier,
        *,
        process: ProcessFn | None = None,
        persistence: BasePersistenceLayer | None = None,
        payloads: BlobStore | None = None,
        dead_letters: DeadLetters | None = None,
        max_receives: int = res.CALLBACK_MAX_RECEIVE_COUNT,
        on_record: Callable[[RecordResult], None] | None = None,
        on_failure: Callable[[SQSRecord, Exception], None] | None = None,
    ) -> None:
        self.audit_config = config
        self.deps = deps
        self.notifier = notifier
        self._process_fn = process
        self.on_record = on_record
        self.on_failure = on_failure
        self.payloads = payloads
        self.dead_letters = dead_letters
        self.max_receives = max_receives
        self.batch = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A batch that failed whole is answered with every record failed, not raised: Lambda would
        # then retry it whole anyway, but the handler's metrics and logs still go out.
        self.batch.raise_on_entire_batch_failure = False
        self._context: LambdaContext | None = None
        self._alerts: AlertBatch | None = None
        self.idempotency = callback_idempotency()
        self._run: Callable[..., dict[str, Any]] = self._process_payload
        if persistence is not None:
            self._run = idempotent_function(
                self._process_payload,
                data_keyword_argument="callback",
                persistence_store=persistence,
                config=self.idempotency,
                key_prefix=PROCESSED_KEY_PREFIX,
            )

    @property
    def process(self) -> ProcessFn:
        if self._process_fn is None:
            self._process_fn = default_process()
        return self._process_fn

    def handle(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        self._context = context
        if context is not None:
            self.idempotency.register_lambda_context(context)
        # The batch is one alerting run: its violations go out together when it ends (a burst is a
        # few messages and one digest).  Each is held in the state table as it is stored, so if
        # sending fails (and this raises, for Lambda to retry the batch), nothing is lost.
        self._alerts = AlertBatch(run="batch of callbacks")
        response = dict(
            process_partial_response(event=event, record_handler=self.record, processor=self.batch, context=context)
        )
        self._alerts.send(self.audit_config, self.deps)
        return response

    def record(self, record: SQSRecord) -> dict[str, Any]:
        """Raises to fail this record only (it is retried, then dead-lettered)."""
        try:
            payload = json.loads(record.body)
            if isinstance(payload, dict) and PAYLOAD_REF_FIELD in payload:
                payload = resolve_payload(payload, self.payloads)
            if not isinstance(payload, dict):
                raise ValueError("queued callback is not a JSON object")
            result = self._run(callback=payload)
        except Exception as exc:
            if self.on_failure is not None:
                self.on_failure(record, exc)
            receives = int(record.attributes.approximate_receive_count or 1)
            if self.dead_letters is None or receives < self.max_receives:
                raise
            # Its last attempt: dead-lettered here, so the sheet's later callbacks are not held.
            self.dead_letters.send(record, exc)
            return {"deadLettered": True}
        if self.on_record is not None:
            self.on_record(
                RecordResult(
                    webhook_id=int(result["webhookId"]),
                    nonce=result.get("nonce"),
                    events=int(result.get("events", 0)),
                    status_alert=bool(result.get("statusAlert")),
                    history_reads=int(result.get("historyReads", 0)),
                    rows_deferred=int(result.get("rowsDeferred", 0)),
                )
            )
        return result

    def _process_payload(self, *, callback: dict[str, Any]) -> dict[str, Any]:
        parsed = WebhookCallback.model_validate(callback)
        alerted = False
        if parsed.new_webhook_status is not None and parsed.new_webhook_status != WebhookStatus.ENABLED:
            self.notifier.notify(*webhook_status_changed(parsed))
            alerted = True
        if parsed.new_webhook_status == WebhookStatus.ENABLED and parsed.scope_object_id is not None:
            # Re-enabled by Smartsheet: what happened while it was off reached no callback, so the
            # sheet's row memory is trusted again only once the scan has reconciled it.
            self.deps.state.mark_webhook_live(parsed.scope_object_id, self.deps.clock())
        outcome = CallbackResult()
        if parsed.events:
            allowance = None
            if self._context is not None:
                allowance = history_allowance(self._context.get_remaining_time_in_millis() / 1000)
            outcome = self.process(
                parsed, self.audit_config, self.deps, history_allowance=allowance, batch=self._alerts
            )
        return {
            "webhookId": parsed.webhook_id,
            "nonce": parsed.nonce,
            "events": len(outcome.events),
            "statusAlert": alerted,
            "historyReads": sum(outcome.history_reads.values()),
            "rowsDeferred": outcome.rows_deferred,
        }
