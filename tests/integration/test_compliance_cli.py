"""billing-audit compliance-report against the local cloud (moto over HTTP): the events, approvals
and access review as stored in DynamoDB, the sealed trail verified and the backups checked for real."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from openpyxl import load_workbook

from billing_audit.cli import main
from billing_audit.pipeline.trail import log_events
from billing_audit.resources import EVENTS_TABLE, STATE_TABLE
from billing_audit.store.access import DynamoAccessReviewStore, DynamoApprovalStore
from billing_audit.store.dynamo import DynamoEventStore
from billing_audit.store.trail import DynamoTrail
from billing_audit_local.cloud import LocalCloud
from tests.unit.compliance_builders import APPROVALS, CONFIG, EVENTS, REVIEW


def test_sox_and_gdpr_reports_from_what_the_cloud_stores(cloud: LocalCloud, tmp_path: Path, capsys) -> None:
    dynamodb = boto3.resource("dynamodb")
    events = dynamodb.Table(os.environ[EVENTS_TABLE.env_var])
    state = dynamodb.Table(os.environ[STATE_TABLE.env_var])
    store, trail = DynamoEventStore(events, retention_days=2557), DynamoTrail(state, events, 2557)
    log_events(store.add(EVENTS), EVENTS, trail)
    DynamoApprovalStore(state).add(APPROVALS)
    DynamoAccessReviewStore(state).save(REVIEW)
    assert main(["trail", "seal"]) == 0
    config = tmp_path / "config.json"
    config.write_text(CONFIG.model_dump_json())
    capsys.readouterr()

    common = ["--since", "2026-11-01", "--until", "2026-12-01", "--config", str(config), "--out", str(tmp_path)]
    assert main(["compliance-report", "--standard", "sox", *common]) == 0
    out = capsys.readouterr().out
    assert "Overall: EXCEPTIONS" in out
    assert "PASS        Trail verification" in out  # verified against the signed digest just written
    assert "FAIL        Backups: no backup in the backup bucket" in out
    assert "FAIL        Segregation of duties" in out
    book = load_workbook(tmp_path / "compliance-sox-20261101-20261201.xlsx")
    duties = [[cell.value for cell in row] for row in book["Segregation of duties"].iter_rows(min_row=2)]
    assert [(row[0], row[2]) for row in duties if isinstance(row[2], int)] == [("bob@example.com", 100)]
    assert (tmp_path / "compliance-sox-20261101-20261201.html").read_text().startswith("<!DOCTYPE html>")

    assert main(["compliance-report", "--standard", "GDPR", *common, "--no-trail-check"]) == 0
    assert "People whose data the period's events hold: 3" in capsys.readouterr().out
    assert (tmp_path / "compliance-gdpr-20261101-20261201.xlsx").exists()


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"timezone": "UTC"}))
    period = ["--since", "2026-11-01", "--until", "2026-12-01", "--config", str(config)]
    with pytest.raises(SystemExit) as refused:
        main(["compliance-report", "--standard", "HIPAA", *period])
    assert refused.value.code == 2
    with pytest.raises(SystemExit) as refused:
        main(["compliance-report", "--standard", "SOX", *period[:1], "yesterday", *period[2:]])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "argument --since: not an ISO date or date-time: 'yesterday'" in err and "Traceback" not in err
