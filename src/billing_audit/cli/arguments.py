"""Argument types the commands share: argparse refuses a bad value in its own one-line form."""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, tzinfo
from pathlib import Path

from billing_audit.errors import BadInput


def positive_int(text: str) -> int:
    """A count or a size: 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {value}")
    return value


def iso_day(text: str) -> date:
    """A day, YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def iso_moment(text: str) -> date | datetime:
    """An ISO date or date-time as typed: checked before the command reads its configuration, which
    gives the zone of a date (its midnight) or of a time without an offset (see `at_zone`)."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from None


def at_zone(moment: date | datetime, zone: tzinfo) -> datetime:
    """A moment from `iso_moment` as an aware time: a date is its midnight in `zone`, a time
    without an offset is read in `zone`."""
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time(), tzinfo=zone)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def check_period(since: date | datetime, until: date | datetime) -> None:
    """A period that ends before it starts is refused before any setting is read, where the two
    compare without a zone (two dates, or two times with offsets); the rest are checked once zoned."""
    both_dates = not isinstance(since, datetime) and not isinstance(until, datetime)
    both_aware = isinstance(since, datetime) and isinstance(until, datetime) and since.tzinfo and until.tzinfo
    if (both_dates or both_aware) and since >= until:
        raise BadInput("--since must be before --until")


def make_output_dir(path: Path, flag: str = "--out") -> Path:
    """The directory a command writes into, made now: a run must not do its work and then find it
    cannot keep the result."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{flag} {path}: a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".billing-audit-write-check"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"{flag} {path}: cannot write there ({exc.strerror or exc})") from None
    return path
