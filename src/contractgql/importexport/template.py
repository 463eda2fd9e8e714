"""The XLSX import template: the importer's headers, drop-down lists and an example.

`GET /import/template.xlsx` authenticates like the CSV export and serves the
template of the caller's organization: its contract types fill the type
drop-down and its currency comes first. `contractgql import-template` writes
the same file. The importer rejects the example row, recognised by its contract
number and client, so a template filled in below it imports no example.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from starlette.requests import Request
from starlette.responses import Response

from contractgql.errors import AuthenticationError
from contractgql.graphql.context import Services
from contractgql.importexport.export import error_response
from contractgql.importexport.rows import (
    TEMPLATE_EXAMPLE_CLIENT,
    TEMPLATE_EXAMPLE_NUMBER,
)
from contractgql.models import ContractType, Organization
from contractgql.security.viewer import authenticate

logger = logging.getLogger(__name__)

TEMPLATE_PATH = "/import/template.xlsx"
TEMPLATE_FILE_NAME = "contract-import-template.xlsx"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Rows below the header that the drop-down lists cover.
TEMPLATE_ROWS = 10_000
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "AUD")
STATUSES = ("signed", "draft", "cancelled")
PAYMENT_FREQUENCIES = ("monthly", "quarterly", "half-yearly", "yearly", "one-off")
YES_NO = ("yes", "no")


@dataclass(frozen=True)
class TemplateColumn:
    header: str
    example: object
    width: int = 18
    # Values of the drop-down list, or None for a free cell.
    choices: tuple[str, ...] | None = None
    # Whether a value outside the list is rejected, or only warned about.
    strict: bool = True
    number_format: str | None = None


def template_columns(
    contract_types: list[str], currency: str
) -> tuple[TemplateColumn, ...]:
    """Return the template's columns, with the organization's types and currency."""
    currencies = (currency, *(code for code in CURRENCIES if code != currency))
    return (
        TemplateColumn("Contract number", TEMPLATE_EXAMPLE_NUMBER, 16),
        TemplateColumn("Name", "Maintenance and support", 30),
        TemplateColumn("Client", TEMPLATE_EXAMPLE_CLIENT, 26),
        TemplateColumn("Client CoC number", "12345678"),
        TemplateColumn("Client VAT number", "NL123456789B01"),
        TemplateColumn(
            "Contract type",
            contract_types[0] if contract_types else None,
            24,
            tuple(contract_types) or None,
        ),
        TemplateColumn("Status", "signed", 12, STATUSES),
        TemplateColumn("Start date", date(2027, 1, 1), 12, number_format="yyyy-mm-dd"),
        TemplateColumn("End date", date(2027, 12, 31), 12, number_format="yyyy-mm-dd"),
        TemplateColumn(
            "Signed date", date(2026, 12, 15), 12, number_format="yyyy-mm-dd"
        ),
        TemplateColumn("Amount", 1234.56, 14, number_format="#,##0.00"),
        TemplateColumn("Currency", currency, 10, currencies, strict=False),
        TemplateColumn("VAT rate", 21, 10),
        TemplateColumn("Payment frequency", "monthly", 18, PAYMENT_FREQUENCIES),
        TemplateColumn("Auto renewal", "yes", 12, YES_NO),
        TemplateColumn("Notice period", "3 months", 14),
        TemplateColumn("Renewal term", "12 months", 14),
        TemplateColumn("Indexation", 2.5, 11),
        TemplateColumn(
            "Description",
            "Example row: overwrite it with a contract or delete it.",
            40,
        ),
        TemplateColumn("Owner e-mail", None, 24),
        TemplateColumn("Tags", "example", 16),
    )


async def build_template(organization: Organization) -> bytes:
    """Return the XLSX template of `organization` as bytes."""
    names = await (
        ContractType.filter(organization_id=organization.id, archived_at=None)
        .order_by("name")
        .values_list("name", flat=True)
    )
    columns = template_columns(
        [str(name) for name in names], organization.default_currency
    )
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    sheet.title = "Contracts"
    lists = workbook.create_sheet("Lists")
    lists.sheet_state = "hidden"

    for index, column in enumerate(columns, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        header = sheet.cell(row=1, column=index, value=column.header)
        header.font = Font(bold=True)
        example = sheet.cell(row=2, column=index, value=column.example)
        if column.number_format:
            example.number_format = column.number_format
        sheet.column_dimensions[letter].width = column.width
        if column.choices:
            _add_drop_down(sheet, lists, index, letter, column)
    sheet.freeze_panes = "A2"

    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _add_drop_down(
    sheet: Worksheet,
    lists: Worksheet,
    index: int,
    letter: str,
    column: TemplateColumn,
) -> None:
    """Put the choices on the hidden Lists sheet and validate the column against them.

    A range on another sheet has no length limit, unlike a list written into the
    validation itself, which Excel caps at 255 characters.
    """
    choices = column.choices or ()
    for row, choice in enumerate(choices, start=1):
        lists.cell(row=row, column=index, value=choice)
    source = f"Lists!${letter}$1:${letter}${len(choices)}"
    validation = DataValidation(
        type="list",
        formula1=source,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop" if column.strict else "warning",
        errorTitle=f"Invalid {column.header.lower()}",
        error=f"Choose {with_article(column.header.lower())} from the list.",
    )
    sheet.add_data_validation(validation)
    validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")


def with_article(noun: str) -> str:
    """Return `noun` after "a", or after "an" when it starts with a vowel letter.

    NOTE: the rule goes by the letter, not the sound, so it would write
    "an user". It fits the template's headers.
    """
    article = "an" if noun[:1].lower() in ("a", "e", "i", "o", "u") else "a"
    return f"{article} {noun}"


async def download_template(request: Request) -> Response:
    """Serve `GET /import/template.xlsx` to any logged-in user or API token."""
    services: Services = request.app.state.services
    try:
        viewer = await authenticate(
            request.headers.get("authorization"), services.signer, services.policy
        )
        if viewer is None:
            raise AuthenticationError(
                "You are not logged in: call the login mutation and send its token "
                "as 'Authorization: Bearer <token>'."
            )
    except AuthenticationError as error:
        return error_response(error, 401, {"WWW-Authenticate": "Bearer"})

    organization = await Organization.get(id=viewer.organization_id)
    content = await build_template(organization)
    return Response(
        content,
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{TEMPLATE_FILE_NAME}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
