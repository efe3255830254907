"""Bad input: the webhook function fuzzed with hypothesis (never a 5xx, never a queued callback from
a body not signed with the webhook's secret), and scenario and configuration loading fuzzed (one
line naming the field, never a traceback; an unknown key where none belongs is named)."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from billing_audit import resources as res
from billing_audit.config import ConfigError, parse_config, read_document
from billing_audit.smartsheet.webhooks import sign
from billing_audit_local.lambdas import LocalLambdaContext, load_handler
from billing_audit_local.scenario import config_for
from smartsheet_sim.scenario import ScenarioError, load_scenario, parse_scenario
from smartsheet_sim.testing import small_scenario

pytestmark = pytest.mark.reliability

HOOK = 7301
SECRET = "fuzz-secret-0123456789abcdef"
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


# ----- the webhook function --------------------------------------------------------------------


class Webhook:
    def __init__(self, handler: Any, queue_url: str) -> None:
        self.handler = handler
        self.queue_url = queue_url
        self.context = LocalLambdaContext("webhook", timeout_seconds=10, memory_limit_in_mb=256)

    def call(self, body: str | None, headers: dict[str, str], *, encoded: bool = False) -> dict[str, Any]:
        event = {
            "resource": "/webhook",
            "path": "/webhook",
            "httpMethod": "POST",
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": {"requestId": "fuzz", "stage": "prod", "identity": {"sourceIp": "127.0.0.1"}},
            "body": body,
            "isBase64Encoded": encoded,
        }
        return self.handler(event, self.context)  # type: ignore[no-any-return]

    def queued(self) -> int:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    environment = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    }
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        boto3.client("dynamodb").create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue = boto3.client("sqs").create_queue(
            QueueName="callbacks.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
        )["QueueUrl"]
        boto3.client("s3").create_bucket(Bucket="payloads")
        boto3.client("secretsmanager").create_secret(
            Name=f"{res.WEBHOOK_SECRET_PREFIX}{HOOK}", SecretString=json.dumps({"current": SECRET})
        )
        patch.setenv(res.IDEMPOTENCY_TABLE.env_var, "idempotency")
        patch.setenv(res.CALLBACK_QUEUE_ENV, queue)
        patch.setenv(res.CALLBACK_PAYLOADS_BUCKET.env_var, "payloads")
        yield Webhook(load_handler("webhook", fresh=True).handler, queue)


def _callback(nonce: str, events: Any) -> dict[str, Any]:
    return {
        "nonce": nonce,
        "timestamp": "2026-11-12T10:00:00Z",
        "webhookId": HOOK,
        "scope": "sheet",
        "scopeObjectId": 4001,
        "events": events,
    }


HEADER_NAMES = st.sampled_from(
    ["Smartsheet-Hmac-SHA256", "smartsheet-hmac-sha256", "Smartsheet-Hook-Challenge", "Content-Type", "X-Other"]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    body=st.one_of(st.none(), st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))),
    encoded=st.booleans(),
    headers=st.dictionaries(HEADER_NAMES, st.text(max_size=80), max_size=3),
)
def test_arbitrary_requests_are_never_a_5xx_nor_queued(
    webhook: Webhook, body: str | None, encoded: bool, headers: dict[str, str]
) -> None:
    before = webhook.queued()
    response = webhook.call(body, headers, encoded=encoded)
    assert response["statusCode"] < 500
    assert webhook.queued() == before  # nothing here carries a signature made with the secret


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,  # deeper than the JSON parser recurses
        '{"webhookId": ' + "7" * 5_000 + "}",  # longer than Python turns into an int
        '{"webhookId": "' + "7" * 5_000 + '"}',
        '{"webhookId": 99999999999999999999, "nonce": "n", "events": []}',  # past 64 bits
        '{"webhookId": "\u00b2", "nonce": "n", "events": []}',  # a digit int() does not read
        '{"webhookId": 0, "nonce": "n", "events": []}',
        '{"webhookId": -7301, "challenge": "x"}',
    ],
)
@pytest.mark.parametrize("signed", [False, True])
def test_bodies_no_parser_or_secret_name_takes_are_a_400(webhook: Webhook, body: str, signed: bool) -> None:
    headers = {"Smartsheet-Hmac-SHA256": sign(SECRET, body.encode())} if signed else {}
    before = webhook.queued()
    response = webhook.call(body, headers)
    assert response["statusCode"] == 400 and webhook.queued() == before


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    nonce=st.text(min_size=1, max_size=40),
    events=JSON,
    signer=st.sampled_from(["right", "wrong-secret", "other-body", "none"]),
    encoded=st.booleans(),
)
def test_only_a_body_signed_with_the_secret_is_queued(
    webhook: Webhook, nonce: str, events: Any, signer: str, encoded: bool
) -> None:
    raw = json.dumps(_callback(nonce, events)).encode()
    headers: dict[str, str] = {}
    if signer == "right":
        headers["Smartsheet-Hmac-SHA256"] = sign(SECRET, raw)
    elif signer == "wrong-secret":
        headers["Smartsheet-Hmac-SHA256"] = sign(SECRET + "x", raw)
    elif signer == "other-body":
        headers["Smartsheet-Hmac-SHA256"] = sign(SECRET, raw + b" ")
    body = base64.b64encode(raw).decode() if encoded else raw.decode()
    before = webhook.queued()
    response = webhook.call(body, headers, encoded=encoded)
    assert response["statusCode"] < 500
    if signer != "right":
        assert response["statusCode"] in (400, 401) and webhook.queued() == before
    elif response["statusCode"] == 200 and json.loads(response["body"]).get("status") != "duplicate":
        assert webhook.queued() == before + 1
    else:
        assert webhook.queued() == before  # refused as malformed, or this nonce was queued before


# ----- scenarios -------------------------------------------------------------------------------


def test_a_misspelled_policy_is_named_not_run_on_the_default() -> None:
    data = small_scenario()
    data["polcy"] = {"high_impact": 5}
    with pytest.raises(ScenarioError, match=r"^scenario field polcy: unknown key \(known: "):
        parse_scenario(data)
    data = small_scenario()
    data["policy"] = {"hihg_impact": 5}
    with pytest.raises(ScenarioError, match=r"^scenario field policy\.hihg_impact: unknown key \(known: close_grace"):
        config_for(parse_scenario(data))
    # Worded for a JSON document, not in pydantic's Python terms.
    with pytest.raises(ScenarioError, match=r"^scenario field \(top level\): Input should be a JSON object$"):
        parse_scenario([1, 2])


@pytest.mark.parametrize("level", [0, 6])
def test_a_roster_access_level_outside_one_to_five_is_named(level: int) -> None:
    data = small_scenario()
    data["users"][0]["access_level"] = level
    with pytest.raises(ScenarioError, match=r"^scenario field users\.0\.access_level: Input should be"):
        parse_scenario(data)
    data["users"][0]["access_level"] = 5
    roster = config_for(parse_scenario(data)).model_dump()["roster"]
    roster[0]["access_level"] = level
    with pytest.raises(ConfigError, match=r"^configuration field roster\.0\.access_level: Input should be"):
        parse_config({"roster": roster})
    # A misspelled roster key is named, as everywhere else in the configuration.
    with pytest.raises(
        ConfigError,
        match=r"^configuration field roster\.0\.acess_level: unknown key \(known: access_level, active, email,",
    ):
        parse_config({"roster": [{"email": "a@x.com", "acess_level": 2}]})


NOT_STRICT_JSON = [
    (b'{"a": NaN}', "NaN is not a JSON number"),
    (b'{"a": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"a": 1e400}', "the number 1e400 is too large"),
    # An integer no double holds: it was taken, and the backup workbook's float conversion died on it.
    (b'{"a": 1' + b"0" * 400 + b"}", "the number 10000000000000000000… is too large"),
    (b'{"a": "\xff\xfe"}', "is not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
]


@pytest.mark.parametrize(("raw", "problem"), NOT_STRICT_JSON)
def test_files_python_would_half_read_are_refused_in_one_line(tmp_path: Any, raw: bytes, problem: str) -> None:
    """Python's parser takes NaN, Infinity, 1e400 (an infinity) and huge integers, which later broke the trail's
    canonical JSON; bytes not UTF-8 and deep nesting raised outside the loaders' errors."""
    path = tmp_path / "file.json"
    path.write_bytes(raw)
    with pytest.raises(ScenarioError, match=re.escape(problem)) as scenario:
        load_scenario(path)
    with pytest.raises(ConfigError, match=re.escape(problem)) as config:
        read_document(str(path))
    assert "\n" not in str(scenario.value) + str(config.value)


