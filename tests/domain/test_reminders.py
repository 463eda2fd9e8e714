"""Reminder schedules anchored on notice deadlines, end dates and anniversaries."""

from __future__ import annotations

import random
from datetime import date, timedelta

from contractgql.domain.dates import Period, PeriodUnit, notice_deadline
from contractgql.domain.reminders import (
    DEFAULT_OFFSETS,
    ContractDates,
    PlannedReminder,
    current_term_start,
    due,
    effective_offsets,
    missed_notice,
    next_anniversary,
    next_change,
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


def _due_keys(dates: ContractDates, day: date) -> set[tuple[str, date, int, str]]:
    planned = schedule(dates, day)
    alert = missed_notice(dates, day)
    if alert is not None:
        planned.append(alert)
    return {reminder.key for reminder in due(planned, day)}


def _first_new_due_day(dates: ContractDates, today: date) -> date | None:
    """Walk day by day to the first day that has a due reminder today lacks."""
    known = _due_keys(dates, today)
    for days in range(1, 1200):
        day = today + timedelta(days=days)
        if not _due_keys(dates, day) <= known:
            return day
    return None


def test_next_change_matches_a_day_by_day_walk() -> None:
    rng = random.Random(20261204)
    units = list(PeriodUnit)
    checked = 0
    for _ in range(400):
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 900))
        end = (
            None
            if rng.random() < 0.2
            else start + timedelta(days=rng.randrange(20, 1100))
        )
        notice = (
            None
            if rng.random() < 0.3
            else Period(rng.randrange(0, 4), rng.choice(units))
        )
        offsets = tuple(
            Period(rng.randrange(0, 8), rng.choice(units))
            for _ in range(rng.randrange(1, 4))
        )
        dates = _dates(
            start=start,
            end=end,
            notice=notice,
            auto_renewal=rng.random() < 0.5,
            notice_date=date(2025, 1, 1) if rng.random() < 0.05 else None,
            offsets=effective_offsets(offsets, None, start, end),
        )
        today = start + timedelta(days=rng.randrange(-60, 1000))

        assert next_change(dates, today) == _first_new_due_day(dates, today), (
            dates,
            today,
        )
        checked += 1
    assert checked == 400


def test_next_change_of_a_notice_ladder() -> None:
    # Deadline 31 May 2027: reminders due 28 February and 30 April, alert 1 June.
    dates = _dates(auto_renewal=True)

    assert next_change(dates, date(2026, 12, 4)) == date(2027, 2, 28)
    assert next_change(dates, date(2027, 2, 28)) == date(2027, 4, 30)
    assert next_change(dates, date(2027, 5, 31)) == date(2027, 6, 1)
    assert next_change(dates, date(2027, 6, 1)) is None


def test_next_change_of_an_open_ended_contract() -> None:
    dates = _dates(end=None)

    # The review of 1 January 2027 is due on 1 December 2026, that of 2028 a year on.
    assert next_change(dates, date(2026, 11, 30)) == date(2026, 12, 1)
    assert next_change(dates, date(2026, 12, 4)) == date(2027, 12, 1)


def test_recorded_notice_has_no_next_change() -> None:
    assert next_change(_dates(notice_date=date(2027, 1, 5)), date(2026, 12, 4)) is None


def test_current_term_start() -> None:
    six_months = Period(6, PeriodUnit.MONTHS)

    never_renewed = current_term_start(date(2024, 1, 1), date(2026, 12, 31), None, None)
    renewal_term = current_term_start(
        date(2024, 1, 1), date(2026, 12, 31), six_months, date(2024, 6, 30)
    )
    first_term_length = current_term_start(
        date(2020, 1, 1), date(2025, 12, 31), None, date(2022, 12, 31)
    )

    assert never_renewed == date(2024, 1, 1)
    assert renewal_term == date(2026, 7, 1)
    assert first_term_length == date(2023, 1, 1)
