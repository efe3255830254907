"""Event Reporting end to end: with it, every event carries its save's source and IP, saves from
outside the allow-lists score a risk factor, and login events feed the access review's last login;
without it, the same scenario runs exactly as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from billing_audit.cli import main
from tests.e2e.judge import assert_run_matches, read_events
from tests.e2e.test_scenarios import SCENARIOS

OUTSIDE = "outside_allowed_source"


def with_event_reporting(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    scenario = json.loads((SCENARIOS / "access-review.json").read_text())
    scenario["event_reporting"] = {
        "source": "WEB_APP",
        "ip": "198.51.100.10",
        "allowed_sources": ["WEB_APP"],
        "allowed_cidrs": ["198.51.100.0/24"],
    }
    edits = {(edit["row"], edit["at"]): edit for edit in scenario["edits"]}
    # Neither an allowed source nor inside the allowed range.
    edits[(710002, "2026-11-16T16:00:00Z")].update(source="MOBILE_IOS", ip="192.0.2.66")
    # Frank is not in the account's users list: Event Reporting's user id cannot be told as his.
    edits[(710101, "2026-11-18T15:00:00Z")]["ip"] = "192.0.2.99"
    carl = next(user for user in scenario["users"] if user["email"] == "carl@example.com")
    carl["logins"] = ["2026-11-10T12:00:00Z"]  # the users list still says August
    path = tmp_path / "access-review-with-event-reporting.json"
    path.write_text(json.dumps(scenario))
    return path, scenario["expected"]


def factors(event: dict[str, Any]) -> set[str]:
    return {factor["code"] for factor in event.get("risk_factors", [])}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["scan", "webhook"])
def test_with_event_reporting_events_carry_source_and_ip(mode: str, tmp_path: Path) -> None:
    path, expected = with_event_reporting(tmp_path)
    out = tmp_path / "out"
    assert main(["demo", "--scenario", str(path), "--out", str(out), "--mode", mode]) == 0
    events = assert_run_matches(out, expected)  # the same violations as without it
    by_row = {(e["row_id"], e["column"]): e for e in events}
    known = [e for e in events if e["changed_by"] != "frank@contractor.example"]
    assert known and all(e["source"] and e["ip_address"] for e in known), "every change matched its save"
    outside = by_row[(710002, "Quantity")]
    assert (outside["source"], outside["ip_address"]) == ("MOBILE_IOS", "192.0.2.66")
    why = next(f["label"] for f in outside["risk_factors"] if f["code"] == OUTSIDE)
    assert "source MOBILE_IOS" in why and "IP 192.0.2.66" in why
    inside = by_row[(710001, "Quantity")]
    assert (inside["source"], inside["ip_address"]) == ("WEB_APP", "198.51.100.10") and OUTSIDE not in factors(inside)
    # An editor outside the users list keeps no source: nothing is guessed.
    frank = by_row[(710101, "Redlined Total Price")]
    assert "source" not in frank and OUTSIDE not in factors(frank)
    review = json.loads((out / "access_review.json").read_text())
    assert "Event Reporting" in review["last_login_source"]
    flagged = {(f["person"], f["sheet_id"], f["reason"]) for f in review["findings"]}
    want = {(e["person"], e["sheet"], e["reason"]) for e in expected["access_review"]}
    # Carl logged in on the 10th (a login event): no longer idle; everything else as without it.
    assert flagged == {f for f in want if f[0] != "carl@example.com"}


@pytest.mark.slow
def test_without_event_reporting_nothing_changes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = SCENARIOS / "access-review.json"
    assert main(["demo", "--scenario", str(path), "--out", str(out)]) == 0
    events = read_events(out)
    assert events and not any("source" in e or "ip_address" in e for e in events)
    assert not any(OUTSIDE in factors(e) for e in events)
    review = json.loads((out / "access_review.json").read_text())
    assert review["last_login_source"] == "users list"
    assert ("carl@example.com", 7101, "no_recent_login") in {
        (f["person"], f["sheet_id"], f["reason"]) for f in review["findings"]
    }
    summary = json.loads((out / "summary.json").read_text())
    assert "GET /events" not in summary["api_calls"]["by_endpoint"]
