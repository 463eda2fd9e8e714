"""Field security on the rejected cells and warnings of import jobs, over HTTP.

The custom policy lets `sales` import (`contract:write`) without
`contract.financial:read`, so sales users read other users' import jobs but not
the values of the financial columns in them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from tests.conftest import Api, Tenant
from tests.documents.helpers import post_upload
from tests.importexport.test_import_jobs import START_IMPORT, start, wait_for_job

from contractgql.app import create_app
from contractgql.config import DEFAULT_POLICY_DIR, Settings
from contractgql.graphql.protection import describe_protected_fields
from contractgql.graphql.schema import schema
from contractgql.ids import decode_id
from contractgql.importexport.columns import CANONICAL_FIELDS
from contractgql.models import ImportJob
from contractgql.security.fields import IMPORT_FIELD_SOURCES
from contractgql.security.policy import Policy

HEADER = "number,name,client,start_date,amount,currency,vat_rate,indexation\r\n"
ROWS = (
    "F-1,Amount,Client 1,2027-01-01,twelve,EUR,21,2\r\n"
    "F-2,Currency,Client 1,2027-01-01,100.00,12.50,21,2\r\n"
    "F-3,VAT,Client 1,2027-01-01,100.00,EUR,abc,2\r\n"
    "F-4,Indexation,Client 1,2027-01-01,100.00,EUR,21,lots\r\n"
    "F-5,Date,Client 1,2027-13-45,100.00,EUR,21,2\r\n"
    "F-6,Shifted,Client 1,2027-01-01,1,250.00,EUR,21,2\r\n"
)

JOBS = """
query Jobs {
  importJobs(first: 10) {
    edges { node { id errors { row column value reason } } }
  }
}
"""

JOB = """
query Job($id: ID!) {
  importJob(id: $id) { errors { row column value reason } }
}
"""

CANCEL = """
mutation Cancel($id: ID!) {
  cancelImport(id: $id) { job { errors { row column value reason } } }
}
"""

HIDDEN_AMOUNT = (
    "The value and this explanation are hidden because they can show "
    "Contract.amount, which needs the 'contract.financial:read' permission."
)
HIDDEN_VAT = HIDDEN_AMOUNT.replace("Contract.amount", "Contract.vatRate")
HIDDEN_INDEXATION = HIDDEN_AMOUNT.replace("Contract.amount", "Contract.indexation")


@pytest_asyncio.fixture
async def sales_api(
    tmp_path: Path, settings: Settings, tenant: Tenant
) -> AsyncIterator[Api]:
    """Return an app whose policy lets sales import but not read amounts."""
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "model.conf").write_text((DEFAULT_POLICY_DIR / "model.conf").read_text())
    policy_csv = (DEFAULT_POLICY_DIR / "policy.csv").read_text()
    (folder / "policy.csv").write_text(policy_csv + "p, sales, contract, write\n")
    custom = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        policy_dir=folder,
    )
    app = create_app(custom, manage_database=False)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    )
    async with client:
        yield Api(client, tenant)
    describe_protected_fields(Policy.load(DEFAULT_POLICY_DIR), schema._schema)


async def _finished_job(api: Api) -> str:
    body = await start(api, (HEADER + ROWS).encode())
    job_id: str = body["data"]["startImport"]["job"]["id"]
    job = await wait_for_job(api, job_id)
    assert job["status"] == "SUCCEEDED", job
    return job_id


def _rows(errors: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (error["row"], error["column"], error["value"], error["reason"])
        for error in errors
    ]


def _invalid_percentage(value: str) -> str:
    return (
        f"Invalid percentage {value!r}: expected a number from 0 to 100, such as 21, "
        "21% or 2,5%."
    )


INVALID_DATE = (
    "Invalid date '2027-13-45': that day does not exist (month must be in 1..12); "
    "expected a date such as 2027-12-31, 31-12-2027 or 31/12/2027 (day first), or "
    "an Excel date number."
)
EXTRA_CELLS = (
    "The row has values beyond the last of the 8 header columns; a value probably "
    "contains an unquoted delimiter, so quote it or export the file again."
)
ADMIN_ERRORS = [
    (
        2,
        "amount",
        "twelve",
        "Invalid amount 'twelve': expected a number such as 45000, 45,000, "
        "1234.56 or € 1.234,56.",
    ),
    (
        3,
        "currency",
        "12.50",
        "Invalid currency '12.50': expected a 3-letter ISO 4217 code such as EUR, "
        "GBP or USD, or one of the symbols €, £ and $.",
    ),
    (4, "vat_rate", "abc", _invalid_percentage("abc")),
    (5, "indexation", "lots", _invalid_percentage("lots")),
    (6, "start_date", "2027-13-45", INVALID_DATE),
    (7, None, "2", EXTRA_CELLS),
    (
        7,
        "currency",
        "250.00",
        "Invalid currency '250.00': expected a 3-letter ISO 4217 code such as EUR, "
        "GBP or USD, or one of the symbols €, £ and $.",
    ),
    (7, "vat_rate", "EUR", _invalid_percentage("EUR")),
]
# The shifted row 7 shows an amount in its currency column, so every value of
# that row is hidden, whatever its column.
SALES_ERRORS = [
    (2, "amount", None, HIDDEN_AMOUNT),
    (3, "currency", None, HIDDEN_AMOUNT),
    (4, "vat_rate", None, HIDDEN_VAT),
    (5, "indexation", None, HIDDEN_INDEXATION),
    (6, "start_date", "2027-13-45", INVALID_DATE),
    (7, None, None, HIDDEN_AMOUNT),
    (7, "currency", None, HIDDEN_AMOUNT),
    (7, "vat_rate", None, HIDDEN_AMOUNT),
]


async def test_admin_reads_financial_errors(api: Api, sales_api: Api) -> None:
    job_id = await _finished_job(api)

    errors = (await api.data(JOB, {"id": job_id}))["importJob"]["errors"]

    assert _rows(errors) == ADMIN_ERRORS


async def test_sales_gets_financial_errors_hidden(api: Api, sales_api: Api) -> None:
    job_id = await _finished_job(api)

    listed = await sales_api.data(JOBS, role="sales")
    single = await sales_api.data(JOB, {"id": job_id}, role="sales")
    cancelled = await sales_api.data(CANCEL, {"id": job_id}, role="sales")

    errors = listed["importJobs"]["edges"][0]["node"]["errors"]
    assert _rows(errors) == SALES_ERRORS
    assert single["importJob"]["errors"] == errors
    assert cancelled["cancelImport"]["job"]["errors"] == errors


async def test_stored_errors_without_field(api: Api, sales_api: Api) -> None:
    job_id = await _finished_job(api)
    job = await ImportJob.get(id=decode_id(job_id)[1])
    job.errors = [
        {key: value for key, value in error.items() if key != "field"}
        for error in job.errors
    ]
    await job.save()

    errors = (await sales_api.data(JOB, {"id": job_id}, role="sales"))["importJob"][
        "errors"
    ]

    # Without the stored field, the shift of row 7 is unknown, so its VAT rate
    # column counts as a VAT rate, which is protected as well.
    expected = [*SALES_ERRORS[:-1], (7, "vat_rate", None, HIDDEN_VAT)]
    assert _rows(errors) == expected


def test_import_field_sources_complete() -> None:
    assert sorted(IMPORT_FIELD_SOURCES) == sorted(CANONICAL_FIELDS)
    type_map = schema._schema.type_map
    for sources in IMPORT_FIELD_SOURCES.values():
        for type_name, field_name in sources:
            assert field_name in type_map[type_name].fields, (type_name, field_name)  # type: ignore[attr-defined]


DECP = (
    '{"marches": [{"uid": "D-1", "objet": "Road works", "nature": "Marché", '
    '"acheteur": {"id": "21750001600019", "nom": "Ville"}, '
    '"dateNotification": "2024-01-15", "dureeMois": 12, "montant": 999999}]}'
)
WARNINGS = """
query Job($id: ID!) {
  importJob(id: $id) { warnings { row column value message } }
}
"""


async def test_decp_amount_warning_hidden(api: Api, sales_api: Api) -> None:
    response = await post_upload(
        api.client,
        api.tenant.tokens["admin"],
        START_IMPORT,
        {"file": None, "format": "DECP"},
        {"0": ("decp.json", ["variables.file"], DECP.encode())},
    )
    job_id: str = response.json()["data"]["startImport"]["job"]["id"]
    job = await wait_for_job(api, job_id)
    assert job["status"] == "SUCCEEDED", job

    admin = await api.data(WARNINGS, {"id": job_id})
    sales = await sales_api.data(WARNINGS, {"id": job_id}, role="sales")

    placeholder = {
        "row": 1,
        "column": "montant",
        "value": "999999",
        "message": "Placeholder amount (0, 1 or a run of nines) that buyers enter "
        "when the value is unknown, so the contract was imported without an "
        "amount. Fill it in by hand.",
    }
    unknown_type = {
        "row": 0,
        "column": "contract_type",
        "value": "'Marché' (1)",
        "message": "Contract types that do not exist were left empty. Create them, "
        "or import with createTypes, to set them.",
    }
    assert admin["importJob"]["warnings"] == [placeholder, unknown_type]
    assert sales["importJob"]["warnings"] == [
        {"row": 1, "column": "montant", "value": None, "message": HIDDEN_AMOUNT},
        unknown_type,
    ]
