"""Exact money: amounts, currencies and recurring revenue.

Amounts are stored as integers in the currency's minor unit (cents for EUR, none for
JPY, thousandths for BHD) and cross the API as decimal strings. Floats never touch an
amount. Figures derived from amounts, such as MRR, stay exact fractions of a minor
unit until they are presented, when they are rounded half up.
"""

from __future__ import annotations

import decimal
import enum
import functools
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from babel.core import get_global
from babel.numbers import get_currency_precision
from dateutil.relativedelta import relativedelta

from contractgql.domain.dates import term_months

# The largest amount in minor units that fits a signed 64-bit column.
MAX_MINOR_UNITS = 2**63 - 1


class PaymentFrequency(enum.StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"
    ONE_OFF = "one_off"

    @property
    def months(self) -> int | None:
        """Months in one billing period, or None for a one-off payment."""
        return _MONTHS_PER_PERIOD[self]


_MONTHS_PER_PERIOD: dict[PaymentFrequency, int | None] = {
    PaymentFrequency.MONTHLY: 1,
    PaymentFrequency.QUARTERLY: 3,
    PaymentFrequency.HALF_YEARLY: 6,
    PaymentFrequency.YEARLY: 12,
    PaymentFrequency.ONE_OFF: None,
}


class MoneyError(ValueError):
    """An amount or currency that cannot be stored, with a message that explains why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@functools.cache
def active_currencies() -> frozenset[str]:
    """Return the ISO 4217 codes that are legal tender somewhere today (CLDR data)."""
    codes = set()
    for entries in get_global("territory_currencies").values():
        for code, _start, end, tender in entries:
            if end is None and tender:
                codes.add(code)
    return frozenset(codes)


def validate_currency(code: str) -> str:
    """Return `code` if it names a currency in use, else raise MoneyError."""
    if code not in active_currencies():
        raise MoneyError(
            "unknown_currency",
            f"Unknown currency {code!r}: use an ISO 4217 code in use today, "
            "such as 'EUR', 'USD' or 'GBP'.",
        )
    return code


# Imports and reports convert amounts of a few currencies many times.
@functools.lru_cache(maxsize=256)
def minor_unit_exponent(currency: str) -> int:
    """Return the number of decimal places of `currency` (2 for EUR, 0 for JPY)."""
    return int(get_currency_precision(validate_currency(currency)))


def to_minor_units(amount: Decimal | str, currency: str) -> int:
    """Convert a decimal amount to integer minor units without rounding.

    Raises MoneyError when the text is not a number, is negative, has more decimals
    than the currency allows, or does not fit a 64-bit column.
    """
    exponent = minor_unit_exponent(currency)
    value = _parse_decimal(amount)
    if value < 0:
        raise MoneyError(
            "negative_amount",
            f"Amount {_shortened(amount)} is negative: enter the amount as a "
            "positive number.",
        )

    if value and value.adjusted() + exponent >= len(str(MAX_MINOR_UNITS)):
        # At least 10**19 minor units: checked before scaling, which would round
        # or overflow a number of this many digits.
        raise MoneyError(
            "amount_too_large",
            f"Amount {_shortened(amount)} is too large to store: "
            f"the maximum is {from_minor_units(MAX_MINOR_UNITS, currency)}.",
        )
    # The default context keeps 28 digits, and scaleb() would round a longer
    # amount, so an exact context scales it.
    scaled = value.scaleb(exponent, context=_EXACT)
    if scaled != scaled.to_integral_value(context=_EXACT):
        raise MoneyError(
            "too_many_decimals",
            f"Amount {_shortened(amount)} has more than {exponent} decimal places, "
            f"the most {currency} allows: round it to {exponent} places.",
        )
    minor = int(scaled)
    if minor > MAX_MINOR_UNITS:
        raise MoneyError(
            "amount_too_large",
            f"Amount {amount!s} is too large to store: "
            f"the maximum is {from_minor_units(MAX_MINOR_UNITS, currency)}.",
        )
    return minor


_EXACT = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
)


def _shortened(amount: Decimal | str) -> str:
    """Return the amount's text, cut to 40 characters for messages."""
    text = str(amount)
    return text if len(text) <= 40 else f"{text[:40]}… ({len(text)} characters)"


# Digits with an optional sign and fraction: no exponents, separators or other scripts.
_PLAIN_AMOUNT = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def _parse_decimal(amount: Decimal | str) -> Decimal:
    if isinstance(amount, Decimal):
        value = amount
    elif _PLAIN_AMOUNT.match(amount.strip()):
        value = Decimal(amount.strip())
    else:
        value = Decimal("NaN")
    if not value.is_finite():
        raise MoneyError(
            "invalid_amount",
            f"Amount {amount!s} is not a number: write it with digits and a dot as "
            "the decimal separator, such as '1234.50'.",
        )
    return value


def from_minor_units(minor: int, currency: str) -> Decimal:
    """Return the exact decimal amount for `minor` units, with the currency's places."""
    exponent = minor_unit_exponent(currency)
    return Decimal(minor).scaleb(-exponent)


def present(minor: Fraction | int, currency: str) -> Decimal:
    """Round an exact figure in minor units half up and return it as an amount."""
    exponent = minor_unit_exponent(currency)
    exact = Decimal(minor.numerator) / Decimal(minor.denominator)
    rounded = exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return rounded.scaleb(-exponent)


def monthly_recurring(amount_minor: int, frequency: PaymentFrequency) -> Fraction:
    """Return the exact MRR in minor units: the amount per period over its months.

    One-off amounts are not recurring revenue and add nothing.
    """
    months = frequency.months
    if months is None:
        return Fraction(0)
    return Fraction(amount_minor, months)


def billing_periods(frequency: PaymentFrequency, start: date, end: date) -> int:
    """Return the billing periods in the inclusive term `start`..`end`.

    A period that has started is billed in full, so a 13-month term billed quarterly
    counts 5 periods. A one-off payment is a single period.
    """
    months = frequency.months
    if months is None:
        return 1
    whole_months = term_months(start, end)
    has_extra_days = start + relativedelta(months=whole_months) <= end
    covered = whole_months + (1 if has_extra_days else 0)
    return max(1, -(-covered // months))


def total_contract_value(
    amount_minor: int, frequency: PaymentFrequency, start: date, end: date | None
) -> int | None:
    """Return the value of the whole term in minor units, or None when open-ended."""
    if frequency is PaymentFrequency.ONE_OFF:
        return amount_minor
    if end is None:
        return None
    return amount_minor * billing_periods(frequency, start, end)
