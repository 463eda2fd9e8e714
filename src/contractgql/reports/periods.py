"""Report periods: named presets relative to today, custom ranges and quarters.

Every period is an inclusive range of calendar dates. "Today" is the date in the
organization's timezone, which the caller passes in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

from contractgql.errors import InvalidArgument

# The longest custom range a report accepts, so that a typing error such as year
# 20270 is rejected instead of scanning every contract for centuries.
MAX_RANGE_DAYS = 100 * 366
# The most quarters a renewal forecast covers.
MAX_FORECAST_QUARTERS = 12


class PeriodPreset(enum.StrEnum):
    """A period relative to today."""

    NEXT_30_DAYS = "next_30_days"
    NEXT_60_DAYS = "next_60_days"
    NEXT_90_DAYS = "next_90_days"
    THIS_QUARTER = "this_quarter"
    NEXT_QUARTER = "next_quarter"


_PRESET_DAYS = {
    PeriodPreset.NEXT_30_DAYS: 30,
    PeriodPreset.NEXT_60_DAYS: 60,
    PeriodPreset.NEXT_90_DAYS: 90,
}


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of dates."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def quarter_of(day: date) -> DateRange:
    """Return the calendar quarter that contains `day`."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    return DateRange(start, _next_quarter_start(start) - timedelta(days=1))


def _next_quarter_start(quarter_start: date) -> date:
    if quarter_start.month == 10:
        return date(quarter_start.year + 1, 1, 1)
    return date(quarter_start.year, quarter_start.month + 3, 1)


def preset_range(preset: PeriodPreset, today: date) -> DateRange:
    """Return the dates of `preset` as seen on `today`.

    "Next N days" are the N days that start today, so NEXT_30_DAYS on 2027-01-01
    runs through 2027-01-30. The quarters are whole calendar quarters.
    """
    days = _PRESET_DAYS.get(preset)
    if days is not None:
        return DateRange(today, today + timedelta(days=days - 1))
    this_quarter = quarter_of(today)
    if preset is PeriodPreset.THIS_QUARTER:
        return this_quarter
    return quarter_of(this_quarter.end + timedelta(days=1))


def resolve_period(
    preset: PeriodPreset | None, start: date | None, end: date | None, today: date
) -> DateRange:
    """Return the period that a report argument describes, or raise InvalidArgument.

    The argument names either a preset or both dates of a custom range.
    """
    if preset is not None:
        if start is not None or end is not None:
            raise InvalidArgument(
                f"The period names the preset {preset.name} and also a date: give "
                "either a preset or both 'from' and 'to'."
            )
        return preset_range(preset, today)
    if start is None or end is None:
        missing = "'from'" if start is None else "'to'"
        raise InvalidArgument(
            f"The period has no {missing} date: give a preset such as NEXT_90_DAYS, "
            "or both 'from' and 'to'."
        )
    return check_range(start, end)


def check_range(start: date, end: date) -> DateRange:
    """Return the range `start`..`end`, or raise InvalidArgument when it is invalid."""
    if end < start:
        raise InvalidArgument(
            f"The period ends on {end.isoformat()}, before it starts on "
            f"{start.isoformat()}: swap 'from' and 'to', or pick a later end date."
        )
    if (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidArgument(
            f"The period {start.isoformat()} to {end.isoformat()} is longer than "
            f"{MAX_RANGE_DAYS} days: check the years of 'from' and 'to'."
        )
    return DateRange(start, end)


def forecast_quarters(start: date, count: int) -> list[DateRange]:
    """Return `count` quarters from `start`: the rest of its quarter, then whole ones.

    Raises InvalidArgument when `count` is not between 1 and MAX_FORECAST_QUARTERS.
    """
    if not 1 <= count <= MAX_FORECAST_QUARTERS:
        raise InvalidArgument(
            f"A forecast covers 1 to {MAX_FORECAST_QUARTERS} quarters, not {count}: "
            "pass a 'quarters' value in that range."
        )
    first = quarter_of(start)
    quarters = [DateRange(start, first.end)]
    for _ in range(count - 1):
        quarters.append(quarter_of(quarters[-1].end + timedelta(days=1)))
    return quarters
