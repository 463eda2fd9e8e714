"""Exact money: minor units, currency decimals, MRR, ARR and total contract value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from contractgql.domain.money import (
    MAX_MINOR_UNITS,
    MoneyError,
    PaymentFrequency,
    billing_periods,
    from_minor_units,
    minor_unit_exponent,
    monthly_recurring,
    present,
    to_minor_units,
    total_contract_value,
    validate_currency,
)

MONTHLY = PaymentFrequency.MONTHLY
QUARTERLY = PaymentFrequency.QUARTERLY
HALF_YEARLY = PaymentFrequency.HALF_YEARLY
YEARLY = PaymentFrequency.YEARLY
ONE_OFF = PaymentFrequency.ONE_OFF


@pytest.mark.parametrize(
    ("currency", "exponent"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("BHD", 3)]
)
def test_minor_unit_exponent(currency: str, exponent: int) -> None:
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("1234.50", "EUR", 123450),
        ("1234.5", "EUR", 123450),
        ("0.01", "EUR", 1),
        ("0", "EUR", 0),
        ("1500", "JPY", 1500),
        ("1.234", "BHD", 1234),
        (Decimal("99.99"), "USD", 9999),
    ],
)
def test_to_minor_units(amount: str | Decimal, currency: str, minor: int) -> None:
    assert to_minor_units(amount, currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (123450, "EUR", "1234.50"),
        (5, "EUR", "0.05"),
        (0, "EUR", "0.00"),
        (1500, "JPY", "1500"),
        (1234, "BHD", "1.234"),
    ],
)
def test_from_minor_units(minor: int, currency: str, text: str) -> None:
    assert str(from_minor_units(minor, currency)) == text


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("1.001", "EUR", "too_many_decimals"),
        ("100.5", "JPY", "too_many_decimals"),
        ("1.2345", "BHD", "too_many_decimals"),
        ("-0.01", "EUR", "negative_amount"),
        ("-5", "JPY", "negative_amount"),
        ("12,50", "EUR", "invalid_amount"),
        ("abc", "EUR", "invalid_amount"),
        ("NaN", "EUR", "invalid_amount"),
        ("Infinity", "EUR", "invalid_amount"),
        ("92233720368547758.08", "EUR", "amount_too_large"),
    ],
)
def test_to_minor_units_rejects(amount: str, currency: str, code: str) -> None:
    with pytest.raises(MoneyError) as raised:
        to_minor_units(amount, currency)

    assert raised.value.code == code
    assert amount in raised.value.message


def test_largest_amount_fits() -> None:
    assert to_minor_units("92233720368547758.07", "EUR") == MAX_MINOR_UNITS


@pytest.mark.parametrize("currency", ["EUR", "USD", "GBP", "CHF", "JPY", "BHD"])
def test_validate_currency_accepts(currency: str) -> None:
    assert validate_currency(currency) == currency


# DEM (Deutsche Mark) is a real ISO 4217 code that is no longer legal tender.
@pytest.mark.parametrize("currency", ["XYZ", "DEM", "EURO", ""])
def test_validate_currency_rejects(currency: str) -> None:
    with pytest.raises(MoneyError) as raised:
        validate_currency(currency)

    assert raised.value.code == "unknown_currency"
    assert repr(currency) in raised.value.message


@pytest.mark.parametrize(
    ("amount_minor", "frequency", "mrr"),
    [
        (10000, MONTHLY, Fraction(10000)),
        (30000, QUARTERLY, Fraction(10000)),
        (10000, QUARTERLY, Fraction(10000, 3)),
        (60000, HALF_YEARLY, Fraction(10000)),
        (120000, YEARLY, Fraction(10000)),
        (99999, ONE_OFF, Fraction(0)),
    ],
)
def test_monthly_recurring(
    amount_minor: int, frequency: PaymentFrequency, mrr: Fraction
) -> None:
    assert monthly_recurring(amount_minor, frequency) == mrr


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (Fraction(10000, 3), "EUR", "33.33"),
        (Fraction(20000, 3), "EUR", "66.67"),
        # Exactly half a cent rounds up, also where half-even would round down.
        (Fraction(1, 2), "EUR", "0.01"),
        (Fraction(5, 2), "EUR", "0.03"),
        (Fraction(3, 2), "JPY", "2"),
        (Fraction(1, 2), "BHD", "0.001"),
        (40000, "EUR", "400.00"),
        (0, "EUR", "0.00"),
    ],
)
def test_present_rounds_half_up(
    minor: Fraction | int, currency: str, text: str
) -> None:
    assert str(present(minor, currency)) == text


def test_arr_is_twelve_times_exact_mrr() -> None:
    mrr = monthly_recurring(10000, QUARTERLY)

    assert str(present(mrr, "EUR")) == "33.33"
    # 12 × 33.33 would be 399.96, but ARR rounds the exact 12 × 100.00 / 3 once.
    assert str(present(mrr * 12, "EUR")) == "400.00"


def test_sum_of_cents_is_exact() -> None:
    total = sum(to_minor_units("0.01", "EUR") for _ in range(1000))

    assert total == 1000
    assert str(from_minor_units(total, "EUR")) == "10.00"


def test_sum_of_mrr_rounds_once() -> None:
    # Each 0.01 per quarter is a third of a cent a month, which alone rounds to 0.00.
    total = sum(monthly_recurring(1, QUARTERLY) for _ in range(3))

    assert str(present(monthly_recurring(1, QUARTERLY), "EUR")) == "0.00"
    assert str(present(total, "EUR")) == "0.01"


@pytest.mark.parametrize(
    ("frequency", "start", "end", "periods"),
    [
        (MONTHLY, date(2026, 1, 1), date(2026, 12, 31), 12),
        (QUARTERLY, date(2026, 1, 1), date(2026, 12, 31), 4),
        (QUARTERLY, date(2026, 1, 1), date(2027, 1, 31), 5),
        (MONTHLY, date(2026, 1, 1), date(2026, 1, 15), 1),
        (MONTHLY, date(2026, 1, 15), date(2026, 2, 14), 1),
        (MONTHLY, date(2026, 1, 15), date(2026, 2, 15), 2),
        (HALF_YEARLY, date(2026, 1, 1), date(2026, 7, 1), 2),
        (YEARLY, date(2026, 1, 1), date(2027, 6, 30), 2),
        (ONE_OFF, date(2026, 1, 1), date(2030, 12, 31), 1),
    ],
)
def test_billing_periods(
    frequency: PaymentFrequency, start: date, end: date, periods: int
) -> None:
    assert billing_periods(frequency, start, end) == periods


@pytest.mark.parametrize(
    ("amount_minor", "frequency", "start", "end", "total"),
    [
        (30000, QUARTERLY, date(2026, 1, 1), date(2027, 6, 30), 180000),
        (10000, MONTHLY, date(2026, 1, 1), date(2026, 1, 15), 10000),
        (10000, QUARTERLY, date(2026, 1, 1), date(2027, 1, 31), 50000),
        (50000, ONE_OFF, date(2026, 1, 1), None, 50000),
        (50000, ONE_OFF, date(2026, 1, 1), date(2028, 12, 31), 50000),
    ],
)
def test_total_contract_value(
    amount_minor: int,
    frequency: PaymentFrequency,
    start: date,
    end: date | None,
    total: int,
) -> None:
    assert total_contract_value(amount_minor, frequency, start, end) == total


def test_total_contract_value_open_ended_recurring_is_none() -> None:
    assert total_contract_value(10000, MONTHLY, date(2026, 1, 1), None) is None


@pytest.mark.parametrize(
    ("amount", "code", "message"),
    [
        (
            "100.0000000000000000000000000001",
            "too_many_decimals",
            "Amount 100.0000000000000000000000000001 has more than 2 decimal "
            "places, the most EUR allows: round it to 2 places.",
        ),
        (
            "0." + "0" * 2_000_000 + "1",
            "too_many_decimals",
            "Amount 0.00000000000000000000000000000000000000… (2000003 characters) "
            "has more than 2 decimal places, the most EUR allows: round it to 2 "
            "places.",
        ),
        (
            "9" * 1_000_000,
            "amount_too_large",
            "Amount 9999999999999999999999999999999999999999… (1000000 characters) "
            "is too large to store: the maximum is 92233720368547758.07.",
        ),
    ],
)
def test_long_amounts_rejected_exactly(amount: str, code: str, message: str) -> None:
    with pytest.raises(MoneyError) as raised:
        to_minor_units(amount, "EUR")

    assert raised.value.code == code
    assert raised.value.message == message
