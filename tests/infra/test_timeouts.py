"""Timeouts derived from each other: `process` outlasts its longest Smartsheet request, the queue outlasts `process`.

The numbers live once, in billing_audit.resources; the SDK adapter takes its defaults from them and
the stack sizes the functions from them.  These checks read the adapter's real defaults and the
synthesized template, so a change on either side alone fails here.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest

from billing_audit import resources as shared
from billing_audit.smartsheet.sdk_client import ExponentialBackoff, SdkSmartsheet
from tests.infra.test_stack import function_id

RETRYABLE_NOT_RATE_LIMITED = (4001, 4002, 4004)


def test_the_sdk_adapter_takes_its_limits_from_resources() -> None:
    backoff = ExponentialBackoff()
    assert backoff.max_retry_seconds == shared.SMARTSHEET_RETRY_BUDGET_SECONDS
    assert backoff.max_attempts == shared.SMARTSHEET_RETRY_ATTEMPTS
    timeout = inspect.signature(SdkSmartsheet).parameters["timeout_seconds"].default
    assert timeout == shared.SMARTSHEET_REQUEST_TIMEOUT_SECONDS


@pytest.mark.parametrize("code", RETRYABLE_NOT_RATE_LIMITED)
@pytest.mark.parametrize("base_seconds", [1.0, 30.0], ids=["default-base", "slow-base"])
def test_one_request_gives_up_within_its_longest_time(code: int, base_seconds: float) -> None:
    """Driven as the SDK drives it (calc_backoff after each failed attempt, with the production
    sleeper): the attempts and the waits between them stay inside SMARTSHEET_REQUEST_MAX_SECONDS."""
    waits: list[float] = []
    backoff = ExponentialBackoff(base_seconds=base_seconds, sleep=waits.append)
    attempts = 1
    while backoff.calc_backoff(attempts, 0.0, SimpleNamespace(code=code)) >= 0:
        attempts += 1
    assert attempts <= shared.SMARTSHEET_RETRY_ATTEMPTS + 1
    assert sum(waits) <= shared.SMARTSHEET_RETRY_BUDGET_SECONDS
    longest = sum(waits) + attempts * shared.SMARTSHEET_REQUEST_TIMEOUT_SECONDS
    assert longest <= shared.SMARTSHEET_REQUEST_MAX_SECONDS


def _timeout(template_json: dict[str, Any], name: str) -> int:
    timeout: int = template_json["Resources"][function_id(template_json, name)]["Properties"]["Timeout"]
    return timeout


def test_process_outlasts_its_longest_request_plus_work(template_json: dict[str, Any]) -> None:
    timeout = _timeout(template_json, "process")
    assert timeout == shared.PROCESS_TIMEOUT_SECONDS
    assert timeout >= shared.SMARTSHEET_REQUEST_MAX_SECONDS + shared.PROCESS_WORK_SECONDS
    assert timeout > shared.SMARTSHEET_RETRY_BUDGET_SECONDS  # the mismatch this replaced: 120 s against 150 s


def test_every_smartsheet_caller_outlasts_one_request(template_json: dict[str, Any]) -> None:
    from tests.infra.test_deployment_options import _smartsheet_callers

    callers = _smartsheet_callers(template_json)  # every function whose role may read the token
    assert {_timeout(template_json, name) for name in ("process", "scan")} <= {c["Timeout"] for c in callers}
    for props in callers:
        assert props["Timeout"] > shared.SMARTSHEET_REQUEST_MAX_SECONDS, props["Description"]


def test_the_callback_queue_outlasts_six_process_timeouts(template_json: dict[str, Any]) -> None:
    # Lambda's advice for SQS sources: a message is not redelivered while a run may still hold it.
    visibility = template_json["Resources"][shared.CALLBACK_QUEUE_LOGICAL_ID]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * _timeout(template_json, "process")


def test_the_notifier_outlasts_its_one_slack_post(template_json: dict[str, Any]) -> None:
    from billing_audit.notify.slack import post

    post_timeout = inspect.signature(post).parameters["timeout"].default
    # One post, no retries in the function (Lambda retries the invocation), plus the secret read.
    assert _timeout(template_json, "notifier") > post_timeout


def test_a_scan_drain_stops_in_time_for_its_last_request(template_json: dict[str, Any]) -> None:
    # A drain stops SCAN_MARGIN_DEFAULT_SECONDS before the invocation's end: one request at its
    # longest must fit in the margin, and the margin must leave the invocation time to drain.
    assert shared.SCAN_MARGIN_DEFAULT_SECONDS >= shared.SMARTSHEET_REQUEST_MAX_SECONDS
    assert _timeout(template_json, "scan") > 2 * shared.SCAN_MARGIN_DEFAULT_SECONDS


def test_every_queue_outlasts_six_timeouts_of_its_consumer(template_json: dict[str, Any]) -> None:
    from tests.infra.test_stack import of_type

    mappings = [
        m["Properties"]
        for m in of_type(template_json, "AWS::Lambda::EventSourceMapping").values()
        if "Fn::GetAtt" in m["Properties"]["EventSourceArn"]
    ]
    assert mappings
    for mapping in mappings:
        queue = template_json["Resources"][mapping["EventSourceArn"]["Fn::GetAtt"][0]]
        function = template_json["Resources"][mapping["FunctionName"]["Ref"]]
        assert queue["Type"] == "AWS::SQS::Queue"
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]
