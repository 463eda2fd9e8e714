"""Contract terms: renewal, expiry and notice.

An auto-renewing contract whose end date has passed gets a new term, unless notice
ends it. The new term starts the day after the old end date and lasts the renewal
term, or the length of the first term when the contract sets none. Each renewal
applies the indexation to the amount once and records a `renewed` event. A contract
that does not renew, or that notice ends, gets one `expired` event for its last term.

Notice given on or before the notice deadline of a term ends the contract on that
term's end date. Notice given later takes effect at the end of the following term,
or of a later one when that term is shorter than the notice period, so that notice
always runs at least the notice period. On an open-ended contract, notice sets the
end date to the earliest end that notice given on that day reaches.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NoReturn

from dateutil.relativedelta import relativedelta
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from contractgql.audit import record_change, record_event, snapshot
from contractgql.domain.dates import (
    ONE_DAY,
    Period,
    PeriodUnit,
    earliest_end_with_notice_on,
    notice_deadline,
    term_length,
)
from contractgql.domain.money import MAX_MINOR_UNITS
from contractgql.errors import FieldError, ValidationError
from contractgql.ids import encode_id
from contractgql.models import (
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractStage,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Task,
    TaskStatus,
)
from contractgql.security.viewer import Viewer
from contractgql.services.contracts import (
    get_visible_contract,
    require_contract_write,
    reschedule,
)
from contractgql.services.events import notify_event
from contractgql.services.validation import LATEST_DATE, Validator
from contractgql.services.versions import check_version, claim_version

# Indexation is stored in basis points: 10,000 is 100%.
BASIS_POINTS = 10_000
# Without a notice period, notice may be given up to the last day of a term.
NO_NOTICE_PERIOD = Period(0, PeriodUnit.DAYS)
# How many terms past the stored end date the effective end of notice is looked
# for. Only a renewal term of a few days on an end date decades ago needs more.
MAX_NOTICE_TERMS = 5_000


class NoticeParty(enum.StrEnum):
    """The party that gave notice: the client or the organization."""

    CLIENT = "client"
    ORGANIZATION = "organization"


_NOTICE_EVENTS = {
    NoticeParty.CLIENT: ContractEventKind.NOTICE_RECEIVED,
    NoticeParty.ORGANIZATION: ContractEventKind.NOTICE_GIVEN,
}


class TermError(ValueError):
    """A contract whose next term cannot be computed or stored."""


@dataclass(frozen=True)
class Terms:
    """The facts of a contract that its renewals and notice depend on."""

    start_date: date
    end_date: date | None
    # The end date of the first term, before any renewal.
    first_end: date | None
    renewal_term: Period | None
    notice_period: Period | None
    notice_to_month_end: bool
    auto_renewal: bool

    def next_end(self, end: date) -> date:
        """Return the end date of the term that follows the term ending on `end`.

        Raises TermError when the term would not move the end date forward, which
        happens only when the start date was moved after the first end date.
        """
        following = end + ONE_DAY + self._term_length() - ONE_DAY
        if following <= end:
            raise TermError(
                f"The term after {end.isoformat()} would not end later: set a "
                "renewal term on the contract."
            )
        return following

    def deadline(self, end: date) -> date:
        """Return the last day on which notice ends the term that ends on `end`."""
        deadline = notice_deadline(end, self.notice_period or NO_NOTICE_PERIOD)
        assert deadline is not None
        return deadline

    def _term_length(self) -> relativedelta:
        if self.renewal_term is not None:
            return self.renewal_term.as_relativedelta()
        first_end = self.first_end or self.end_date
        assert first_end is not None, "open-ended contracts have no terms"
        return term_length(self.start_date, first_end)


def contract_terms(contract: Contract, first_end: date | None) -> Terms:
    """Return the terms of `contract`. `first_end` is None when it never renewed."""
    return Terms(
        start_date=contract.start_date,
        end_date=contract.end_date,
        first_end=first_end,
        renewal_term=_period(contract.renewal_term_count, contract.renewal_term_unit),
        notice_period=_period(contract.notice_count, contract.notice_unit),
        notice_to_month_end=contract.notice_to_month_end,
        auto_renewal=contract.auto_renewal,
    )


def _period(count: int | None, unit: Any) -> Period | None:
    if count is None or unit is None:
        return None
    return Period(count, PeriodUnit(unit))


def notice_effective_end(terms: Terms, notice_date: date) -> date | None:
    """Return the end date that notice given on `notice_date` ends the contract on.

    A contract that does not renew ends on its end date whenever notice came. For an
    auto-renewing one this is the first term end, from the stored end date on, whose
    notice deadline is on or after the notice date. Returns None when that end lies
    more than MAX_NOTICE_TERMS terms ahead.
    """
    if terms.end_date is None:
        return earliest_end_with_notice_on(
            notice_date, terms.notice_period, terms.notice_to_month_end
        )
    end = terms.end_date
    if not terms.auto_renewal:
        return end
    for _ in range(MAX_NOTICE_TERMS):
        if notice_date <= terms.deadline(end):
            return end
        end = terms.next_end(end)
    return None


def notice_ends_term(terms: Terms, notice_date: date | None) -> bool:
    """Return whether the contract ends on its stored end date instead of renewing."""
    if not terms.auto_renewal:
        return True
    if notice_date is None or terms.end_date is None:
        return False
    effective_end = notice_effective_end(terms, notice_date)
    return effective_end is not None and effective_end <= terms.end_date


def indexed_amount(amount_minor: int | None, indexation_bp: int | None) -> int | None:
    """Return the amount after one indexation, rounded half up to the minor unit.

    The product is exact: amount × (10,000 + basis points) / 10,000 as integers.
    Amounts are never negative and indexation is at least -100%, so rounding half
    up is floor(x + 1/2). Raises TermError when the result does not fit the column.
    """
    if amount_minor is None or not indexation_bp:
        return amount_minor
    numerator = amount_minor * (BASIS_POINTS + indexation_bp)
    indexed = (2 * numerator + BASIS_POINTS) // (2 * BASIS_POINTS)
    if indexed > MAX_MINOR_UNITS:
        raise TermError(
            f"Indexing the amount by {indexation_bp / 100}% makes it too large to "
            "store: lower the amount or the indexation."
        )
    return indexed


async def first_ends(contract_ids: list[int]) -> dict[int, date]:
    """Return the end date of the first term of each contract that has renewed."""
    if not contract_ids:
        return {}
    rows = await (
        ContractEvent.filter(
            contract_id__in=contract_ids, kind=ContractEventKind.RENEWED
        )
        .annotate(first_end=Min("term_end"))
        .group_by("contract_id")
        .values("contract_id", "first_end")
    )
    return {row["contract_id"]: row["first_end"] for row in rows if row["first_end"]}


async def load_terms(contract: Contract) -> Terms:
    found = await first_ends([contract.id])
    return contract_terms(contract, found.get(contract.id))


# --- Renewal and expiry -----------------------------------------------------------


async def _record_contract_change(
    contract: Contract, actor_id: int | None, action: str, columns: dict[str, Any]
) -> None:
    """Record the change of `columns` of `contract` in the audit outbox.

    `contract` still contains the values from before the change.
    """
    before = snapshot(contract)
    changed = copy.copy(contract)
    for name, value in columns.items():
        setattr(changed, name, value)
    await record_event(
        contract.organization_id,
        actor_id,
        action,
        "Contract",
        contract.id,
        before,
        snapshot(changed),
    )


async def renew_term(
    contract: Contract, terms: Terms, today: date, created_by_id: int | None
) -> ContractEvent | None:
    """Give `contract` its next term and record the `renewed` event.

    The row changes only while its version and end date are still the ones that
    `contract` holds, so of several workers or requests that renew the same term at
    once exactly one succeeds. Returns None, and changes nothing, when the row
    changed in the meantime. On success `contract` contains the new values. Raises
    TermError when the new end date or amount is out of range, or when the term
    already has a `renewed` event because its end date was set back by hand.
    """
    old_end = contract.end_date
    assert old_end is not None, "open-ended contracts do not renew"
    new_end = terms.next_end(old_end)
    if new_end > LATEST_DATE:
        raise TermError(
            f"The next term would end on {new_end.isoformat()}, after "
            f"{LATEST_DATE.isoformat()}: shorten the renewal term."
        )
    new_amount = indexed_amount(contract.amount_minor, contract.indexation_bp)
    new_deadline = notice_deadline(new_end, terms.notice_period)
    changes: dict[str, Any] = {
        "end_date": new_end,
        "notice_deadline": new_deadline,
        "amount_minor": new_amount,
        "version": F("version") + 1,
        "updated_at": datetime.now(UTC),
    }
    if created_by_id is not None:
        changes["updated_by_id"] = created_by_id

    try:
        async with in_transaction():
            changed = await Contract.filter(
                id=contract.id, version=contract.version, end_date=old_end
            ).update(**changes)
            if not changed:
                return None
            event = await ContractEvent.create(
                organization_id=contract.organization_id,
                contract_id=contract.id,
                kind=ContractEventKind.RENEWED,
                term_end=old_end,
                new_end_date=new_end,
                occurred_on=min(today, old_end + ONE_DAY),
                old_amount_minor=contract.amount_minor,
                new_amount_minor=new_amount,
                indexation_bp=contract.indexation_bp,
                created_by_id=created_by_id,
            )
            await notify_event(contract, event)
            renewed = {
                "end_date": new_end,
                "notice_deadline": new_deadline,
                "amount_minor": new_amount,
            }
            await _record_contract_change(
                contract, created_by_id, "contract.renew", renewed
            )
    except IntegrityError:
        raise TermError(
            f"The term that ended on {old_end.isoformat()} was already renewed once: "
            "check the end date, which was probably set back by hand."
        ) from None

    contract.end_date = new_end
    contract.notice_deadline = new_deadline
    contract.amount_minor = new_amount
    contract.version += 1
    return event


async def record_expiry(contract: Contract) -> bool:
    """Record the `expired` event of the contract's last term, once.

    Returns False when the event already exists, recorded by another worker.
    """
    assert contract.end_date is not None
    try:
        async with in_transaction():
            event = await ContractEvent.create(
                organization_id=contract.organization_id,
                contract_id=contract.id,
                kind=ContractEventKind.EXPIRED,
                term_end=contract.end_date,
                occurred_on=contract.end_date + ONE_DAY,
            )
            await notify_event(contract, event)
            # The stored fields stay as they are: the status, which follows from
            # the end date, is what changes.
            await record_event(
                contract.organization_id,
                None,
                "contract.expire",
                "Contract",
                contract.id,
                {"status": "ACTIVE"},
                {"status": "EXPIRED"},
            )
    except IntegrityError:
        return False
    return True


async def renew_contract(viewer: Viewer, contract_id: int) -> Contract:
    """Renew a contract by hand for one term, by the same rules as the daily scan.

    The contract need not renew automatically and its end date need not have
    passed, but notice must not end it on its current end date.
    """
    viewer.require("contract:write", "renew a contract by hand")
    contract = await get_visible_contract(viewer, contract_id)
    validator = Validator()
    _check_renewable(validator, contract)
    validator.raise_if_any()
    assert contract.end_date is not None

    terms = await load_terms(contract)
    if contract.notice_date is not None:
        effective_end = notice_effective_end(terms, contract.notice_date)
        if effective_end is not None and effective_end <= contract.end_date:
            _reject(
                "contract_id",
                "notice_given",
                f"Notice was given on {contract.notice_date.isoformat()}, so the "
                f"contract ends on {effective_end.isoformat()}: it cannot renew.",
            )
    try:
        event = await renew_term(contract, terms, viewer.today, viewer.user_id)
    except TermError as error:
        _reject("contract_id", "cannot_renew", str(error))
    if event is None:
        _reject(
            "contract_id",
            "changed_concurrently",
            "The contract changed while it was being renewed: read it again and retry.",
        )
    # The reminders of the old term are stale now, and those of the new term may
    # be due.
    await reschedule(viewer, contract.id)
    return contract


def _reject(field: str, code: str, message: str) -> NoReturn:
    raise ValidationError([FieldError(field, code, message)])


def _check_renewable(validator: Validator, contract: Contract) -> None:
    label = encode_id("Contract", contract.id)
    if contract.stage is not ContractStage.SIGNED:
        validator.add(
            "contract_id",
            "not_signed",
            f"Contract {label!r} is {contract.stage.value}, and only signed "
            "contracts renew: set its stage to SIGNED first.",
        )
    elif contract.end_date is None:
        validator.add(
            "contract_id",
            "open_ended",
            f"Contract {label!r} is open-ended, so it has no term to renew: give it "
            "an end date first.",
        )
    elif contract.archived_at is not None:
        validator.add(
            "contract_id",
            "archived",
            f"Contract {label!r} is archived, and archived contracts do not renew.",
        )


# --- Notice -----------------------------------------------------------------------


async def record_notice(
    viewer: Viewer, contract_id: int, party: NoticeParty, day: date
) -> Contract:
    """Record that `party` gave notice on `day`, and the `notice_*` event.

    Needs the right to change the contract. On an open-ended contract the end date
    becomes the earliest end that the notice reaches.
    """
    contract = await get_visible_contract(viewer, contract_id)
    require_contract_write(viewer, contract)
    validator = Validator()
    _check_notice(validator, contract, day, viewer.today)
    validator.raise_if_any()

    terms = await load_terms(contract)
    # Notice counts in the term that ran on its date. When the scans have renewed
    # the contract since then, that is an earlier term than the current one.
    later_renewals = await _renewals_ending_on_or_after(contract, day)
    running_end = later_renewals[0].term_end if later_renewals else contract.end_date
    effective_end = notice_effective_end(
        dataclasses.replace(terms, end_date=running_end), day
    )
    if effective_end is None or effective_end > LATEST_DATE:
        _reject(
            "date",
            "out_of_range",
            f"Notice on {day.isoformat()} would take effect after "
            f"{LATEST_DATE.isoformat()} or more than {MAX_NOTICE_TERMS} terms after "
            "the end date: check the end date and the renewal term.",
        )

    changes: dict[str, Any] = {
        "notice_date": day,
        "notice_party": party.value,
        "version": F("version") + 1,
        "updated_at": datetime.now(UTC),
        "updated_by_id": viewer.user_id,
    }
    # Renewals of terms that the notice ended never should have happened: they
    # are undone, with the amount from before the first of them.
    undone = [
        renewal
        for renewal in later_renewals
        if renewal.term_end is not None and renewal.term_end >= effective_end
    ]
    if contract.end_date is None or undone:
        changes["end_date"] = effective_end
        changes["notice_deadline"] = notice_deadline(effective_end, terms.notice_period)
    if undone:
        changes["amount_minor"] = undone[0].old_amount_minor
    try:
        async with in_transaction():
            changed = await Contract.filter(
                id=contract.id, notice_date=None, end_date=contract.end_date
            ).update(**changes)
            if not changed:
                raise _NoticeConflict
            if undone:
                await ContractEvent.filter(
                    id__in=[renewal.id for renewal in undone]
                ).delete()
                # The undone terms' reminders and workflow tasks no longer apply.
                await Task.filter(
                    contract_id=contract.id,
                    status=TaskStatus.OPEN,
                    reminder__anchor_date__gt=effective_end,
                ).update(status=TaskStatus.CANCELLED)
                await Reminder.filter(
                    contract_id=contract.id,
                    status=ReminderStatus.PENDING,
                    anchor_date__gt=effective_end,
                ).update(status=ReminderStatus.CANCELLED, updated_at=datetime.now(UTC))
            event = await ContractEvent.create(
                organization_id=contract.organization_id,
                contract_id=contract.id,
                kind=_NOTICE_EVENTS[party],
                term_end=effective_end
                if undone
                else contract.end_date or effective_end,
                new_end_date=effective_end,
                occurred_on=day,
                created_by_id=viewer.user_id,
            )
            await notify_event(contract, event)
            # Notice answers a "notice deadline passed" alert, late or not.
            await Reminder.filter(
                contract_id=contract.id,
                kind=ReminderKind.MISSED_NOTICE,
                status=ReminderStatus.PENDING,
            ).update(status=ReminderStatus.DONE, updated_at=datetime.now(UTC))
            noticed = {"notice_date": day, "notice_party": party}
            for column in ("end_date", "notice_deadline", "amount_minor"):
                if column in changes:
                    noticed[column] = changes[column]
            await _record_contract_change(
                contract, viewer.user_id, "contract.notice", noticed
            )
    except (_NoticeConflict, IntegrityError):
        await contract.refresh_from_db()
        if contract.notice_date is not None:
            _reject(
                "contract_id",
                "notice_already_recorded",
                "Notice on this contract was recorded by another request in the "
                f"meantime, given on {contract.notice_date.isoformat()}.",
            )
        _reject(
            "contract_id",
            "changed_concurrently",
            "The contract's end date changed while the notice was being recorded: "
            "read the contract again and retry.",
        )
    # Notice stops the reminder ladder: its pending reminders are stale now.
    await reschedule(viewer, contract.id)
    await contract.refresh_from_db()
    return contract


async def withdraw_notice(
    viewer: Viewer, contract_id: int, expected_version: int | None = None
) -> Contract:
    """Remove recorded notice, such as notice recorded by mistake or with a wrong date.

    Clears the notice and deletes its event. The end date stays as it is: when the
    notice set or moved it, the caller changes it with the contract update or
    renews the contract by hand. The audit trail keeps the withdrawn notice.
    """
    contract = await get_visible_contract(viewer, contract_id)
    require_contract_write(viewer, contract)
    label = encode_id("Contract", contract.id)
    if contract.notice_date is None:
        _reject(
            "contract_id",
            "no_notice",
            f"Contract {label!r} has no recorded notice to withdraw.",
        )

    async def changed(stored: Contract) -> list[str]:
        return ["noticeDate", "noticeParty"] if stored.notice_date else []

    await check_version(contract, "Contract", expected_version, changed)
    async with in_transaction():
        await claim_version(contract, "Contract", expected_version, changed)
        await contract.refresh_from_db()
        if contract.notice_date is None:
            _reject(
                "contract_id",
                "no_notice",
                f"The notice on contract {label!r} was withdrawn by another request "
                "in the meantime.",
            )
        before = snapshot(contract)
        contract.notice_date = None
        contract.notice_party = None
        contract.updated_by_id = viewer.user_id
        await contract.save(
            update_fields=["notice_date", "notice_party", "updated_by_id", "updated_at"]
        )
        await ContractEvent.filter(
            contract_id=contract.id, kind__in=list(_NOTICE_EVENTS.values())
        ).delete()
        if contract.auto_renewal:
            # Without the notice nothing ends the term: the scans renew it, which
            # they skip for a term that has its expiry event.
            await ContractEvent.filter(
                contract_id=contract.id,
                kind=ContractEventKind.EXPIRED,
                term_end=contract.end_date,
            ).delete()
        await record_change(
            viewer, "contract.withdraw_notice", contract, before, snapshot(contract)
        )
    # Without notice the reminder ladder of the current term applies again.
    await reschedule(viewer, contract.id)
    return contract


async def _renewals_ending_on_or_after(
    contract: Contract, day: date
) -> list[ContractEvent]:
    """Return the contract's renewals of terms that ended on `day` or later."""
    return list(
        await ContractEvent.filter(
            contract_id=contract.id,
            kind=ContractEventKind.RENEWED,
            term_end__gte=day,
        ).order_by("term_end")
    )


