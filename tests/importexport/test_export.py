"""The CSV export at /export/contracts.csv, through HTTP requests to the ASGI app."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from openpyxl import load_workbook
from tests.conftest import Api, QueryCounter, Tenant, make_tenant
from tests.documents.helpers import post_upload
from tests.graphql.helpers import (
    ARCHIVE_CONTRACT,
    CONTRACT_LIST,
    CREATE_CLIENT,
    FIELD_ERRORS,
    amsterdam_today,
    create_client,
    create_contract,
    create_tag,
    join_client,
    user_id,
)

from contractgql.app import create_app
from contractgql.config import PROJECT_ROOT, Settings
from contractgql.graphql.protection import describe_protected_fields
from contractgql.graphql.schema import schema
from contractgql.ids import encode_id
from contractgql.importexport import export
from contractgql.importexport.export import format_cell
from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.models import Client, Contract, Organization, Tag
from contractgql.security.policy import Policy

URL = "/export/contracts.csv"
POLICY_DIR = PROJECT_ROOT / "policies"

ALL_HEADERS = [
    "id",
    "number",
    "name",
    "description",
    "client",
    "client_id",
    "client_coc_number",
    "client_vat_number",
    "contract_type",
    "status",
    "current_status",
    "sensitivity",
    "start_date",
    "end_date",
    "signed_date",
    "notice_deadline",
    "notice_period",
    "auto_renewal",
    "renewal_term",
    "payment_frequency",
    "currency",
    "amount",
    "vat_rate",
    "indexation",
    "renewal_price_agreement",
    "mrr",
    "arr",
    "total_contract_value",
    "owner_email",
    "tags",
    "archived_at",
]
FINANCIAL_HEADERS = {
    "amount",
    "vat_rate",
    "indexation",
    "renewal_price_agreement",
    "mrr",
    "arr",
    "total_contract_value",
}
NON_FINANCIAL_HEADERS = [h for h in ALL_HEADERS if h not in FINANCIAL_HEADERS]

CREATE_CONTRACT_TYPE = f"""
mutation CreateContractType($input: ContractTypeInput!) {{
  createContractType(input: $input) {{ record {{ id }} {FIELD_ERRORS} }}
}}
"""

# A quarterly contract that ended in 2020, so its status is EXPIRED on any later day.
# The financial values are chosen to occur nowhere else in an export.
FINANCIAL_CONTRACT = {
    "number": "C-2020-001",
    "name": "Managed hosting",
    "description": "Hosting of the web shop",
    "startDate": "2020-01-01",
    "endDate": "2020-12-31",
    "signedDate": "2019-12-15",
    "paymentFrequency": "QUARTERLY",
    "amount": "3000.99",
    "currency": "EUR",
    "vatRate": "19",
    "indexation": "2.75",
    "renewalPriceAgreement": "Indexed by the CPI plus one point",
    "autoRenewal": True,
    "renewalTerm": {"count": 1, "unit": "MONTHS"},
    "noticePeriod": {"count": 3, "unit": "MONTHS"},
}
FINANCIAL_TEXTS = ("3000.99", "1000.33", "12003.96", "19.00", "2.75", "CPI")


async def get_export(
    client: httpx.AsyncClient,
    tenant: Tenant,
    role: str | None,
    params: Any = None,
) -> httpx.Response:
    headers = {}
    if role is not None:
        headers["Authorization"] = f"Bearer {tenant.tokens[role]}"
    return await client.get(URL, params=params, headers=headers)


async def export_rows(
    api: Api, role: str, params: Any = None
) -> tuple[list[str], list[dict[str, str]]]:
    """Export as `role`, which must succeed, and return the header and the rows."""
    response = await get_export(api.client, api.tenant, role, params)
    assert response.status_code == 200, response.text
    reader = csv.DictReader(io.StringIO(response.text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


async def exported_names(
    api: Api, role: str = "admin", params: Any = None
) -> list[str]:
    _header, rows = await export_rows(api, role, params)
    return [row["name"] for row in rows]


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    return error


async def create_contract_type(api: Api, name: str) -> str:
    data = await api.data(CREATE_CONTRACT_TYPE, {"input": {"name": name}})
    payload = data["createContractType"]
    assert payload["errors"] == []
    type_id: str = payload["record"]["id"]
    return type_id


async def create_client_with_numbers(
    api: Api, name: str, coc_number: str, vat_number: str
) -> str:
    """Create a client with a CoC and a VAT number as admin and return its id."""
    client_input = {"name": name, "cocNumber": coc_number, "vatNumber": vat_number}
    data = await api.data(CREATE_CLIENT, {"input": client_input})
    payload = data["createClient"]
    assert payload["errors"] == []
    client_id: str = payload["record"]["id"]
    return client_id


async def create_financial_contract(api: Api) -> dict[str, Any]:
    """Create FINANCIAL_CONTRACT with a type, two tags and the finance user as owner.

    Its VAT rate of 19% becomes one of the organization's rates.
    """
    await Organization.filter(id=api.tenant.organization.id).update(
        vat_rates=[2100, 1900, 900, 0]
    )
    client_id = await create_client_with_numbers(
        api, "Acme BV", "87654321", "NL123456789B01"
    )
    type_id = await create_contract_type(api, "Hosting")
    tags = [await create_tag(api, "renewal"), await create_tag(api, "gold")]
    fields = {
        **FINANCIAL_CONTRACT,
        "contractTypeId": type_id,
        "ownerId": user_id(api.tenant, "finance"),
        "tagIds": tags,
    }
    contract = await create_contract(api, client_id, fields)
    contract["clientId"] = client_id
    return contract


# --- Content and columns ------------------------------------------------------------


async def test_finance_export_exact_content(api: Api) -> None:
    contract = await create_financial_contract(api)

    response = await get_export(api.client, api.tenant, "finance")

    today = amsterdam_today().isoformat()
    owner = api.tenant.emails["finance"]
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="contracts-{today}.csv"'
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"id,number,")
    assert response.text == (
        ",".join(ALL_HEADERS) + "\r\n"
        f"{contract['id']},C-2020-001,Managed hosting,Hosting of the web shop,"
        f"Acme BV,{contract['clientId']},87654321,NL123456789B01,Hosting,SIGNED,"
        "EXPIRED,NORMAL,2020-01-01,2020-12-31,2019-12-15,2020-09-30,"
        "3 months,true,1 month,QUARTERLY,EUR,3000.99,19.00,2.75,"
        "Indexed by the CPI plus one point,1000.33,12003.96,12003.96,"
        f"{owner},gold; renewal,\r\n"
    )


async def test_export_matches_graphql_values(api: Api) -> None:
    contract = await create_financial_contract(api)

    _header, rows = await export_rows(api, "finance")

    row = rows[0]
    assert row["id"] == contract["id"]
    assert row["amount"] == contract["amount"]
    assert row["vat_rate"] == contract["vatRate"]
    assert row["mrr"] == contract["mrr"]
    assert row["arr"] == contract["arr"]
    assert row["total_contract_value"] == contract["totalContractValue"]
    assert row["notice_deadline"] == contract["noticeDeadline"]
    assert row["current_status"] == contract["status"]
    assert row["status"] == contract["stage"]


@pytest.mark.parametrize("role", ["sales", "account_manager", "integrator"])
async def test_export_without_financial_columns(api: Api, role: str) -> None:
    contract = await create_financial_contract(api)

    response = await get_export(api.client, api.tenant, role)

    assert response.status_code == 200
    header, _, body = response.text.partition("\r\n")
    assert header.split(",") == NON_FINANCIAL_HEADERS
    assert body.startswith(f"{contract['id']},C-2020-001,Managed hosting,")
    for text in FINANCIAL_TEXTS:
        assert text not in response.text


async def test_management_export_has_every_column(api: Api) -> None:
    await create_financial_contract(api)

    header, rows = await export_rows(api, "management")

    assert header == ALL_HEADERS
    assert rows[0]["amount"] == "3000.99"


async def test_export_blank_optional_values(api: Api) -> None:
    client_id = await create_client(api, "Plain BV")
    contract = await create_contract(
        api, client_id, {"name": "Open-ended", "startDate": "2020-03-01"}
    )

    _header, rows = await export_rows(api, "finance")

    assert rows == [
        {
            **dict.fromkeys(ALL_HEADERS, ""),
            "id": contract["id"],
            "name": "Open-ended",
            "client": "Plain BV",
            "client_id": client_id,
            "status": "SIGNED",
            "current_status": "ACTIVE",
            "sensitivity": "NORMAL",
            "start_date": "2020-03-01",
            "auto_renewal": "false",
            "payment_frequency": contract["paymentFrequency"],
            "currency": "EUR",
            # The creator becomes the owner when the input names none.
            "owner_email": api.tenant.emails["admin"],
        }
    ]


async def test_export_empty_is_header_only(api: Api) -> None:
    response = await get_export(api.client, api.tenant, "finance")

    assert response.status_code == 200
    assert response.text == ",".join(ALL_HEADERS) + "\r\n"


async def test_head_request_reads_no_contracts(
    api: Api, count_queries: QueryCounter
) -> None:
    await create_financial_contract(api)
    headers = {"Authorization": f"Bearer {api.tenant.tokens['finance']}"}
    count_queries.statements.clear()

    response = await api.client.head(URL, headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content == b""
    assert "content-length" not in response.headers
    contract_reads = [s for s in count_queries.statements if 'FROM "contracts"' in s]
    assert contract_reads == []


# --- Record visibility ------------------------------------------------------------


async def test_confidential_rows_by_role(api: Api) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id, {"name": "Open"})
    await create_contract(
        api, client_id, {"name": "Secret", "sensitivity": "CONFIDENTIAL"}
    )
    await create_contract(
        api,
        client_id,
        {
            "name": "Secret of sales",
            "sensitivity": "CONFIDENTIAL",
            "ownerId": user_id(api.tenant, "sales"),
        },
    )

    sales = await exported_names(api, "sales")
    integrator = await exported_names(api, "integrator")
    finance = await exported_names(api, "finance")

    assert sales == ["Open", "Secret of sales"]
    assert integrator == ["Open"]
    assert finance == ["Open", "Secret", "Secret of sales"]


async def test_project_staff_sees_project_clients(api: Api) -> None:
    member_client = await create_client(api, "Member client")
    other_client = await create_client(api, "Other client")
    await create_contract(api, member_client, {"name": "Support", "amount": "777.77"})
    await create_contract(
        api, member_client, {"name": "Hidden", "sensitivity": "CONFIDENTIAL"}
    )
    await create_contract(api, other_client, {"name": "Elsewhere"})
    before = await exported_names(api, "project_staff")
    await join_client(api, member_client, "project_staff")

    header, rows = await export_rows(api, "project_staff")

    assert before == []
    assert [row["name"] for row in rows] == ["Support"]
    assert header == NON_FINANCIAL_HEADERS
    assert "777.77" not in repr(rows)


async def test_other_organization_never_exported(api: Api, settings: Settings) -> None:
    other = Api(api.client, await make_tenant(settings))
    other_client = await create_client(other, "Foreign BV")
    await create_contract(other, other_client, {"name": "Foreign"})
    own_client = await create_client(api, "Own BV")
    await create_contract(api, own_client, {"name": "Own"})

    admin = await exported_names(api, "admin")
    finance = await exported_names(api, "finance")
    filtered = await exported_names(api, "admin", {"client_id": other_client})
    foreign_admin = await exported_names(other, "admin")

    assert admin == ["Own"]
    assert finance == ["Own"]
    assert filtered == []
    assert foreign_admin == ["Foreign"]


# --- Filters ------------------------------------------------------------------------


@pytest_asyncio.fixture
async def filter_contracts(api: Api) -> dict[str, str]:
    """Create contracts that the filter tests tell apart; return the client ids."""
    north = await create_client(api, "North BV")
    south = await create_client(api, "South BV")
    await create_contract(
        api,
        north,
        {"name": "Expired north", "startDate": "2019-01-01", "endDate": "2019-12-31"},
    )
    await create_contract(
        api,
        north,
        {"name": "Running north", "startDate": "2020-01-01", "endDate": "2099-06-30"},
    )
    await create_contract(
        api, south, {"name": "Upcoming south", "startDate": "2098-01-01"}
    )
    await create_contract(
        api,
        south,
        {"name": "Draft south", "startDate": "2020-01-01", "stage": "DRAFT"},
    )
    archived = await create_contract(
        api,
        south,
        {"name": "Archived south", "startDate": "2019-01-01", "endDate": "2019-06-30"},
    )
    await api.data(ARCHIVE_CONTRACT, {"id": archived["id"]})
    return {"north": north, "south": south}


ALL_UNARCHIVED = ["Expired north", "Running north", "Upcoming south", "Draft south"]


async def test_filter_none_leaves_out_archived(
    api: Api, filter_contracts: dict[str, str]
) -> None:
    names = await exported_names(api)

    assert names == ALL_UNARCHIVED


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "EXPIRED"}, ["Expired north"]),
        ({"status": ["active", "UPCOMING"]}, ["Running north", "Upcoming south"]),
        ({"status": "DRAFT"}, ["Draft south"]),
        ({"search": "NORTH"}, ["Expired north", "Running north"]),
        ({"search": "south bv"}, ["Upcoming south", "Draft south"]),
        ({"search": "  "}, ALL_UNARCHIVED),
        ({"include_archived": "false"}, ALL_UNARCHIVED),
        ({"include_archived": "TRUE"}, [*ALL_UNARCHIVED, "Archived south"]),
        ({"end_date_from": "2019-12-31"}, ["Expired north", "Running north"]),
        ({"end_date_to": "2019-12-30"}, []),
        (
            {"end_date_from": "2019-01-01", "end_date_to": "2019-12-31"},
            ["Expired north"],
        ),
        (
            {"status": "EXPIRED", "include_archived": "true"},
            ["Expired north", "Archived south"],
        ),
    ],
)
async def test_filter_parameter(
    api: Api,
    filter_contracts: dict[str, str],
    params: dict[str, Any],
    expected: list[str],
) -> None:
    names = await exported_names(api, "admin", params)

    assert names == expected


async def test_archived_at_in_utc(api: Api, filter_contracts: dict[str, str]) -> None:
    _header, rows = await export_rows(api, "admin", {"include_archived": "true"})

    archived = {row["name"]: row["archived_at"] for row in rows}
    stamp = datetime.fromisoformat(archived.pop("Archived south"))
    assert stamp.utcoffset() == timedelta(0)
    assert stamp.date() >= date.today() - timedelta(days=1)
    assert set(archived.values()) == {""}


async def test_filter_client_id(api: Api, filter_contracts: dict[str, str]) -> None:
    north = filter_contracts["north"]
    south = filter_contracts["south"]

    north_only = await exported_names(api, "admin", {"client_id": north})
    both = await exported_names(api, "admin", {"client_id": [north, south]})
    sales = await exported_names(
        api, "sales", {"client_id": south, "status": "UPCOMING"}
    )

    assert north_only == ["Expired north", "Running north"]
    assert both == ALL_UNARCHIVED
    assert sales == ["Upcoming south"]


# --- Errors -------------------------------------------------------------------------

CONTRACT_ID = encode_id("Contract", 1)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "client_id=abc",
            "Query parameter client_id='abc' is not the id of a client: pass the "
            "`id` that the API returns for the client.",
        ),
        (
            f"client_id={CONTRACT_ID}",
            f"Query parameter client_id='{CONTRACT_ID}' is not the id of a client: "
            "pass the `id` that the API returns for the client.",
        ),
        (
            "client_id=",
            "Query parameter client_id='' is not the id of a client: pass the `id` "
            "that the API returns for the client.",
        ),
        (
            "status=OPEN",
            "Query parameter status='OPEN' is not a contract status: use one of "
            "DRAFT, CANCELLED, UPCOMING, ACTIVE, EXPIRED.",
        ),
        (
            "include_archived=yes",
            "Query parameter include_archived='yes' is not a boolean: use true or "
            "false.",
        ),
        (
            "end_date_from=31-12-2027",
            "Query parameter end_date_from='31-12-2027' is not a date: write it as "
            "YYYY-MM-DD, such as 2027-12-31.",
        ),
        (
            "end_date_to=2027-02-30",
            "Query parameter end_date_to='2027-02-30' is not a date: write it as "
            "YYYY-MM-DD, such as 2027-12-31.",
        ),
        (
            "end_date_from=2028-01-01&end_date_to=2027-01-01",
            "Query parameter end_date_from=2028-01-01 is after "
            "end_date_to=2027-01-01: swap the two dates or leave one out.",
        ),
        (
            "search=" + "x" * 201,
            "Query parameter search is invalid. The search text is 201 characters "
            "long or contains a NUL character: search for at most 200 characters of "
            "plain text.",
        ),
        (
            "search=a&search=b",
            "Query parameter search is given 2 times: give it at most once.",
        ),
        (
            "clientId=abc",
            "Unknown query parameter 'clientId': use only client_id, status, search, "
            "include_archived, end_date_from, end_date_to.",
        ),
    ],
)
async def test_invalid_parameter_rejected(api: Api, query: str, message: str) -> None:
    headers = {"Authorization": f"Bearer {api.tenant.tokens['admin']}"}

    response = await api.client.get(f"{URL}?{query}", headers=headers)

    assert response.status_code == 400
    error = error_of(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == message


async def test_too_many_client_ids_rejected(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "MAX_CLIENT_IDS", 2)
    client_id = encode_id("Client", 1)

    response = await get_export(
        api.client, api.tenant, "admin", {"client_id": [client_id] * 3}
    )

    assert response.status_code == 400
    assert error_of(response)["message"] == (
        "Query parameter client_id is given 3 times: give at most 2 client ids, or "
        "export without this filter."
    )


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (
            None,
            "You are not logged in: call the login mutation and send its token as "
            "'Authorization: Bearer <token>'.",
        ),
        (
            "Basic YWRtaW46cGFzc3dvcmQ=",
            "The Authorization header is not a bearer token: send 'Authorization: "
            "Bearer <token>' with the token from the login mutation.",
        ),
        ("Bearer not-a-token", None),
    ],
)
async def test_unauthenticated_rejected(
    api: Api, authorization: str | None, message: str | None
) -> None:
    await create_financial_contract(api)
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await api.client.get(URL, headers=headers)
    graphql = await api.client.post(
        "/graphql", json={"query": "{ viewer { roles } }"}, headers=headers
    )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    error = error_of(response)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == graphql.json()["errors"][0]["message"]
    if message is not None:
        assert error["message"] == message
    assert "Managed hosting" not in response.text


@pytest.fixture
def restore_schema() -> Iterator[None]:
    """Put the default policy's descriptions back after a test installs another."""
    yield
    describe_protected_fields(Policy.load(POLICY_DIR), schema._schema)


