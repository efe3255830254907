"""Source and IP of each change from Smartsheet's Event Reporting, where it is configured.

`SaveSources` reads the event stream by the hour as the events being recorded need it (each hour
once per process: a scan's rows and a batch's callbacks share what was read), resolves user ids
through the users list, and gives each audit event the source and IP of the matching save
(domain/provenance.py).  Where the plan lacks the add-on (Smartsheet refuses the stream), it says so
once and records events as they are: nothing else changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from billing_audit.clock import Clock, system_clock
from billing_audit.domain.models import AuditEvent
from billing_audit.domain.provenance import EventReportingPolicy, SheetSave, attach_sources, sheet_saves
from billing_audit.smartsheet.access import EventReportingApi
from billing_audit.smartsheet.gateway import SmartsheetError
from billing_audit.smartsheet.models import UserData

logger = logging.getLogger(__name__)
HOUR = timedelta(hours=1)


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class SaveSources:
    def __init__(
        self,
        api: EventReportingApi,
        users: Callable[[], list[UserData]],
        policy: EventReportingPolicy,
        clock: Clock = system_clock,
    ) -> None:
        self.api = api
        self.clock = clock
        self.users = users
        self.policy = policy
        self.unavailable = False
        self._hours: set[datetime] = set()
        self._saves: list[SheetSave] = []
        self._emails: dict[int, str] | None = None

    def attach(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """The events with `source` and `ip_address` where Event Reporting has their save."""
        timed = [event for event in events if event.changed_by]
        if not timed or self.unavailable:
            return list(events)
        margin = timedelta(seconds=self.policy.match_seconds)
        start = _hour(min(event.changed_at for event in timed) - margin)
        end = _hour(max(event.changed_at for event in timed) + margin) + HOUR
        try:
            self._read(start, end)
        except SmartsheetError as exc:
            self.unavailable = True
            logger.warning("Event Reporting unavailable; events keep no source or IP: %s", exc)
            return list(events)
        return attach_sources(events, self._saves, self.policy.match_seconds)

    def _read(self, start: datetime, end: datetime) -> None:
        missing = [hour for hour in _hours(start, end) if hour not in self._hours]
        if not missing:
            return
        if self._emails is None:
            self._emails = {user.id: user.email for user in self.users()}
        first, last = missing[0], missing[-1] + HOUR
        reported = self.api.events(first, last)
        rows = [(e.object_type, e.action, e.object_id, e.at, e.user_id, e.source, e.ip_address) for e in reported]
        known = {(save.sheet_id, save.email, save.at) for save in self._saves}
        for save in sheet_saves(rows, self._emails):
            if (save.sheet_id, save.email, save.at) not in known and first <= save.at < last:
                self._saves.append(save)
        # An hour still open (or just closed: Smartsheet reports events with some delay) may gain
        # saves: read it again next time; a closed one is complete.
        settled = _hour(self.clock()) - HOUR
        self._hours.update(hour for hour in _hours(first, last) if hour < settled)


def _hours(start: datetime, end: datetime) -> list[datetime]:
    hours, moment = [], start
    while moment < end:
        hours.append(moment)
        moment += HOUR
    return hours
