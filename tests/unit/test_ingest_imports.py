"""The webhook function's cold start stays light: checked in a fresh interpreter.

The import alone, and then a challenge plus a signed callback handled end to end (moto in
process, inside the child), must load neither the Smartsheet SDK, the SDK adapter, the scan
pipeline, nor openpyxl / scikit-learn / pandas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
FORBIDDEN = (
    "smartsheet",
    "openpyxl",
    "sklearn",
    "pandas",
    "billing_audit.smartsheet.sdk_client",
    "billing_audit.pipeline.scan",
    "billing_audit.wiring",
)

CHILD = r"""
import importlib.util, json, sys

def load():
    spec = importlib.util.spec_from_file_location("webhook_handler", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

module = load()
after_import = sorted(sys.modules)

from moto import mock_aws
import boto3
from billing_audit.smartsheet.webhooks import sign

with mock_aws():
    boto3.client("dynamodb").create_table(
        TableName="idem", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    queue = boto3.client("sqs").create_queue(
        QueueName="callbacks.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    boto3.client("s3").create_bucket(Bucket="payloads")
    boto3.client("secretsmanager").create_secret(Name="billing-audit/webhook/7", SecretString="s3cret")
    import os
    os.environ.update(
        {"IDEMPOTENCY_TABLE": "idem", "CALLBACK_QUEUE_URL": queue, "CALLBACK_PAYLOADS_BUCKET": "payloads"})

    class Context:
        function_name = "webhook"; memory_limit_in_mb = 256; aws_request_id = "r"; function_version = "1"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:webhook"
        def get_remaining_time_in_millis(self): return 10000

    def event(body, headers):
        return {"resource": "/webhook", "path": "/webhook", "httpMethod": "POST", "headers": headers,
                "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
                "requestContext": {"requestId": "req-1", "stage": "prod", "identity": {"sourceIp": "127.0.0.1"}},
                "body": body, "isBase64Encoded": False}

    challenge = module.handler(event(json.dumps({"challenge": "c1", "webhookId": 7}),
                                     {"Smartsheet-Hook-Challenge": "c1"}), Context())
    body = json.dumps({"nonce": "n1", "timestamp": "2026-11-12T10:00:00Z", "webhookId": 7, "scope": "sheet",
                       "scopeObjectId": 1, "events": [{"objectType": "row", "eventType": "updated", "id": 1,
                                                       "timestamp": "2026-11-12T10:00:00Z"}]})
    accepted = module.handler(event(body, {"Smartsheet-Hmac-SHA256": sign("s3cret", body.encode())}), Context())

print(json.dumps({"after_import": after_import, "after_requests": sorted(sys.modules),
                  "statuses": [challenge["statusCode"], accepted["statusCode"]]}))
"""


def _forbidden(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


def test_webhook_handler_imports_and_requests_stay_light() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "POWERTOOLS_"))}
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(FUNCTIONS / "webhook" / "handler.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [200, 200]
    assert _forbidden(report["after_import"]) == []
    assert _forbidden(report["after_requests"]) == []