@pytest_asyncio.fixture
async def dates_protected(
    tmp_path: Path, settings: Settings, tenant: Tenant, restore_schema: None
) -> AsyncIterator[Api]:
    """An app whose policy also protects the signed date and archive time."""
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "model.conf").write_text((POLICY_DIR / "model.conf").read_text())
    (folder / "policy.csv").write_text(
        (POLICY_DIR / "policy.csv").read_text()
        + "g, Contract.signedDate, contract.financial\n"
        + "g, Contract.archivedAt, contract.financial\n"
    )
    custom = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        policy_dir=folder,
    )
    app = create_app(custom, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, tenant)


async def test_protected_filter_forbidden_like_graphql(dates_protected: Api) -> None:
    api = dates_protected
    graphql = await api.error(
        CONTRACT_LIST, {"filter": {"includeArchived": True}}, role="sales"
    )

    response = await get_export(
        api.client, api.tenant, "sales", {"include_archived": "true"}
    )

    assert response.status_code == 403
    error = error_of(response)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert graphql["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == graphql["message"]
    assert error["message"] == (
        "You may not filter on Contract.archivedAt: it needs the "
        "'contract.financial:read' permission. Remove it from the request or ask an "
        "administrator for a role that has it."
    )


async def test_newly_protected_field_dropped(dates_protected: Api) -> None:
    api = dates_protected
    await create_financial_contract(api)

    sales_header, sales_rows = await export_rows(api, "sales")
    finance_header, finance_rows = await export_rows(
        api, "finance", {"include_archived": "true"}
    )

    hidden = ("signed_date", "archived_at")
    assert sales_header == [h for h in NON_FINANCIAL_HEADERS if h not in hidden]
    assert "2019-12-15" not in repr(sales_rows)
    assert finance_header == ALL_HEADERS
    assert finance_rows[0]["signed_date"] == "2019-12-15"


# --- Formula injection --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (
            '=HYPERLINK("http://example.com","x")',
            '\'=HYPERLINK("http://example.com","x")',
        ),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("\nLine", "'\nLine"),
        ("\x00Null", "'\x00Null"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
    ],
)
def test_format_cell_escapes_formulas(value: str | None, cell: str) -> None:
    assert format_cell(value) == cell


