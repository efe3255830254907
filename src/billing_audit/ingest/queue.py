"""Putting a verified callback on the SQS queue exactly once per (webhookId, nonce).

Powertools idempotency (DynamoDB persistence) wraps the send: a Smartsheet retry, a replayed
request or a duplicate delivery of an already queued nonce gets the stored result back and sends
nothing.  The message body is the callback JSON exactly as received (the webhook function's body
limit equals SQS's message limit, so it always fits); routing facts travel as attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from billing_audit import resources as res
from billing_audit.ingest.request import CallbackInProgress
from billing_audit.smartsheet.webhooks import WEBHOOK_ID_FIELDS, webhook_id_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs.client import SQSClient

# Smartsheet retries for about a day (7 quick attempts, then every 3 hours); keep nonces for two.
NONCE_TTL_SECONDS = 2 * 24 * 3600
CALLBACK_KEY = f"[{' || '.join(WEBHOOK_ID_FIELDS)}, nonce]"  # "[webhookId || webhookid, nonce]"
QUEUED_KEY_PREFIX = f"{res.APP_NAME}.callback-queued"


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
    def __init__(self, client: SQSClient, queue_url: str, persistence: BasePersistenceLayer) -> None:
        self.client = client
        self.queue_url = queue_url
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
        answer = self.client.send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes)
        return {"messageId": answer["MessageId"]}
