"""Business days: weekends and Ukrainian public holidays do not count.

The Labour Code's list (art. 73) as amended in 2023: 1 January, 8 March, Easter and Trinity (Orthodox,
Julian computus), 1 May, 8 May, 28 June, 15 July, 24 August, 1 October, 25 December; a holiday on a
weekend moves the day off to the next Monday. Under martial law the law suspends the days off; set
PAYRECON_HOLIDAYS=none then, or give a file with one YYYY-MM-DD per line to add bank-specific days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

_FIXED = ((1, 1), (3, 8), (5, 1), (5, 8), (6, 28), (7, 15), (8, 24), (10, 1), (12, 25))


def orthodox_easter(year: int) -> date:
    """Julian computus (Meeus), converted to the Gregorian calendar (valid 1900-2099)."""
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    return date(year, month, day + 1) + timedelta(days=13)


@lru_cache(maxsize=None)
def ukrainian_holidays(year: int) -> frozenset[date]:
    easter = orthodox_easter(year)
    days = {date(year, m, d) for m, d in _FIXED} | {easter, easter + timedelta(days=49)}
    days_off = set(days)
    for day in days:
        if day.weekday() >= 5:  # Saturday or Sunday: the next Monday is off instead
            monday = day + timedelta(days=7 - day.weekday())
            while monday in days_off:
                monday += timedelta(days=1)
            days_off.add(monday)
    return frozenset(days_off)


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days count. `holidays` are extra days off; `ukrainian` adds the statutory list."""

    ukrainian: bool = True
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_setting(cls, value: str | None) -> "BusinessCalendar":
        if value in (None, "", "ua"):
            return cls()
        if value == "none":
            return cls(ukrainian=False)
        path = Path(value)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            extra = frozenset(date.fromisoformat(line.strip()) for line in lines if line.strip() and not line.startswith("#"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"PAYRECON_HOLIDAYS={value}: expected 'ua', 'none' or a file of YYYY-MM-DD lines ({exc})") from None
        return cls(ukrainian=True, holidays=extra)

    def is_business_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in self.holidays:
            return False
        return not (self.ukrainian and day in ukrainian_holidays(day.year))

    def add_business_days(self, start: date, days: int) -> date:
        """The day `days` business days after `start` (start itself not counted)."""
        current, left = start, days
        while left > 0:
            current += timedelta(days=1)
            if self.is_business_day(current):
                left -= 1
        return current

    def business_days_between(self, start: date, end: date) -> int:
        """Business days after `start` up to and including `end` (0 when end <= start)."""
        if end <= start:
            return 0
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_business_day(start + timedelta(days=n)))
