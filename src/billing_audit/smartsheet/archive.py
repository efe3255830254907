"""The SheetArchive port over the SDK adapter: read a whole sheet for a backup, build a new sheet for
a restore.  Every request goes through `SdkSmartsheet.call`, so it is paced by the token's shared
budget and counted like the scan's.

The backup read is one `GET /sheets/{id}` (one version: rows, hierarchy and cells agree), taken as
the API's JSON through the SDK's passthrough: the typed Sheet model would build an object per cell
(200,000 for a 20,000-row sheet) only to be turned into ours, and the JSON keeps every column
attribute the API names.  Attachment and discussion lists page by number (the API gives them no
cursor), 100 a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import smartsheet

from billing_audit.domain.backup import (
    AttachmentInfo,
    BackupColumn,
    BackupRow,
    CommentInfo,
    DiscussionInfo,
    NewRow,
    SheetContent,
)
from billing_audit.domain.values import CellValue, parse_instant
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.sdk_client import ListPage, SdkSmartsheet, every_item

PAGE_SIZE = 100


class SdkSheetArchive:
    def __init__(self, sdk: SdkSmartsheet) -> None:
        self.sdk = sdk

    def call_counts(self) -> dict[str, int]:
        return self.sdk.call_counts()

    # -- backup -----------------------------------------------------------------------------------
    def sheet_content(self, sheet_id: int) -> SheetContent:
        body = self.sdk.call(
            "GET /sheets/{sheetId}", self.sdk.client.Passthrough.get, f"/sheets/{int(sheet_id)}", None
        ).data
        if not isinstance(body, dict) or "columns" not in body:
            raise SmartsheetError(f"Smartsheet GET /sheets/{{sheetId}} answered no sheet for {sheet_id}")
        return SheetContent(
            id=int(body["id"]),
            name=str(body.get("name") or ""),
            version=int(body.get("version") or 0),
            columns=[_column(column) for column in body.get("columns") or []],
            rows=[_row(row) for row in body.get("rows") or []],
            attachments=self._attachments(sheet_id),
            discussions=self._discussions(sheet_id),
        )

    def _attachments(self, sheet_id: int) -> list[AttachmentInfo]:
        def fetch(_last_key: str | None, number: int) -> ListPage:
            page = self.sdk.call(
                "GET /sheets/{sheetId}/attachments",
                self.sdk.client.Attachments.list_all_attachments,
                int(sheet_id),
                page_size=PAGE_SIZE,
                page=number,
            )
            return ListPage(items=list(page.data or []), total_pages=page.total_pages, page_size=PAGE_SIZE)

        return [
            AttachmentInfo(
                id=int(item.id),
                name=str(item.name or ""),
                attachment_type=_text(item.attachment_type),
                mime_type=item.mime_type,
                size_kb=item.size_in_kb,
                parent_type=_text(item.parent_type),
                parent_id=item.parent_id,
                created_at=item.created_at,
                created_by=_email(item.created_by),
            )
            for item in every_item(fetch, key=lambda item: item.id)
        ]

    def _discussions(self, sheet_id: int) -> list[DiscussionInfo]:
        def fetch(_last_key: str | None, number: int) -> ListPage:
            page = self.sdk.call(
                "GET /sheets/{sheetId}/discussions",
                self.sdk.client.Discussions.get_all_discussions,
                int(sheet_id),
                include="comments",
                page_size=PAGE_SIZE,
                page=number,
            )
            return ListPage(items=list(page.data or []), total_pages=page.total_pages, page_size=PAGE_SIZE)

        return [
            DiscussionInfo(
                id=int(item.id),
                title=item.title,
                parent_type=_text(item.parent_type),
                parent_id=item.parent_id,
                comment_count=item.comment_count,
                last_commented_at=item.last_commented_at,
                last_commented_by=_email(item.last_commented_user),
                comments=[
                    CommentInfo(text=comment.text, created_at=comment.created_at, created_by=_email(comment.created_by))
                    for comment in item.comments or []
                ],
            )
            for item in every_item(fetch, key=lambda item: item.id)
        ]

    # -- restore ----------------------------------------------------------------------------------
    def create_sheet(self, name: str, columns: Sequence[BackupColumn]) -> tuple[int, list[int]]:
        """A new sheet in the token owner's home; returns its id and its columns' ids, in order."""
        payload = {"name": name, "columns": [column.definition() for column in columns]}
        body = self.sdk.call("POST /sheets", self.sdk.client.Passthrough.post, "/sheets", payload).data
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise SmartsheetError("Smartsheet POST /sheets answered no sheet")
        created = sorted(result.get("columns") or [], key=lambda column: int(column.get("index", 0)))
        return int(result["id"]), [int(column["id"]) for column in created]

    def add_rows(self, sheet_id: int, rows: Sequence[NewRow], parent_id: int | None) -> list[int]:
        """Add rows, in order, at the bottom of the sheet or as the last children of `parent_id`;
        returns their new ids in the same order."""
        location: dict[str, Any] = {"toBottom": True}
        if parent_id is not None:
            location["parentId"] = int(parent_id)
        models = [
            smartsheet.models.Row(
                {
                    **location,
                    **({"expanded": False} if not row.expanded else {}),
                    **({"locked": True} if row.locked else {}),
                    "cells": [
                        {"columnId": column_id, "formula": row.formulas[column_id]}
                        if column_id in row.formulas
                        else {"columnId": column_id, "value": value}
                        for column_id, value in {**row.cells, **dict.fromkeys(row.formulas)}.items()
                    ],
                }
            )
            for row in rows
        ]
        result = self.sdk.call(
            "POST /sheets/{sheetId}/rows", self.sdk.client.Sheets.add_rows, int(sheet_id), models
        ).result
        added = result if isinstance(result, list) else [result]
        if len(added) != len(rows):
            raise SmartsheetError(f"Smartsheet added {len(added)} of {len(rows)} rows to sheet {sheet_id}")
        return [int(row.id) for row in added]


def _column(raw: dict[str, Any]) -> BackupColumn:
    return BackupColumn(
        id=int(raw["id"]),
        index=int(raw.get("index", 0)),
        title=str(raw.get("title") or ""),
        type=str(raw.get("type") or "TEXT_NUMBER"),
        primary=bool(raw.get("primary")),
        options=list(raw["options"]) if isinstance(raw.get("options"), list) else None,
        symbol=raw.get("symbol"),
        width=raw.get("width"),
        description=raw.get("description"),
        hidden=bool(raw.get("hidden")),
        locked=bool(raw.get("locked")),
        validation=bool(raw.get("validation")),
        system_column_type=raw.get("systemColumnType"),
        formula=raw.get("formula"),
    )


def _row(raw: dict[str, Any]) -> BackupRow:
    cells: dict[int, CellValue] = {}
    formulas: dict[int, str] = {}
    for cell in raw.get("cells") or []:
        column_id = int(cell["columnId"])
        value = cell.get("value")
        if isinstance(value, str | int | float | bool) and value != "":
            cells[column_id] = value
        if isinstance(cell.get("formula"), str):
            formulas[column_id] = cell["formula"]
    return BackupRow(
        id=int(raw["id"]),
        parent_id=int(raw["parentId"]) if raw.get("parentId") is not None else None,
        cells=cells,
        formulas=formulas,
        expanded=bool(raw.get("expanded", True)),
        locked=bool(raw.get("locked")),
        created_at=_instant(raw.get("createdAt")),
        modified_at=_instant(raw.get("modifiedAt")),
    )


def _instant(value: Any) -> datetime | None:
    return parse_instant(value) if isinstance(value, str) and value else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _email(user: Any) -> str | None:
    return getattr(user, "email", None) if user is not None else None
