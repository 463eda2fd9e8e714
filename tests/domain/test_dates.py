"""Calendar rules: inclusive end dates, notice deadlines, renewals and local today."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from contractgql.domain.dates import (
    Period,
    PeriodUnit,
    add_months,
    earliest_end_with_notice_on,
    local_today,
    notice_deadline,
    renewed_end,
    term_end,
    term_months,
)

MONTH = PeriodUnit.MONTHS
DAY = PeriodUnit.DAYS
WEEK = PeriodUnit.WEEKS


@pytest.mark.parametrize(
    ("end", "notice", "expected"),
    [
        (date(2027, 6, 30), Period(1, MONTH), date(2027, 5, 31)),
        (date(2027, 12, 31), Period(2, MONTH), date(2027, 10, 31)),
        (date(2028, 2, 29), Period(1, MONTH), date(2028, 1, 31)),
        (date(2027, 3, 15), Period(30, DAY), date(2027, 2, 13)),
        (date(2027, 3, 31), Period(2, WEEK), date(2027, 3, 17)),
        (date(2027, 6, 30), Period(0, DAY), date(2027, 6, 30)),
    ],
)
def test_notice_deadline(end: date, notice: Period, expected: date) -> None:
    assert notice_deadline(end, notice) == expected


def test_notice_deadline_open_ended_is_none() -> None:
    assert notice_deadline(None, Period(3, MONTH)) is None


def test_notice_deadline_without_notice_is_none() -> None:
    assert notice_deadline(date(2027, 6, 30), None) is None


@pytest.mark.parametrize(
    ("old_end", "term", "expected"),
    [
        (date(2027, 6, 30), Period(12, MONTH), date(2028, 6, 30)),
        (date(2027, 12, 31), Period(3, MONTH), date(2028, 3, 31)),
        (date(2028, 1, 31), Period(1, MONTH), date(2028, 2, 29)),
        (date(2027, 3, 15), Period(30, DAY), date(2027, 4, 14)),
        (date(2027, 3, 31), Period(1, WEEK), date(2027, 4, 7)),
    ],
)
def test_renewed_end(old_end: date, term: Period, expected: date) -> None:
    assert renewed_end(old_end, term) == expected


@pytest.mark.parametrize(
    ("start", "term", "expected"),
    [
        (date(2026, 1, 1), Period(12, MONTH), date(2026, 12, 31)),
        (date(2026, 3, 1), Period(1, MONTH), date(2026, 3, 31)),
    ],
)
def test_term_end(start: date, term: Period, expected: date) -> None:
    assert term_end(start, term) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 1, 1), date(2026, 12, 31), 12),
        (date(2026, 1, 1), date(2027, 6, 30), 18),
        (date(2026, 1, 1), date(2026, 1, 30), 0),
        (date(2026, 1, 15), date(2026, 2, 14), 1),
    ],
)
def test_term_months(start: date, end: date, expected: int) -> None:
    assert term_months(start, end) == expected


@pytest.mark.parametrize(
    ("day", "notice", "to_month_end", "expected"),
    [
        (date(2027, 1, 15), Period(3, MONTH), False, date(2027, 4, 15)),
        (date(2027, 1, 15), Period(3, MONTH), True, date(2027, 4, 30)),
        (date(2027, 11, 30), Period(3, MONTH), False, date(2028, 2, 29)),
        (date(2027, 1, 15), Period(30, DAY), True, date(2027, 2, 28)),
        (date(2027, 1, 15), None, False, date(2027, 1, 15)),
        (date(2027, 1, 15), None, True, date(2027, 1, 31)),
    ],
)
def test_earliest_end_with_notice_on(
    day: date, notice: Period | None, to_month_end: bool, expected: date
) -> None:
    assert earliest_end_with_notice_on(day, notice, to_month_end) == expected


# Every day of 2023 to 2028: two leap years, and every month end.
SWEEP_DAYS = [date(2023, 1, 1) + timedelta(days=n) for n in range(6 * 365 + 2)]


@pytest.mark.parametrize("months", [-61, -25, -13, -12, -6, -3, -1, 0, 1, 2, 12, 48])
def test_add_months_matches_relativedelta(months: int) -> None:
    mismatches = [
        day
        for day in SWEEP_DAYS
        if add_months(day, months) != day + relativedelta(months=months)
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    "period",
    [Period(0, DAY), Period(30, DAY), Period(2, WEEK), Period(1, MONTH)]
    + [Period(6, MONTH), Period(25, MONTH)],
)
def test_period_before_matches_relativedelta(period: Period) -> None:
    mismatches = [
        day
        for day in SWEEP_DAYS
        if period.before(day) != day - period.as_relativedelta()
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    "start", [date(2024, 1, 31), date(2024, 2, 29), date(2025, 3, 15)]
)
def test_term_months_matches_relativedelta(start: date) -> None:
    mismatches = []
    for end in SWEEP_DAYS:
        length = relativedelta(end + timedelta(days=1), start)
        if term_months(start, end) != length.years * 12 + length.months:
            mismatches.append(end)
    assert mismatches == []


def test_period_rejects_negative_count() -> None:
    with pytest.raises(ValueError, match="-1"):
        Period(-1, MONTH)


@pytest.mark.parametrize(
    ("now", "timezone", "expected"),
    [
        # 23:30 UTC on New Year's Eve is already New Year's Day in Amsterdam (UTC+1).
        (
            datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
            "Europe/Amsterdam",
            date(2027, 1, 1),
        ),
        (
            datetime(2026, 12, 31, 22, 59, tzinfo=UTC),
            "Europe/Amsterdam",
            date(2026, 12, 31),
        ),
        # Summer time: Amsterdam is UTC+2, so 22:30 UTC is past midnight there.
        (
            datetime(2027, 7, 1, 22, 30, tzinfo=UTC),
            "Europe/Amsterdam",
            date(2027, 7, 2),
        ),
        (
            datetime(2027, 7, 1, 9, 0, tzinfo=UTC),
            "Pacific/Pago_Pago",
            date(2027, 6, 30),
        ),
        (
            datetime(2027, 7, 1, 10, 0, tzinfo=UTC),
            "Pacific/Kiritimati",
            date(2027, 7, 2),
        ),
    ],
)
def test_local_today(now: datetime, timezone: str, expected: date) -> None:
    assert local_today(timezone, now) == expected
