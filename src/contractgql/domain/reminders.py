"""Reminder schedules: which reminders a contract should have, and when each is due.

The anchor of a schedule is the notice deadline for contracts with a notice period
or auto-renewal, and the end date otherwise. A reminder is due its offset before the
anchor, with calendar month arithmetic clamped to month ends. Open-ended contracts
have no anchor of that kind and get a review reminder before each anniversary of
their start date instead. These functions do no I/O, so the scans, the mutations that
change dates and the tests share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from contractgql.domain.dates import (
    ONE_DAY,
    Period,
    PeriodUnit,
    add_months,
    term_months,
)

# Offsets when neither the contract nor its type sets any.
DEFAULT_OFFSETS = (Period(3, PeriodUnit.MONTHS), Period(1, PeriodUnit.MONTHS))
# Contracts of LONG_TERM_MONTHS or more get a first reminder LONG_TERM_OFFSET ahead.
LONG_TERM_MONTHS = 24
LONG_TERM_OFFSET = Period(6, PeriodUnit.MONTHS)
# Review reminders of open-ended contracts are due this long before the anniversary.
REVIEW_OFFSET = Period(1, PeriodUnit.MONTHS)
NO_OFFSET = Period(0, PeriodUnit.DAYS)


@dataclass(frozen=True)
class ContractDates:
    """The facts of a contract that its reminder schedule depends on."""

    start_date: date
    end_date: date | None
    notice_deadline: date | None
    has_notice_period: bool
    auto_renewal: bool
    # The day notice was recorded, which ends the contract and stops the ladder.
    notice_date: date | None
    offsets: tuple[Period, ...]


@dataclass(frozen=True, order=True)
class PlannedReminder:
    due_date: date
    kind: str
    anchor_date: date
    offset: Period

    @property
    def key(self) -> tuple[str, date, int, str]:
        """Return the reminders table's unique key, apart from the contract."""
        return (self.kind, self.anchor_date, self.offset.count, self.offset.unit.value)


def effective_offsets(
    contract_offsets: tuple[Period, ...] | None,
    type_offsets: tuple[Period, ...] | None,
    start: date,
    end: date | None,
) -> tuple[Period, ...]:
    """Return the offsets a contract uses, furthest first.

    They are the contract's own, else its type's, else the default. A contract
    whose current term, from `start` to `end`, lasts LONG_TERM_MONTHS or more
    gets LONG_TERM_OFFSET added when none of its offsets reaches that far.
    """
    offsets = contract_offsets or type_offsets or DEFAULT_OFFSETS
    if end is not None and term_months(start, end) >= LONG_TERM_MONTHS:
        furthest = max(_days_before(end, offset) for offset in offsets)
        if furthest < _days_before(end, LONG_TERM_OFFSET):
            offsets = (LONG_TERM_OFFSET, *offsets)
    reference = end or start
    return tuple(
        sorted(set(offsets), key=lambda o: _days_before(reference, o), reverse=True)
    )


# Renewed terms that current_term_start steps through at most. Only a term of a
# few days renewed for decades needs more, and then the first term counts.
MAX_TERMS = 5000


def current_term_start(
    start: date, end: date | None, renewal_term: Period | None, first_end: date | None
) -> date:
    """Return the first day of the term that ends on `end`.

    `first_end` is the end of the first term when the contract has renewed, and
    each later term lasts the renewal term, or as long as the first term.
    """
    if end is None or first_end is None or first_end >= end:
        return start
    length = (
        renewal_term.as_relativedelta()
        if renewal_term is not None
        else relativedelta(first_end + ONE_DAY, start)
    )
    previous = first_end
    for _ in range(MAX_TERMS):
        following = previous + ONE_DAY + length - ONE_DAY
        if following >= end:
            return previous + ONE_DAY
        previous = following
    return start


def anchor(dates: ContractDates) -> tuple[str, date] | None:
    """Return the kind and date of the anchor of a fixed-term contract's reminders."""
    if dates.end_date is None:
        return None
    if dates.has_notice_period or dates.auto_renewal:
        return "notice", dates.notice_deadline or dates.end_date
    return "end", dates.end_date


def schedule(dates: ContractDates, today: date) -> list[PlannedReminder]:
    """Return the reminders the contract should have, as of `today`.

    Only anchors that have not passed count, so importing an old contract does not
    create reminders for terms long over. Reminders whose due date is later than today
    are included too, so callers can tell which pending reminders are stale.
    """
    if dates.notice_date is not None:
        return []
    if dates.end_date is None:
        return _review(dates, today)

    found = anchor(dates)
    assert found is not None
    kind, anchor_date = found
    if anchor_date < today:
        return []
    return sorted(
        PlannedReminder(offset.before(anchor_date), kind, anchor_date, offset)
        for offset in dates.offsets
    )


def missed_notice(dates: ContractDates, today: date) -> PlannedReminder | None:
    """Return the alert for an auto-renewing contract whose notice deadline passed.

    The alert is due the day after the deadline and stays due until the term ends,
    after which the contract renews.
    """
    if not dates.auto_renewal or dates.notice_date is not None:
        return None
    if dates.end_date is None or dates.notice_deadline is None:
        return None
    if not dates.notice_deadline < today <= dates.end_date:
        return None
    due = dates.notice_deadline + timedelta(days=1)
    return PlannedReminder(due, "missed_notice", dates.notice_deadline, NO_OFFSET)


def next_change(dates: ContractDates, today: date) -> date | None:
    """Return the first day after `today` on which a reminder not due today is due.

    Until that day the reminders due are a subset of those due today, because time
    alone only adds due reminders: a reminder leaves the schedule only once its
    anchor has passed, and a scan never cancels those. A scan that has created
    everything due today can therefore leave the contract alone until that day, as
    long as the contract does not change. None means no later day adds one.
    """
    if dates.notice_date is not None:
        return None
    if dates.end_date is None:
        anniversary = next_anniversary(dates.start_date, today)
        due_date = REVIEW_OFFSET.before(anniversary)
        if due_date > today:
            return due_date
        following = next_anniversary(dates.start_date, anniversary + ONE_DAY)
        return REVIEW_OFFSET.before(following)
    candidates = [
        reminder.due_date
        for reminder in schedule(dates, today)
        if reminder.due_date > today
    ]
    if (
        dates.auto_renewal
        and dates.notice_deadline is not None
        and today <= dates.notice_deadline < dates.end_date
    ):
        candidates.append(dates.notice_deadline + ONE_DAY)
    return min(candidates, default=None)


def due(planned: list[PlannedReminder], today: date) -> list[PlannedReminder]:
    return [reminder for reminder in planned if reminder.due_date <= today]


def next_anniversary(start: date, today: date) -> date:
    """Return the first anniversary of `start` on or after `today`, after the start.

    A start on 29 February has its anniversary on 28 February in other years.
    """
    years = max(1, today.year - start.year)
    candidate = add_months(start, 12 * years)
    while candidate < today:
        years += 1
        candidate = add_months(start, 12 * years)
    return candidate


def _review(dates: ContractDates, today: date) -> list[PlannedReminder]:
    anniversary = next_anniversary(dates.start_date, today)
    due_date = REVIEW_OFFSET.before(anniversary)
    return [PlannedReminder(due_date, "review", anniversary, REVIEW_OFFSET)]


def _days_before(anchor_date: date, offset: Period) -> int:
    return (anchor_date - offset.before(anchor_date)).days
