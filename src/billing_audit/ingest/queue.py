"""Putting a verified callback on the SQS FIFO queue exactly once per (webhookId, nonce).

Powertools idempotency (DynamoDB persistence) wraps the send: a Smartsheet retry, a replayed
request or a duplicate delivery of an already queued nonce gets the stored result back and sends
nothing.  The queue is FIFO, grouped by sheet (`scopeObjectId`), so each sheet's callbacks are
processed in the order they arrived; the deduplication id is the (webhookId, nonce) pair.

The message body is the callback JSON exactly as received.  A body that does not fit one message
with its attributes (a big paste bundles thousands of events) is stored in the callback payloads
bucket and queued by reference, with its SHA-256: it is never refused, since Smartsheet retries a
refusal and then disables the webhook.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from billing_audit import resources as res
from billing_audit.ingest.request import CallbackInProgress
from billing_audit.smartsheet.webhooks import WEBHOOK_ID_FIELDS, webhook_id_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs.client import SQSClient

    from billing_audit.store.interfaces import BlobStore

# Smartsheet retries for about a day (7 quick attempts, then every 3 hours); keep nonces for two.
NONCE_TTL_SECONDS = 2 * 24 * 3600
CALLBACK_KEY = f"[{' || '.join(WEBHOOK_ID_FIELDS)}, nonce]"  # "[webhookId || webhookid, nonce]"
QUEUED_KEY_PREFIX = f"{res.APP_NAME}.callback-queued"
PAYLOAD_REF_FIELD = "payloadRef"  # a queued body {"payloadRef": {"key", "sha256", "bytes"}}
PAYLOAD_PREFIX = res.CALLBACK_PAYLOAD_PREFIX


class PayloadMissing(RuntimeError):
    """A callback queued by reference whose stored body is gone or altered."""


def message_size(body: str, attributes: dict[str, Any]) -> int:
    """What SQS counts against its limit: the body and every attribute's name, type and value."""
    size = len(body.encode())
    for name, attribute in attributes.items():
        size += len(name.encode()) + len(str(attribute["DataType"]).encode())
        size += len(str(attribute.get("StringValue", "")).encode())
    return size


def resolve_payload(message: dict[str, Any], payloads: BlobStore | None) -> Any:
    """The callback a by-reference message names, checked against the SHA-256 queued with it."""
    ref = message[PAYLOAD_REF_FIELD]
    if payloads is None:
        raise PayloadMissing("a callback was queued by reference but no payload bucket is configured")
    data = payloads.get(str(ref["key"]))
    if hashlib.sha256(data).hexdigest() != ref["sha256"]:
        raise PayloadMissing(f"stored callback {ref['key']} does not match its SHA-256")
    return json.loads(data)


def message_group(callback: dict[str, Any]) -> str:
    """One group per sheet: its callbacks are delivered in order.  A callback with no sheet (none
    is expected) gets its webhook's group."""
    scope = callback.get("scopeObjectId", callback.get("scopeobjectid"))
    if isinstance(scope, int | str) and str(scope).isdigit():
        return f"sheet-{scope}"
    return f"webhook-{webhook_id_of(callback)}"


def callback_idempotency(**options: Any) -> IdempotencyConfig:
    """Once per (webhookId, nonce), remembered for as long as Smartsheet may retry the callback."""
    return IdempotencyConfig(
        event_key_jmespath=CALLBACK_KEY,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=NONCE_TTL_SECONDS,
        **options,
    )


def _mark_duplicate(response: Any, record: DataRecord) -> Any:
    """Powertools calls this only when the answer came from the store: the nonce was seen before."""
    if isinstance(response, dict):
        return {**response, "duplicate": True}
    return response


class SqsCallbackSink:
    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        persistence: BasePersistenceLayer,
        payloads: BlobStore | None = None,
        max_message_bytes: int = res.SQS_MAX_MESSAGE_BYTES,
    ) -> None:
        self.client = client
        self.queue_url = queue_url
        self.payloads = payloads
        self.max_message_bytes = max_message_bytes
        self.config = callback_idempotency(response_hook=_mark_duplicate)
        self._send = idempotent_function(
            self._send_message,
            data_keyword_argument="callback",
            persistence_store=persistence,
            config=self.config,
            key_prefix=QUEUED_KEY_PREFIX,
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        self.config.register_lambda_context(context)

    def enqueue(self, *, callback: dict[str, Any], body: str) -> bool:
        try:
            result = self._send(callback=callback, body=body)
        except IdempotencyAlreadyInProgressError:
            raise CallbackInProgress("the same nonce is being queued") from None
        return not (isinstance(result, dict) and result.get("duplicate"))

    def _send_message(self, *, callback: dict[str, Any], body: str) -> dict[str, Any]:
        webhook_id = webhook_id_of(callback)
        attributes: dict[str, Any] = {
            "webhookId": {"DataType": "Number", "StringValue": "" if webhook_id is None else str(webhook_id)},
            "nonce": {"DataType": "String", "StringValue": str(callback.get("nonce", ""))},
        }
        if callback.get("newWebhookStatus"):
            attributes["newWebhookStatus"] = {"DataType": "String", "StringValue": str(callback["newWebhookStatus"])}
        dedup = hashlib.sha256(f"{webhook_id}:{callback.get('nonce', '')}".encode()).hexdigest()
        if message_size(body, attributes) > self.max_message_bytes:
            body = self._by_reference(dedup, body)
            attributes[PAYLOAD_REF_FIELD] = {"DataType": "String", "StringValue": "s3"}
        answer = self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            MessageAttributes=attributes,
            MessageGroupId=message_group(callback),
            MessageDeduplicationId=dedup,
        )
        return {"messageId": answer["MessageId"]}

    def _by_reference(self, name: str, body: str) -> str:
        if self.payloads is None:
            raise RuntimeError("callback too large for a queue message and no payload bucket configured")
        data = body.encode()
        key = f"{PAYLOAD_PREFIX}{name}.json"
        digest = self.payloads.put(key, data, "application/json")
        return json.dumps({PAYLOAD_REF_FIELD: {"key": key, "sha256": digest, "bytes": len(data)}})


class SqsDeadLetters:
    """Moves a callback that failed its last attempt to the dead-letter queue itself.

    On a FIFO queue, the callbacks queued after a failing one in its group come back with it, and
    their receive counts grow with its: left to the redrive policy, they would be dead-lettered
    beside it, unprocessed.  Dead-lettering it here on its last attempt, and answering it as done,
    lets the sheet's later callbacks go on in order.
    """

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, record: SQSRecord, error: Exception) -> None:
        attributes: dict[str, Any] = {
            name: {"DataType": value.data_type, "StringValue": value.string_value or ""}
            for name, value in (record.message_attributes or {}).items()
            if value.string_value is not None
        }
        # The type only: an exception text may quote the callback.
        attributes["failure"] = {"DataType": "String", "StringValue": type(error).__name__}
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=record.body,
            MessageAttributes=attributes,
            MessageGroupId=record.attributes.message_group_id or "dead-letters",
            MessageDeduplicationId=hashlib.sha256(record.message_id.encode()).hexdigest(),
        )
