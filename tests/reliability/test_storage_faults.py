"""S3 fails while a report or a backup is written (the local cloud: the stack deployed on moto's
server; S3 answers 500 InternalError at the HTTP layer, so botocore's own retries meet it).

The run fails loudly (the function raises: Lambda counts an error and the function's Errors alarm
fires), leaves nothing that claims success (no ledger record and no link of a report, no manifest
of a backup), and the next run completes with nothing lost and nothing twice."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS
from boto3.dynamodb.conditions import Key
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from billing_audit import resources as res
from billing_audit.domain.backup import BackupColumn, NewRow, manifest_key, object_key
from billing_audit.pipeline.backup import verify_backup
from billing_audit.pipeline.reports.links import LatestReportLinks, PresignedLinks
from billing_audit.smartsheet.archive import SdkSheetArchive
from billing_audit.smartsheet.sdk_client import SdkSmartsheet
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.reports import LEDGER_PK, DynamoReportLedger
from billing_audit_local.cloud import LocalCloud
from billing_audit_local.lambdas import invoke, load_handler, local_lambda_environment
from billing_audit_local.scenario import bundled_example, config_for
from smartsheet_sim import Simulator, SimulatorOptions
from smartsheet_sim.scenario import load_scenario
from tests.reliability.support import RawBody
from tests.unit.report_builders import MemoryBlobs, week_of_events

pytestmark = pytest.mark.reliability


class S3Outage:
    """Answers PutObject of keys `failing` accepts with S3's 500 InternalError while `left` > 0."""

    def __init__(self) -> None:
        self.failing: Callable[[str], bool] = lambda url: False
        self.left = 0
        self.answered = 0

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if self.left <= 0 or not self.failing(request.url.split("?", 1)[0]):
            return None
        self.left -= 1
        self.answered += 1
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
            b"<Message>We encountered an internal error. Please try again.</Message></Error>"
        )
        headers = {"Content-Type": "application/xml", "Content-Length": str(len(body))}
        return AWSResponse(request.url, 500, headers, RawBody(body))

    def attach(self, client: Any) -> None:
        client.meta.events.register_first("before-send.s3.PutObject", self)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    DEFAULT_PROVIDERS.clear()  # Powertools' parameter clients of an earlier test's moto server
    with local_lambda_environment(), LocalCloud() as local:
        local.provision()
        yield local
    DEFAULT_PROVIDERS.clear()


# ----- the report --------------------------------------------------------------------------------


