"""The queue side: SQS batches of verified callbacks, processed one record at a time.

Powertools `BatchProcessor` reports partial batch failures, so one bad callback is retried (and
after the queue's maxReceiveCount lands in the dead-letter queue) without redoing the others.
Each callback runs once per (webhookId, nonce) through Powertools idempotency; below that,
`process_callback` is idempotent per cell-history entry (stable event ids), so SQS redelivery, a
Smartsheet retry or a duplicate delivery never stores or alerts an event twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from billing_audit import resources as res
from billing_audit.ingest.queue import callback_idempotency
from billing_audit.pipeline.callbacks import process_callback
from billing_audit.pipeline.webhook_alerts import webhook_status_changed
from billing_audit.smartsheet.models import WebhookStatus
from billing_audit.smartsheet.webhooks import WebhookCallback

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from billing_audit.config import AuditConfig
    from billing_audit.domain.models import AuditEvent
    from billing_audit.pipeline.deps import AuditDeps
    from billing_audit.store.interfaces import Notifier

ProcessFn = Callable[["WebhookCallback", "AuditConfig", "AuditDeps"], "list[AuditEvent]"]
PROCESSED_KEY_PREFIX = f"{res.APP_NAME}.callback-processed"


def default_process() -> ProcessFn:
    return process_callback


@dataclass(frozen=True)
class RecordResult:
    webhook_id: int
    nonce: str | None
    events: int
    status_alert: bool


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
        on_record: Callable[[RecordResult], None] | None = None,
        on_failure: Callable[[SQSRecord, Exception], None] | None = None,
    ) -> None:
        self.audit_config = config
        self.deps = deps
        self.notifier = notifier
        self._process_fn = process
        self.on_record = on_record
        self.on_failure = on_failure
        self.batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
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
        if context is not None:
            self.idempotency.register_lambda_context(context)
        return dict(
            process_partial_response(event=event, record_handler=self.record, processor=self.batch, context=context)
        )

    def record(self, record: SQSRecord) -> dict[str, Any]:
        """Raises to fail this record only (it is retried, then dead-lettered)."""
        try:
            payload = json.loads(record.body)
            if not isinstance(payload, dict):
                raise ValueError("queued callback is not a JSON object")
            result = self._run(callback=payload)
        except Exception as exc:
            if self.on_failure is not None:
                self.on_failure(record, exc)
            raise
        if self.on_record is not None:
            self.on_record(
                RecordResult(
                    webhook_id=int(result["webhookId"]),
                    nonce=result.get("nonce"),
                    events=int(result.get("events", 0)),
                    status_alert=bool(result.get("statusAlert")),
                )
            )
        return result

    def _process_payload(self, *, callback: dict[str, Any]) -> dict[str, Any]:
        parsed = WebhookCallback.model_validate(callback)
        alerted = False
        if parsed.new_webhook_status is not None and parsed.new_webhook_status != WebhookStatus.ENABLED:
            self.notifier.notify(*webhook_status_changed(parsed))
            alerted = True
        events = self.process(parsed, self.audit_config, self.deps) if parsed.events else []
        return {"webhookId": parsed.webhook_id, "nonce": parsed.nonce, "events": len(events), "statusAlert": alerted}
