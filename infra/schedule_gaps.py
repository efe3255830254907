"""The longest time between two slots of an EventBridge Scheduler expression.

The alarm that a scan did not run (infra/constructs/monitoring.py) waits this long, plus the lag a
run may have, before it treats the silence as a missed run: a scan scheduled every 4 hours on
weekdays is silent for 52 hours every weekend, and that is no failure.

`cron(minutes hours day-of-month month day-of-week year)` is read with numbers, names (JAN, MON),
`*`, `?`, ranges, lists and steps; the slots of five weeks are listed minute by minute in wall-clock
time (the schedule's time zone shifts by at most an hour at a daylight-saving change, which the
caller allows for).  `rate(n unit)` is every n units.  Anything else (L, W, #) raises ValueError.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^()]+)\)$")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_DAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
# A Monday at midnight, and five weeks from it: every weekly pattern repeats inside, and a pattern
# with longer gaps than a week is past what the alarm can wait for anyway.
_START = datetime(2024, 1, 1)
_SPAN = timedelta(weeks=5)


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values one cron field allows."""
    names = names or {}

    def number(token: str) -> int:
        value = names.get(token.upper()) if not token.isdigit() else int(token)
        if value is None or not low <= value <= high:
            raise ValueError(f"unsupported cron value {token!r} (expected {low}-{high})")
        return value

    allowed: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"unsupported cron step in {part!r}")
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            start, end = base.split("-", 1)
            first, last = number(start), number(end)
        else:
            first = number(base)
            last = high if step_text else first
        allowed.update(range(first, last + 1, step))
    return frozenset(allowed)


def _cron_slots(fields: list[str]) -> list[datetime]:
    if len(fields) != 6:
        raise ValueError(f"a cron expression has 6 fields, not {len(fields)}: {' '.join(fields)}")
    minute_text, hour_text, dom_text, month_text, dow_text, year_text = fields
    if year_text != "*":
        raise ValueError("only cron expressions for every year are supported")
    minutes = _field(minute_text, 0, 59)
    hours = _field(hour_text, 0, 23)
    months = _field(month_text, 1, 12, _MONTHS)
    days_of_month = None if dom_text == "?" else _field(dom_text, 1, 31)
    days_of_week = None if dow_text == "?" else _field(dow_text, 1, 7, _DAYS)
    slots: list[datetime] = []
    day = _START
    while day < _START + _SPAN:
        # EventBridge counts days of the week from Sunday = 1; Python from Monday = 0.
        weekday = (day.weekday() + 1) % 7 + 1
        if (
            day.month in months
            and (days_of_month is None or day.day in days_of_month)
            and (days_of_week is None or weekday in days_of_week)
        ):
            slots.extend(day.replace(hour=h, minute=m) for h in sorted(hours) for m in sorted(minutes))
        day += timedelta(days=1)
    return slots


def longest_gap(expression: str) -> timedelta:
    """The longest wait between two consecutive slots of `expression`."""
    rate = _RATE.match(expression)
    if rate:
        unit = rate.group(2).rstrip("s")
        return timedelta(**{f"{unit}s": int(rate.group(1))})
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError(f"not a cron(...) or rate(...) expression: {expression!r}")
    slots = _cron_slots(cron.group(1).split())
    if len(slots) < 2:
        raise ValueError(f"{expression} runs less than twice in five weeks")
    return max(later - earlier for earlier, later in itertools.pairwise(slots))
