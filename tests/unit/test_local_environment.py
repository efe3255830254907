"""The local cloud's environment is set in one place and put back as it was; one Lambda context."""

from __future__ import annotations

import os

import boto3
import pytest

from billing_audit_local.environment import LocalAws, ProcessEnvironment, process_environment
from billing_audit_local.lambdas import LocalLambdaContext


def test_restore_puts_back_what_set_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BA_TEST_KEPT", "before")
    monkeypatch.delenv("BA_TEST_NEW", raising=False)
    environment = ProcessEnvironment()
    environment.set({"BA_TEST_KEPT": "during", "BA_TEST_NEW": "1"})
    environment.set({"BA_TEST_KEPT": "later"})
    assert (os.environ["BA_TEST_KEPT"], os.environ["BA_TEST_NEW"]) == ("later", "1")
    environment.restore()
    assert os.environ["BA_TEST_KEPT"] == "before"
    assert "BA_TEST_NEW" not in os.environ


def test_without_override_the_callers_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BA_TEST_LEVEL", "DEBUG")
    monkeypatch.delenv("BA_TEST_TRACE", raising=False)
    with process_environment({"BA_TEST_LEVEL": "WARNING", "BA_TEST_TRACE": "off"}, override=False):
        assert (os.environ["BA_TEST_LEVEL"], os.environ["BA_TEST_TRACE"]) == ("DEBUG", "off")
    assert os.environ["BA_TEST_LEVEL"] == "DEBUG"
    assert "BA_TEST_TRACE" not in os.environ


def test_the_local_aws_environment_points_default_clients_at_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LocalAws("http://127.0.0.1:1").environment():
        monkeypatch.delenv(name, raising=False)
    boto3.setup_default_session()
    with process_environment(LocalAws("http://127.0.0.1:1").environment()):
        assert boto3.DEFAULT_SESSION is None  # the next default client reads the fake credentials
        client = boto3.client("sqs")
        assert client.meta.endpoint_url == "http://127.0.0.1:1"
        assert boto3.DEFAULT_SESSION is not None
        assert boto3.DEFAULT_SESSION.get_credentials().access_key == "testing"
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert boto3.DEFAULT_SESSION is None


def test_the_context_counts_down_to_its_deadline() -> None:
    context = LocalLambdaContext("billing-audit-webhook", timeout_seconds=10)
    assert 9_000 < context.get_remaining_time_in_millis() <= 10_000
    assert LocalLambdaContext("f", timeout_seconds=0).get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn.endswith(":function:billing-audit-webhook")
    assert context.log_group_name == "/aws/lambda/billing-audit-webhook"


def test_the_synth_cache_key_follows_the_configuration_model(monkeypatch):
    """The template carries the audit configuration as AuditConfig dumps it, defaults included: a
    setting removed from a domain model left a cached template the new model refused."""
    from billing_audit_local.deploy import synth

    before = synth.synth_key({})
    schema = synth.AuditConfig.model_json_schema()
    monkeypatch.setattr(synth.AuditConfig, "model_json_schema", lambda: {**schema, "title": "another"})
    assert synth.synth_key({}) != before
