"""Events and report deps for the report tests: a varied week, with hostile user-entered text."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

from billing_audit.domain.models import AuditEvent, DetectedVia, EventType, RiskLevel
from billing_audit.pipeline.reports.build import ReportDeps
from billing_audit.pipeline.reports.links import ShortLinks
from billing_audit.store.memory import (
    MemoryEventStore,
    MemoryLinkStore,
    MemoryMetrics,
    MemoryReportLedger,
    MemoryRunStore,
    MemoryStateStore,
)

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src=https://evil.example/x.png>'
SHEET_NAMES = {101: "Subcontractor Billing", 102: "Crew <B> & Co", 103: '=HYPERLINK("http://x")'}
VIOLATIONS = [t for t in EventType if t is not EventType.CHANGE]


class MemoryBlobs:
    def __init__(self, clock=lambda: NOW) -> None:
        self.objects: dict[str, bytes] = {}
        self.clock = clock
        self.signed: list[tuple[str, int]] = []

    def put(self, key: str, data: bytes, content_type: str) -> str:
        self.objects[key] = data
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def link(self, key: str, seconds: int = 3600) -> str:
        self.signed.append((key, seconds))
        return f"https://bucket.s3.example/{key}?X-Amz-Date={self.clock():%Y%m%dT%H%M%SZ}&X-Amz-Expires={seconds}"


def week_of_events(count: int = 200, seed: int = 3, now: datetime = NOW) -> list[AuditEvent]:
    noise = random.Random(seed)
    events = []
    for index in range(count):
        changed = now - timedelta(hours=noise.uniform(1, 24 * 6.5))
        violation = noise.random() < 0.4
        level = noise.choice(list(RiskLevel)) if violation else None
        events.append(
            AuditEvent(
                event_id=f"event-{index:06d}",
                sheet_id=101 + index % 3,
                sheet_name=SHEET_NAMES[101 + index % 3],
                row_id=5000 + index,
                work_request=f"SUB-{1000 + index}",
                column=noise.choice(["Quantity", "Unit Price", "Redlined Total Price"]),
                old_value=noise.randint(1, 50),
                new_value=HOSTILE if index % 7 == 0 else noise.randint(1, 50),
                changed_at=changed,
                changed_by=noise.choice(["ana.ortiz@example.com", "bo.lee@example.com", None]),
                type=noise.choice(VIOLATIONS) if violation else EventType.CHANGE,
                violation=violation,
                financial_impact=round(noise.uniform(-900, 9000), 2) if violation else None,
                risk_level=level,
                risk_score=round(noise.uniform(0.2, 0.99), 2) if violation else 0.0,
                detected_at=changed + timedelta(minutes=30),
                detected_via=noise.choice(list(DetectedVia)),
            )
        )
    return events


def report_deps(events: list[AuditEvent], clock=lambda: NOW) -> tuple[ReportDeps, MemoryBlobs, MemoryLinkStore]:
    store = MemoryEventStore()
    store.add(events)
    blobs = MemoryBlobs(clock)
    links = MemoryLinkStore()
    deps = ReportDeps(
        events=store,
        state=MemoryStateStore(),
        runs=MemoryRunStore(),
        blobs=blobs,
        ledger=MemoryReportLedger(),
        links=ShortLinks(links, "https://api.example/prod/r/"),
        app_base="https://app.smartsheet.com",
        metrics=MemoryMetrics({"SmartsheetApiCalls": 240.0, "WebhookCallbacksAccepted": 12.0}),
        clock=clock,
    )
    return deps, blobs, links