class _NoticeConflict(Exception):
    """The contract's notice or end date changed between reading and writing."""


def _check_notice(
    validator: Validator, contract: Contract, day: date, today: date
) -> None:
    label = encode_id("Contract", contract.id)
    if contract.stage is not ContractStage.SIGNED:
        validator.add(
            "contract_id",
            "not_signed",
            f"Contract {label!r} is {contract.stage.value}, and notice applies to "
            "signed contracts only.",
        )
    elif contract.notice_date is not None:
        validator.add(
            "contract_id",
            "notice_already_recorded",
            f"Notice on contract {label!r} was already recorded, given on "
            f"{contract.notice_date.isoformat()}: to correct it, withdraw it with "
            "withdrawNotice and record it again.",
        )
    if day > today:
        validator.add(
            "date",
            "in_future",
            f"Notice date {day.isoformat()} is in the future: record notice on or "
            f"after the day it is given, today being {today.isoformat()}.",
        )
    elif day < contract.start_date:
        validator.add(
            "date",
            "before_start",
            f"Notice date {day.isoformat()} is before the contract's start date "
            f"{contract.start_date.isoformat()}: check the date.",
        )
    elif (
        contract.end_date is not None
        and not contract.auto_renewal
        and day > contract.end_date
    ):
        validator.add(
            "date",
            "after_end",
            f"Notice date {day.isoformat()} is after the contract ended on "
            f"{contract.end_date.isoformat()}, and it does not renew, so the notice "
            "has nothing to end.",
        )
