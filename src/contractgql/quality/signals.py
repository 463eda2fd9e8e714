"""Stale-data signals: records that are probably out of date or wrong.

Each signal names the record, the reason and the fix. Reasons and fixes never
contain an amount or another financial value, because they also go into
notifications and e-mail digests. The kinds:

- PAST_END_DATE: a signed contract that does not renew, or on which notice was
  given, whose end date has passed, and that is not archived.
- RENEWAL_NOT_RECORDED: an auto-renewing signed contract without notice whose end
  date has passed, so its renewal was never recorded.
- NO_RECENT_ACTIVITY: a signed contract whose notice deadline (or, without a notice
  period, its end date) is near while it has had no change and no note for a while.
- AMOUNT_LOOKS_VAT_INCLUSIVE: an amount that looks like it includes VAT, judged
  against the previous term (see vat_inclusive_reason). Financial: only for roles
  that may read Contract.amount. The organization's VAT rates are checked only on
  contracts in its default currency. A contract in another currency is checked
  only against its own VAT rate, and not at all when that rate is not set.
- ZERO_AMOUNT: a contract that is not cancelled whose amount is 0.00, which
  usually means that the amount was never entered. Financial, like the signal above. The
  completeness report still counts such an amount as present.
- DUPLICATE_CLIENT: two clients with the same chamber-of-commerce or VAT number, or
  very similar names.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rapidfuzz import fuzz, process
from tortoise.expressions import Q, Subquery
from tortoise.functions import Max

from contractgql.domain.money import MoneyError, minor_unit_exponent
from contractgql.ids import encode_id
from contractgql.models import (
    Client,
    ContractEvent,
    ContractEventKind,
    ContractField,
    ContractStage,
    Note,
    Organization,
)
from contractgql.quality.choices import format_rate
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer

# Names scoring at least this (rapidfuzz token_sort_ratio, 0 to 100) after
# normalisation are reported as duplicates.
NAME_SIMILARITY_CUTOFF = 92
# Duplicate names are compared within blocks of clients whose normalised names
# start with the same two characters, and at most this many clients per
# organization are compared by name at all, to bound the cost.
MAX_CLIENTS_COMPARED = 20_000
# Words that only state a legal form, left out when names are compared.
LEGAL_FORMS = frozenset(
    [
        "bv",
        "b",
        "v",
        "nv",
        "n",
        "v",
        "vof",
        "cv",
        "ltd",
        "limited",
        "pty",
        "plc",
        "inc",
        "llc",
        "gmbh",
        "ag",
        "sa",
        "sarl",
        "sas",
        "srl",
        "the",
        "co",
        "company",
        "corp",
        "corporation",
        "holding",
    ]
)
BATCH_SIZE = 1000


class SignalKind(enum.Enum):
    PAST_END_DATE = "past_end_date"
    RENEWAL_NOT_RECORDED = "renewal_not_recorded"
    NO_RECENT_ACTIVITY = "no_recent_activity"
    AMOUNT_LOOKS_VAT_INCLUSIVE = "amount_looks_vat_inclusive"
    ZERO_AMOUNT = "zero_amount"
    DUPLICATE_CLIENT = "duplicate_client"


# Signals that reveal something about a financial field.
FINANCIAL_KINDS = frozenset(
    {SignalKind.AMOUNT_LOOKS_VAT_INCLUSIVE, SignalKind.ZERO_AMOUNT}
)


@dataclass(frozen=True)
class SignalOptions:
    quiet_days: int
    deadline_days: int


@dataclass(frozen=True)
class Signal:
    kind: SignalKind
    reason: str
    fix: str
    fields: tuple[ContractField, ...] = ()
    contract_id: int | None = None
    owner_id: int | None = None
    client_id: int | None = None
    other_client_id: int | None = None
    # What the signal is about, so that a changed situation is a new signal,
    # such as "past_end_date:42:2026-03-31".
    key: str = ""
    # The fix worded for roles that may not read Contract.amount, when `fix`
    # mentions the amount.
    fix_without_amounts: str | None = None

    def fix_for(self, may_read_amounts: bool) -> str:
        """Return the fix worded for a role with or without amount read access."""
        if may_read_amounts or self.fix_without_amounts is None:
            return self.fix
        return self.fix_without_amounts


# The position of each kind when signals are sorted: SignalKind's declaration order.
_KIND_ORDER = {kind: index for index, kind in enumerate(SignalKind)}


async def signals_for(
    viewer: Viewer,
    options: SignalOptions,
    kinds: frozenset[SignalKind] | None = None,
    contract_ids: list[int] | None = None,
) -> list[Signal]:
    """Return the signals about what the viewer may see, ordered by kind in the
    order of SignalKind, so contract signals come before duplicate clients.

    With `contract_ids`, return only the signals about those contracts.
    """
    requested = set(kinds or SignalKind)
    may_read_amounts = viewer.fields.may_read("Contract", "amount")
    if not may_read_amounts:
        requested -= FINANCIAL_KINDS
    visible = visible_contracts(viewer).filter(archived_at=None)
    scope = visible if contract_ids is None else visible.filter(id__in=contract_ids)
    today = viewer.today
    found: list[Signal] = []
    if requested & {SignalKind.PAST_END_DATE, SignalKind.RENEWAL_NOT_RECORDED}:
        found += await _ended(scope, today, requested)
    if SignalKind.NO_RECENT_ACTIVITY in requested:
        found += await _quiet(scope, today, options)
    if SignalKind.AMOUNT_LOOKS_VAT_INCLUSIVE in requested:
        found += await _vat_inclusive(visible, viewer.organization_id, contract_ids)
    if SignalKind.ZERO_AMOUNT in requested:
        found += await _zero_amounts(scope)
    if SignalKind.DUPLICATE_CLIENT in requested and contract_ids is None:
        found += await duplicate_clients(viewer.organization_id)
    if not may_read_amounts:
        found = [
            replace(signal, fix=signal.fix_for(may_read_amounts=False))
            for signal in found
        ]
    # sorted() is stable, so each kind keeps the order its scan produced.
    return sorted(found, key=lambda signal: _KIND_ORDER[signal.kind])


_CONTRACT_COLUMNS = ("id", "name", "number", "owner_id")


def _label(row: dict[str, Any], noun: str = "Contract") -> str:
    number = f" ({row['number']})" if row.get("number") else ""
    return f"{noun} {row['name']!r}{number}"


async def _ended(scope: Any, today: date, requested: set[SignalKind]) -> list[Signal]:
    rows = await (
        scope.filter(stage=ContractStage.SIGNED, end_date__lt=today)
        .order_by("end_date", "id")
        .values(*_CONTRACT_COLUMNS, "end_date", "auto_renewal", "notice_date")
    )
    signals = []
    for row in rows:
        ended = row["end_date"].isoformat()
        renews = row["auto_renewal"] and row["notice_date"] is None
        if renews and SignalKind.RENEWAL_NOT_RECORDED in requested:
            signals.append(
                Signal(
                    SignalKind.RENEWAL_NOT_RECORDED,
                    f"{_label(row)} renews automatically, but its end date {ended} "
                    "has passed without a recorded renewal or notice.",
                    "Record the renewal with renewContract, or record the notice "
                    "that ended it with recordNotice; correct the end date if the "
                    "register is wrong.",
                    (ContractField.END_DATE,),
                    row["id"],
                    row["owner_id"],
                    key=f"renewal_not_recorded:{row['id']}:{ended}",
                )
            )
        elif not renews and SignalKind.PAST_END_DATE in requested:
            signals.append(
                Signal(
                    SignalKind.PAST_END_DATE,
                    f"{_label(row)} ended on {ended} but is still recorded as "
                    "signed and is not archived.",
                    "If it was extended, set the new end date; if it ended, "
                    "archive it.",
                    (ContractField.END_DATE,),
                    row["id"],
                    row["owner_id"],
                    key=f"past_end_date:{row['id']}:{ended}",
                )
            )
    return signals


async def _quiet(scope: Any, today: date, options: SignalOptions) -> list[Signal]:
    """Flag quiet signed contracts whose notice deadline is near, or whose end date
    is near when they have no notice deadline."""
    horizon = today + timedelta(days=options.deadline_days)
    rows = await (
        scope.filter(stage=ContractStage.SIGNED)
        .filter(
            Q(notice_deadline__gte=today, notice_deadline__lte=horizon)
            | Q(notice_deadline=None, end_date__gte=today, end_date__lte=horizon)
        )
        .values(*_CONTRACT_COLUMNS, "notice_deadline", "end_date", "updated_at")
    )
    rows.sort(key=lambda row: (row["notice_deadline"] or row["end_date"], row["id"]))
    last_notes = await _last_notes([row["id"] for row in rows])
    signals = []
    for row in rows:
        last = max(
            row["updated_at"], last_notes.get(row["id"], row["updated_at"])
        ).date()
        quiet_for = (today - last).days
        if quiet_for < options.quiet_days:
            continue
        if row["notice_deadline"] is not None:
            anchor = row["notice_deadline"].isoformat()
            what = f"has its notice deadline on {anchor}"
        else:
            anchor = row["end_date"].isoformat()
            what = f"ends on {anchor} and has no notice period"
        signals.append(
            Signal(
                SignalKind.NO_RECENT_ACTIVITY,
                f"{_label(row)} {what}, but has had no change and no note for "
                f"{quiet_for} days.",
                "Check that the contract's dates, notice period and amount still "
                "match reality, and add a note with the decision on renewal.",
                (),
                row["id"],
                row["owner_id"],
                key=f"no_recent_activity:{row['id']}:{anchor}",
                fix_without_amounts="Check that the contract's dates and notice "
                "period still match reality, and add a note with the decision on "
                "renewal.",
            )
        )
    return signals


async def _zero_amounts(scope: Any) -> list[Signal]:
    rows = await (
        scope.filter(amount_minor=0)
        .exclude(stage=ContractStage.CANCELLED)
        .order_by("id")
        .values(*_CONTRACT_COLUMNS)
    )
    return [
        Signal(
            SignalKind.ZERO_AMOUNT,
            f"The amount of {_label(row, 'contract')} is zero, which usually means "
            "that it was never entered.",
            "Enter the amount excluding VAT. If the amount is not known, clear it, "
            "so that the contract counts as lacking an amount.",
            (ContractField.AMOUNT,),
            row["id"],
            row["owner_id"],
            key=f"zero_amount:{row['id']}",
        )
        for row in rows
    ]


async def _last_notes(contract_ids: list[int]) -> dict[int, datetime]:
    latest: dict[int, datetime] = {}
    for start in range(0, len(contract_ids), BATCH_SIZE):
        chunk = contract_ids[start : start + BATCH_SIZE]
        rows = await (
            Note.filter(contract_id__in=chunk, archived_at=None)
            .annotate(last=Max("created_at"))
            .group_by("contract_id")
            .values("contract_id", "last")
        )
        for row in rows:
            last = row["last"]
            if isinstance(last, str):
                # SQLite returns the maximum of a datetime column as its text.
                last = datetime.fromisoformat(last)
            if last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            latest[row["contract_id"]] = last
    return latest


async def _vat_inclusive(
    scope: Any, organization_id: int, contract_ids: list[int] | None
) -> list[Signal]:
    organization = await Organization.get(id=organization_id)
    organization_rates = sorted(rate for rate in organization.vat_rates if rate > 0)
    if contract_ids is not None:
        # The previous terms of these contracts are contracts of the same clients.
        clients = scope.filter(id__in=contract_ids).values("client_id")
        scope = scope.filter(client_id__in=Subquery(clients))
    rows = await (
        scope.filter(amount_minor__isnull=False)
        .order_by("id")
        .values(
            *_CONTRACT_COLUMNS,
            "client_id",
            "start_date",
            "amount_minor",
            "currency",
            "vat_rate_bp",
            "stage",
        )
    )
    previous = _previous_terms(rows)
    previous.update(await _renewed_from([row["id"] for row in rows], rows))
    signals = []
    only = None if contract_ids is None else set(contract_ids)
    for row in rows:
        if row["stage"] == ContractStage.CANCELLED:
            continue
        if only is not None and row["id"] not in only:
            continue
        rates = _rates_for(row, organization.default_currency, organization_rates)
        if not rates:
            continue
        reason = vat_inclusive_reason(
            row["amount_minor"], previous.get(row["id"]), rates, row["currency"]
        )
        if reason is None:
            continue
        signals.append(
            Signal(
                SignalKind.AMOUNT_LOOKS_VAT_INCLUSIVE,
                f"The amount of {_label(row, 'contract')} {reason}",
                "Check the amount against the contract: store amounts excluding "
                "VAT, with the VAT rate in its own field.",
                (ContractField.AMOUNT,),
                row["id"],
                row["owner_id"],
                key=f"amount_looks_vat_inclusive:{row['id']}:{row['amount_minor']}",
            )
        )
    return signals


def _rates_for(
    row: dict[str, Any], default_currency: str, organization_rates: list[int]
) -> list[int]:
    """Return the VAT rates, in basis points, that can apply to a contract.

    The organization's rates apply in its default currency. A contract in another
    currency is usually taxed elsewhere (such as GST in AUD), so only its own VAT
    rate is checked, and nothing when that is not set.
    """
    if row["currency"] == default_currency:
        return organization_rates
    own = row["vat_rate_bp"]
    return [own] if own else []


def _previous_terms(rows: list[dict[str, Any]]) -> dict[int, int]:
    """Map each contract to the amount of the latest earlier contract of the same
    client with the same name in the same currency: its previous term in a
    register that adds a row per term."""
    terms: dict[tuple[int, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        terms[(row["client_id"], _name_key(row["name"]), row["currency"])].append(row)
    previous = {}
    for same in terms.values():
        same.sort(key=lambda r: (r["start_date"], r["id"]))
        for before, after in zip(same, same[1:], strict=False):
            if before["start_date"] < after["start_date"]:
                previous[after["id"]] = before["amount_minor"]
    return previous


async def _renewed_from(
    contract_ids: list[int], rows: list[dict[str, Any]]
) -> dict[int, int]:
    """Map each contract whose current amount came from its latest renewal to the
    amount before that renewal."""
    amounts = {row["id"]: row["amount_minor"] for row in rows}
    latest: dict[int, dict[str, Any]] = {}
    for start in range(0, len(contract_ids), BATCH_SIZE):
        chunk = contract_ids[start : start + BATCH_SIZE]
        events = await (
            ContractEvent.filter(
                contract_id__in=chunk,
                kind=ContractEventKind.RENEWED,
                old_amount_minor__isnull=False,
            )
            .order_by("occurred_on", "id")
            .values("contract_id", "old_amount_minor", "new_amount_minor")
        )
        for event in events:
            latest[event["contract_id"]] = event
    return {
        pk: event["old_amount_minor"]
        for pk, event in latest.items()
        if event["new_amount_minor"] == amounts.get(pk)
    }


def vat_inclusive_reason(
    amount: int, previous: int | None, rates: list[int], currency: str
) -> str | None:
    """Return why `amount` looks VAT-inclusive, or None.

    Amounts are in minor units and rates in basis points. With a previous term,
    the amount looks VAT-inclusive when it is exactly (1 + rate) times the previous
    amount, rounded half up to the minor unit. It also does when amount / (1 + rate)
    is a whole number of minor units while previous / (1 + rate) is not. Without one,
    when amount / (1 + rate) is a whole number of major units (such as whole
    euros) while the amount itself is not.
    """
    try:
        unit = 10 ** minor_unit_exponent(currency)
    except MoneyError:
        return None
    if amount <= 0 or (previous is not None and previous <= 0):
        return None
    for rate in rates:
        factor = 10_000 + rate
        percent = format_rate(rate)
        if previous is not None and amount != previous:
            if amount == (previous * factor + 5_000) // 10_000:
                return (
                    f"is exactly {percent}% more than the previous term's, as if "
                    f"{percent}% VAT were added."
                )
            if _divides(amount, factor) and not _divides(previous, factor):
                return (
                    f"divides evenly by 1 + {percent}% VAT while the previous "
                    "term's did not, as if VAT were included."
                )
        if previous is None and _divides(amount, factor) and amount % unit:
            ex_vat = amount * 10_000 // factor
            if ex_vat % unit == 0:
                return (
                    f"is a round amount plus {percent}% VAT, as if VAT were included."
                )
    return None


def _divides(amount: int, factor: int) -> bool:
    """Return whether amount / (factor / 10000) is a whole number of minor units."""
    return amount * 10_000 % factor == 0


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


_NOT_WORD = re.compile(r"[^\w]+")
_NUMBER = re.compile(r"\d+")


def _numbers(name: str) -> list[str]:
    return _NUMBER.findall(name)


def normalize_client_name(name: str) -> str:
    """Return a client name without case, punctuation and legal-form words."""
    words = _NOT_WORD.sub(" ", name.casefold()).split()
    kept = [word for word in words if word not in LEGAL_FORMS]
    return " ".join(kept or words)


def _registration_key(number: str | None) -> str | None:
    if not number:
        return None
    key = "".join(char for char in number.upper() if char.isalnum())
    return key or None


async def duplicate_clients(organization_id: int) -> list[Signal]:
    """Return one signal per pair of clients that look like the same company."""
    clients = await (
        Client.filter(organization_id=organization_id, archived_at=None)
        .order_by("id")
        .values("id", "name", "coc_number", "vat_number")
    )
    pairs: dict[tuple[int, int], str] = {}
    for column, label in (
        ("coc_number", "chamber-of-commerce number"),
        ("vat_number", "VAT number"),
    ):
        by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for client in clients:
            key = _registration_key(client[column])
            if key is not None:
                by_number[key].append(client)
        for same in by_number.values():
            for other in same[1:]:
                pairs.setdefault((same[0]["id"], other["id"]), f"the same {label}")
    for first, second, score in _similar_names(clients[:MAX_CLIENTS_COMPARED]):
        reason = "the same name" if score == 100 else "very similar names"
        pairs.setdefault((first, second), reason)

    names = {client["id"]: client["name"] for client in clients}
    return [
        Signal(
            SignalKind.DUPLICATE_CLIENT,
            f"Clients {names[first]!r} and {names[second]!r} have {reason}, so they "
            "are probably the same company.",
            f"Move the contracts, contacts and projects of one of them to the other "
            f"({encode_id('Client', first)}), then archive it.",
            (),
            client_id=first,
            other_client_id=second,
            key=f"duplicate_client:{first}:{second}",
        )
        for (first, second), reason in sorted(pairs.items())
    ]


def _similar_names(clients: list[dict[str, Any]]) -> list[tuple[int, int, float]]:
    """Return (lower id, higher id, score) for clients with similar names."""
    blocks: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for client in clients:
        name = normalize_client_name(client["name"])
        if name:
            blocks[name[:2]].append((client["id"], name))
    found = []
    for members in blocks.values():
        names = [name for _, name in members]
        for index, (client_id, name) in enumerate(members[:-1]):
            matches = process.extract(
                name,
                names[index + 1 :],
                scorer=fuzz.token_sort_ratio,
                score_cutoff=NAME_SIMILARITY_CUTOFF,
                limit=None,
            )
            for other_name, score, offset in matches:
                if _numbers(name) != _numbers(other_name):
                    # "Acme 1" and "Acme 2" are similar strings but other companies.
                    continue
                other_id = members[index + 1 + offset][0]
                found.append(
                    (min(client_id, other_id), max(client_id, other_id), score)
                )
    return found
