"""Caps on contracts in hours or amounts per period, and their consumption.

Consumption counts the approved, billable entries that are not deleted: hours
entries against hours caps, and material entries in the cap's currency against
amount caps. Entries waiting for approval count once they are approved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from contractgql.audit import record_change
from contractgql.domain.budget import (
    CapWindow,
    percentage,
    reaches_threshold,
    windows_between,
)
from contractgql.domain.money import MoneyError, from_minor_units, to_minor_units
from contractgql.errors import InvalidArgument, NotFound
from contractgql.ids import encode_id
from contractgql.models import (
    BudgetSettings,
    CapPeriod,
    CapUnit,
    Contract,
    ContractCap,
    EntryKind,
    EntryStatus,
    TimeEntry,
)
from contractgql.security.fields import require_writable
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer
from contractgql.services.validation import Validator
from contractgql.services.versions import check_version, claim_version

CAP_WRITE = "contract_cap:write"
DEFAULT_WARNING_PERCENT = 80
# Largest hours cap, in hours: far above any contract, small enough to catch typos.
MAX_CAP_HOURS = Decimal(10_000_000)
_HOURS = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


def hours_value(hundredths: int) -> Decimal:
    """Return hundredths of an hour as hours with two decimals, such as 7.50."""
    return Decimal(hundredths).scaleb(-2).quantize(Decimal("0.01"))


def parse_hours(validator: Validator, field: str, text: str, maximum: Decimal) -> int:
    """Return hours written as a decimal with at most 2 places in hundredths.

    Adds an error to `validator`, and returns 0, for anything else or for hours
    that are not above 0 and at most `maximum`.
    """
    cleaned = text.strip()
    if not _HOURS.match(cleaned):
        validator.add(
            field,
            "invalid_hours",
            f"Hours {text!r} are not a number with at most 2 decimals: write them "
            "with digits and a dot, such as '7.25'.",
        )
        return 0
    value = Decimal(cleaned)
    if not Decimal(0) < value <= maximum:
        validator.add(
            field,
            "out_of_range",
            f"Hours {cleaned} are out of range: enter more than 0 and at most "
            f"{maximum}.",
        )
        return 0
    return int(value.scaleb(2))


@dataclass(frozen=True)
class CapUsage:
    """The consumption of one cap in one period.

    Figures are in hundredths of an hour for hours caps and in minor units for
    amount caps.
    """

    cap: ContractCap
    window: CapWindow
    used: int
    # Entries waiting for approval in the period, which do not count yet.
    pending: int
    warning_percent: int

    @property
    def limit(self) -> int:
        return cap_limit(self.cap)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def percentage(self) -> Decimal:
        return percentage(self.used, self.limit)

    @property
    def warning(self) -> bool:
        return reaches_threshold(self.used, self.limit, self.warning_percent)

    def quantity(self, units: int) -> Decimal:
        """Return hundredths of an hour or minor units as hours or an amount."""
        if self.cap.unit is CapUnit.HOURS:
            return hours_value(units)
        assert self.cap.currency is not None
        return from_minor_units(units, self.cap.currency)


def cap_limit(cap: ContractCap) -> int:
    limit = cap.limit_hundredths if cap.unit is CapUnit.HOURS else cap.limit_minor
    assert limit is not None, "a cap stores the limit of its unit"
    return int(limit)


def counted_entries(cap: ContractCap, status: EntryStatus) -> Any:
    """Return the query of the entries with `status` that count against `cap`."""
    query = TimeEntry.filter(
        contract_id=cap.contract_id, status=status, billable=True, archived_at=None
    )
    if cap.unit is CapUnit.HOURS:
        return query.filter(kind=EntryKind.HOURS)
    return query.filter(kind=EntryKind.MATERIAL, currency=cap.currency)


def quantity_column(cap: ContractCap) -> str:
    return "hours_hundredths" if cap.unit is CapUnit.HOURS else "amount_minor"


async def consumed(
    cap: ContractCap,
    window: CapWindow,
    status: EntryStatus = EntryStatus.APPROVED,
    exclude_entry_id: int | None = None,
) -> int:
    """Return the sum of the `status` entries that count against `cap` in `window`."""
    query = counted_entries(cap, status).filter(entry_date__gte=window.start)
    if window.end is not None:
        query = query.filter(entry_date__lte=window.end)
    if exclude_entry_id is not None:
        query = query.exclude(id=exclude_entry_id)
    rows = await query.annotate(total=Sum(quantity_column(cap))).values("total")
    total = rows[0]["total"] if rows else None
    # PostgreSQL returns the SUM of a BIGINT column as NUMERIC, SQLite as an integer.
    return 0 if total is None else int(total)


async def warning_percent_of(cap: ContractCap) -> int:
    """Return the cap's warning threshold, or else its organization's default."""
    if cap.warning_percent is not None:
        return cap.warning_percent
    return await organization_warning_percent(cap.organization_id)


async def organization_warning_percent(organization_id: int) -> int:
    settings = await BudgetSettings.filter(organization_id=organization_id).first()
    return DEFAULT_WARNING_PERCENT if settings is None else settings.warning_percent


async def usage_in(cap: ContractCap, window: CapWindow) -> CapUsage:
    return CapUsage(
        cap=cap,
        window=window,
        used=await consumed(cap, window),
        pending=await consumed(cap, window, EntryStatus.PENDING_APPROVAL),
        warning_percent=await warning_percent_of(cap),
    )


async def usage_between(
    cap: ContractCap, contract: Contract, first: date, last: date
) -> list[CapUsage]:
    """Return the cap's consumption in each of its periods that overlap first..last."""
    if first > last:
        raise InvalidArgument(f"from={first} is after to={last}: swap the two dates.")
    try:
        windows = windows_between(
            cap.period, first, last, contract.start_date, contract.end_date
        )
    except ValueError as error:
        raise InvalidArgument(str(error)) from None
    return [await usage_in(cap, window) for window in windows]