async def test_formula_cells_escaped(api: Api) -> None:
    client_id = await create_client(api, "=cmd|' /C calc'!A0")
    tag = await create_tag(api, "@tag")
    await create_contract(
        api,
        client_id,
        {"name": "=1+1", "number": "-42", "tagIds": [tag]},
    )
    await create_contract(api, client_id, {"name": "+SUM(A1:A2)"})
    await create_contract(api, client_id, {"name": "Plain - name"})

    _header, rows = await export_rows(api, "admin")

    assert [row["name"] for row in rows] == ["'=1+1", "'+SUM(A1:A2)", "Plain - name"]
    assert rows[0]["number"] == "'-42"
    assert rows[0]["tags"] == "'@tag"
    assert {row["client"] for row in rows} == {"'=cmd|' /C calc'!A0"}


# --- Streaming ----------------------------------------------------------------------


async def asgi_get(
    app: Any, tenant: Tenant, role: str, *, disconnect_after: int | None = None
) -> list[dict[str, Any]]:
    """Send a GET of the export straight to the ASGI app; return what it sends.

    httpx's ASGI transport joins the body into one piece, so this shows the
    separate body messages of a streamed response. With `disconnect_after`, the
    client disconnects once that many body messages have arrived.
    """
    token = tenant.tokens[role].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"authorization", b"Bearer " + token)],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    messages: list[dict[str, Any]] = []
    request_sent = False
    disconnected = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # The response cancels this wait when it finishes first.
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        bodies = [m for m in messages if m["type"] == "http.response.body"]
        if disconnect_after is not None and len(bodies) >= disconnect_after:
            disconnected.set()

    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    return messages


