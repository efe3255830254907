"""Reports in the local cloud: the event window through the index (never a scan), the report
function writing to S3, and the short link that re-signs on each click until it expires."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from openpyxl import load_workbook

from billing_audit.pipeline.reports.links import LatestReportLinks, ShortLinks, token_hash
from billing_audit.resources import EVENTS_TABLE, REPORTS_BUCKET, STATE_TABLE, TableSpec
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.reports import DynamoLinkStore, DynamoReportLedger
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import invoke, load_handler
from tests.unit.report_builders import NOW, week_of_events

LINK_BASE = "https://links.example/prod/r/"


class NoScanTable:
    """The events table, refusing a full scan: reports must read through keys and indexes."""

    def __init__(self, table) -> None:
        self._table = table
        self.queries = 0

    def scan(self, **_kwargs):
        raise AssertionError("a report read the events table with a full scan")

    def query(self, **kwargs):
        self.queries += 1
        return self._table.query(**kwargs)

    def __getattr__(self, name):
        return getattr(self._table, name)


def _create(client, spec: TableSpec, name: str) -> None:
    """A table exactly as resources.py lays it out (keys and indexes), as CDK and the moto deployment do."""
    keys = [spec.partition, *([spec.sort] if spec.sort else [])]
    for index in spec.indexes:
        keys += [index.partition, *([index.sort] if index.sort else [])]
    attributes = {key.name: key.type for key in keys}

    def schema(partition, sort):
        return [{"AttributeName": partition.name, "KeyType": "HASH"}] + (
            [{"AttributeName": sort.name, "KeyType": "RANGE"}] if sort else []
        )

    extra = {}
    if spec.indexes:
        extra["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": schema(i.partition, i.sort), "Projection": {"ProjectionType": "ALL"}}
            for i in spec.indexes
        ]
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=schema(spec.partition, spec.sort),
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        **extra,
    )


@pytest.fixture
def cloud(monkeypatch):
    """moto with the tables and bucket reports use, laid out from resources.py."""
    with LocalCloud() as local:
        dynamodb, s3 = local.client("dynamodb"), local.client("s3")
        for spec, name in ((EVENTS_TABLE, "events"), (STATE_TABLE, "state")):
            _create(dynamodb, spec, name)
            monkeypatch.setenv(spec.env_var, name)
        s3.create_bucket(Bucket="reports")
        monkeypatch.setenv(REPORTS_BUCKET.env_var, "reports")
        yield local


def _events_table():
    return boto3.resource("dynamodb").Table(os.environ[EVENTS_TABLE.env_var])


def test_the_window_reads_the_by_day_index_page_by_page(cloud):
    events = week_of_events(150)
    DynamoEventStore(_events_table()).add(events)
    table = NoScanTable(_events_table())
    store = DynamoEventStore(table)
    start, end = NOW - timedelta(days=3, hours=5), NOW - timedelta(days=1)
    got = [e.event_id for e in store.window(start, end)]
    expected = {e.event_id for e in events if start <= e.detected_at.replace(microsecond=0) < end}
    assert sorted(got) == sorted(expected) and len(got) == len(set(got))
    assert table.queries == 3  # one query per UTC day the window touches
    only = {e.event_id for e in store.window(start, end, sheet_ids=[103])}
    assert only == {e.event_id for e in events if e.event_id in expected and e.sheet_id == 103}
    changed = {e.event_id for e in store.window(start, end, by="changed", sheet_ids=[101, 102, 103])}
    assert changed == {e.event_id for e in events if start <= e.changed_at.replace(microsecond=0) < end}


@pytest.fixture
def report_env(cloud, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", '{"timezone": "America/Chicago", "sheets": {"sheet_ids": [101]}}')
    monkeypatch.setenv("REPORT_LINK_BASE_URL", LINK_BASE)
    load_handler("report")._runtime.cache_clear()
    load_handler("report_link")._stores.cache_clear()
    yield cloud
    load_handler("report")._runtime.cache_clear()
    load_handler("report_link")._stores.cache_clear()


def test_the_scheduled_report_is_stored_and_its_short_link_re_signs_until_it_expires(report_env):
    detected = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    events = week_of_events(80, now=detected + timedelta(days=1))
    DynamoEventStore(_events_table()).add(events)
    slot = datetime.now(UTC).replace(microsecond=0)
    summary = invoke("report", {"job": "report_weekly", "scheduled_time": slot.isoformat()})
    in_week = [e for e in events if slot - timedelta(days=7) <= e.detected_at.replace(microsecond=0) < slot]
    assert summary["skipped"] is False and summary["events"] == len(in_week) > 0

    s3 = boto3.client("s3")
    bucket = os.environ[REPORTS_BUCKET.env_var]
    workbook = s3.get_object(Bucket=bucket, Key=summary["keys"]["workbook"], ChecksumMode="ENABLED")
    body = workbook["Body"].read()
    assert hashlib.sha256(body).hexdigest() == summary["sha256"]["workbook"]
    assert summary["keys"]["workbook"].startswith(f"reports/{slot.astimezone().strftime('%Y')}/")
    assert load_workbook(io.BytesIO(body)).sheetnames[0] == "Executive Dashboard"

    state = boto3.resource("dynamodb").Table(os.environ[STATE_TABLE.env_var])
    record = DynamoReportLedger(state).latest("weekly")
    assert record is not None and record.report_id == summary["report_id"]
    assert record.links == {}  # the ledger keeps no link: one is issued for whoever needs it
    link = LatestReportLinks(DynamoReportLedger(state), ShortLinks(DynamoLinkStore(state), LINK_BASE)).latest()
    assert link is not None and link.startswith(LINK_BASE)
    token = link.removeprefix(LINK_BASE)

    answer = invoke("report_link", {"pathParameters": {"token": token}})
    assert answer["statusCode"] == 302 and answer["headers"]["Cache-Control"] == "no-store"
    location = answer["headers"]["Location"]
    assert "X-Amz-Expires=300" in location
    dashboard = s3.get_object(Bucket=bucket, Key=summary["keys"]["dashboard"])["Body"].read()
    with urllib.request.urlopen(location, timeout=10) as download:  # the local cloud's URL
        assert download.read() == dashboard  # alerts link the dashboard

    # Nothing new since: the next slot's report is skipped.
    again = invoke("report", {"job": "report_weekly", "scheduled_time": (slot + timedelta(seconds=5)).isoformat()})
    assert again == {"kind": "weekly", "skipped": True}

    # The same token once its lifetime is over: gone.
    state.update_item(
        Key={"pk": f"link#{token_hash(token)}", "sk": "link"},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": "2020-01-01T00:00:00Z"},
    )
    assert invoke("report_link", {"pathParameters": {"token": token}})["statusCode"] == 410
    assert invoke("report_link", {"pathParameters": {"token": "no-such-token"}})["statusCode"] == 404
    assert DynamoLinkStore(state).resolve(token_hash("no-such-token")) is None


def test_the_report_command_hands_out_fresh_links_when_nothing_is_new(report_env, capsys):
    from billing_audit.cli import main

    detected = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    DynamoEventStore(_events_table()).add(week_of_events(20, now=detected + timedelta(days=1)))
    assert main(["report", "--force"]) == 0
    first = [line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines() if ": " + LINK_BASE in line]
    assert len(first) == 2
    # Nothing detected since: no report is built, and the last one's links are issued again (the
    # ledger keeps none to hand out), each opening its object until the first ones expire.
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No events detected since the last report")
    again = [line.split(": ", 1)[1] for line in out.splitlines() if ": " + LINK_BASE in line]
    assert len(again) == 2 and not set(again) & set(first)
    state = boto3.resource("dynamodb").Table(os.environ[STATE_TABLE.env_var])
    record = DynamoReportLedger(state).latest()
    links = DynamoLinkStore(state)
    opened = {links.resolve(token_hash(link.removeprefix(LINK_BASE))) for link in again}
    assert opened == {(key, record.links_expire_at) for key in record.keys.values()}
