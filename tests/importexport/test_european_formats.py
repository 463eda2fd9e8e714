"""European registers: semicolons, Dutch headers, € amounts, day-first dates, ja/nee."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from contractgql.accounts import get_or_create_organization
from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.importexport.values import (
    parse_amount,
    parse_bool,
    parse_date,
    parse_period,
)
from contractgql.models import Client, Contract

DUTCH_REGISTER = (
    "Contractnummer;Naam;Klant;KvK nummer;BTW nummer;Begindatum;Einddatum;Bedrag;"
    "Betaalfrequentie;Stilzwijgende verlenging;Opzegtermijn;BTW tarief\r\n"
    "EU-1;Onderhoud;Bakkerij De Vries B.V.;12345678;NL001234567B01;01-01-2027;"
    "31-12-2027;€ 1.234,56;maandelijks;ja;2 maanden;21%\r\n"
    "EU-2;Licentie;Bakkerij De Vries B.V.;12345678;;1-3-2027;28-2-2028;€ 12.000,-;"
    "jaarlijks;nee;3 mnd;9\r\n"
    "EU-3;Hosting;Jansen & Zn;;;15.04.2027;14.04.2028;1.234.567,89;per kwartaal;Ja;"
    "30 dagen;21,0 %\r\n"
)

# number: (start, end, cents, frequency, auto-renewal, notice, VAT basis points)
EXPECTED = {
    "EU-1": (
        date(2027, 1, 1),
        date(2027, 12, 31),
        123456,
        "monthly",
        True,
        (2, "months"),
        2100,
    ),
    "EU-2": (
        date(2027, 3, 1),
        date(2028, 2, 28),
        1200000,
        "yearly",
        False,
        (3, "months"),
        900,
    ),
    "EU-3": (
        date(2027, 4, 15),
        date(2028, 4, 14),
        123456789,
        "quarterly",
        True,
        (30, "days"),
        2100,
    ),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 maanden", (2, "months")),
        ("3 mnd", (3, "months")),
        ("3 mnd.", (3, "months")),
        ("30 dagen", (30, "days")),
        ("6 weken", (6, "weeks")),
        ("1 jaar", (12, "months")),
    ],
)
def test_dutch_periods(text: str, expected: tuple[int, str]) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€ 1.234,56", Decimal("1234.56")),
        ("€1.234,56", Decimal("1234.56")),
        ("1.234,56 €", Decimal("1234.56")),
        ("€ 1.234,-", Decimal("1234")),
        ("EUR 1.234.567,89", Decimal("1234567.89")),
    ],
)
def test_euro_amounts(text: str, expected: Decimal) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31-12-2027", date(2027, 12, 31)),
        ("31/12/2027", date(2027, 12, 31)),
        ("31.12.2027", date(2027, 12, 31)),
        ("1-3-2027", date(2027, 3, 1)),
        ("31 december 2027", date(2027, 12, 31)),
        ("1 mei 2027", date(2027, 5, 1)),
    ],
)
def test_day_first_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ja", True), ("Ja", True), ("j", True), ("nee", False), ("NEE", False)],
)
def test_dutch_yes_no(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


async def test_semicolon_register_import(settings, tmp_path: Path) -> None:
    organization = await get_or_create_organization(f"EU {uuid.uuid4().hex[:10]}")
    path = tmp_path / "contracten.csv"
    path.write_text(DUTCH_REGISTER, encoding="utf-8")

    report = await import_file(path, organization, ImportOptions())

    assert report.errors == []
    assert report.count("created") == 3
    contracts = await Contract.filter(organization_id=organization.id)
    found = {
        contract.number: (
            contract.start_date,
            contract.end_date,
            contract.amount_minor,
            contract.payment_frequency.value,
            contract.auto_renewal,
            (contract.notice_count, contract.notice_unit.value)
            if contract.notice_unit
            else None,
            contract.vat_rate_bp,
        )
        for contract in contracts
    }
    assert found == EXPECTED
    assert {contract.currency for contract in contracts} == {"EUR"}
    clients = await Client.filter(organization_id=organization.id).order_by("name")
    assert [(c.name, c.coc_number, c.vat_number) for c in clients] == [
        ("Bakkerij De Vries B.V.", "12345678", "NL001234567B01"),
        ("Jansen & Zn", None, None),
    ]
