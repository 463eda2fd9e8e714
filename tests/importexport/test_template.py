"""The XLSX import template: download, drop-down lists and importing its example."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import openpyxl
from tests.conftest import Api, Tenant

from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.models import Client, Contract, ContractType, Tag

TEMPLATE_URL = "/import/template.xlsx"
HEADERS = [
    "Contract number",
    "Name",
    "Client",
    "Client CoC number",
    "Client VAT number",
    "Contract type",
    "Status",
    "Start date",
    "End date",
    "Signed date",
    "Amount",
    "Currency",
    "VAT rate",
    "Payment frequency",
    "Auto renewal",
    "Notice period",
    "Renewal term",
    "Indexation",
    "Description",
    "Owner e-mail",
    "Tags",
]


async def download(api: Api, role: str = "sales") -> bytes:
    response = await api.client.get(
        TEMPLATE_URL, headers={"Authorization": f"Bearer {api.tenant.tokens[role]}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return response.content


async def test_template_needs_login(api: Api) -> None:
    response = await api.client.get(TEMPLATE_URL)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_template_headers_and_lists(api: Api, tenant: Tenant) -> None:
    organization_id = tenant.organization.id
    await ContractType.create(organization_id=organization_id, name="Maintenance")
    await ContractType.create(organization_id=organization_id, name="Licence")

    workbook = openpyxl.load_workbook(io.BytesIO(await download(api)))

    sheet = workbook["Contracts"]
    assert [cell.value for cell in sheet[1]] == HEADERS
    assert workbook["Lists"].sheet_state == "hidden"
    lists = workbook["Lists"]
    validations = {
        str(validation.sqref): validation.formula1
        for validation in sheet.data_validations.dataValidation
    }
    assert validations == {
        "F2:F10001": "Lists!$F$1:$F$2",
        "G2:G10001": "Lists!$G$1:$G$3",
        "L2:L10001": "Lists!$L$1:$L$10",
        "N2:N10001": "Lists!$N$1:$N$5",
        "O2:O10001": "Lists!$O$1:$O$2",
    }
    assert [lists.cell(row, 6).value for row in (1, 2)] == ["Licence", "Maintenance"]
    assert [lists.cell(row, 7).value for row in (1, 2, 3)] == [
        "signed",
        "draft",
        "cancelled",
    ]
    assert [lists.cell(row, 14).value for row in range(1, 6)] == [
        "monthly",
        "quarterly",
        "half-yearly",
        "yearly",
        "one-off",
    ]
    assert [lists.cell(row, 15).value for row in (1, 2)] == ["yes", "no"]
    assert lists.cell(1, 12).value == "EUR"
    messages = {
        str(validation.sqref): validation.error
        for validation in sheet.data_validations.dataValidation
    }
    assert messages == {
        "F2:F10001": "Choose a contract type from the list.",
        "G2:G10001": "Choose a status from the list.",
        "L2:L10001": "Choose a currency from the list.",
        "N2:N10001": "Choose a payment frequency from the list.",
        "O2:O10001": "Choose an auto renewal from the list.",
    }


async def test_template_example_rejected(
    api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    organization = tenant.organization
    path = tmp_path / "template.xlsx"
    path.write_bytes(await download(api))

    report = await import_file(path, organization, ImportOptions())

    assert report.count("rejected") == 1
    assert [(e.row, e.column, e.value, e.reason) for e in report.errors] == [
        (
            2,
            "Contract number",
            "EX-0001",
            "This is the import template's example row (contract EX-0001 of "
            "'Example Client B.V.'): overwrite it with a real contract or delete it.",
        )
    ]
    assert await Contract.filter(organization_id=organization.id).count() == 0
    assert await Client.filter(organization_id=organization.id).count() == 0


async def test_template_example_overwritten_imports(
    api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    """The example's other cells, kept as they are, import with every format."""
    organization = tenant.organization
    await ContractType.create(organization_id=organization.id, name="Maintenance")
    path = tmp_path / "template.xlsx"
    path.write_bytes(await download(api))
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Contracts"]
    sheet["A2"] = "MS-2027-01"
    sheet["C2"] = "Bakkerij De Korf B.V."
    workbook.save(path)

    report = await import_file(path, organization, ImportOptions())

    assert report.errors == []
    assert report.count("created") == 1
    assert report.ignored_columns == []
    contract = await Contract.get(organization_id=organization.id, number="MS-2027-01")
    client = await Client.get(id=contract.client_id)
    contract_type = await ContractType.get(id=contract.contract_type_id)
    tags = await Tag.filter(contracts__id=contract.id).values_list("name", flat=True)
    assert contract.name == "Maintenance and support"
    assert (client.name, client.coc_number, client.vat_number) == (
        "Bakkerij De Korf B.V.",
        "12345678",
        "NL123456789B01",
    )
    assert contract_type.name == "Maintenance"
    assert contract.stage.value == "signed"
    assert contract.start_date == date(2027, 1, 1)
    assert contract.end_date == date(2027, 12, 31)
    assert contract.signed_date == date(2026, 12, 15)
    assert contract.amount_minor == 123456
    assert contract.currency == "EUR"
    assert contract.vat_rate_bp == 2100
    assert contract.payment_frequency.value == "monthly"
    assert contract.auto_renewal is True
    assert (contract.notice_count, contract.notice_unit) == (3, "months")
    assert (contract.renewal_term_count, contract.renewal_term_unit) == (12, "months")
    assert contract.indexation_bp == 250
    assert list(tags) == ["example"]
