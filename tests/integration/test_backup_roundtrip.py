"""Backups end to end over real HTTP: the Smartsheet simulator and moto (an Object Lock bucket, the
state table), driven through `billing-audit backup` and `billing-audit restore` as an operator
would.  A backup restored as a new sheet and diffed against it is exact; a corrupted or missing
object fails `backup verify` with its key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from billing_audit.cli import main
from billing_audit.cli.exits import ExitCode
from billing_audit.domain.backup import BackupColumn, NewRow
from billing_audit.resources import BACKUPS_BUCKET, STATE_TABLE
from billing_audit.smartsheet.archive import SdkSheetArchive
from billing_audit.smartsheet.sdk_client import SdkSmartsheet
from billing_audit_local.cloud import LocalCloud
from smartsheet_sim import Simulator
from tests.integration.simulator_support import TOKEN

DAY = "2026-12-01"


@pytest.fixture
def env(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCloud]:
    with LocalCloud() as local:
        local.client("dynamodb").create_table(
            TableName="state",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
        local.client("s3").create_bucket(Bucket="backups", ObjectLockEnabledForBucket=True)
        monkeypatch.setenv(STATE_TABLE.env_var, "state")
        monkeypatch.setenv(BACKUPS_BUCKET.env_var, "backups")
        monkeypatch.setenv("SMARTSHEET_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("SMARTSHEET_API_BASE", str(sim.api_base))
        yield local


def billing_tree(sim: Simulator) -> int:
    """A sheet with every kind of column the product's sheets use, three levels of rows, a row-level
    discussion and an attachment: built through the adapter, as a person would have built it."""
    archive = SdkSheetArchive(SdkSmartsheet(TOKEN, str(sim.api_base)))
    columns = [
        BackupColumn(id=0, index=0, title="Work Request #", primary=True),
        BackupColumn(id=0, index=1, title="Week Ending", type="DATE"),
        BackupColumn(id=0, index=2, title="Status", type="PICKLIST", options=["Open", "Invoiced", "Paid"], width=110),
        BackupColumn(id=0, index=3, title="Quantity"),
        BackupColumn(id=0, index=4, title="Locked", type="CHECKBOX", symbol="FLAG", description="closed by billing"),
    ]
    sheet_id, ids = archive.create_sheet("Crew Billing", columns)
    wr, week, status, qty, locked = ids

    def row(name: str, quantity: Any, flag: bool = False) -> NewRow:
        cells = {wr: name, week: "2026-11-27", status: "Invoiced" if flag else "Open", qty: quantity}
        return NewRow(cells={**cells, **({locked: True} if flag else {})})

    tops = archive.add_rows(sheet_id, [row("WR-1", 10), row("WR-2", "12"), row("WR-3", 2.5, True)], None)
    kids = archive.add_rows(sheet_id, [row("WR-1.a", 1), row("WR-1.b", 0)], tops[0])
    archive.add_rows(sheet_id, [row("WR-1.a.i", 7, True)], kids[0])
    archive.add_rows(sheet_id, [row("WR-3.a", None)], tops[2])
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(
        f"{sim.api_base}/sheets/{sheet_id}/rows/{kids[0]}/discussions",
        json={"comment": {"text": "quantity checked"}},
        headers=headers,
        timeout=10,
    )
    answer.raise_for_status()
    files = {"file": ("ticket.pdf", b"%PDF-1.4 ticket", "application/pdf")}
    requests.post(f"{sim.api_base}/sheets/{sheet_id}/attachments", files=files, headers=headers, timeout=10)
    return sheet_id


def layout(sim: Simulator, sheet_id: int) -> list[tuple[Any, ...]]:
    """Every row in display order: its parent's primary value and every cell by column position."""
    sheet = sim.sheet(sheet_id)
    assert sheet is not None
    names = {row.id: row.cells.get(sheet.columns[0].id) for row in sheet.rows}
    return [(names.get(row.parent_id), *(row.cells.get(column.id) for column in sheet.columns)) for row in sheet.rows]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_backup_restore_as_new_and_diff_round_trip_is_exact(
    sim: Simulator, env: LocalCloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = billing_tree(sim)
    monkeypatch.setenv(
        "BILLING_AUDIT_CONFIG", f'{{"timezone": "America/Chicago", "sheets": {{"sheet_ids": [{source}, 4001]}}}}'
    )
    code, out = run(capsys, "backup", "run", "--date", DAY)
    assert code == ExitCode.OK, out
    assert f"Manifest backups/{DAY}/manifest.json (monthly)" in out
    code, out = run(capsys, "backup", "verify", "--date", DAY)
    assert code == ExitCode.OK and "4 objects re-read" in out and "every SHA-256 matches" in out

    code, out = run(capsys, "restore", "--sheet", str(source), "--date", DAY, "--as-new-sheet")
    assert code == ExitCode.OK, out
    restored = int(re.search(r"as new sheet (\d+)", out).group(1))  # type: ignore[union-attr]
    assert "5 columns, 7 rows in 5 requests" in out
    assert "Not copied (listed in the backup): 1 attachments, 1 discussions" in out
    assert layout(sim, restored) == layout(sim, source)
    new_sheet, old_sheet = sim.sheet(restored), sim.sheet(source)
    assert new_sheet is not None and old_sheet is not None
    keep = ("title", "type", "primary", "options", "symbol", "width", "description")
    assert [[getattr(c, k) for k in keep] for c in new_sheet.columns] == [
        [getattr(c, k) for k in keep] for c in old_sheet.columns
    ]
    code, out = run(capsys, "restore", "--sheet", str(source), "--date", DAY, "--diff", "--against", str(restored))
    assert code == ExitCode.OK and out.startswith("No differences"), out

    # The live sheet moves on: the diff against it names the cell, old and new.
    row_id = old_sheet.rows[2].id  # WR-1.a.i, below WR-1.a below WR-1
    quantity = old_sheet.columns[3].id
    requests.put(
        f"{sim.api_base}/sheets/{source}/rows",
        json=[{"id": row_id, "cells": [{"columnId": quantity, "value": 70}]}],
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    ).raise_for_status()
    code, out = run(capsys, "restore", "--sheet", str(source), "--date", DAY, "--diff")
    assert code == ExitCode.OK
    assert "row 3, Quantity: value: backup 7, live 70" in out and out.strip().endswith(f"and live sheet {source}")
    assert "1 differences" in out


def test_verify_reports_a_corrupted_or_missing_object_by_key_and_fails(
    sim: Simulator, env: LocalCloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_AUDIT_CONFIG", '{"timezone": "America/Chicago", "sheets": {"sheet_ids": [4001, 4002]}}')
    assert run(capsys, "backup", "run", "--date", DAY)[0] == ExitCode.OK
    code, out = run(capsys, "backup", "list")
    assert code == ExitCode.OK and f"{DAY}  monthly  2 sheets" in out and "4 objects" in out
    s3 = boto3.client("s3")
    corrupted, missing = f"backups/{DAY}/4001/sheet.json", f"backups/{DAY}/4002/sheet.xlsx"
    body = s3.get_object(Bucket="backups", Key=corrupted)["Body"].read()
    # A new version over the locked one (Object Lock keeps the old version; reads get the new one).
    s3.put_object(Bucket="backups", Key=corrupted, Body=body.replace(b'"name"', b'"nome"', 1))
    s3.delete_object(Bucket="backups", Key=missing)  # a delete marker: the key reads as missing
    code, out = run(capsys, "backup", "verify")
    assert code == ExitCode.CHECK_FAILED
    assert "checksum mismatch (sha256 " in out and corrupted in out
    assert f"missing: {missing}" in out
    assert "2 problems" in out
    code, _out = run(capsys, "restore", "--sheet", "4001", "--date", DAY, "--as-new-sheet")
    assert code == ExitCode.DEPENDENCY_FAILED  # a restore refuses a backup that fails its checksum
