"""The small interface the pipeline needs from Smartsheet; the SDK adapter and test fakes implement it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from billing_audit.budget import Cost, Priority
from billing_audit.domain.backup import BackupColumn, NewRow, SheetContent
from billing_audit.domain.models import CellEntry
from billing_audit.errors import DependencyFailed
from billing_audit.smartsheet.models import SheetData, SheetRef, UserData, WebhookInfo


class SmartsheetError(DependencyFailed):
    """Smartsheet could not answer; the message is one line and carries no token or body.

    `status` is the HTTP status Smartsheet answered, when it answered (404: the object is gone).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SmartsheetGateway(Protocol):
    def sheet_changes(
        self,
        sheet_id: int,
        *,
        after_version: int | None,
        modified_since: datetime | None,
        columns: Collection[str] | None = None,
    ) -> SheetData | None:
        """Rows modified since `modified_since` (all rows when None); None when the version has not moved.

        With `columns` (titles), the rows carry only those columns' values; the read's `columns`
        still lists every column of the sheet."""

    def row_ids(self, sheet_id: int, primary_column_id: int | None) -> set[int]:
        """Every row id of the sheet, as cheaply as the API allows."""

    def rows(self, sheet_id: int, row_ids: Sequence[int]) -> SheetData:
        """Only the given rows (ids that no longer exist are simply absent)."""

    def cell_history(self, sheet_id: int, row_id: int, column_id: int, column_title: str) -> list[CellEntry]:
        """Every history entry of one cell, oldest first."""

    def workspace_sheets(self, workspace_id: int) -> list[SheetRef]: ...

    def folder_sheets(self, folder_id: int) -> list[SheetRef]: ...

    def users(self) -> list[UserData]: ...

    def call_counts(self) -> dict[str, int]:
        """Calls this gateway made, by endpoint."""


class SheetArchive(Protocol):
    """What backups read and restores write: a whole sheet at one version, and a new sheet built
    row by row.  Never writes to an existing sheet's rows."""

    def sheet_content(self, sheet_id: int) -> SheetContent:
        """Columns (types, options), rows in display order with their parents, cell values, and
        the attachment and discussion lists."""

    def create_sheet(self, name: str, columns: Sequence[BackupColumn]) -> tuple[int, list[int]]:
        """A new sheet with these columns; its id and its columns' ids in order."""

    def add_rows(self, sheet_id: int, rows: Sequence[NewRow], parent_id: int | None) -> list[int]:
        """Rows added in order at the bottom (of the sheet, or of `parent_id`'s children); their ids."""

    def call_counts(self) -> dict[str, int]: ...


class WebhookApi(Protocol):
    """Smartsheet's webhooks: list, create, enable, re-point, delete, reset the shared secret."""

    def list(self) -> list[WebhookInfo]: ...

    def create(self, *, name: str, callback_url: str, sheet_id: int) -> WebhookInfo: ...

    def enable(self, webhook_id: int) -> WebhookInfo: ...

    def set_callback_url(self, webhook_id: int, callback_url: str) -> WebhookInfo: ...

    def delete(self, webhook_id: int) -> None: ...

    def reset_secret(self, webhook_id: int) -> str: ...


class RequestBudget(Protocol):
    """The token's shared allowance (billing_audit.budget): every request takes from it first."""

    def take(self, cost: Cost, priority: Priority) -> float:
        """0 when the request may go now; else how many seconds to wait before asking again."""
