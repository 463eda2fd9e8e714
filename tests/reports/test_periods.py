"""Report periods: presets relative to today, quarters and rejected input."""

from __future__ import annotations

from datetime import date

import pytest

from contractgql.errors import InvalidArgument
from contractgql.reports.periods import (
    DateRange,
    PeriodPreset,
    check_range,
    forecast_quarters,
    preset_range,
    quarter_of,
    resolve_period,
)

TODAY = date(2027, 11, 20)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        # The N days starting today: today + N - 1 is the last.
        (PeriodPreset.NEXT_30_DAYS, DateRange(TODAY, date(2027, 12, 19))),
        (PeriodPreset.NEXT_60_DAYS, DateRange(TODAY, date(2028, 1, 18))),
        (PeriodPreset.NEXT_90_DAYS, DateRange(TODAY, date(2028, 2, 17))),
        (PeriodPreset.THIS_QUARTER, DateRange(date(2027, 10, 1), date(2027, 12, 31))),
        # The next quarter crosses into the next year.
        (PeriodPreset.NEXT_QUARTER, DateRange(date(2028, 1, 1), date(2028, 3, 31))),
    ],
)
def test_preset_range(preset: PeriodPreset, expected: DateRange) -> None:
    assert preset_range(preset, TODAY) == expected


def test_quarter_of_leap_february() -> None:
    assert quarter_of(date(2028, 2, 29)) == DateRange(
        date(2028, 1, 1), date(2028, 3, 31)
    )


def test_forecast_quarters_start_mid_quarter() -> None:
    quarters = forecast_quarters(date(2027, 5, 17), 3)
    assert quarters == [
        DateRange(date(2027, 5, 17), date(2027, 6, 30)),
        DateRange(date(2027, 7, 1), date(2027, 9, 30)),
        DateRange(date(2027, 10, 1), date(2027, 12, 31)),
    ]


@pytest.mark.parametrize("count", [0, 13, -1])
def test_forecast_quarters_out_of_range(count: int) -> None:
    with pytest.raises(InvalidArgument) as raised:
        forecast_quarters(TODAY, count)
    assert f"not {count}" in raised.value.message


def test_resolve_custom_range() -> None:
    period = resolve_period(None, date(2027, 1, 1), date(2027, 1, 1), TODAY)
    assert period == DateRange(date(2027, 1, 1), date(2027, 1, 1))


def test_resolve_end_before_start() -> None:
    with pytest.raises(InvalidArgument) as raised:
        resolve_period(None, date(2027, 3, 1), date(2027, 1, 31), TODAY)
    assert raised.value.message == (
        "The period ends on 2027-01-31, before it starts on 2027-03-01: swap 'from' "
        "and 'to', or pick a later end date."
    )


def test_resolve_preset_and_date() -> None:
    with pytest.raises(InvalidArgument) as raised:
        resolve_period(PeriodPreset.NEXT_90_DAYS, date(2027, 1, 1), None, TODAY)
    assert "NEXT_90_DAYS" in raised.value.message


def test_resolve_missing_end() -> None:
    with pytest.raises(InvalidArgument) as raised:
        resolve_period(None, date(2027, 1, 1), None, TODAY)
    assert "no 'to' date" in raised.value.message


def test_range_too_long() -> None:
    with pytest.raises(InvalidArgument) as raised:
        check_range(date(2027, 1, 1), date(2270, 1, 1))
    assert "2027-01-01 to 2270-01-01" in raised.value.message