# --- Changes ---------------------------------------------------------------------


async def visible_contract(viewer: Viewer, contract_id: int) -> Contract:
    contract = await visible_contracts(viewer).filter(id=contract_id).first()
    if contract is None:
        raise NotFound(
            f"Contract {encode_id('Contract', contract_id)!r} was not found in your "
            "organization: check the id."
        )
    return contract


async def get_cap(viewer: Viewer, cap_id: int) -> ContractCap:
    cap = await ContractCap.filter(
        id=cap_id, organization_id=viewer.organization_id
    ).first()
    if (
        cap is None
        or not await visible_contracts(viewer).filter(id=cap.contract_id).exists()
    ):
        raise NotFound(
            f"Contract cap {encode_id('ContractCap', cap_id)!r} was not found in your "
            "organization: check the id."
        )
    return cap


async def set_cap(
    viewer: Viewer,
    contract_id: int,
    unit: CapUnit,
    period: CapPeriod,
    limit: str,
    currency: str | None,
    warning_percent: int | None,
    expected_version: int | None = None,
) -> ContractCap:
    """Create the contract's cap of this unit and period, or change its limit.

    A contract has at most one cap per unit and period. Raises Conflict, and
    changes nothing, when `expected_version` is given and is not the version of
    the stored cap.
    """
    viewer.require(CAP_WRITE, "set a cap on a contract")
    if unit is CapUnit.AMOUNT:
        require_writable(viewer, "ContractCap", ["limit_amount"])
    contract = await visible_contract(viewer, contract_id)
    validator = Validator()
    columns = _cap_columns(validator, contract, unit, limit, currency, warning_percent)
    validator.raise_if_any()

    cap = await ContractCap.filter(
        contract_id=contract.id, unit=unit, period=period
    ).first()
    if cap is None:
        if expected_version is not None:
            validator.add(
                "expected_version",
                "not_found",
                f"The contract has no {unit.value} cap per {period.value} yet, so "
                f"it has no version {expected_version}: leave expectedVersion out "
                "to create the cap.",
            )
            validator.raise_if_any()
        return await _create_cap(viewer, contract, unit, period, columns)

    async def changed(stored: ContractCap) -> list[str]:
        return sorted(
            _CAP_FIELD_NAMES[name]
            for name, value in columns.items()
            if getattr(stored, name) != value
        )

    await check_version(cap, "Contract cap", expected_version, changed)
    async with in_transaction():
        await claim_version(cap, "Contract cap", expected_version, changed)
        stored = await ContractCap.get(id=cap.id)
        before = cap_snapshot(stored)
        for name, value in columns.items():
            setattr(stored, name, value)
        stored.updated_by_id = viewer.user_id
        await stored.save(update_fields=[*columns, "updated_by_id", "updated_at"])
        await record_change(
            viewer, "contract_cap.update", stored, before, cap_snapshot(stored)
        )
    return stored


_CAP_FIELD_NAMES = {
    "limit_hundredths": "limitHours",
    "limit_minor": "limitAmount",
    "currency": "currency",
    "warning_percent": "warningPercent",
}


