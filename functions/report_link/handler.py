"""GET /r/{token}: a report's short link, answered with a redirect to a download presigned now.

Presigned here, at the click, with this function's current credentials: a URL presigned when the
report was built would die with that function's session, long before the link's promised lifetime.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from billing_audit.pipeline.reports.links import open_link
from billing_audit.settings import ReportLinkSettings, load
from billing_audit.store.reports import DynamoLinkStore
from billing_audit.store.s3 import S3Blobs

logger = Logger()
tracer = Tracer()

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
MESSAGES = {404: "This link does not exist.\n", 410: "This link has expired. Ask for a new report.\n"}


@cache
def _stores() -> tuple[DynamoLinkStore, S3Blobs]:
    settings = load(ReportLinkSettings)
    links = DynamoLinkStore(boto3.resource("dynamodb").Table(settings.state_table))
    return links, S3Blobs.signing(settings.reports_bucket)


@logger.inject_lambda_context(log_event=False)  # the path holds the token: never logged
@tracer.capture_lambda_handler(capture_response=False)  # nor the presigned Location in a trace
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = str((event.get("pathParameters") or {}).get("token") or "")
    links, blobs = _stores()
    answer = open_link(token, links, blobs)
    logger.info("report link opened", extra={"status": answer.status})
    if answer.status == 302 and answer.location is not None:
        return {"statusCode": 302, "headers": {**HEADERS, "Location": answer.location}, "body": ""}
    return {
        "statusCode": answer.status,
        "headers": {**HEADERS, "Content-Type": "text/plain; charset=utf-8"},
        "body": MESSAGES.get(answer.status, ""),
    }
