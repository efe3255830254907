"""Risk scores through `billing-audit demo`: every event scored with its factors, and the example's
after-hours change to a closed week ranked above every ordinary change."""

from __future__ import annotations

import json

import pytest

from billing_audit.cli import main


@pytest.mark.parametrize("mode", ["scan", "webhook"])
def test_example_ranks_the_after_hours_closed_week_change_above_every_change(mode, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--mode", mode]) == 0
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert all("risk_factors" in e and 0 <= e["risk_score"] <= 1 for e in events)
    assert all({"code", "label", "weight"} == set(f) and f["weight"] > 0 for e in events for f in e["risk_factors"])
    [late] = [
        e
        for e in events
        if e["type"] == "post_close_change" and e["row_id"] == 300101 and e["column"] == "Redlined Total Price"
    ]
    changes = [e for e in events if e["type"] == "change"]
    assert changes, "the example has ordinary changes"
    assert late["risk_score"] > max(e["risk_score"] for e in changes)
    # The demo's top findings say why: the first is this change, with its factors as `label (+weight)`.
    printed = capsys.readouterr().out.split("Top findings (all, by risk score):")[1].splitlines()
    assert "row 300101" in printed[1] and "Redlined Total Price" in printed[1]
    assert printed[2].strip() == (
        "risk 1.00: Outside business hours (20:30 local) (+0.3), Low access level (2) (+0.2), "
        "Permission review overdue (last 2026-08-01, over 90 days) (+0.25), "
        "Change to a closed week (week ending 2026-11-08) (+0.4), Large change (140% of the value) (+0.3)"
    )
    codes = {f["code"] for f in late["risk_factors"]}
    assert {"outside_business_hours", "closed_week", "large_change"} <= codes
    # Every event's score is at least what its rule factors say, blended or not (no model in the demo).
    for event in events:
        assert event["risk_score"] == pytest.approx(min(1.0, sum(f["weight"] for f in event["risk_factors"])))
