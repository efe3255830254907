"""Exports of the trail, streamed: one line of the trail in, one row out, whatever the format.

A full export (no filter) is the trail in position order: its `jsonl` lines are the tree's leaves
byte for byte (or stand-ins for expired events), so `billing-audit verify --events` checks it.
A filtered export holds only some events (its header says `partial`); each of them can still be
proven with `billing-audit prove`.  A pseudonymised export replaces every email by its keyed
pseudonym (domain.pseudonym) and says so in its header; its lines carry the original leaf's hash
and a seal, so it verifies only with the pseudonymisation key.

Memory stays bounded: the log and records are read a page at a time (pipeline/trail.py), every
writer writes as it goes, and the xlsx writer is openpyxl's write-only mode.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, Literal

from billing_audit.domain.trail import EXPORT_HEADER_KEY, TRAIL_KEY, canonical, pseudonymize_leaf

ExportFormat = Literal["csv", "json", "jsonl", "xlsx"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "json", "jsonl", "xlsx")
# The columns of csv and xlsx: FORMAT.md's fields, then the trail's.
COLUMNS = (
    "event_id",
    "sheet_id",
    "sheet_name",
    "row_id",
    "work_request",
    "column",
    "old_value",
    "new_value",
    "changed_at",
    "changed_by",
    "type",
    "violation",
    "financial_impact",
    "risk_level",
    "risk_score",
    "anomaly_score",
    "detected_at",
    "detected_via",
    "trail_position",
    "trail_prev",
    "trail_prev_event_id",
    "leaf_hash",
    "expired",
)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def header(*, partial: bool, pseudonymized: bool, digest: dict[str, Any] | None, generated_at: str) -> dict[str, Any]:
    return {
        "generated_at": generated_at,
        "partial": partial,
        "pseudonymized": pseudonymized,
        "verifiable": (
            "no: a filtered export; prove events one by one"
            if partial
            else "only with the pseudonymization key"
            if pseudonymized
            else "with the public key alone"
        ),
        "canonical_form": "each line is a leaf: JSON, sorted keys, no spaces, UTF-8; leaf hash SHA-256(0x00||line)",
        "digest": digest,
    }


def pseudonymized(lines: Iterable[bytes], key: bytes) -> Iterator[bytes]:
    for line in lines:
        value = json.loads(line)
        yield line if value.get("expired") is True or TRAIL_KEY not in value else pseudonymize_leaf(line, key)


def flat(line: bytes) -> dict[str, Any]:
    """A line as one row: its record, and its trail link in columns of their own."""
    value: dict[str, Any] = json.loads(line)
    link = value.pop(TRAIL_KEY, None) or {}
    value["trail_position"] = link.get("position")
    value["trail_prev"] = link.get("prev")
    value["trail_prev_event_id"] = link.get("prev_event_id")
    return value


def _text(value: Any) -> Any:
    """A value for a spreadsheet cell: structures as JSON, user text never taken for a formula."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str):
        value = _ILLEGAL.sub("", value)
        if value.startswith(_FORMULA_START):
            value = "'" + value
    return value


def write(
    lines: Iterable[bytes],
    fmt: ExportFormat,
    out: BinaryIO,
    head: dict[str, Any],
    progress: Callable[[], None] = lambda: None,
) -> int:
    """Write the lines in `fmt` to `out`; returns how many events were written."""
    count = 0
    if fmt == "jsonl":
        out.write(canonical({EXPORT_HEADER_KEY: head}) + b"\n")
        for line in lines:
            out.write(line + b"\n")
            count += 1
            progress()
    elif fmt == "json":
        out.write(b'{"' + EXPORT_HEADER_KEY.encode() + b'":' + canonical(head) + b',"events":[\n')
        for line in lines:
            out.write((b",\n" if count else b"") + line)
            count += 1
            progress()
        out.write(b"\n]}\n")
    elif fmt == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text)
        writer.writerow([f"# {EXPORT_HEADER_KEY}: {json.dumps(head, sort_keys=True)}"])
        writer.writerow(COLUMNS)
        for line in lines:
            row = flat(line)
            writer.writerow([_text(row.get(column)) for column in COLUMNS])
            count += 1
            progress()
        text.detach()
    else:
        count = _xlsx(lines, out, head, progress)
    return count


def _xlsx(lines: Iterable[bytes], out: BinaryIO, head: dict[str, Any], progress: Callable[[], None]) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    about = book.create_sheet("Export")
    for key, value in head.items():
        about.append([key, _text(value)])
    events = book.create_sheet("Events")
    events.append(list(COLUMNS))
    count = 0
    for line in lines:
        row = flat(line)
        events.append([_text(row.get(column)) for column in COLUMNS])
        count += 1
        progress()
    book.save(out)
    return count