async def test_export_streams_in_batches(
    api: Api, app: Any, monkeypatch: pytest.MonkeyPatch, count_queries: QueryCounter
) -> None:
    monkeypatch.setattr(export, "BATCH_SIZE", 3)
    client_id = await create_client(api)
    tag = await create_tag(api, "batch")
    created = [
        await create_contract(api, client_id, {"name": f"Batch {i}", "tagIds": [tag]})
        for i in range(7)
    ]
    count_queries.statements.clear()

    messages = await asgi_get(app, api.tenant, "finance")

    start, *bodies = messages
    chunks = [m["body"] for m in bodies if m["body"]]
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode(), newline="")))
    contract_reads = [
        s for s in count_queries.statements if 'FROM "contracts"' in s and "LIMIT" in s
    ]
    assert start["status"] == 200
    # The header, then one message for each batch of 3, 3 and 1 contracts.
    assert len(chunks) == 4
    assert chunks[0].decode() == ",".join(ALL_HEADERS) + "\r\n"
    assert [len(chunk.decode().splitlines()) for chunk in chunks[1:]] == [3, 3, 1]
    assert bodies[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert [row["id"] for row in rows] == [c["id"] for c in created]
    assert {row["tags"] for row in rows} == {"batch"}
    assert len(contract_reads) == 3


async def test_export_stops_when_client_disconnects(
    api: Api,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(export, "BATCH_SIZE", 2)
    client_id = await create_client(api)
    for i in range(7):
        await create_contract(api, client_id, {"name": f"Batch {i}"})

    with caplog.at_level(logging.INFO, logger="contractgql.importexport.export"):
        messages = await asgi_get(app, api.tenant, "finance", disconnect_after=2)
        for _ in range(100):
            if any("Contract export" in m for m in caplog.messages):
                break
            await asyncio.sleep(0.01)

    bodies = [m for m in messages if m["type"] == "http.response.body"]
    logged = [m for m in caplog.messages if m.startswith("Contract export")]
    assert 2 <= len(bodies) < 5
    assert all(m["more_body"] for m in bodies)
    assert len(logged) == 1
    assert logged[0].startswith("Contract export cancelled: ")


async def test_export_failure_propagates_and_logs(
    api: Api,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(export, "BATCH_SIZE", 2)
    client_id = await create_client(api)
    for i in range(3):
        await create_contract(api, client_id, {"name": f"Batch {i}"})
    fetch_related = export._fetch_related
    calls = 0

    async def fail_second_batch(*args: Any) -> export.RelatedValues:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("database connection lost")
        return await fetch_related(*args)

    monkeypatch.setattr(export, "_fetch_related", fail_second_batch)

    with (
        caplog.at_level(logging.INFO, logger="contractgql.importexport.export"),
        pytest.raises(RuntimeError, match="database connection lost"),
    ):
        await asgi_get(app, api.tenant, "finance")

    logged = [m for m in caplog.messages if m.startswith("Contract export")]
    assert len(logged) == 1
    assert logged[0].startswith("Contract export failed: ")
    assert ", 2 rows in " in logged[0]


async def test_export_logs_one_line_without_values(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    await create_financial_contract(api)

    with caplog.at_level(logging.INFO, logger="contractgql.importexport.export"):
        response = await get_export(api.client, api.tenant, "finance")

    records = [r for r in caplog.records if r.name == "contractgql.importexport.export"]
    assert response.status_code == 200
    assert len(records) == 1
    message = records[0].getMessage()
    assert records[0].levelno == logging.INFO
    assert message.startswith(
        f"Contract export finished: organization {api.tenant.organization.id}, "
        f"user {api.tenant.user_ids['finance']}, 1 rows in "
    )
    assert "Managed hosting" not in message
    assert "3000.99" not in message


# --- Import of an export ------------------------------------------------------------


async def test_export_imports_unchanged(api: Api, tmp_path: Path) -> None:
    await create_financial_contract(api)
    client_id = await create_client(api, "Second BV")
    await create_contract(
        api,
        client_id,
        {
            "number": "D-7",
            "name": "Draft, with a comma",
            "stage": "DRAFT",
            "startDate": "2030-02-01",
            "paymentFrequency": "HALF_YEARLY",
            "amount": "10",
            "noticePeriod": {"count": 1, "unit": "WEEKS"},
        },
    )
    response = await get_export(api.client, api.tenant, "admin")
    path = tmp_path / "contracts.csv"
    path.write_bytes(response.content)

    report = await import_file(path, api.tenant.organization, ImportOptions())

    assert response.status_code == 200
    assert report.errors == []
    assert [(o.number, o.outcome) for o in report.outcomes] == [
        ("C-2020-001", "unchanged"),
        ("D-7", "unchanged"),
    ]
    assert report.mapped_columns["status"] == "status"
    assert "current_status" in report.ignored_columns


async def create_formula_contracts(api: Api) -> None:
    """Create contracts whose text values start with formula characters."""
    formula_client = await create_client(api, '=HYPERLINK("http://x")')
    dash_client = await create_client(api, "-Dash BV")
    tag = await create_tag(api, "@tag")
    await create_contract(
        api, formula_client, {"name": "=1+1", "number": "-42", "tagIds": [tag]}
    )
    await create_contract(api, dash_client, {"name": "+SUM(A1:A2)", "number": "N-2"})


async def formula_values(api: Api) -> tuple[list[str], list[tuple[str, str]], int]:
    """Return the client names, each contract's (number, name), and the tag count."""
    organization_id = api.tenant.organization.id
    clients = await Client.filter(organization_id=organization_id).order_by("id")
    contracts = await Contract.filter(organization_id=organization_id).order_by("id")
    tags = await Tag.filter(organization_id=organization_id).count()
    return (
        [client.name for client in clients],
        [(contract.number or "", contract.name) for contract in contracts],
        tags,
    )


async def test_export_formula_cells_import_unchanged(api: Api, tmp_path: Path) -> None:
    await create_formula_contracts(api)
    before = await formula_values(api)
    response = await get_export(api.client, api.tenant, "admin")
    path = tmp_path / "contracts.csv"
    path.write_bytes(response.content)

    report = await import_file(path, api.tenant.organization, ImportOptions())
    again = await get_export(api.client, api.tenant, "admin")

    assert report.errors == []
    assert report.created_clients == 0
    assert [(o.number, o.outcome) for o in report.outcomes] == [
        ("-42", "unchanged"),
        ("N-2", "unchanged"),
    ]
    assert await formula_values(api) == before
    assert before == (
        ['=HYPERLINK("http://x")', "-Dash BV"],
        [("-42", "=1+1"), ("N-2", "+SUM(A1:A2)")],
        1,
    )
    # A second export is the same, so no round trip adds a quote.
    assert again.text == response.text


# --- Round trip into another organization -------------------------------------------

START_IMPORT = f"""
mutation Start($file: Upload!, $mapping: [ColumnMappingInput!]) {{
  startImport(input: {{file: $file, mapping: $mapping, createTypes: true}}) {{
    job {{ id }} {FIELD_ERRORS}
  }}
}}
"""
IMPORT_JOB = """
query Job($id: ID!) {
  importJob(id: $id) { status rowsCreated rowsRejected errors { row reason } }
}
"""
# Export columns whose values an import into another organization does not keep:
# the ids are new there, and the importer reads no sensitivity or renewal price
# agreement. The owner column is ignored below, because the owners are users of
# the first organization.
NOT_KEPT_HEADERS = {
    "id",
    "client_id",
    "sensitivity",
    "renewal_price_agreement",
    "owner_email",
}


async def create_round_trip_contracts(api: Api) -> None:
    """Create two contracts that fill every column an import reads."""
    acme = await create_client_with_numbers(
        api, "Acme BV", "12345678", "NL123456789B01"
    )
    dash = await create_client_with_numbers(api, "-Dash BV", "", "BE0123456789")
    type_id = await create_contract_type(api, "Hosting")
    tags = [await create_tag(api, "gold"), await create_tag(api, "renewal")]
    await create_contract(
        api,
        acme,
        {
            "number": "R-1",
            "name": "Managed hosting",
            "description": "First line, with a comma\nSecond line",
            "contractTypeId": type_id,
            "sensitivity": "CONFIDENTIAL",
            "startDate": "2026-01-01",
            "endDate": "2026-12-31",
            "signedDate": "2025-12-20",
            "paymentFrequency": "MONTHLY",
            "amount": "1200.50",
            "currency": "EUR",
            "vatRate": "21",
            "indexation": "2.5",
            "renewalPriceAgreement": "CPI plus one point",
            "autoRenewal": True,
            "renewalTerm": {"count": 12, "unit": "MONTHS"},
            "noticePeriod": {"count": 3, "unit": "MONTHS"},
            "tagIds": tags,
        },
    )
    await create_contract(
        api,
        dash,
        {
            "number": "R-2",
            "name": "Licence",
            "description": "=SUM(A1:A2)",
            "stage": "DRAFT",
            "startDate": "2027-03-01",
            "paymentFrequency": "YEARLY",
            "amount": "10",
            "currency": "USD",
            "vatRate": "0",
        },
    )


async def import_into(api: Api, file_name: str, content: bytes) -> dict[str, Any]:
    """Import a file through startImport as `api`'s admin; return the finished job."""
    response = await post_upload(
        api.client,
        api.tenant.tokens["admin"],
        START_IMPORT,
        {"file": None, "mapping": [{"header": "owner_email", "field": "-"}]},
        {"0": (file_name, ["variables.file"], content)},
    )
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["startImport"]
    assert payload["errors"] == []
    deadline = time.monotonic() + 60
    while True:
        job: dict[str, Any] = (
            await api.data(IMPORT_JOB, {"id": payload["job"]["id"]})
        )["importJob"]
        if job["status"] not in ("QUEUED", "RUNNING"):
            return job
        assert time.monotonic() < deadline, f"The import stayed {job['status']}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_export_round_trip_new_organization(
    api: Api, settings: Settings, suffix: str
) -> None:
    await create_round_trip_contracts(api)
    exported = await api.client.get(
        f"/export/contracts.{suffix}",
        headers={"Authorization": f"Bearer {api.tenant.tokens['admin']}"},
    )
    _header, before = await export_rows(api, "admin")
    target = Api(api.client, await make_tenant(settings))

    job = await import_into(target, f"contracts.{suffix}", exported.content)
    _header, after = await export_rows(target, "admin")

    assert exported.status_code == 200
    assert job == {
        "status": "SUCCEEDED",
        "rowsCreated": 2,
        "rowsRejected": 0,
        "errors": [],
    }
    assert [row["description"] for row in before] == [
        "First line, with a comma\nSecond line",
        "'=SUM(A1:A2)",
    ]
    assert [row["client_coc_number"] for row in before] == ["12345678", ""]
    assert [row["client_vat_number"] for row in before] == [
        "NL123456789B01",
        "BE0123456789",
    ]
    assert [row["sensitivity"] for row in before] == ["CONFIDENTIAL", "NORMAL"]
    assert [row["renewal_price_agreement"] for row in before] == [
        "CPI plus one point",
        "",
    ]
    kept = [h for h in ALL_HEADERS if h not in NOT_KEPT_HEADERS]
    assert [{h: row[h] for h in kept} for row in after] == [
        {h: row[h] for h in kept} for row in before
    ]
    assert [row["sensitivity"] for row in after] == ["NORMAL", "NORMAL"]
    # The owner column was ignored, so the importing user owns both contracts.
    target_admin = target.tenant.emails["admin"]
    assert [row["owner_email"] for row in after] == [target_admin, target_admin]
    assert [row["renewal_price_agreement"] for row in after] == ["", ""]
    clients = await Client.filter(organization_id=target.tenant.organization.id)
    assert sorted((c.name, c.coc_number, c.vat_number) for c in clients) == [
        ("-Dash BV", None, "BE0123456789"),
        ("Acme BV", "12345678", "NL123456789B01"),
    ]


@pytest_asyncio.fixture
async def client_numbers_protected(
    tmp_path: Path, settings: Settings, tenant: Tenant, restore_schema: None
) -> AsyncIterator[Api]:
    """An app whose policy also protects Contract.description and Client.cocNumber."""
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "model.conf").write_text((POLICY_DIR / "model.conf").read_text())
    (folder / "policy.csv").write_text(
        (POLICY_DIR / "policy.csv").read_text()
        + "g, Contract.description, contract.financial\n"
        + "g, Client.cocNumber, contract.financial\n"
    )
    custom = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        policy_dir=folder,
    )
    app = create_app(custom, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, tenant)


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
async def test_protected_client_numbers_dropped(
    client_numbers_protected: Api, suffix: str
) -> None:
    api = client_numbers_protected
    await create_financial_contract(api)

    sales = await api.client.get(
        f"/export/contracts.{suffix}",
        headers={"Authorization": f"Bearer {api.tenant.tokens['sales']}"},
    )
    finance = await api.client.get(
        f"/export/contracts.{suffix}",
        headers={"Authorization": f"Bearer {api.tenant.tokens['finance']}"},
    )

    hidden = ("description", "client_coc_number")
    sales_header, sales_rows = table_of(suffix, sales)
    finance_header, finance_rows = table_of(suffix, finance)
    assert sales_header == [h for h in NON_FINANCIAL_HEADERS if h not in hidden]
    assert sales_rows[0]["client_vat_number"] == "NL123456789B01"
    assert "87654321" not in repr(sales_rows)
    assert "Hosting of the web shop" not in repr(sales_rows)
    assert finance_header == ALL_HEADERS
    assert finance_rows[0]["description"] == "Hosting of the web shop"
    assert finance_rows[0]["client_coc_number"] == "87654321"


def table_of(
    suffix: str, response: httpx.Response
) -> tuple[list[str], list[dict[str, Any]]]:
    """Return the header and the rows of a CSV or XLSX export response."""
    assert response.status_code == 200, response.text
    if suffix == "csv":
        reader = csv.DictReader(io.StringIO(response.text, newline=""))
        rows: list[dict[str, Any]] = list(reader)
        return list(reader.fieldnames or []), rows
    sheet = load_workbook(io.BytesIO(response.content))["Contracts"]
    values = list(sheet.iter_rows(values_only=True))
    header = [str(value) for value in values[0]]
    return header, [dict(zip(header, row, strict=True)) for row in values[1:]]
