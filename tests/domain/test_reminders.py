"""Reminder schedules anchored on notice deadlines, end dates and anniversaries."""

from __future__ import annotations

from datetime import date

from contractgql.domain.dates import Period, PeriodUnit, notice_deadline
from contractgql.domain.reminders import (
    DEFAULT_OFFSETS,
    ContractDates,
    PlannedReminder,
    due,
    effective_offsets,
    missed_notice,
    next_anniversary,
    schedule,
)

MONTH = Period(1, PeriodUnit.MONTHS)
THREE_MONTHS = Period(3, PeriodUnit.MONTHS)
SIX_MONTHS = Period(6, PeriodUnit.MONTHS)


def _dates(
    start: date = date(2026, 1, 1),
    end: date | None = date(2027, 6, 30),
    notice: Period | None = MONTH,
    auto_renewal: bool = False,
    notice_date: date | None = None,
    offsets: tuple[Period, ...] = DEFAULT_OFFSETS,
) -> ContractDates:
    return ContractDates(
        start_date=start,
        end_date=end,
        notice_deadline=notice_deadline(end, notice),
        has_notice_period=notice is not None,
        auto_renewal=auto_renewal,
        notice_date=notice_date,
        offsets=offsets,
    )


def test_ladder_on_notice_deadline() -> None:
    planned = schedule(_dates(), date(2026, 12, 4))

    assert planned == [
        PlannedReminder(date(2027, 2, 28), "notice", date(2027, 5, 31), THREE_MONTHS),
        PlannedReminder(date(2027, 4, 30), "notice", date(2027, 5, 31), MONTH),
    ]


def test_ladder_on_end_without_notice() -> None:
    planned = schedule(_dates(notice=None), date(2026, 12, 4))

    assert [(r.kind, r.anchor_date, r.due_date) for r in planned] == [
        ("end", date(2027, 6, 30), date(2027, 3, 30)),
        ("end", date(2027, 6, 30), date(2027, 5, 30)),
    ]


def test_auto_renewal_without_notice_anchors_on_end() -> None:
    planned = schedule(_dates(notice=None, auto_renewal=True), date(2026, 12, 4))

    assert {(r.kind, r.anchor_date) for r in planned} == {("notice", date(2027, 6, 30))}


def test_leap_day_anchor() -> None:
    planned = schedule(_dates(end=date(2028, 2, 29), notice=None), date(2027, 1, 1))

    assert [r.due_date for r in planned] == [date(2027, 11, 29), date(2028, 1, 29)]


def test_passed_anchor_plans_nothing() -> None:
    assert schedule(_dates(), date(2027, 6, 1)) == []


def test_due_includes_late_reminders() -> None:
    planned = schedule(_dates(), date(2027, 5, 1))

    assert [r.offset for r in due(planned, date(2027, 5, 1))] == [THREE_MONTHS, MONTH]


def test_recorded_notice_stops_ladder() -> None:
    assert schedule(_dates(notice_date=date(2026, 11, 1)), date(2026, 12, 4)) == []


def test_long_contract_adds_six_months() -> None:
    offsets = effective_offsets(None, None, date(2026, 1, 1), date(2027, 12, 31))

    assert offsets == (SIX_MONTHS, THREE_MONTHS, MONTH)


def test_short_contract_keeps_offsets() -> None:
    offsets = effective_offsets(None, None, date(2026, 1, 1), date(2027, 6, 30))

    assert offsets == (THREE_MONTHS, MONTH)


def test_contract_offsets_replace_type() -> None:
    offsets = effective_offsets((MONTH,), (THREE_MONTHS,), date(2026, 1, 1), None)

    assert offsets == (MONTH,)


def test_open_ended_review_before_anniversary() -> None:
    planned = schedule(_dates(end=None, notice=MONTH), date(2026, 12, 4))

    assert planned == [
        PlannedReminder(date(2026, 12, 1), "review", date(2027, 1, 1), MONTH)
    ]


def test_anniversary_of_leap_day() -> None:
    assert next_anniversary(date(2024, 2, 29), date(2026, 12, 4)) == date(2027, 2, 28)


def test_missed_notice_alert() -> None:
    dates = _dates(auto_renewal=True)

    alert = missed_notice(dates, date(2027, 6, 1))

    assert alert == PlannedReminder(
        date(2027, 6, 1), "missed_notice", date(2027, 5, 31), Period(0, PeriodUnit.DAYS)
    )


def test_no_alert_before_deadline() -> None:
    assert missed_notice(_dates(auto_renewal=True), date(2027, 5, 31)) is None


def test_no_alert_with_notice() -> None:
    dates = _dates(auto_renewal=True, notice_date=date(2027, 5, 1))

    assert missed_notice(dates, date(2027, 6, 1)) is None
