"""The trail commands against the local cloud (moto over HTTP): queries and exports through keys and
indexes only (no Scan call), every export format, the stored trail verified and its tampering found,
a proof and an export checked offline, a pseudonymised export verified only with its key."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from openpyxl import load_workbook

from billing_audit.cli import main
from billing_audit.pipeline.trail import log_events
from billing_audit.resources import EVENTS_TABLE, PSEUDONYM_KEY_SECRET, STATE_TABLE
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.trail import DynamoTrail
from billing_audit_local.cloud import LocalCloud
from tests.unit.report_builders import week_of_events

EVENTS = week_of_events(60)


@pytest.fixture(scope="module")
def trail_cloud() -> Iterator[LocalCloud]:
    with LocalCloud() as local:
        local.provision()
        dynamodb = boto3.resource("dynamodb")
        events, state = (
            dynamodb.Table(os.environ[EVENTS_TABLE.env_var]),
            dynamodb.Table(os.environ[STATE_TABLE.env_var]),
        )
        store, trail = DynamoEventStore(events, retention_days=3650), DynamoTrail(state, events, 3650)
        for start in range(0, len(EVENTS), 9):
            batch = EVENTS[start : start + 9]
            log_events(store.add(batch), batch, trail)
        assert main(["trail", "seal"]) == 0
        yield local


@pytest.fixture
def dynamodb_calls() -> Iterator[list[str]]:
    """Every DynamoDB operation any boto3 client of this process makes while the test runs."""
    calls: list[str] = []
    events = boto3._get_default_session()._session.get_component("event_emitter")

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    events.register("before-call.dynamodb", record)
    yield calls
    events.unregister("before-call.dynamodb", record)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


WINDOW = ("--since", "2026-11-01", "--until", "2026-11-21")


def test_queries_use_keys_and_indexes_never_a_scan(
    trail_cloud: LocalCloud, dynamodb_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    cases: list[tuple[list[str], Any]] = [
        ([], lambda e: True),
        (["--user", "ANA.ortiz@example.com"], lambda e: e.changed_by == "ana.ortiz@example.com"),
        (["--sheet", "102"], lambda e: e.sheet_id == 102),
        (["--risk", "high"], lambda e: e.risk_level is not None and e.risk_level.value == "HIGH"),
        (["--work-request", "SUB-1007"], lambda e: e.work_request == "SUB-1007"),
        (["--sheet", "101", "--type", "change"], lambda e: e.sheet_id == 101 and e.type.value == "change"),
    ]
    for extra, want in cases:
        code, out = run(capsys, "events", "query", *WINDOW, *extra, "--limit", "1000", "--json")
        assert code == 0
        got = {record["event_id"] for record in json.loads(out)}
        assert got == {e.event_id for e in EVENTS if want(e)}, extra
    code, out = run(capsys, "events", "query", *WINDOW, "--limit", "5")
    assert code == 0 and "event_id" in out and "5 events detected" in out and "oldest first" in out
    code, out = run(capsys, "stats", *WINDOW, "--json")
    stats = json.loads(out)
    assert code == 0 and stats["events"] == len(EVENTS)
    assert sum(row["events"] for row in stats["by"]["type"]) == len(EVENTS)
    assert "Scan" not in dynamodb_calls and "Query" in dynamodb_calls


@pytest.mark.parametrize(
    ("extra", "moment"),
    [
        ([], "detected_at"),
        (["--sheet", "102", "--sheet", "101"], "changed_at"),
        (["--risk", "low", "--risk", "high", "--risk", "medium"], "changed_at"),
    ],
)
def test_a_query_over_several_keys_is_one_stream_in_time_order(
    trail_cloud: LocalCloud, capsys: pytest.CaptureFixture[str], extra: list[str], moment: str
) -> None:
    # Several sheets, levels or days are one query each: the answer must still read oldest first.
    code, out = run(capsys, "events", "query", *WINDOW, *extra, "--limit", "1000", "--json")
    times = [record[moment] for record in json.loads(out)]
    assert code == 0 and len(set(times)) > 1 and times == sorted(times)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "xlsx"])
def test_every_export_format_streams_the_whole_trail(
    trail_cloud: LocalCloud, dynamodb_calls: list[str], tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"events.{fmt}"
    code, _ = run(capsys, "events", "export", "--format", fmt, "--out", str(out))
    assert code == 0 and "Scan" not in dynamodb_calls
    ids = {e.event_id for e in EVENTS}
    if fmt == "jsonl":
        lines = out.read_bytes().splitlines()
        assert json.loads(lines[0])["billing_audit_export"]["verifiable"] == "with the public key alone"
        assert {json.loads(line)["event_id"] for line in lines[1:]} == ids
    elif fmt == "json":
        document = json.loads(out.read_bytes())
        assert [e["trail"]["position"] for e in document["events"]] == list(range(len(EVENTS)))
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert rows[1][0] == "event_id" and {row[0] for row in rows[2:]} == ids
        hostile = [row for row in rows[2:] if "script" in row[7]]
        assert hostile and all(not row[7].startswith("=") for row in hostile)
    else:
        sheet = load_workbook(out, read_only=True)["Events"]
        assert {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)} == ids


def test_an_export_verifies_offline_and_tampering_fails_at_its_position(
    trail_cloud: LocalCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export, digest, key = tmp_path / "trail.jsonl", tmp_path / "digest.json", tmp_path / "key.pem"
    assert main(["events", "export", "--out", str(export)]) == 0
    assert main(["trail", "digest", "--out", str(digest)]) == 0
    assert main(["trail", "public-key", "--out", str(key)]) == 0
    capsys.readouterr()
    offline = ("--digest", str(digest), "--public-key", str(key))
    code, out = run(capsys, "verify", "--events", str(export), *offline, "--json")
    assert code == 0 and json.loads(out)["verified"] == len(EVENTS)
    lines = export.read_bytes().splitlines()
    victim = json.loads(lines[11])
    lines[11] = lines[11].replace(b'"sheet_name":"', b'"sheet_name":"X')
    export.write_bytes(b"\n".join(lines) + b"\n")
    code, out = run(capsys, "verify", "--events", str(export), *offline, "--json")
    found = json.loads(out)["findings"]
    assert code == 3 and found == [
        {"kind": "edited", "position": 10, "event_id": victim["event_id"], "detail": found[0]["detail"]}
    ]
    # A digest signed by another key is refused.
    other = boto3.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    der = boto3.client("kms").get_public_key(KeyId=other)["PublicKey"]
    from billing_audit.store.digests import pem_from_der

    key.write_text(pem_from_der(der))
    export.write_bytes(b"\n".join([lines[0], *[line for i, line in enumerate(lines) if i not in (0, 11)]]))
    code, out = run(capsys, "verify", "--events", str(export), *offline)
    assert code == 3 and "DIGEST SIGNATURE" in out


def test_a_proof_verifies_offline_and_fails_on_a_changed_byte(
    trail_cloud: LocalCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof, digest, key = tmp_path / "proof.json", tmp_path / "digest.json", tmp_path / "key.pem"
    target = EVENTS[33].event_id
    assert main(["prove", "--event-id", target, "--out", str(proof), "--json"]) == 0
    assert main(["trail", "digest", "--out", str(digest)]) == 0
    assert main(["trail", "public-key", "--out", str(key)]) == 0
    capsys.readouterr()
    offline = ("--proof", str(proof), "--digest", str(digest), "--public-key", str(key))
    code, out = run(capsys, "verify", *offline)
    assert code == 0 and f"VERIFIED: event {target}" in out
    document = json.loads(proof.read_text())
    document["audit_path"][0] = ("0" if document["audit_path"][0][0] != "0" else "1") + document["audit_path"][0][1:]
    proof.write_text(json.dumps(document))
    code, out = run(capsys, "verify", *offline)
    assert code == 3 and "does not lead" in out
    assert main(["prove", "--event-id", "no-such-event"]) == 2


def test_a_pseudonymised_export_verifies_only_with_its_key(
    trail_cloud: LocalCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export, digest, key, secret = (tmp_path / name for name in ("p.jsonl", "digest.json", "key.pem", "secret"))
    assert main(["events", "export", "--pseudonymize", "--out", str(export)]) == 0
    assert main(["trail", "digest", "--out", str(digest)]) == 0
    assert main(["trail", "public-key", "--out", str(key)]) == 0
    text = export.read_text(encoding="utf-8")
    assert "@example.com" not in text and "person-" in text
    assert json.loads(text.splitlines()[0])["billing_audit_export"]["pseudonymized"] is True
    offline = ("--events", str(export), "--digest", str(digest), "--public-key", str(key))
    capsys.readouterr()
    assert main(["verify", *offline]) == 2  # without the key: refused, not passed
    value = boto3.client("secretsmanager").get_secret_value(SecretId=PSEUDONYM_KEY_SECRET)["SecretString"]
    secret.write_text(value)
    code, out = run(capsys, "verify", *offline, "--pseudonym-key-file", str(secret), "--json")
    assert code == 0 and json.loads(out)["verified"] == len(EVENTS)
    secret.write_text("x" * 64)
    code, _ = run(capsys, "verify", *offline, "--pseudonym-key-file", str(secret))
    assert code == 3


def test_the_stored_trail_verifies_and_tampering_is_reported(
    trail_cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "verify", "--json")
    assert code == 0 and json.loads(out)["verified"] == len(EVENTS)
    table = boto3.resource("dynamodb").Table(os.environ[EVENTS_TABLE.env_var])
    state = boto3.resource("dynamodb").Table(os.environ[STATE_TABLE.env_var])
    entries = list(DynamoTrail(state, table).entries())
    gone = entries[20]
    saved = table.get_item(Key={"event_id": gone.event_id})["Item"]
    table.delete_item(Key={"event_id": gone.event_id})
    try:
        code, out = run(capsys, "verify", "--json")
        found = [(f["kind"], f["position"], f["event_id"]) for f in json.loads(out)["findings"]]
        assert code == 3 and found == [("deleted", 20, gone.event_id)]
    finally:
        table.put_item(Item=saved)
    assert main(["verify"]) == 0


def test_the_stored_trail_finds_events_hidden_from_or_forged_into_the_indexes(
    trail_cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    table = boto3.resource("dynamodb").Table(os.environ[EVENTS_TABLE.env_var])
    state = boto3.resource("dynamodb").Table(os.environ[STATE_TABLE.env_var])
    entries = list(DynamoTrail(state, table).entries())
    logged_days = {entry.detected_day for entry in entries}
    quiet_day = next(
        day
        for day in (f"2026-11-{n:02d}" for n in range(30, 0, -1))
        if day not in logged_days and day > min(logged_days)
    )
    high = next(
        entry
        for entry in entries
        if json.loads(table.get_item(Key={"event_id": entry.event_id})["Item"]["record"])["risk_level"] == "HIGH"
    )
    hidden = table.get_item(Key={"event_id": high.event_id})["Item"]
    early = table.get_item(Key={"event_id": entries[5].event_id})["Item"]
    forged = {**hidden, "event_id": "forged-0001", "detected_day": quiet_day}
    # A forged event on a day the log has no entry for; a HIGH violation moved out of its day and
    # out of the risk index (its record untouched); an expiry brought forward for the TTL to delete.
    table.put_item(Item=forged)
    table.put_item(Item={k: v for k, v in {**hidden, "detected_day": quiet_day}.items() if k != "risk_level"})
    table.put_item(Item={**early, "expires_at": 1})
    try:
        code, out = run(capsys, "verify", "--json")
        found = {(f["kind"], f["event_id"]): f["detail"] for f in json.loads(out)["findings"]}
        assert code == 3 and set(found) == {
            ("inserted", "forged-0001"),
            ("misindexed", high.event_id),
            ("misindexed", entries[5].event_id),
        }
        assert "detected_day, risk_level" in found[("misindexed", high.event_id)]
        assert "expires_at" in found[("misindexed", entries[5].event_id)]
    finally:
        table.delete_item(Key={"event_id": "forged-0001"})
        table.put_item(Item=hidden)
        table.put_item(Item=early)
    assert main(["verify"]) == 0


def test_a_later_digest_extends_an_earlier_one_offline(
    trail_cloud: LocalCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, key, proof = (tmp_path / name for name in ("old.json", "new.json", "key.pem", "proof.json"))
    assert main(["trail", "digest", "--out", str(old)]) == 0
    dynamodb = boto3.resource("dynamodb")
    events, state = dynamodb.Table(os.environ[EVENTS_TABLE.env_var]), dynamodb.Table(os.environ[STATE_TABLE.env_var])
    more = week_of_events(70)[60:]
    log_events(DynamoEventStore(events).add(more), more, DynamoTrail(state, events))
    assert main(["trail", "seal"]) == 0
    assert main(["trail", "digest", "--out", str(new)]) == 0
    assert main(["trail", "public-key", "--out", str(key)]) == 0
    assert main(["prove", "--since-digest", str(old), "--out", str(proof), "--json"]) == 0
    capsys.readouterr()
    offline = ["--consistency", str(proof), "--since-digest", str(old), "--digest", str(new), "--public-key", str(key)]
    code, out = run(capsys, "verify", *offline)
    assert code == 0 and "VERIFIED: the 70-leaf tree" in out
    document = json.loads(proof.read_text())
    document["path"][-1] = "00" * 32
    proof.write_text(json.dumps(document))
    code, out = run(capsys, "verify", *offline)
    assert code == 3 and "does not extend" in out


def test_stats_reports_scan_runs_from_the_metrics(trail_cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime

    from billing_audit import resources as res

    cloudwatch = boto3.client("cloudwatch")
    dimensions = [{"Name": res.METRIC_SERVICE_DIMENSION, "Value": res.SERVICE_NAME}]
    for minute, (seconds, calls, backlog) in enumerate([(30.0, 100.0, 0.0), (60.0, 200.0, 5.0), (90.0, 300.0, 10.0)]):
        at = datetime(2026, 11, 10, 12, minute * 5, tzinfo=UTC)
        cloudwatch.put_metric_data(
            Namespace=res.METRICS_NAMESPACE,
            MetricData=[
                {"MetricName": name, "Dimensions": dimensions, "Timestamp": at, "Value": value}
                for name, value in (
                    (res.METRIC_SCAN_DURATION, seconds),
                    (res.METRIC_SMARTSHEET_API_CALLS, calls),
                    (res.METRIC_SCAN_BACKLOG_ROWS, backlog),
                )
            ],
        )
    code, out = run(capsys, "stats", *WINDOW, "--json")
    runs = json.loads(out)["runs"]
    assert code == 0 and runs["runs"] == 3
    assert runs["duration_seconds"]["p50"] == 60.0 and runs["api_calls"]["p99"] == pytest.approx(298.0)
    code, out = run(capsys, "stats", *WINDOW)
    assert code == 0 and "3 scan runs" in out and "duration_seconds" in out
