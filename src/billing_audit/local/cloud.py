"""Start moto's server on 127.0.0.1 and create the product's resources in it.

Resources come from the synthesized CDK template when the infra deployment module is present
(billing_audit.local.deploy); until then, from billing_audit.resources directly — the same table
and index definitions the CDK constructs read.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

from billing_audit import resources as res

REGION = "us-east-1"
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


class LocalCloud:
    """moto's ThreadedMotoServer on a free loopback port, plus the env mapping of resource names."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""
        self.names: dict[str, str] = {}

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> str:
        os.environ.update(_FAKE_CREDENTIALS)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto runs Lambda code only in Docker, which this machine lacks: the SNS → notifier delivery
        # fails inside moto on every alert. The handlers run in process instead (local/lambdas.py).
        logging.getLogger("moto.awslambda.models").setLevel(logging.CRITICAL)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto keeps its backends per process: a second local cloud in one process starts empty.
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        # Every boto3 client created from here on talks to moto, wherever it is created.
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url
        return self.endpoint_url

    def stop(self) -> None:
        self.server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def provision(self) -> dict[str, str]:
        """Create the resources and export their names as the env vars the handlers read."""
        try:
            from billing_audit.local.deploy import deploy_stack
        except ImportError:
            self.names = self._create_from_definitions()
        else:
            self.names = deploy_stack(self.endpoint_url, region=REGION)
        os.environ.update(self.names)
        return self.names

    def _create_from_definitions(self) -> dict[str, str]:
        dynamodb = self.client("dynamodb")
        names: dict[str, str] = {}
        for table in res.TABLES:
            name = f"{res.APP_NAME}-{table.logical_id}"
            keys = [table.partition] + ([table.sort] if table.sort else [])
            attributes = {k.name: k.type for k in keys}
            schema = [{"AttributeName": table.partition.name, "KeyType": "HASH"}]
            if table.sort:
                schema.append({"AttributeName": table.sort.name, "KeyType": "RANGE"})
            indexes = []
            for index in table.indexes:
                attributes[index.partition.name] = index.partition.type
                key_schema = [{"AttributeName": index.partition.name, "KeyType": "HASH"}]
                if index.sort:
                    attributes[index.sort.name] = index.sort.type
                    key_schema.append({"AttributeName": index.sort.name, "KeyType": "RANGE"})
                indexes.append(
                    {"IndexName": index.name, "KeySchema": key_schema, "Projection": {"ProjectionType": "ALL"}}
                )
            kwargs: dict[str, Any] = {
                "TableName": name,
                "KeySchema": schema,
                "AttributeDefinitions": [{"AttributeName": k, "AttributeType": t} for k, t in attributes.items()],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if indexes:
                kwargs["GlobalSecondaryIndexes"] = indexes
            dynamodb.create_table(**kwargs)
            names[table.env_var] = name
        s3 = self.client("s3")
        for bucket in res.BUCKETS:
            name = f"{res.APP_NAME}-{bucket.logical_id.lower()}"
            s3.create_bucket(Bucket=name)
            names[bucket.env_var] = name
        names[res.ALERTS_TOPIC_ENV] = self.client("sns").create_topic(Name=f"{res.APP_NAME}-alerts")["TopicArn"]
        names[res.CALLBACK_QUEUE_ENV] = self.client("sqs").create_queue(QueueName=f"{res.APP_NAME}-callbacks")[
            "QueueUrl"
        ]
        return names