async def _create_cap(
    viewer: Viewer,
    contract: Contract,
    unit: CapUnit,
    period: CapPeriod,
    columns: dict[str, Any],
) -> ContractCap:
    try:
        async with in_transaction():
            cap = await ContractCap.create(
                organization_id=viewer.organization_id,
                contract_id=contract.id,
                unit=unit,
                period=period,
                updated_by_id=viewer.user_id,
                **columns,
            )
            await record_change(
                viewer, "contract_cap.create", cap, None, cap_snapshot(cap)
            )
    except IntegrityError:
        # A concurrent request created the same cap after this one checked.
        validator = Validator()
        validator.add(
            "period",
            "duplicate",
            f"Another request has just created the contract's {unit.value} cap per "
            f"{period.value}: reload the caps and change that one.",
        )
        validator.raise_if_any()
        raise
    return cap


def _cap_columns(
    validator: Validator,
    contract: Contract,
    unit: CapUnit,
    limit: str,
    currency: str | None,
    warning_percent: int | None,
) -> dict[str, Any]:
    columns: dict[str, Any] = {"warning_percent": warning_percent}
    if warning_percent is not None and not 1 <= warning_percent <= 100:
        validator.add(
            "warning_percent",
            "out_of_range",
            f"Warning percentage {warning_percent} is out of range: use 1 to 100, "
            "or null for the organization's default.",
        )
    if unit is CapUnit.HOURS:
        if currency is not None:
            validator.add(
                "currency",
                "not_allowed",
                "An hours cap has no currency: leave currency out.",
            )
        columns["limit_hundredths"] = parse_hours(
            validator, "limit", limit, MAX_CAP_HOURS
        )
        columns["limit_minor"] = None
        columns["currency"] = None
        return columns

    code = (currency or contract.currency).strip().upper()
    try:
        minor = to_minor_units(limit.strip(), code)
    except MoneyError as error:
        validator.add("limit", error.code, error.message)
        minor = 0
    else:
        if minor == 0:
            validator.add(
                "limit", "out_of_range", "The limit is 0: enter an amount above 0."
            )
    columns["limit_hundredths"] = None
    columns["limit_minor"] = minor
    columns["currency"] = code
    return columns


async def delete_cap(
    viewer: Viewer, cap_id: int, expected_version: int | None = None
) -> ContractCap:
    """Delete a cap. Its entries stay, and no longer count against anything."""
    viewer.require(CAP_WRITE, "delete a cap of a contract")
    cap = await get_cap(viewer, cap_id)
    if cap.unit is CapUnit.AMOUNT:
        require_writable(viewer, "ContractCap", ["limit_amount"])

    async def changed(stored: ContractCap) -> list[str]:
        return []

    await check_version(cap, "Contract cap", expected_version, changed)
    async with in_transaction():
        await claim_version(cap, "Contract cap", expected_version, changed)
        before = cap_snapshot(cap)
        await ContractCap.filter(id=cap.id).delete()
        await record_change(viewer, "contract_cap.delete", cap, before, None)
    return cap


async def set_organization_warning_percent(viewer: Viewer, percent: int) -> int:
    """Set the default warning threshold of the viewer's organization's caps."""
    viewer.require(CAP_WRITE, "change the warning threshold of contract caps")
    if not 1 <= percent <= 100:
        validator = Validator()
        validator.add(
            "percent",
            "out_of_range",
            f"Warning percentage {percent} is out of range: use 1 to 100.",
        )
        validator.raise_if_any()
    async with in_transaction():
        settings = await BudgetSettings.filter(
            organization_id=viewer.organization_id
        ).first()
        before = None
        if settings is None:
            settings = await BudgetSettings.create(
                organization_id=viewer.organization_id, warning_percent=percent
            )
        else:
            before = {"warningPercent": settings.warning_percent}
            settings.warning_percent = percent
            await settings.save(update_fields=["warning_percent", "updated_at"])
        await record_change(
            viewer,
            "budget_settings.update",
            settings,
            before,
            {"warningPercent": percent},
        )
    return percent


def cap_snapshot(cap: ContractCap) -> dict[str, Any]:
    """Return the audited values of a cap, keyed by GraphQL field name."""
    limit_hours = limit_amount = None
    if cap.limit_hundredths is not None:
        limit_hours = str(hours_value(cap.limit_hundredths))
    if cap.limit_minor is not None and cap.currency is not None:
        limit_amount = str(from_minor_units(cap.limit_minor, cap.currency))
    return {
        "contract": encode_id("Contract", cap.contract_id),
        "unit": cap.unit.name,
        "period": cap.period.name,
        "limitHours": limit_hours,
        "limitAmount": limit_amount,
        "currency": cap.currency,
        "warningPercent": cap.warning_percent,
    }
