"""One Smartsheet sheet in memory behind the `SmartsheetGateway` port, for pipeline tests without sockets.

Times are to the second, as Smartsheet's are, and `rowsModifiedSince` leaves out a row modified in
that very second (the strictest reading of the API).  Columns can be renamed, deleted or re-created
(a new column id under the old title, with no history), as people do in the Smartsheet UI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime

from billing_audit.domain.models import CellEntry, ColumnMap
from billing_audit.domain.values import CellValue
from billing_audit.smartsheet.models import RowData, SheetData, SheetRef, UserData


class FakeSheet:
    def __init__(
        self,
        sheet_id: int,
        columns: Sequence[str],
        rows: dict[int, dict[str, CellValue]],
        *,
        created: datetime,
        by: str = "creator@example.com",
        name: str = "Crew Billing",
    ) -> None:
        self.id, self.name, self.version = sheet_id, name, 1
        self.ids: dict[str, int] = {title: 1000 + index for index, title in enumerate(columns)}
        self._next_id = 1000 + len(columns)
        self.cells: dict[int, dict[int, CellValue]] = {}
        self.meta: dict[int, RowData] = {}
        self.history: dict[tuple[int, int], list[CellEntry]] = {}
        self.calls: Counter[str] = Counter()
        for row_id, values in rows.items():
            self.meta[row_id] = RowData(id=row_id, created_at=created, created_by=by, modified_at=created)
            self.cells[row_id] = {}
            self._write(row_id, values, created, by)

    # -- what people do ---------------------------------------------------------------------------
    def save(self, row_id: int, at: datetime, by: str, **cells: CellValue) -> None:
        """One save; `cells` by title (underscores for spaces: Redlined_Total_Price)."""
        self._write(row_id, {title.replace("_", " "): value for title, value in cells.items()}, at, by)
        self.meta[row_id] = self.meta[row_id].model_copy(update={"modified_at": at, "modified_by": by})
        self.version += 1

    def rename_column(self, title: str, new_title: str) -> None:
        self.ids[new_title] = self.ids.pop(title)
        self.version += 1

    def delete_column(self, title: str) -> None:
        column_id = self.ids.pop(title)
        for values in self.cells.values():
            values.pop(column_id, None)
        self.history = {key: entries for key, entries in self.history.items() if key[1] != column_id}
        self.version += 1

    def recreate_column(self, title: str) -> None:
        """Deleted and added again under the same title: a new id, empty cells, no history."""
        self.delete_column(title)
        self.ids[title] = self._next_id
        self._next_id += 1

    def _write(self, row_id: int, values: dict[str, CellValue], at: datetime, by: str) -> None:
        for title, value in values.items():
            column_id = self.ids[title]
            if self.cells[row_id].get(column_id) == value:
                continue  # no change, no history entry
            self.cells[row_id][column_id] = value
            self.history.setdefault((row_id, column_id), []).append(CellEntry(column=title, value=value, at=at, by=by))

    # -- the gateway --------------------------------------------------------------------------------
    def _data(self, row_ids: Sequence[int]) -> SheetData:
        titles = {column_id: title for title, column_id in self.ids.items()}
        rows = [
            self.meta[row_id].model_copy(
                update={"values": {title: self.cells[row_id].get(column_id) for column_id, title in titles.items()}}
            )
            for row_id in row_ids
        ]
        return SheetData(
            id=self.id,
            name=self.name,
            version=self.version,
            total_row_count=len(self.meta),
            columns=ColumnMap(ids_by_title=dict(self.ids)),
            primary_column_id=next(iter(self.ids.values()), None),
            rows=rows,
        )

    def sheet_changes(
        self,
        sheet_id: int,
        *,
        after_version: int | None,
        modified_since: datetime | None,
        columns: Collection[str] | None = None,
    ) -> SheetData | None:
        self.calls["GET /sheets/{sheetId}"] += 1
        if after_version is not None and after_version >= self.version:
            return None
        modified = [
            row_id
            for row_id, row in self.meta.items()
            if modified_since is None or (row.modified_at is not None and row.modified_at > modified_since)
        ]
        data = self._data(modified)
        if columns is None:
            return data
        # As Smartsheet's `columnIds`: every column listed, only the wanted ones' cells.
        rows = [
            row.model_copy(update={"values": {t: v for t, v in row.values.items() if t in columns}})
            for row in data.rows
        ]
        return data.model_copy(update={"rows": rows})

    def row_ids(self, sheet_id: int, primary_column_id: int | None) -> set[int]:
        self.calls["GET /sheets/{sheetId}"] += 1
        return set(self.meta)

    def rows(self, sheet_id: int, row_ids: Sequence[int]) -> SheetData:
        self.calls["GET /sheets/{sheetId}"] += 1
        return self._data([row_id for row_id in row_ids if row_id in self.meta])

    def cell_history(self, sheet_id: int, row_id: int, column_id: int, column_title: str) -> list[CellEntry]:
        self.calls["GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"] += 1
        entries = self.history.get((row_id, column_id), [])
        return [entry.model_copy(update={"column": column_title}) for entry in entries]

    def workspace_sheets(self, workspace_id: int) -> list[SheetRef]:
        return []

    def folder_sheets(self, folder_id: int) -> list[SheetRef]:
        return []

    def users(self) -> list[UserData]:
        return []

    def call_counts(self) -> dict[str, int]:
        return dict(self.calls)
