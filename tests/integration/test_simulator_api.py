"""The simulator driven through the real smartsheet-python-sdk over loopback HTTP."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import requests
import smartsheet
from smartsheet.exceptions import ApiError

from smartsheet_sim import Simulator
from smartsheet_sim.scenario import ScenarioEdit
from tests.integration.simulator_support import TOKEN
from tests.unit.builders import at


def columns(client: Any, sheet_id: int) -> dict[str, int]:
    sheet = client.Sheets.get_sheet(sheet_id, row_ids=[0])
    return {c.title: c.id for c in sheet.columns}


def cells(row: Any, by_id: dict[int, str]) -> dict[str, Any]:
    return {by_id[c.column_id]: c.value for c in row.cells if c.value is not None}


def raw(sim: Simulator, method: str, path: str, token: str | None = TOKEN, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(method, f"{sim.api_base}{path}", headers=headers, timeout=10, **kwargs)


def test_start_returns_a_loopback_api_base(sim: Simulator) -> None:
    assert sim.api_base is not None
    assert sim.api_base.startswith("http://127.0.0.1:")
    assert sim.api_base.endswith("/2.0")
    assert sim.start() == sim.api_base


def test_list_sheets_with_paging(client: Any) -> None:
    listed = client.Sheets.list_sheets(include_all=True)
    assert [s.name for s in listed.data] == ["Archive", "Crew 12 Billing", "Crew 7 Billing"]
    assert listed.total_count == 3
    page = client.Sheets.list_sheets(page_size=2, page=2)
    assert [s.id for s in page.data] == [4002]
    assert (page.page_number, page.total_pages) == (2, 2)


def test_get_sheet_serves_ids_types_and_values(client: Any, sim: Simulator) -> None:
    sheet = client.Sheets.get_sheet(4001)
    assert (sheet.id, sheet.name, sheet.total_row_count) == (4001, "Crew 12 Billing", 5)
    titles = [c.title for c in sheet.columns]
    assert titles[:4] == ["Work Request #", "Week Ending", "Status", "Quantity"]
    assert sheet.columns[0].primary is True
    assert [c.index for c in sheet.columns] == list(range(7))
    assert list(sheet.columns[2].options) == ["In Progress", "Completed", "Approved", "Invoiced"]
    other = columns(client, 4002)
    assert {c.id for c in sheet.columns}.isdisjoint(other.values())
    by_id = {c.id: c.title for c in sheet.columns}
    assert [r.id for r in sheet.rows] == [1, 2, 3, 4, 5]
    assert [r.row_number for r in sheet.rows] == [1, 2, 3, 4, 5]
    row1 = cells(sheet.rows[0], by_id)
    assert row1["Quantity"] == 10 and isinstance(row1["Quantity"], int)
    assert row1["Week Ending"] == "2026-11-08"
    assert cells(sheet.rows[2], by_id)["Quantity"] == "12"  # numeric strings stay strings
    total = next(c for c in sheet.rows[0].cells if by_id[c.column_id] == "Redlined Total Price")
    assert (total.value, total.display_value) == (1250.0, "1250")
    empty = [c for c in sheet.rows[3].cells if by_id[c.column_id] == "Quantity"]
    assert empty[0].value is None and empty[0].display_value is None
    assert sheet.rows[0].created_by is None  # without include=writerInfo
    assert str(sheet.rows[0].created_at).startswith("2026-11-03 15:00:00")


def test_get_sheet_include_writer_info_and_column_type(client: Any, sim: Simulator) -> None:
    sim.apply_edits_through(at("2026-11-10T15:00:00Z"))
    sheet = client.Sheets.get_sheet(4001, include=["writerInfo", "columnType"])
    row1, row3 = sheet.rows[0], sheet.rows[2]
    assert (row1.created_by.email, row1.created_by.name) == ("ana@example.com", "Ana Ortiz")
    assert (row1.modified_by.email, row1.modified_by.name) == ("bob@example.com", "Bob Kline")
    assert str(row1.modified_at).startswith("2026-11-10 15:00:00")
    assert row3.created_by is None  # no created_by in the scenario
    assert {c.column_type for c in row1.cells} >= {"TEXT_NUMBER", "DATE", "PICKLIST"}


def test_get_sheet_filters(client: Any, sim: Simulator) -> None:
    ids = columns(client, 4001)
    only = client.Sheets.get_sheet(4001, row_ids=[3, 1, 999])
    assert [r.id for r in only.rows] == [1, 3]
    assert [r.row_number for r in only.rows] == [1, 3]
    narrow = client.Sheets.get_sheet(4001, column_ids=[ids["Quantity"], ids["Status"]])
    assert [c.title for c in narrow.columns] == ["Status", "Quantity"]
    assert all({c.column_id for c in r.cells} == {ids["Quantity"], ids["Status"]} for r in narrow.rows)
    sim.apply_edits_through(at("2026-11-20T00:00:00Z"))
    since = client.Sheets.get_sheet(4001, rows_modified_since="2026-11-10T15:00:00Z")
    assert [r.id for r in since.rows] == [1, 77]
    later = client.Sheets.get_sheet(4001, rows_modified_since="2026-11-10T15:00:01+00:00")
    assert [r.id for r in later.rows] == [77]
    # A datetime reaches the wire with a space for the "T" (SDK quirk); the simulator accepts it too.
    as_datetime = client.Sheets.get_sheet(4001, rows_modified_since=at("2026-11-10T15:00:01Z"))
    assert [r.id for r in as_datetime.rows] == [77]
    paged = client.Sheets.get_sheet(4001, page_size=2, page=2)
    assert [r.id for r in paged.rows] == [4, 5]
    assert paged.total_row_count == 5


def test_if_version_after_and_version(client: Any, sim: Simulator) -> None:
    version = client.Sheets.get_sheet_version(4001).version
    assert client.Sheets.get_sheet(4001).version == version
    unchanged = client.Sheets.get_sheet(4001, if_version_after=version)
    assert unchanged.version == version and not unchanged.rows and unchanged.id is None
    sim.apply_edits_through(at("2026-11-10T16:00:00Z"))  # one change and one no-op
    assert client.Sheets.get_sheet_version(4001).version == version + 1
    changed = client.Sheets.get_sheet(4001, if_version_after=version)
    assert changed.id == 4001 and len(changed.rows) == 5
    assert client.Sheets.get_sheet_version(4002).version == 1


def test_cell_history_newest_first_with_users(client: Any, sim: Simulator) -> None:
    sim.apply_edits_through(at("2026-11-20T00:00:00Z"))
    quantity = columns(client, 4001)["Quantity"]
    history = client.Cells.get_cell_history(4001, 1, quantity)
    assert [(h.value, h.modified_by.email) for h in history.data] == [
        (12, "bob@example.com"),
        (10, "ana@example.com"),
    ]
    assert [str(h.modified_at) for h in history.data] == ["2026-11-10 15:00:00+00:00", "2026-11-03 15:00:00+00:00"]
    assert history.data[0].modified_by.name == "Bob Kline"
    assert history.data[0].column_id == quantity
    unknown_editor = client.Cells.get_cell_history(4001, 77, quantity)
    assert [(h.value, h.modified_by.email, h.modified_by.name) for h in unknown_editor.data] == [
        (3, "eve@contractor.example", "eve@contractor.example")
    ]
    no_user = client.Cells.get_cell_history(4001, 3, quantity)
    assert [(h.value, h.modified_by) for h in no_user.data] == [("12", None)]


def test_cell_history_of_deleted_or_unknown_rows_is_404(client: Any, sim: Simulator) -> None:
    quantity = columns(client, 4001)["Quantity"]
    sim.apply_edits_through(at("2026-11-11T09:00:00Z"))
    for sheet_id, row_id, column_id in [(4001, 2, quantity), (4001, 999, quantity), (4001, 1, 12345), (9, 1, 1)]:
        with pytest.raises(ApiError) as caught:
            client.Cells.get_cell_history(sheet_id, row_id, column_id)
        assert caught.value.error.result.code == 1006
        assert caught.value.error.result.status_code == 404


def test_cell_history_pages(client: Any, sim: Simulator) -> None:
    start = at("2026-11-10T00:00:00Z")
    for n in range(130):
        edit = {
            "at": start + timedelta(minutes=n),
            "by": "carl@example.com",
            "sheet": 4001,
            "row": 1,
            "set": {"Quantity": 1000 + n},
        }
        sim.apply_edit(ScenarioEdit.model_validate(edit))
    quantity = columns(client, 4001)["Quantity"]
    first = client.Cells.get_cell_history(4001, 1, quantity)
    assert (first.page_number, first.page_size, first.total_pages, first.total_count) == (1, 100, 2, 131)
    assert first.data[0].value == 1129 and first.data[99].value == 1030
    second = client.Cells.get_cell_history(4001, 1, quantity, page=2)
    assert [h.value for h in second.data][-2:] == [1000, 10]
    assert len(second.data) == 31
    small = client.Cells.get_cell_history(4001, 1, quantity, page_size=50, page=3)
    assert (small.page_number, len(small.data), small.total_pages) == (3, 31, 3)
    everything = client.Cells.get_cell_history(4001, 1, quantity, include_all=True)
    assert len(everything.data) == 131


def test_add_update_delete_rows_through_the_api(client: Any, sim: Simulator) -> None:
    ids = columns(client, 4001)
    sim.set_time(at("2026-11-15T12:00:00Z"))
    client.with_change_agent("billing-audit")
    row = smartsheet.models.Row()
    row.to_bottom = True
    row.cells.append({"column_id": ids["Work Request #"], "value": "WR-9000"})
    row.cells.append({"column_id": ids["Quantity"], "value": 5})
    added = client.Sheets.add_rows(4001, [row])
    assert added.message == "SUCCESS" and added.result_code == 0
    new_id = added.result[0].id
    assert new_id > 10**15
    update = smartsheet.models.Row()
    update.id = new_id
    update.cells.append({"column_id": ids["Quantity"], "value": 6})
    updated = client.Sheets.update_rows(4001, [update])
    assert updated.result[0].id == new_id
    history = client.Cells.get_cell_history(4001, new_id, ids["Quantity"])
    assert [(h.value, h.modified_by.email) for h in history.data] == [(6, "ana@example.com"), (5, "ana@example.com")]
    assert [e.change_agent for e in sim.change_log] == ["billing-audit"] * len(sim.change_log)
    deleted = client.Sheets.delete_rows(4001, [new_id, 5])
    assert sorted(int(v.value) for v in deleted.result) == sorted([new_id, 5])
    assert [r.id for r in client.Sheets.get_sheet(4001).rows] == [1, 2, 3, 4]
    with pytest.raises(ApiError) as caught:
        client.Sheets.delete_rows(4001, [1, 424242])
    assert caught.value.error.result.code == 1006
    assert [r.id for r in client.Sheets.get_sheet(4001).rows] == [1, 2, 3, 4]
    ignored = client.Sheets.delete_rows(4001, [1, 424242], ignore_rows_not_found=True)
    assert [int(v.value) for v in ignored.result] == [1]


def test_row_writes_are_validated(sim: Simulator) -> None:
    too_many = [{"toBottom": True, "cells": []} for _ in range(501)]
    answer = raw(sim, "POST", "/sheets/4001/rows", json=too_many)
    assert answer.status_code == 400 and answer.json()["errorCode"] == 1018
    bad_column = raw(sim, "POST", "/sheets/4001/rows", json=[{"cells": [{"columnId": 1, "value": 1}]}])
    assert bad_column.status_code == 400 and "errorCode" in bad_column.json()
    missing = raw(sim, "PUT", "/sheets/4001/rows", json=[{"id": 999, "cells": []}])
    assert missing.status_code == 404 and missing.json()["errorCode"] == 1006
    not_json = raw(sim, "PUT", "/sheets/4001/rows", data=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["errorCode"] == 1008


def test_attachments(client: Any, sim: Simulator, tmp_path: Any) -> None:
    on_sheet = client.Attachments.attach_file_to_sheet(4001, ("notes.txt", io.BytesIO(b"hello sheet"), "text/plain"))
    attachment = on_sheet.result
    assert (attachment.name, attachment.attachment_type, attachment.parent_type) == ("notes.txt", "FILE", "SHEET")
    assert sim.attachment_bytes(attachment.id) == b"hello sheet"
    on_row = client.Attachments.attach_file_to_row(
        4001, 1, ("photo.bin", io.BytesIO(b"\x00\x01binary"), "application/octet-stream")
    )
    assert on_row.result.parent_type == "ROW" and on_row.result.parent_id == 1
    assert sim.attachment_bytes(on_row.result.id) == b"\x00\x01binary"
    version = client.Attachments.attach_new_version(
        4001, attachment.id, ("notes.txt", io.BytesIO(b"hello again"), "text/plain")
    )
    assert version.result.id != attachment.id
    listed = client.Attachments.list_all_attachments(4001)
    assert sorted(a.id for a in listed.data) == sorted([version.result.id, on_row.result.id])
    fetched = client.Attachments.get_attachment(4001, version.result.id)
    assert fetched.url and fetched.url.startswith("http://127.0.0.1:")
    assert requests.get(fetched.url, timeout=10).content == b"hello again"
    assert sim.attachment_bytes(attachment.id) == b"hello sheet"
    with pytest.raises(ApiError):
        client.Attachments.get_attachment(4002, version.result.id)


def test_shares_and_users(client: Any, sim: Simulator) -> None:
    shares = raw(sim, "GET", "/sheets/4001/shares").json()["data"]
    found = {(s["email"], s["accessLevel"], s["userId"], s.get("name")) for s in shares}
    assert found == {
        ("ana@example.com", "ADMIN", 5001, "Ana Ortiz"),
        ("bob@example.com", "EDITOR", 5002, "Bob Kline"),
        ("zed@outside.example", "VIEWER", sim.user_id_for("zed@outside.example"), None),
    }
    # SDK 4.x lists shares through GET /shares?assetType=sheet&assetId=...
    asset_shares = client.Sharing.list_asset_shares("sheet", 4001)
    assert {(s.email, str(s.access_level), s.user_id) for s in asset_shares.items} == {
        (email, level, str(user_id)) for email, level, user_id, _ in found
    }
    users = client.Users.list_users(include_all=True)
    by_email = {u.email: u for u in users.data}
    assert set(by_email) == {"ana@example.com", "bob@example.com", "carl@example.com", "dana@example.com"}
    assert str(by_email["ana@example.com"].status) == "ACTIVE"
    # SDK 4.4.0 quirk: its UserStatus enum has no DEACTIVATED, so the model holds None; the JSON has it.
    assert by_email["dana@example.com"].status.value is None
    statuses = {u["email"]: u["status"] for u in raw(sim, "GET", "/users").json()["data"]}
    assert statuses["dana@example.com"] == "DEACTIVATED"
    assert str(by_email["ana@example.com"].last_login).startswith("2026-11-19 14:00:00")
    assert by_email["bob@example.com"].id == 5002 and by_email["bob@example.com"].name == "Bob Kline"
    filtered = client.Users.list_users(email="bob@example.com")
    assert [u.id for u in filtered.data] == [5002]
    me = client.Users.get_current_user()
    assert (me.id, me.email, me.first_name, me.last_name) == (5001, "ana@example.com", "Ana", "Ortiz")
    bob = client.Users.get_user(5002)
    assert bob.email == "bob@example.com"
    with pytest.raises(ApiError):
        client.Users.get_user(123)


def test_workspaces_and_folders(client: Any, sim: Simulator) -> None:
    listed = raw(sim, "GET", "/workspaces").json()
    assert [w["name"] for w in listed["data"]] == ["Billing"]
    via_sdk = client.Workspaces.list_workspaces()
    assert [w.name for w in via_sdk.data] == ["Billing"]
    workspace_id = listed["data"][0]["id"]
    workspace = raw(sim, "GET", f"/workspaces/{workspace_id}").json()
    assert [s["id"] for s in workspace["sheets"]] == [4002]
    assert [f["name"] for f in workspace["folders"]] == ["Crews"]
    folder = raw(sim, "GET", f"/folders/{workspace['folders'][0]['id']}").json()
    assert [s["id"] for s in folder["sheets"]] == [4001]
    sheet = raw(sim, "GET", "/sheets/4001").json()
    assert sheet["workspace"] == {"id": workspace_id, "name": "Billing"}
    assert "workspace" not in raw(sim, "GET", "/sheets/4003").json()
    assert raw(sim, "GET", "/workspaces/12").status_code == 404
    assert raw(sim, "GET", "/folders/12").status_code == 404


def test_authentication(sim: Simulator) -> None:
    missing = raw(sim, "GET", "/sheets", token=None)
    assert missing.status_code == 401
    assert missing.json()["errorCode"] == 1004 and missing.json()["refId"]
    wrong = raw(sim, "GET", "/sheets", token="nope")
    assert wrong.status_code == 401 and wrong.json()["errorCode"] == 1002
    sdk = smartsheet.Smartsheet(access_token="nope", api_base=sim.api_base)
    sdk.errors_as_exceptions(True)
    with pytest.raises(ApiError) as caught:
        sdk.Sheets.list_sheets()
    assert caught.value.error.result.code == 1002


def test_errors_are_json_with_the_spec_shape(sim: Simulator) -> None:
    for path in ["/sheets/1", "/sheets/4001/rows/999/columns/1/history", "/webhooks/5", "/nothing/here"]:
        answer = raw(sim, "GET", path)
        assert answer.status_code == 404
        body = answer.json()
        assert set(body) == {"errorCode", "message", "refId"}
    bad = raw(sim, "GET", "/sheets/4001", params={"rowsModifiedSince": "yesterday"})
    assert bad.status_code == 400 and bad.json()["errorCode"] == 1018
    bad_ids = raw(sim, "GET", "/sheets/4001", params={"rowIds": "1,x"})
    assert bad_ids.status_code == 400


def test_call_counts_by_endpoint_template(client: Any, sim: Simulator) -> None:
    sim.reset_call_counts()
    client.Sheets.get_sheet(4001)
    client.Sheets.get_sheet(4002)
    client.Sheets.get_sheet_version(4001)
    quantity = columns(client, 4001)["Quantity"]
    client.Cells.get_cell_history(4001, 1, quantity)
    raw(sim, "GET", "/sheets", token="wrong")
    raw(sim, "POST", "/webhooks/1/resetsharedsecret")
    assert sim.call_counts == {
        "GET /sheets/{sheetId}": 3,
        "GET /sheets/{sheetId}/version": 1,
        "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history": 1,
        "GET /sheets": 1,
        "POST /webhooks/{webhookId}/resetSharedSecret": 1,
    }
    sim.reset_call_counts()
    assert sim.call_counts == {}
