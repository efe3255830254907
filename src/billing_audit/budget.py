"""Smartsheet's per-token limits as a sliding window that every user of the token draws on.

Smartsheet allows 300 requests a minute per token, and 30 cell-history requests a minute, each of
which also weighs 10 of the 300.  The window keeps what was granted in the last minute; a request
is granted when both limits still hold its cost within any minute, so Smartsheet seldom has to
answer 429.  Real-time work (webhook callbacks) comes first: while some has asked in the last
minute, the scan leaves a reserve of each limit untouched; when none has, the scan may use all of
it, so a long backlog drains at the limits themselves.

Pure: the adapters keep the window (DynamoDB in AWS, so the scan and every callback batch share
one) and wait through the injected clock.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict

WINDOW_SECONDS = 60.0
REQUESTS_PER_MINUTE = 300
HISTORY_PER_MINUTE = 30
HISTORY_WEIGHT = 10  # a cell-history request counts this many toward the 300
HISTORY_ENDPOINT = "GET /sheets/{sheetId}/rows/{rowId}/columns/{columnId}/history"
_EPSILON = 0.001  # past the instant a grant leaves the window, never on it


class Cost(NamedTuple):
    requests: float
    history: float


class Priority(StrEnum):
    REALTIME = "realtime"  # webhook callbacks: an alert is waiting on them
    SCAN = "scan"  # the scan, backups, reviews: they yield


# What the scan leaves free while real-time work is about.
SCAN_RESERVE = Cost(REQUESTS_PER_MINUTE / 5, HISTORY_PER_MINUTE / 5)


def cost_of(endpoint: str) -> Cost:
    """The cost of one request to an endpoint (keyed "METHOD /path/{template}")."""
    return Cost(HISTORY_WEIGHT, 1) if endpoint == HISTORY_ENDPOINT else Cost(1, 0)


class Grant(NamedTuple):
    at: float  # seconds since the epoch, on the injected clock
    requests: float
    history: float


class Window(BaseModel):
    model_config = ConfigDict(frozen=True)

    grants: tuple[Grant, ...] = ()
    realtime_until: float = 0.0  # real-time work asked for the token until then

    def take(self, cost: Cost, priority: Priority, now: float) -> tuple[Window, float]:
        """(the window after the request, 0) when granted; (the window, seconds to wait) when not."""
        grants = tuple(g for g in self.grants if now - g.at < WINDOW_SECONDS)
        realtime_until = now + WINDOW_SECONDS if priority is Priority.REALTIME else self.realtime_until
        reserve = SCAN_RESERVE if priority is Priority.SCAN and realtime_until > now else Cost(0, 0)
        over_requests = sum(g.requests for g in grants) + cost.requests - (REQUESTS_PER_MINUTE - reserve.requests)
        over_history = (
            sum(g.history for g in grants) + cost.history - (HISTORY_PER_MINUTE - reserve.history)
            if cost.history
            else 0.0
        )
        if over_requests <= 0 and over_history <= 0:
            return Window(grants=(*grants, Grant(now, *cost)), realtime_until=realtime_until), 0.0
        wait = max(_until_freed(grants, over_requests, 1, now), _until_freed(grants, over_history, 2, now))
        return Window(grants=grants, realtime_until=realtime_until), wait


def _until_freed(grants: tuple[Grant, ...], needed: float, field: int, now: float) -> float:
    """Seconds until the oldest grants leaving the window free `needed` of one limit."""
    if needed <= 0:
        return 0.0
    freed = 0.0
    for grant in grants:
        freed += grant[field]
        if freed >= needed:
            return grant.at + WINDOW_SECONDS - now + _EPSILON
    return WINDOW_SECONDS  # more than a whole minute's worth: wait the window out and ask again


# A scan takes its cell-history reads from the shared window a row's worth at a time (the rule
# columns one row can replay), so a row costs one update of the shared window instead of one a read.
PREPAID_HISTORY = 5
# What is prepaid and not read by then lapses (it stays counted in the window, as if read): the
# window must not be owed reads a stopped or failed scan will never make.
PREPAID_SECONDS = 10.0


class Prepaid:
    """History reads a scan was granted ahead of asking, spent one a read until they lapse.

    Only the scan prepays: real-time work takes exactly what it asks, when it asks.  Prepaying a
    row's reads at once is as fast as taking them one by one: the window frees them as it granted
    them, a row's worth at a time, at the same 30 a minute.
    """

    def __init__(self) -> None:
        self.history = 0
        self.until = 0.0

    def spend(self, cost: Cost, priority: Priority, now: float) -> bool:
        """Whether this request is paid already (and now spent)."""
        if priority is not Priority.SCAN or not cost.history or self.history <= 0 or now >= self.until:
            return False
        self.history -= 1
        return True

    @staticmethod
    def to_ask(cost: Cost, priority: Priority) -> Cost:
        """What to take from the window for this request: a row's worth for a scan's history read."""
        if priority is Priority.SCAN and cost.history:
            return Cost(cost.requests * PREPAID_HISTORY, cost.history * PREPAID_HISTORY)
        return cost

    def granted(self, cost: Cost, asked: Cost, now: float) -> None:
        """`asked` was granted for this request: what it paid beyond the request is prepaid."""
        if asked != cost:
            self.history = PREPAID_HISTORY - 1
            self.until = now + PREPAID_SECONDS
