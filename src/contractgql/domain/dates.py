"""Calendar rules for contract terms, notice deadlines and renewals.

Every date here is a calendar date. A contract's end date is inclusive: the contract is
in force through that whole day. Month arithmetic clamps to the end of the month, so
one month after 31 January is 28 or 29 February.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

ONE_DAY = timedelta(days=1)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class PeriodUnit(enum.StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


@dataclass(frozen=True, slots=True)
class Period:
    """A length of time such as a notice period (3 months) or a renewal term."""

    count: int
    unit: PeriodUnit

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(
                f"A period cannot be negative, got {self.count}: use 0 or more."
            )

    def as_relativedelta(self) -> relativedelta:
        if self.unit is PeriodUnit.DAYS:
            return relativedelta(days=self.count)
        if self.unit is PeriodUnit.WEEKS:
            return relativedelta(weeks=self.count)
        return relativedelta(months=self.count)

    def before(self, day: date) -> date:
        """Return the date this period before `day`, as `day - as_relativedelta()`."""
        if self.unit is PeriodUnit.DAYS:
            return day - timedelta(days=self.count)
        if self.unit is PeriodUnit.WEEKS:
            return day - timedelta(weeks=self.count)
        return add_months(day, -self.count)

    def __str__(self) -> str:
        unit = self.unit.value if self.count != 1 else self.unit.value[:-1]
        return f"{self.count} {unit}"


def notice_deadline(end_date: date | None, notice: Period | None) -> date | None:
    """Return the last day on which notice still ends the contract on its end date.

    The contract runs through `end_date`, so it ends at the start of the next day.
    Notice must arrive a full notice period before that moment, and the deadline is
    the day before: `(end_date + 1 day - notice) - 1 day`. Open-ended contracts and
    contracts without a notice period have no deadline.
    """
    if end_date is None or notice is None:
        return None
    return notice.before(end_date + ONE_DAY) - ONE_DAY


def term_end(start: date, term: Period) -> date:
    """Return the inclusive last day of a term of `term` starting on `start`."""
    return start + term.as_relativedelta() - ONE_DAY


def renewed_end(old_end: date, term: Period) -> date:
    """Return the end date of the term that follows a term ending on `old_end`."""
    return term_end(old_end + ONE_DAY, term)


def term_length(start: date, end: date) -> relativedelta:
    """Return the calendar length of the inclusive range `start`..`end`."""
    return relativedelta(end + ONE_DAY, start)


def term_months(start: date, end: date) -> int:
    """Return the number of whole calendar months from `start` through `end`."""
    # The same count as term_length()'s years and months, without building a
    # relativedelta. It is the largest number of months whose sum with `start`,
    # clamped to the month's end, is not after the day after `end`.
    stop = end + ONE_DAY
    months = (stop.year - start.year) * 12 + stop.month - start.month
    if stop >= start:
        while add_months(start, months) > stop:
            months -= 1
    else:
        while add_months(start, months) < stop:
            months += 1
    return months


def add_months(day: date, months: int) -> date:
    """Return `day` moved by `months` (negative to go back), clamped to the month's end.

    It returns the same date as `day + relativedelta(months=months)` at about a
    fifteenth of the cost, and scans call it several times per contract.
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = _DAYS_IN_MONTH[month]
    if month == 2 and calendar.isleap(year):
        last = 29
    return date(year, month, min(day.day, last))


def earliest_end_with_notice_on(
    day: date, notice: Period | None, to_month_end: bool = False
) -> date:
    """Return the first end date that notice given on `day` can reach.

    This applies to open-ended contracts: the contract can end once the notice period
    has run, or, when the contract lets notice run to a month end, at the first end of
    a calendar month on or after that day.
    """
    earliest = day + notice.as_relativedelta() if notice else day
    if not to_month_end:
        return earliest
    return earliest + relativedelta(day=31)


def local_today(timezone: str, now: datetime | None = None) -> date:
    """Return today's date in `timezone`, the date in that organization's calendar."""
    moment = now if now is not None else datetime.now(ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(timezone)).date()
