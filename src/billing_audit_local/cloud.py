"""Start moto's server on 127.0.0.1 and create the product's resources in it.

Resources come from the synthesized CDK template (billing_audit_local.deploy): the local cloud is
built from the same definitions as production.

While a `LocalCloud` is up, its `environment` (endpoint, region, fake credentials, and once
provisioned the resource names) is set in the process, so the handlers running in process and
every default boto3 client find moto as they would find AWS in Lambda; `stop()` restores what it
replaced.  Tooling code that can be explicit uses `LocalCloud.client` instead.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests
from moto.server import ThreadedMotoServer

from billing_audit.config import AuditConfig, parse_config
from billing_audit.resources import ALERTS_TOPIC_ENV, CONFIG_PARAMETER_ENV
from billing_audit.store.parameters import ConfigParameter
from billing_audit_local.deploy import deploy_stack
from billing_audit_local.environment import REGION, LocalAws, ProcessEnvironment, smartsheet_token
from billing_audit_local.moto_atomic_writes import serialize_writes
from billing_audit_local.moto_partitions import read_one_partition

_SERVER: ThreadedMotoServer | None = None
_SERVER_LOCK = threading.Lock()


def _moto_endpoint() -> str:
    """One moto server per process, on a free loopback port, started on first use.

    moto's backends are process-wide anyway, and one stable endpoint keeps clients that outlive a
    local cloud (Powertools' cached providers, a handler's per-container deps) pointing at a live server.
    """
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None:
            read_one_partition()  # DynamoDB's cost for a query, not moto's whole-table walk
            serialize_writes()  # DynamoDB's atomic conditional writes, not moto's check-then-write
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            _SERVER = server
        host, port = _SERVER.get_host_and_port()
    return f"http://{host}:{port}"


class LocalCloud:
    """moto's server on loopback holding the product's resources, and the env mapping of their names."""

    def __init__(self) -> None:
        self.endpoint_url = ""
        self.names: dict[str, str] = {}
        self._process = ProcessEnvironment()

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def aws(self) -> LocalAws:
        if not self.endpoint_url:
            raise RuntimeError("the local cloud is not started")
        return LocalAws(self.endpoint_url, REGION)

    @property
    def environment(self) -> dict[str, str]:
        """What a handler here finds in its environment: where AWS is, how to sign, the resource names."""
        return {**self.aws.environment(), **self.names}

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.endpoint_url = _moto_endpoint()
        # Each local cloud starts empty, whatever an earlier one in this process left behind.
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        # Every boto3 client created from here on talks to moto, wherever it is created.
        self._process.set(self.environment)
        return self.endpoint_url

    def stop(self) -> None:
        """Put back the environment the process had before `start()` (moto's server stays up)."""
        self._process.restore()

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def provision(self) -> dict[str, str]:
        """Deploy the synthesized stack and export its names as the env vars the handlers read."""
        self.names = deploy_stack(self.endpoint_url, region=REGION, smartsheet_token=smartsheet_token())
        self._process.set(self.names)
        self._detach_lambda_subscribers(self.names[ALERTS_TOPIC_ENV])
        return self.names

    def push_config(self, config: AuditConfig) -> AuditConfig:
        """Put `config` in the stack's configuration parameter, as `billing-audit config push` does,
        and return what the functions read from it (through Powertools, by the same model)."""
        parameter = ConfigParameter(self.names[CONFIG_PARAMETER_ENV])
        parameter.put(config, self.client("ssm"))
        return parse_config(parameter.document(fresh=True), parameter.source)

    def _detach_lambda_subscribers(self, topic_arn: str) -> int:
        """Unsubscribe Lambda functions (the Slack notifier) from the alerts topic; returns how many.

        moto runs Lambda code only in Docker, which this machine lacks: it would fail on every
        publish. The handlers run in process instead (billing_audit_local.lambdas); the alerts stay
        on the topic for every other subscriber.
        """
        sns = self.client("sns")
        removed = 0
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for subscription in page.get("Subscriptions", []):
                arn = subscription.get("SubscriptionArn", "")
                if subscription.get("Protocol") == "lambda" and arn.startswith("arn:"):
                    sns.unsubscribe(SubscriptionArn=arn)
                    removed += 1
        return removed