def test_a_setting_typed_twice_is_refused_naming_it(tmp_path: Any) -> None:
    # Python keeps the last value and says nothing.  (A scenario is read as Python reads JSON: a
    # file written to FORMAT.md elsewhere is not refused for what its format does not forbid.)
    path = tmp_path / "config.json"
    path.write_text('{"policy": {"high_impact": 5, "high_impact": 5000}}')
    with pytest.raises(ConfigError, match=re.escape("the key 'high_impact' appears twice in one object")):
        read_document(str(path))


def test_judged_expectations_and_extra_fields_of_other_objects_are_allowed() -> None:
    data = small_scenario()
    data["expected"] = {"violations": []}
    data["sheets"][0]["notes"] = "a crew sheet"
    data["users"][0]["role"] = "billing_admin"
    assert parse_scenario(data).sheets[0].id == small_scenario()["sheets"][0]["id"]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:2]):
            found += _paths(inner, (*path, index))
    return found


SCENARIO = small_scenario()
SCENARIO_PATHS = _paths(SCENARIO)


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    copied = copy.deepcopy(data)
    target = copied
    for part in path[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copied


_DELETE = object()


def _one_line_naming_a_field(message: str, prefix: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(prefix), message


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(SCENARIO_PATHS), value=st.one_of(JSON, st.just(_DELETE)))
def test_a_broken_scenario_fails_in_one_line_naming_the_field(path: tuple[Any, ...], value: Any) -> None:
    data = _replace(SCENARIO, path, value)
    try:
        config_for(parse_scenario(data))
    except ScenarioError as exc:
        _one_line_naming_a_field(str(exc), "scenario field ")


# ----- configuration ---------------------------------------------------------------------------

CONFIG: dict[str, Any] = {
    "timezone": "America/Chicago",
    "sheets": {"sheet_ids": [4001], "workspaces": [{"id": 1, "name_pattern": "Billing"}]},
    "policy": {"tracked_columns": ["Quantity"], "high_impact": 1000, "price_tolerance": {"absolute": 0.02}},
}


def test_an_unknown_configuration_key_is_named() -> None:
    for path in (("polcy",), ("policy", "hihg_impact"), ("sheets", "sheet_idz"), ("policy", "price_tolerance", "x")):
        with pytest.raises(ConfigError) as raised:
            parse_config(_replace(CONFIG, path, 1))
        _one_line_naming_a_field(str(raised.value), "configuration field ")
        assert path[-1] in str(raised.value) and ": unknown key (known: " in str(raised.value)


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(_paths(CONFIG)), value=st.one_of(JSON, st.just(_DELETE)))
def test_a_broken_configuration_fails_in_one_line_naming_the_field(path: tuple[Any, ...], value: Any) -> None:
    try:
        parse_config(_replace(CONFIG, path, value))
    except ConfigError as exc:
        _one_line_naming_a_field(str(exc), "configuration field ")


@settings(max_examples=100, deadline=None)
@given(data=JSON)
def test_any_json_as_a_configuration_fails_in_one_line(data: Any) -> None:
    try:
        parse_config(data)
    except ConfigError as exc:
        _one_line_naming_a_field(str(exc), "configuration field ")


@settings(max_examples=100, deadline=None)
@given(key=st.text(min_size=1, max_size=20))
def test_any_unknown_top_level_key_is_named_in_one_line(key: str) -> None:
    data = small_scenario()
    if key in data or key == "expected":
        return
    data[key] = 1
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data)
    _one_line_naming_a_field(str(raised.value), "scenario field ")
    assert "unknown key" in str(raised.value)
