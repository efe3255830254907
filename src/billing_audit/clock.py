"""The one clock: every component that needs "now" takes a `Clock`, so tests and the local run can
drive time (the simulator's virtual clock) and production reads the system clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
# Waiting, on the same clock: `time.sleep` in production, the simulator's virtual clock locally.
Sleeper = Callable[[float], object]


def system_clock() -> datetime:
    return datetime.now(UTC)


def system_sleep(seconds: float) -> None:
    time.sleep(seconds)
