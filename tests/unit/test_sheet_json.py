"""A sheet read's JSON becomes SheetData rows equal to what RowData's own validation makes of them.

The adapter builds rows without pydantic where the JSON is exactly as Smartsheet sends it, and
leaves anything else to the model: the two paths must agree, and bad input must fail as the model fails.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from billing_audit.smartsheet.models import RowData
from billing_audit.smartsheet.sdk_client import _sheet_from_json

COLUMNS = [
    {"id": 11, "title": "Quantity", "primary": True},
    {"id": 12, "title": "Status"},
    {"id": 13, "title": "Notes"},
]
TIMESTAMPS = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "2026-11-16T15:00:00Z",
            "2026-11-16T15:00:00+00:00",
            "2026-11-16T09:00:00-06:00",
            "2026-11-16T15:00:00",  # naive: the model takes it as it is
            "2026-11-16",
        ]
    ),
)
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5))


def _body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": 1, "name": "Sheet", "version": 2, "totalRowCount": len(rows), "columns": COLUMNS, "rows": rows}


def _expected(row: dict[str, Any], keep: set[str] | None) -> RowData:
    titles = {c["id"]: c["title"] for c in COLUMNS if keep is None or c["title"] in keep}
    return RowData.model_validate(
        {
            "id": row["id"],
            "created_at": row.get("createdAt"),
            "created_by": (row.get("createdBy") or {}).get("email"),
            "modified_at": row.get("modifiedAt"),
            "modified_by": (row.get("modifiedBy") or {}).get("email"),
            "values": {titles[c["columnId"]]: c.get("value") for c in row["cells"] if c["columnId"] in titles},
        }
    )


@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "id": st.integers(1, 2**53),
                "createdAt": TIMESTAMPS,
                "modifiedAt": TIMESTAMPS,
                "createdBy": st.just({"email": "ana@example.com"}),
                "cells": st.lists(
                    st.fixed_dictionaries({"columnId": st.sampled_from([11, 12, 13]), "value": VALUES}), max_size=3
                ),
            }
        ),
        max_size=8,
    ),
    keep=st.sampled_from([None, {"Quantity", "Status"}]),
)
def test_rows_equal_the_models_own_validation(rows: list[dict[str, Any]], keep: set[str] | None) -> None:
    sheet = _sheet_from_json(_body(rows), keep)
    assert sheet.rows == [_expected(row, keep) for row in rows]
    for ours, row in zip(sheet.rows, rows, strict=True):
        theirs = _expected(row, keep)
        assert (ours.created_at, ours.modified_at) == (theirs.created_at, theirs.modified_at)
        assert ours.created_at is None or ours.created_at.utcoffset() == theirs.created_at.utcoffset()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "row",
    [
        {"id": 1, "createdAt": "yesterday", "cells": []},
        {"id": "one", "cells": []},
        {"id": 1, "modifiedAt": 1700000000.5, "createdAt": [], "cells": []},
    ],
)
def test_what_the_model_refuses_is_refused(row: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _sheet_from_json(_body([row]))
