"""The XLSX export at /export/contracts.xlsx, through HTTP requests to the ASGI app."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from tests.conftest import Api, Tenant, make_tenant
from tests.graphql.helpers import amsterdam_today, create_client, create_contract
from tests.importexport.test_export import (
    ALL_HEADERS,
    NON_FINANCIAL_HEADERS,
    create_financial_contract,
    create_formula_contracts,
    formula_values,
)

from contractgql.config import Settings
from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.importexport.xlsx_export import XLSX_MEDIA_TYPE, is_exact_number

URL = "/export/contracts.xlsx"
# Values of FINANCIAL_CONTRACT as the sheet's XML stores them.
FINANCIAL_XML_VALUES = ("3000.99", "1000.33", "12003.96", "<v>19</v>", "2.75", "CPI")


async def get_xlsx(
    client: httpx.AsyncClient, tenant: Tenant, role: str | None, params: Any = None
) -> httpx.Response:
    headers = {}
    if role is not None:
        headers["Authorization"] = f"Bearer {tenant.tokens[role]}"
    return await client.get(URL, params=params, headers=headers)


def sheet_of(response: httpx.Response) -> Worksheet:
    assert response.status_code == 200, response.text
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Contracts"]
    sheet = workbook["Contracts"]
    assert isinstance(sheet, Worksheet)
    return sheet


def sheet_xml(response: httpx.Response) -> str:
    """Return the XML of the only worksheet, where the stored cell values are."""
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def rows_of(sheet: Worksheet) -> tuple[list[str], list[dict[str, Any]]]:
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(value) for value in rows[0]]
    return header, [dict(zip(header, row, strict=True)) for row in rows[1:]]


async def exported_names(
    api: Api, role: str = "admin", params: Any = None
) -> list[str]:
    _header, rows = rows_of(
        sheet_of(await get_xlsx(api.client, api.tenant, role, params))
    )
    return [row["name"] for row in rows]


async def test_finance_xlsx_exact_amounts(api: Api) -> None:
    contract = await create_financial_contract(api)

    response = await get_xlsx(api.client, api.tenant, "finance")

    today = amsterdam_today().isoformat()
    assert response.headers["content-type"] == XLSX_MEDIA_TYPE
    assert response.headers["content-disposition"] == (
        f'attachment; filename="contracts-{today}.xlsx"'
    )
    assert response.headers["content-length"] == str(len(response.content))
    sheet = sheet_of(response)
    header, rows = rows_of(sheet)
    assert header == ALL_HEADERS
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == contract["id"]
    assert row["currency"] == "EUR"
    assert row["start_date"] == datetime(2020, 1, 1)
    assert row["notice_deadline"] == datetime(2020, 9, 30)
    assert row["auto_renewal"] is True
    assert row["notice_period"] == "3 months"
    assert row["tags"] == "gold; renewal"
    xml = sheet_xml(response)
    for value in ("3000.99", "1000.33", "12003.96", "2.75"):
        assert f"<v>{value}</v>" in xml
    assert "<v>19</v>" in xml


async def test_xlsx_cell_types(api: Api) -> None:
    await create_financial_contract(api)

    sheet = sheet_of(await get_xlsx(api.client, api.tenant, "finance"))

    cells = {cell.value: cell for cell in sheet[1]}
    data = {header: sheet.cell(2, index + 1) for index, header in enumerate(cells)}
    assert data["amount"].data_type == "n"
    assert data["amount"].number_format == "0.00"
    assert data["amount"].value == pytest.approx(3000.99)
    assert data["total_contract_value"].number_format == "0.00"
    assert data["vat_rate"].number_format == "0.00"
    assert data["start_date"].is_date
    assert data["start_date"].number_format == "yyyy-mm-dd"
    assert data["name"].data_type == "s"
    assert data["auto_renewal"].data_type == "b"


@pytest.mark.parametrize("role", ["sales", "account_manager", "integrator"])
async def test_xlsx_without_financial_columns(api: Api, role: str) -> None:
    contract = await create_financial_contract(api)

    response = await get_xlsx(api.client, api.tenant, role)

    header, rows = rows_of(sheet_of(response))
    assert header == NON_FINANCIAL_HEADERS
    assert rows[0]["id"] == contract["id"]
    assert rows[0]["currency"] == "EUR"
    xml = sheet_xml(response)
    for text in FINANCIAL_XML_VALUES:
        assert text not in xml


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Expired", "Running"]),
        ({"status": "EXPIRED"}, ["Expired"]),
        ({"search": "runn"}, ["Running"]),
        ({"end_date_to": "2019-12-30"}, []),
    ],
)
async def test_xlsx_filters(
    api: Api, params: dict[str, str], expected: list[str]
) -> None:
    client_id = await create_client(api, "North BV")
    await create_contract(
        api,
        client_id,
        {"name": "Expired", "startDate": "2019-01-01", "endDate": "2019-12-31"},
    )
    await create_contract(
        api,
        client_id,
        {"name": "Running", "startDate": "2020-01-01", "endDate": "2099-06-30"},
    )

    names = await exported_names(api, "admin", params)

    assert names == expected


async def test_xlsx_other_organization_never_exported(
    api: Api, settings: Settings
) -> None:
    other = Api(api.client, await make_tenant(settings))
    other_client = await create_client(other, "Foreign BV")
    await create_contract(other, other_client, {"name": "Foreign"})
    own_client = await create_client(api, "Own BV")
    await create_contract(api, own_client, {"name": "Own"})

    own = await exported_names(api, "admin")
    filtered = await exported_names(api, "admin", {"client_id": other_client})
    foreign = await exported_names(other, "finance")

    assert own == ["Own"]
    assert filtered == []
    assert foreign == ["Foreign"]


async def test_xlsx_formula_cells_neutralized(api: Api) -> None:
    client_id = await create_client(api, "=cmd|' /C calc'!A0")
    await create_contract(api, client_id, {"name": "=1+1", "number": "-42"})
    await create_contract(api, client_id, {"name": "+SUM(A1:A2)"})
    await create_contract(api, client_id, {"name": "@SUM(A1)"})
    await create_contract(api, client_id, {"name": "#N/A"})

    response = await get_xlsx(api.client, api.tenant, "admin")

    sheet = sheet_of(response)
    _header, rows = rows_of(sheet)
    names = [row["name"] for row in rows]
    assert names == ["'=1+1", "'+SUM(A1:A2)", "'@SUM(A1)", "#N/A"]
    assert rows[0]["number"] == "'-42"
    assert {row["client"] for row in rows} == {"'=cmd|' /C calc'!A0"}
    types = {cell.data_type for row in sheet.iter_rows(min_row=2) for cell in row}
    assert "f" not in types
    assert "e" not in types
    assert "<f>" not in sheet_xml(response)


async def test_xlsx_large_amount_is_exact_text(api: Api) -> None:
    client_id = await create_client(api, "Big BV")
    await create_contract(
        api,
        client_id,
        {"name": "Huge", "amount": "12345678901234.56", "currency": "EUR"},
    )

    sheet = sheet_of(await get_xlsx(api.client, api.tenant, "finance"))

    _header, rows = rows_of(sheet)
    assert rows[0]["amount"] == "12345678901234.56"


@pytest.mark.parametrize(
    ("value", "exact"),
    [
        ("3000.99", True),
        ("0.01", True),
        ("9999999999999.99", True),
        ("10000000000000.01", False),
        ("123456789012345678.91", False),
        ("1E+3", True),
    ],
)
def test_is_exact_number(value: str, exact: bool) -> None:
    assert is_exact_number(Decimal(value)) is exact


async def test_xlsx_rejects_like_csv(api: Api) -> None:
    unknown = await get_xlsx(api.client, api.tenant, "admin", {"colour": "red"})
    anonymous = await get_xlsx(api.client, api.tenant, None)

    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"


async def test_xlsx_formula_cells_import_unchanged(api: Api, tmp_path: Path) -> None:
    await create_formula_contracts(api)
    before = await formula_values(api)
    response = await get_xlsx(api.client, api.tenant, "admin")
    path = tmp_path / "contracts.xlsx"
    path.write_bytes(response.content)

    report = await import_file(path, api.tenant.organization, ImportOptions())
    _header, rows = rows_of(sheet_of(await get_xlsx(api.client, api.tenant, "admin")))

    assert report.errors == []
    assert report.created_clients == 0
    assert [(o.number, o.outcome) for o in report.outcomes] == [
        ("-42", "unchanged"),
        ("N-2", "unchanged"),
    ]
    assert await formula_values(api) == before
    assert [(row["number"], row["name"], row["client"]) for row in rows] == [
        ("'-42", "'=1+1", '\'=HYPERLINK("http://x")'),
        ("N-2", "'+SUM(A1:A2)", "'-Dash BV"),
    ]