def _link_items(state: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = state.scan()["Items"]
    return [item for item in items if str(item["pk"]).startswith("link#")]


def test_a_report_whose_files_cannot_all_be_stored_fails_without_a_link_and_the_rerun_is_whole(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {"timezone": "America/Chicago", "sheets": {"sheet_ids": [101]}}
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", json.dumps(config))
    monkeypatch.setenv(res.REPORT_LINK_BASE_ENV, "https://links.example/prod/r/")
    handler = load_handler("report")
    handler._runtime.cache_clear()
    dynamodb = boto3.resource("dynamodb")
    state = dynamodb.Table(os.environ[res.STATE_TABLE.env_var])
    detected = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    events = week_of_events(60, now=detected + timedelta(days=1))
    DynamoEventStore(dynamodb.Table(os.environ[res.EVENTS_TABLE.env_var])).add(events)
    slot = datetime.now(UTC).replace(microsecond=0)
    in_week = [e for e in events if slot - timedelta(days=7) <= e.detected_at.replace(microsecond=0) < slot]
    job = {"job": "report_weekly", "scheduled_time": slot.isoformat()}
    outage = S3Outage()
    outage.attach(handler._runtime()[1].blobs.client)
    try:
        # The workbook is stored, the dashboard is not (every retry refused): the invocation fails.
        outage.failing, outage.left = (lambda url: url.endswith("/dashboard.html")), 1_000
        with pytest.raises(ClientError, match="InternalError"):
            invoke("report", job)
        assert outage.answered >= 2  # botocore retried before giving up
        ledger = DynamoReportLedger(state)
        assert (
            ledger.latest("weekly") is None
            and LatestReportLinks(ledger, PresignedLinks(MemoryBlobs())).latest() is None
        )
        assert _link_items(state) == []  # no link to a half report
        # A short outage is absorbed by the retries; the rerun of the slot is the whole report, once.
        outage.left = 1
        summary = invoke("report", job)
    finally:
        outage.left = 0
    assert summary["skipped"] is False and summary["events"] == len(in_week) > 0
    history = state.query(KeyConditionExpression=Key("pk").eq(LEDGER_PK) & Key("sk").begins_with("built#"))["Items"]
    assert len(history) == 1
    record = DynamoReportLedger(state).latest("weekly")
    assert record is not None and record.report_id == summary["report_id"]
    assert len(_link_items(state)) == 2  # the workbook's and the dashboard's
    s3 = boto3.client("s3")
    for name, key in record.keys.items():
        stored = s3.get_object(Bucket=os.environ[res.REPORTS_BUCKET.env_var], Key=key)
        assert stored["Metadata"]["sha256"] == record.sha256[name]


# ----- the backup --------------------------------------------------------------------------------


def _second_sheet(sim: Simulator) -> int:
    """One more sheet beside the scenario's, built through the adapter, so a run has two to back up."""
    archive = SdkSheetArchive(SdkSmartsheet(sim.token, str(sim.api_base)))
    columns = [
        BackupColumn(id=0, index=0, title="Work Request #", primary=True),
        BackupColumn(id=0, index=1, title="Quantity"),
    ]
    sheet_id, (request, quantity) = archive.create_sheet("Crew Billing", columns)
    archive.add_rows(sheet_id, [NewRow(cells={request: f"WR-{n}", quantity: n}) for n in range(1, 4)], None)
    return sheet_id


def test_a_backup_that_cannot_store_a_sheet_or_its_manifest_fails_and_the_rerun_completes_it(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the backup function's handler, as its schedule invokes it."""
    scenario = load_scenario(bundled_example())
    config = config_for(scenario)
    day = scenario.now.astimezone(config.zone).date()
    with Simulator(scenario, SimulatorOptions(rate_limits=False)) as sim:
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", sim.token)
        monkeypatch.setenv("SMARTSHEET_API_BASE", sim.start())
        monkeypatch.setenv("BILLING_AUDIT_CONFIG", config.model_dump_json())
        sim.apply_edits_through(scenario.now)
        sim.set_time(scenario.now)
        handler = load_handler("backup")
        handler._runtime.cache_clear()
        deps = handler._runtime()[1]
        outage = S3Outage()
        outage.attach(deps.store.client)
        sheets = [*config.sheets.sheet_ids, _second_sheet(sim)]
        job = {"job": "backup", "scheduled_time": scenario.now.isoformat(), "sheet_ids": sheets}
        # The function's own timeout: an invocation with less time than its margin does nothing.
        backup = functools.partial(invoke, "backup", job, timeout_seconds=res.BACKUP_TIMEOUT_SECONDS)
        try:
            # The second sheet's workbook copy cannot be stored: the invocation fails after the first sheet.
            second = object_key(day, sheets[1], "xlsx")
            outage.failing, outage.left = (lambda url: url.endswith(second)), 1_000
            with pytest.raises(ClientError, match="InternalError"):
                backup()
            assert outage.answered >= 2  # botocore retried before giving up
            assert deps.store.get(manifest_key(day)) is None  # no manifest claims the day
            assert list(deps.progress.done(day)) == sheets[:1]
            # Every sheet stored, the manifest refused: still no manifest, the day's run still open.
            outage.failing = lambda url: url.endswith(manifest_key(day))
            with pytest.raises(ClientError, match="InternalError"):
                backup()
            assert deps.store.get(manifest_key(day)) is None
            assert sorted(deps.progress.done(day)) == sorted(sheets)
            outage.left = 0
            summary = backup()
        finally:
            outage.left = 0
            handler._runtime.cache_clear()
    assert summary["complete"] and summary["failed"] == []
    assert summary["backed_up"] == []  # each sheet was backed up once, by the invocations that failed later
    manifest = deps.store.get(manifest_key(day))
    assert manifest is not None
    assert [entry["sheet_id"] for entry in json.loads(manifest)["sheets"]] == sheets  # each sheet once
    verification = verify_backup(deps.store, day)
    assert verification.ok, [problem.line() for problem in verification.problems]
    assert backup()["already_done"]
