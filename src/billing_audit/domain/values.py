"""Reading cell values the way a billing auditor does: numbers, dates and the week close."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

CellValue = str | bool | int | float | None

CENT = Decimal("0.01")
# Beyond any amount a sheet can mean: a cell past it is read as not a number, so that every product
# and sum of two amounts stays a finite float (Python's floats end near 1.8e308).
LARGEST_NUMBER = Decimal("1e100")
# Enough digits to round any product of two amounts to the cent without raising.
_WIDE = Context(prec=250)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")


def to_number(value: CellValue) -> Decimal | None:
    """A cell's number: numbers as they are, numeric strings parsed ("1,250.00", "$12"), else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return None
        # str() keeps 0.1 as 0.1 instead of its binary expansion.
        number = Decimal(str(value))
        return number if abs(number) < LARGEST_NUMBER else None
    text = value.strip().replace(",", "")
    if text.startswith("$"):
        text = text[1:]
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number) < LARGEST_NUMBER else None


def to_date(value: CellValue) -> date | None:
    """A DATE cell's date (`YYYY-MM-DD`, or an ISO date-time whose date part is taken)."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def is_blank(value: CellValue) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def week_close(week_ending: CellValue, tz: ZoneInfo, grace_hours: float = 0) -> datetime | None:
    """The instant a billing week closes: local midnight after Week Ending, plus elapsed grace hours.

    None when the cell holds no valid date: such a row never closes.
    """
    day = to_date(week_ending)
    if day is None:
        return None
    try:
        next_day = day + timedelta(days=1)
    except OverflowError:
        return None
    # Where a zone skips midnight (America/Santiago's spring change), zoneinfo reads the missing
    # wall time with the offset before the change, which lands on the instant the day starts;
    # where midnight repeats, fold=0 takes the first.
    local_midnight = datetime.combine(next_day, time(0), tzinfo=tz)
    return local_midnight.astimezone(UTC) + timedelta(hours=grace_hours)


def is_closed(week_ending: CellValue, at: datetime, tz: ZoneInfo, grace_hours: float = 0) -> bool:
    """At-or-after: a change at the close instant is after close."""
    closes = week_close(week_ending, tz, grace_hours)
    return closes is not None and at >= closes


def cents(amount: Decimal) -> float:
    return float(amount.quantize(CENT, rounding=ROUND_HALF_UP, context=_WIDE))


def values_equal(left: CellValue, right: CellValue) -> bool:
    """Equal as an auditor reads them: 12 and "12" are the same quantity, blank equals blank."""
    if is_blank(left) and is_blank(right):
        return True
    left_num, right_num = to_number(left), to_number(right)
    if left_num is not None and right_num is not None:
        return left_num == right_num
    if isinstance(left, bool) != isinstance(right, bool):
        return False  # a checkbox's True is not the quantity 1, though Python says True == 1
    return left == right


def utc_iso(moment: datetime) -> str:
    """ISO-8601 UTC with a `Z`, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spreadsheet_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """A spreadsheet date-time: the wall time in the business zone, without an offset (a workbook's
    date-time holds none, so its column or its sheet names the zone)."""
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant; a naive one is taken as UTC (Smartsheet returns `Z` times)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def counted(count: float, noun: str, plural: str | None = None) -> str:
    """`1 finding`, `2 findings`, `3 people`: the noun agrees with its count, never `finding(s)`."""
    return f"{count:,.0f} {noun if count == 1 else plural or noun + 's'}"


def money(amount: object, *, signed: bool = False, missing: str = "n/a") -> str:
    """Dollars as people read them ("-$1,250.00"); `missing` for no amount (None, or not a number)."""
    if not isinstance(amount, int | float):
        return missing
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}${abs(amount):,.2f}"
