"""Mapping free-text values of a register onto the fixed lists, with a preview."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from contractgql.accounts import get_or_create_organization
from contractgql.importexport.columns import resolve_columns
from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.importexport.tables import read_table
from contractgql.importexport.value_mapping import (
    PreviewLine,
    preview_values,
    value_mappings,
)
from contractgql.models import Contract, ContractType, Organization

REGISTER = """contract number;client;contract type;payment frequency;start date;vat rate
C-1;Acme BV;Onderhoud;Maandelijks;2026-01-01;21
C-2;Acme BV;onderhoud ;per maand;2026-01-01;21%
C-3;Globex;Licentie;jaarlijks;2026-01-01;19
C-4;Globex;Maintenance contract;yearly;2026-01-01;9
"""


@pytest.fixture
def register(tmp_path: Path) -> Path:
    path = tmp_path / "register.csv"
    path.write_text(REGISTER, encoding="utf-8")
    return path


async def _organization() -> Organization:
    organization = await get_or_create_organization(f"Map {uuid.uuid4().hex[:10]}")
    await ContractType.create(
        organization_id=organization.id, name="Maintenance contract"
    )
    await ContractType.create(organization_id=organization.id, name="Licence")
    return organization


async def _preview(
    path: Path, organization: Organization, items: list[str]
) -> list[PreviewLine]:
    table = read_table(path, None)
    columns = resolve_columns(table.headers, {})
    return await preview_values(table, columns, organization, value_mappings(items))


async def test_preview_lists_each_distinct_value(settings, register: Path) -> None:
    organization = await _organization()

    lines = await _preview(register, organization, [])

    assert [
        (line.field, line.source, line.rows, line.target, line.status) for line in lines
    ] == [
        (
            "contract_type",
            "Licentie",
            1,
            None,
            "no such contract type; closest is 'Licence'",
        ),
        (
            "contract_type",
            "Maintenance contract",
            1,
            "Maintenance contract",
            "recognised",
        ),
        ("contract_type", "Onderhoud", 2, None, "no such contract type; left empty"),
        ("payment_frequency", "jaarlijks", 1, "yearly", "recognised"),
        ("payment_frequency", "Maandelijks", 1, "monthly", "recognised"),
        ("payment_frequency", "per maand", 1, "monthly", "recognised"),
        ("payment_frequency", "yearly", 1, "yearly", "recognised"),
        ("vat_rate", "19", 1, None, "not one of the organization's VAT rates"),
        ("vat_rate", "21", 1, "21%", "recognised"),
        ("vat_rate", "21%", 1, "21%", "recognised"),
        ("vat_rate", "9", 1, "9%", "recognised"),
    ]


async def test_preview_with_explicit_mappings(settings, register: Path) -> None:
    organization = await _organization()

    lines = await _preview(
        register,
        organization,
        [
            "contract_type=onderhoud=Maintenance contract",
            "contract_type=Licentie=Licence",
            "vat_rate=19=21",
        ],
    )

    mapped = {(line.field, line.source): (line.target, line.status) for line in lines}
    assert mapped[("contract_type", "Onderhoud")] == (
        "Maintenance contract",
        "explicit",
    )
    assert mapped[("contract_type", "Licentie")] == ("Licence", "explicit")
    assert mapped[("vat_rate", "19")] == ("21%", "explicit")


async def test_import_applies_explicit_mappings(settings, register: Path) -> None:
    organization = await _organization()
    options = ImportOptions(
        value_mappings=value_mappings(
            ["contract_type=Onderhoud=Maintenance contract", "vat_rate=19=21"]
        )
    )

    report = await import_file(register, organization, options)

    assert report.count("created") == 4
    assert dict(report.unmapped_contract_types) == {"Licentie": 1}
    types = {
        c.number: c.contract_type_id
        for c in await Contract.filter(organization_id=organization.id)
    }
    maintenance = await ContractType.get(
        organization_id=organization.id, name="Maintenance contract"
    )
    assert types == {
        "C-1": maintenance.id,
        "C-2": maintenance.id,
        "C-3": None,
        "C-4": maintenance.id,
    }
    c3 = await Contract.get(organization_id=organization.id, number="C-3")
    assert c3.vat_rate_bp == 2100


async def test_import_rejects_unknown_vat_rate(settings, register: Path) -> None:
    organization = await _organization()

    report = await import_file(register, organization, ImportOptions())

    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (4, "vat rate", "19")
    ]
    assert "not one of your organization's rates" in report.errors[0].reason


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("contract_type", "is not FIELD=SOURCE=TARGET"),
        ("contract_type=Onderhoud", "is not FIELD=SOURCE=TARGET"),
        ("name=A=B", "has no fixed set of values"),
    ],
)
def test_map_value_option_errors(item: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        value_mappings([item])


async def test_preview_period_singular(settings, tmp_path: Path) -> None:
    path = tmp_path / "periods.csv"
    path.write_text(
        "number,client,start date,notice period,renewal term\n"
        "P-1,Acme,2026-01-01,1 maand,1 jaar\n"
        "P-2,Acme,2026-01-01,3 mnd,1 week\n",
        encoding="utf-8",
    )
    organization = await _organization()

    lines = await _preview(path, organization, [])

    assert [(line.field, line.source, line.target) for line in lines] == [
        ("notice_period", "1 maand", "1 month"),
        ("notice_period", "3 mnd", "3 months"),
        ("renewal_term", "1 jaar", "12 months"),
        ("renewal_term", "1 week", "1 week"),
    ]
