"""Where a change came from (Event Reporting): matching saves to events, the allow-lists, the risk
factor, and reading the stream once an hour, or not at all where the plan lacks the add-on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from billing_audit.domain.models import AuditEvent, DetectedVia, EventType
from billing_audit.domain.provenance import EventReportingPolicy, SheetSave, attach_sources
from billing_audit.domain.risk import RiskContext, RiskPolicy, rule_factors
from billing_audit.pipeline.provenance import SaveSources
from billing_audit.smartsheet.access import ReportedEvent
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.models import UserData

AT = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
POLICY = EventReportingPolicy(enabled=True, allowed_sources=("web_app",), allowed_cidrs=("198.51.100.0/24",))


def event(at: datetime = AT, by: str | None = "bob@x.com", sheet: int = 1) -> AuditEvent:
    return AuditEvent(
        event_id=f"{sheet}-{at.isoformat()}-{by}",
        sheet_id=sheet,
        sheet_name="S",
        row_id=10,
        column="Quantity",
        old_value=1,
        new_value=2,
        changed_at=at,
        changed_by=by,
        type=EventType.CHANGE,
        violation=False,
        detected_at=AT,
        detected_via=DetectedVia.SCAN,
    )


def test_the_nearest_save_by_the_same_person_on_the_same_sheet_within_the_window() -> None:
    saves = [
        SheetSave(1, "Bob@x.com", AT - timedelta(seconds=40), "WEB_APP", "198.51.100.1"),
        SheetSave(1, "bob@x.com", AT + timedelta(seconds=5), "MOBILE_IOS", "192.0.2.1"),
        SheetSave(2, "bob@x.com", AT, "API_INTEGRATED_APP", "203.0.113.9"),
        SheetSave(1, "ana@x.com", AT, "WEB_APP", "198.51.100.2"),
    ]
    matched = attach_sources([event(), event(sheet=2), event(by="cy@x.com"), event(by=None)], saves, 300)
    assert [(e.source, e.ip_address) for e in matched] == [
        ("MOBILE_IOS", "192.0.2.1"),
        ("API_INTEGRATED_APP", "203.0.113.9"),
        (None, None),
        (None, None),
    ]
    assert attach_sources([event(AT + timedelta(minutes=10))], saves, 300)[0].source is None


def test_allow_lists_and_the_risk_factor() -> None:
    assert POLICY.outside("WEB_APP", "198.51.100.7") == []
    assert POLICY.outside("MOBILE_IOS", "192.0.2.1") == ["source MOBILE_IOS", "IP 192.0.2.1"]
    assert POLICY.outside(None, None) == []  # nothing known, nothing claimed
    assert EventReportingPolicy(enabled=True).outside("ANYTHING", "192.0.2.1") == []  # no lists: anything goes
    with pytest.raises(ValidationError, match="not an IP range"):
        EventReportingPolicy(allowed_cidrs=("10.0.0.0/33",))
    outside = event().model_copy(update={"source": "MOBILE_IOS", "ip_address": "198.51.100.7"})
    zone = ZoneInfo("America/Chicago")
    with_lists = RiskContext(risk=RiskPolicy(), zone=zone, roster={}, review_days=90, sources=POLICY)
    without = RiskContext(risk=RiskPolicy(), zone=zone, roster={}, review_days=90)
    [factor] = [f for f in rule_factors(outside, with_lists) if f.code == "outside_allowed_source"]
    assert factor.weight == 0.3 and factor.label == "Saved from outside the allow-list (source MOBILE_IOS)"
    assert "outside_allowed_source" not in {f.code for f in rule_factors(outside, without)}


class FakeReporting:
    def __init__(self, events: list[ReportedEvent], fail: bool = False) -> None:
        self.reported = events
        self.fail = fail
        self.calls: list[tuple[datetime, datetime | None]] = []

    def events(self, since: datetime, until: datetime | None = None) -> list[ReportedEvent]:
        self.calls.append((since, until))
        if self.fail:
            raise SmartsheetError("Smartsheet GET /events failed: HTTP 403 code 1004", status=403)
        return [e for e in self.reported if e.at >= since and (until is None or e.at < until)]


def reported(at: datetime, user_id: int = 7, ip: str = "192.0.2.5") -> ReportedEvent:
    return ReportedEvent(
        event_id=at.isoformat(), object_type="SHEET", action="UPDATE", object_id="1", at=at, user_id=user_id,
        source="WEB_APP", ip_address=ip,
    )  # fmt: skip


def test_hours_are_read_once_settled_and_an_open_hour_again() -> None:
    api = FakeReporting([reported(AT), reported(AT + timedelta(hours=3))])
    users = [UserData(id=7, email="bob@x.com")]
    now = [AT + timedelta(days=1)]
    sources = SaveSources(api, lambda: users, POLICY, clock=lambda: now[0])
    assert sources.attach([event()])[0].ip_address == "192.0.2.5"
    assert sources.attach([event(AT + timedelta(seconds=30))])[0].ip_address == "192.0.2.5"
    assert len(api.calls) == 1  # the hour was settled: not read again
    now[0] = AT + timedelta(hours=3, minutes=10)  # the clock in an hour still open
    later = AT + timedelta(hours=3)
    sources.attach([event(later)])
    sources.attach([event(later)])
    assert len(api.calls) == 3  # an open hour is read again, it may gain saves


def test_without_the_add_on_events_stay_as_they_are_and_the_stream_is_not_asked_again() -> None:
    api = FakeReporting([], fail=True)
    sources = SaveSources(api, lambda: [], POLICY, clock=lambda: AT + timedelta(days=1))
    assert sources.attach([event()]) == [event()]
    assert sources.attach([event()]) == [event()]
    assert len(api.calls) == 1 and sources.unavailable
