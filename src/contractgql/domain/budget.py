"""Cap periods and consumption figures of contract caps.

Months, quarters and years are calendar periods (a quarter is January to March,
April to June, and so on). The term period runs from the contract's start date
through its end date, or without end for an open-ended contract. Hours are counted
in hundredths of an hour and amounts in minor units, so every figure is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from contractgql.domain.dates import add_months
from contractgql.models.hours import CapPeriod

# Maximum number of periods that one usage request lists: ten years of months.
MAX_LISTED_PERIODS = 120


@dataclass(frozen=True)
class CapWindow:
    """One period of a cap: its first and last day, inclusive, and its label."""

    start: date
    # None for the term of an open-ended contract.
    end: date | None
    # Such as "2028-02", "2028-Q1", "2028" or "term".
    label: str

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


def window_of(
    period: CapPeriod, day: date, term_start: date, term_end: date | None
) -> CapWindow:
    """Return the period of a cap that contains `day`."""
    if period is CapPeriod.MONTH:
        start = day.replace(day=1)
        return CapWindow(start, _last_day(start, 1), f"{day:%Y-%m}")
    if period is CapPeriod.QUARTER:
        quarter = (day.month - 1) // 3
        start = date(day.year, quarter * 3 + 1, 1)
        return CapWindow(start, _last_day(start, 3), f"{day.year}-Q{quarter + 1}")
    if period is CapPeriod.YEAR:
        return CapWindow(date(day.year, 1, 1), date(day.year, 12, 31), f"{day.year}")
    return CapWindow(term_start, term_end, "term")


def windows_between(
    period: CapPeriod,
    first: date,
    last: date,
    term_start: date,
    term_end: date | None,
) -> list[CapWindow]:
    """Return the periods of a cap that overlap `first`..`last`, in order.

    Raises ValueError when there would be more than MAX_LISTED_PERIODS.
    """
    if period is CapPeriod.TERM:
        return [window_of(period, first, term_start, term_end)]
    windows: list[CapWindow] = []
    day = first
    while day <= last:
        if len(windows) == MAX_LISTED_PERIODS:
            raise ValueError(
                f"{first}..{last} spans more than {MAX_LISTED_PERIODS} periods of "
                f"one {period.value}: ask for a shorter range."
            )
        window = window_of(period, day, term_start, term_end)
        windows.append(window)
        assert window.end is not None
        day = window.end + timedelta(days=1)
    return windows


def _last_day(start: date, months: int) -> date:
    return add_months(start, months) - timedelta(days=1)


def percentage(used: int, limit: int) -> Decimal:
    """Return used as a percentage of a positive limit, rounded half up to cents."""
    exact = Decimal(used * 100) / Decimal(limit)
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def reaches_threshold(used: int, limit: int, warning_percent: int) -> bool:
    """Return whether `used` is at least `warning_percent` of `limit`, exactly."""
    return used * 100 >= limit * warning_percent
