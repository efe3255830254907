"""A rule column renamed, deleted or re-created holds the sheet's audit until it is restored or accepted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing_audit.cli.scan import render
from billing_audit.config import AuditConfig, SheetSelection
from billing_audit.domain.snapshot import SheetSnapshot
from billing_audit.pipeline.callbacks import process_callback
from billing_audit.pipeline.deps import AuditDeps
from billing_audit.pipeline.scan import drain, run_scan, start_run
from billing_audit.smartsheet.webhooks import WebhookCallback
from billing_audit.store.memory import MemoryAlertPublisher, MemoryEventStore, MemoryStateStore
from tests.unit.builders import BASELINE, at, billing_row
from tests.unit.fake_smartsheet import FakeSheet

COLUMNS = ["Work Request #", "Week Ending", "Status", "Quantity", "Unit Price", "Redlined Total Price", "Foreman"]
CONFIG = AuditConfig(timezone="America/Chicago", sheets=SheetSelection(sheet_ids=[4001]))
TOTAL = "Redlined Total Price"


class Clock:
    def __init__(self) -> None:
        self.now = BASELINE

    def __call__(self):
        return self.now

    def later(self, hours: float = 1):
        self.now += timedelta(hours=hours)
        return self.now


@pytest.fixture
def sheet() -> FakeSheet:
    rows = {n: billing_row(**{"Work Request #": f"WR-{n}"}) for n in (1, 2, 3)}  # closed week, $1000 each
    return FakeSheet(4001, COLUMNS, rows, created=at("2026-10-20T14:00:00Z"), name="Crew Billing")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def memory_deps(sheet: FakeSheet, clock: Clock) -> AuditDeps:
    return AuditDeps(
        smartsheet=sheet,
        events=MemoryEventStore(),
        state=MemoryStateStore(),  # type: ignore[arg-type]
        alerts=MemoryAlertPublisher(),
        notifier=MemoryAlertPublisher(),
        clock=clock,
    )


@pytest.fixture
def deps(sheet: FakeSheet, clock: Clock) -> AuditDeps:
    deps = memory_deps(sheet, clock)
    run_scan(CONFIG, deps)  # the baseline
    return deps


def notes(deps: AuditDeps) -> list[tuple[str, str]]:
    return deps.notifier.notes  # type: ignore[attr-defined, no-any-return]


def found(result):
    return sorted((e.row_id, e.type.value, e.column, e.old_value, e.new_value) for e in result.events if e.violation)


def test_the_snapshot_tells_gone_and_re_created_rule_columns_apart_from_ones_never_there():
    snapshot = SheetSnapshot(
        sheet_id=1, sheet_name="S", version=1, taken_at=BASELINE, columns={"Quantity": 1, "Status": 2, "Foreman": 3}
    )
    rules = ("Quantity", "Status", "Unit Price", "Work Request #")
    # Unit Price was never there; Foreman is gone but no rule reads it.
    assert snapshot.rule_column_changes({"Quantity": 1, "Status": 2}, rules) == []
    assert snapshot.rule_column_changes({"Qty": 1, "Status": 9, "Foreman": 3}, rules) == [
        "rule column 'Quantity' is gone (renamed or deleted)",
        "rule column 'Status' was re-created (column id 2 is now 9): its history is gone",
    ]


def test_a_renamed_rule_column_holds_the_sheet_once_alerted_and_nothing_moves(sheet, deps, clock):
    before = deps.state.load(4001)
    sheet.save(1, clock.later(), "ana@example.com", Redlined_Total_Price=1100.0)
    sheet.rename_column("Quantity", "Qty")
    clock.later()
    first = run_scan(CONFIG, deps)
    [held] = first.sheets
    assert held.held == "rule column 'Quantity' is gone (renamed or deleted)"
    assert held.events == [] and deps.events.all_events() == [] and deps.alerts.published == []
    [(subject, text)] = notes(deps)
    assert "sheet 4001 (Crew Billing)" in subject and "held" in subject
    assert "'Quantity'" in text and "--accept-columns" in text
    after = deps.state.load(4001)
    assert after.model_copy(update={"held": None}) == before  # version, watermark, rows, taken_at: as they were
    assert after.held == held.held

    clock.later()
    again = run_scan(CONFIG, deps)
    assert again.sheets[0].held == held.held and len(notes(deps)) == 1  # alerted once
    assert "held: rule column 'Quantity' is gone" in render(again, {})


def test_restoring_the_column_resumes_the_audit_with_nothing_lost(sheet, deps, clock):
    sheet.rename_column("Quantity", "Qty")
    sheet.save(2, clock.later(), "bob@example.com", Redlined_Total_Price=900.0)  # during the hold
    run_scan(CONFIG, deps)
    sheet.rename_column("Qty", "Quantity")
    clock.later()
    resumed = run_scan(CONFIG, deps)
    assert resumed.sheets[0].held is None
    assert found(resumed) == [
        (2, "post_close_change", TOTAL, 1000.0, 900.0),
        (2, "price_mismatch", None, 1000.0, 900.0),
    ]
    assert deps.state.load(4001).held is None
    assert [subject for subject, _ in notes(deps)][-1] == "audit of sheet 4001 (Crew Billing) resumed"


def test_a_deleted_rule_column_is_held_until_its_columns_are_accepted(sheet, deps, clock):
    sheet.delete_column("Unit Price")
    sheet.save(3, clock.later(), "carl@example.com", Quantity=12)
    clock.later()
    assert run_scan(CONFIG, deps, dry_run=True).sheets[0].held is not None
    assert notes(deps) == [] and deps.state.load(4001).held is None  # a dry run alerts and writes nothing
    assert run_scan(CONFIG, deps).sheets[0].held == "rule column 'Unit Price' is gone (renamed or deleted)"

    accepted = run_scan(CONFIG, deps, accept_columns=True)
    # The audit goes on without the column: the quantity change has no unit price to price it.
    assert [(e.row_id, e.type.value, e.column, e.financial_impact) for e in accepted.events] == [
        (3, "post_close_change", "Quantity", None)
    ]
    assert "Unit Price" not in deps.state.load(4001).columns and deps.state.load(4001).held is None
    assert "accepted" in notes(deps)[-1][1]
    sheet.save(1, clock.later(), "ana@example.com", Redlined_Total_Price=1200.0)
    clock.later()
    later = run_scan(CONFIG, deps)
    assert later.sheets[0].held is None and found(later) == [(1, "post_close_change", TOTAL, 1000.0, 1200.0)]


def test_a_re_created_column_once_accepted_compares_with_the_values_last_seen(sheet, deps, clock):
    sheet.recreate_column(TOTAL)  # every cell empty, no history
    clock.later()
    assert "re-created" in (run_scan(CONFIG, deps).sheets[0].held or "")
    sheet.save(1, clock.later(), "ana@example.com", Redlined_Total_Price=1000.0)  # pasted back as it was
    sheet.save(2, clock.later(), "bob@example.com", Redlined_Total_Price=1250.0)  # pasted back changed
    clock.later()
    accepted = run_scan(CONFIG, deps, accept_columns=True)
    assert found(accepted) == [
        (2, "post_close_change", TOTAL, 1000.0, 1250.0),
        (2, "price_mismatch", None, 1000.0, 1250.0),
    ]


def test_the_webhook_path_leaves_a_held_sheets_rows_to_the_scan(sheet, deps, clock):
    sheet.rename_column(TOTAL, "Total")
    sheet.save(1, clock.later(), "ana@example.com", Total=1100.0)
    callback = WebhookCallback.model_validate(
        {
            "nonce": "n",
            "timestamp": "2026-11-09T13:00:00Z",
            "webhookId": 1,
            "scope": "sheet",
            "scopeObjectId": 4001,
            "events": [
                {"objectType": "cell", "eventType": "updated", "rowId": 1, "columnId": sheet.ids["Total"],
                 "userId": 7, "timestamp": "2026-11-09T13:00:00Z"},
            ],
        }
    )  # fmt: skip
    assert process_callback(callback, CONFIG, deps).events == []
    assert deps.state.recall_rows(4001, [1]) == {}  # not remembered as audited: the scan will read it


def test_a_scan_run_holds_and_releases_the_same_way(sheet, deps, clock):
    sheet.rename_column("Status", "State")
    clock.later()
    [started] = start_run(CONFIG, deps, "run-1")
    assert started.held == "rule column 'Status' is gone (renamed or deleted)" and len(notes(deps)) == 1
    assert deps.runs.open_sheets() == []
    sheet.rename_column("State", "Status")
    sheet.save(1, clock.later(), "ana@example.com", Quantity=11)
    clock.later()
    [resumed] = start_run(CONFIG, deps, "run-2")
    assert resumed.held is None
    progress = drain(CONFIG, deps)
    assert found(progress) == [
        (1, "post_close_change", "Quantity", 10, 11),
        (1, "price_mismatch", None, 1100.0, 1000.0),
    ]
    assert deps.state.load(4001).held is None and notes(deps)[-1][0].endswith("resumed")


def test_the_baseline_names_the_policy_columns_a_sheet_lacks(clock: Clock):
    """A policy title misspelt ("Week ending") matches no column and would silently turn the
    close rules off: the baseline says so, once per sheet, with the key that names it."""
    deps = memory_deps(FakeSheet(4001, COLUMNS, {}, created=at("2026-10-20T14:00:00Z"), name="Crew Billing"), clock)
    policy = CONFIG.policy.model_copy(update={"week_ending_column": "Week ending", "tracked_columns": ("Qty", TOTAL)})
    config = CONFIG.model_copy(update={"policy": policy})
    result = run_scan(config, deps)
    assert result.sheets[0].lacks == ["'Qty' (tracked_columns)", "'Week ending' (week_ending_column)"]
    assert "baseline taken; it has no column 'Qty' (tracked_columns), 'Week ending'" in render(result, {})
    # One column named by two keys is listed once; a complete sheet lacks nothing.
    assert policy.model_copy(update={"unit_price_column": "Qty"}).missing_columns(COLUMNS)[0] == (
        "'Qty' (tracked_columns, unit_price_column)"
    )
    assert CONFIG.policy.missing_columns(COLUMNS) == []
