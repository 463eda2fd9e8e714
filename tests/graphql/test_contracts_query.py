"""Reading contracts: dates, status, money, visibility, paging and filters."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from contractgql.domain.dates import local_today
from contractgql.ids import decode_id, encode_id
from contractgql.models import ContractWatcher
from tests.conftest import Api, Tenant
from tests.graphql.helpers import (
    ARCHIVE_CONTRACT,
    CONTRACT_LIST,
    FINANCIAL_FIELDS,
    amsterdam_today,
    assert_cannot_learn,
    create_client,
    create_contract,
    create_tag,
    join_client,
    list_contracts,
    listed_names,
    read_contract,
    user_id,
    without_id,
)

VIEWER_TODAY = """
query ViewerToday { viewer { organization { timezone today } } }
"""
CREATE_CONTRACT_TYPE = """
mutation CreateContractType($input: ContractTypeInput!) {
  createContractType(input: $input) { record { id } errors { field code message } }
}
"""
CREATE_NOTE = """
mutation CreateNote($input: NoteInput!) {
  createNote(input: $input) { record { id body } errors { field code message } }
}
"""
NOTE_NODE = """
query NoteNode($id: ID!) { node(id: $id) { __typename ... on Note { body } } }
"""
CONTRACT_WATCHERS = """
query ContractWatchers($id: ID!) {
  node(id: $id) { ... on Contract { name watchers { id } } }
}
"""
CONTRACT_PARENT = """
query ContractParent($id: ID!) {
  node(id: $id) { ... on Contract { name parent { id } } }
}
"""
CLIENT_CONTRACTS = """
query ClientContracts($id: ID!) {
  node(id: $id) {
    ... on Client { contracts(first: 100) { totalCount edges { node { name } } } }
  }
}
"""
CLIENTS_NAMED = """
query ClientsNamed($search: String) { clients(search: $search) { nodes { id } } }
"""
PAGE = """
query Page($first: Int, $after: String, $orderBy: ContractOrder) {
  contracts(first: $first, after: $after, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges {
      cursor
      node {
        id name number startDate endDate noticeDeadline amount createdAt updatedAt
        client { name }
      }
    }
  }
}
"""

FINANCIAL_VALUES = {
    "amount": "7345.67",
    "paymentFrequency": "QUARTERLY",
    "vatRate": "21",
    "indexation": "3.25",
    "renewalPriceAgreement": "CPI plus 1.5 percent",
    "endDate": "2026-12-31",
}
# The values a reader with the financial permission gets for FINANCIAL_VALUES. MRR is
# 7345.67 / 3 = 2448.5566…, ARR is 12 × MRR, and the 2026 term contains 4 quarters.
FINANCIAL_OUTPUT = {
    "amount": "7345.67",
    "vatRate": "21.00",
    "indexation": "3.25",
    "renewalPriceAgreement": "CPI plus 1.5 percent",
    "mrr": "2448.56",
    "arr": "29382.68",
    "totalContractValue": "29382.68",
}


# --- Status and dates -----------------------------------------------------------------


async def _status(api: Api, start: date, end: date | None, **fields: Any) -> str:
    client_id = await create_client(api)
    contract = await create_contract(
        api,
        client_id,
        {
            "startDate": start.isoformat(),
            "endDate": end.isoformat() if end else None,
            **fields,
        },
    )
    status: str = contract["status"]
    return status


async def test_status_upcoming_before_start(api: Api) -> None:
    today = amsterdam_today()

    status = await _status(api, today + timedelta(days=1), today + timedelta(days=30))

    assert status == "UPCOMING"


async def test_status_active_on_start_day(api: Api) -> None:
    today = amsterdam_today()

    assert await _status(api, today, today + timedelta(days=30)) == "ACTIVE"


async def test_status_active_on_inclusive_end_day(api: Api) -> None:
    today = amsterdam_today()
    client_id = await create_client(api)

    contract = await create_contract(
        api,
        client_id,
        {
            "startDate": (today - timedelta(days=10)).isoformat(),
            "endDate": today.isoformat(),
        },
    )

    assert contract["status"] == "ACTIVE"
    assert contract["daysUntilEnd"] == 0


async def test_status_expired_day_after_end(api: Api) -> None:
    today = amsterdam_today()
    client_id = await create_client(api)

    contract = await create_contract(
        api,
        client_id,
        {
            "startDate": (today - timedelta(days=10)).isoformat(),
            "endDate": (today - timedelta(days=1)).isoformat(),
        },
    )

    assert contract["status"] == "EXPIRED"
    assert contract["daysUntilEnd"] == -1


async def test_status_active_open_ended(api: Api) -> None:
    today = amsterdam_today()

    assert await _status(api, today - timedelta(days=400), None) == "ACTIVE"


@pytest.mark.parametrize(
    ("stage", "status"), [("DRAFT", "DRAFT"), ("CANCELLED", "CANCELLED")]
)
async def test_status_follows_stage(api: Api, stage: str, status: str) -> None:
    today = amsterdam_today()

    result = await _status(api, today - timedelta(days=10), today, stage=stage)

    assert result == status


# Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart, so at any moment at
# least one of them has a different date from Amsterdam.
@pytest.mark.parametrize("timezone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
async def test_status_uses_organization_timezone(
    api: Api, tenant: Tenant, timezone: str
) -> None:
    tenant.organization.timezone = timezone
    await tenant.organization.save()
    local = local_today(timezone)
    client_id = await create_client(api)

    contract = await create_contract(
        api, client_id, {"startDate": local.isoformat(), "endDate": local.isoformat()}
    )
    viewer = await api.data(VIEWER_TODAY)

    assert viewer["viewer"]["organization"]["today"] == local.isoformat()
    assert contract["status"] == "ACTIVE"
    assert contract["daysUntilEnd"] == 0


@pytest.mark.parametrize(
    ("end", "notice", "deadline"),
    [
        ("2027-06-30", {"count": 1, "unit": "MONTHS"}, "2027-05-31"),
        ("2027-12-31", {"count": 2, "unit": "MONTHS"}, "2027-10-31"),
        ("2028-02-29", {"count": 1, "unit": "MONTHS"}, "2028-01-31"),
        ("2027-03-15", {"count": 30, "unit": "DAYS"}, "2027-02-13"),
    ],
)
async def test_notice_deadline(
    api: Api, end: str, notice: dict[str, Any], deadline: str
) -> None:
    client_id = await create_client(api)

    contract = await create_contract(
        api,
        client_id,
        {"startDate": "2026-01-01", "endDate": end, "noticePeriod": notice},
    )

    assert contract["noticeDeadline"] == deadline
    expected_days = (date.fromisoformat(deadline) - amsterdam_today()).days
    assert contract["daysUntilNoticeDeadline"] == expected_days
    assert contract["earliestEndWithNoticeToday"] is None


async def test_open_ended_has_no_deadline(api: Api) -> None:
    client_id = await create_client(api)

    contract = await create_contract(
        api, client_id, {"noticePeriod": {"count": 3, "unit": "MONTHS"}}
    )

    today = amsterdam_today()
    assert contract["endDate"] is None
    assert contract["noticeDeadline"] is None
    assert contract["daysUntilEnd"] is None
    assert (
        contract["earliestEndWithNoticeToday"]
        == (today + relativedelta(months=3)).isoformat()
    )


async def test_open_ended_notice_to_month_end(api: Api) -> None:
    client_id = await create_client(api)

    contract = await create_contract(
        api,
        client_id,
        {"noticePeriod": {"count": 3, "unit": "MONTHS"}, "noticeToMonthEnd": True},
    )

    month_end = amsterdam_today() + relativedelta(months=3, day=31)
    assert contract["earliestEndWithNoticeToday"] == month_end.isoformat()


# --- Money ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [("EUR", "1234.5", "1234.50"), ("JPY", "1500", "1500"), ("BHD", "1.234", "1.234")],
)
async def test_amount_uses_currency_decimals(
    api: Api, currency: str, amount: str, shown: str
) -> None:
    client_id = await create_client(api)

    contract = await create_contract(
        api, client_id, {"currency": currency, "amount": amount}
    )

    assert contract["currency"] == currency
    assert contract["amount"] == shown


@pytest.mark.parametrize(
    ("fields", "mrr", "arr", "total"),
    [
        (
            {
                "amount": "300.00",
                "paymentFrequency": "QUARTERLY",
                "endDate": "2027-06-30",
            },
            "100.00",
            "1200.00",
            "1800.00",
        ),
        (
            {
                "amount": "100.00",
                "paymentFrequency": "QUARTERLY",
                "endDate": "2027-01-31",
            },
            "33.33",
            "400.00",
            "500.00",
        ),
        (
            {
                "amount": "1200.00",
                "paymentFrequency": "YEARLY",
                "endDate": "2026-12-31",
            },
            "100.00",
            "1200.00",
            "1200.00",
        ),
        (
            {"amount": "600.00", "paymentFrequency": "HALF_YEARLY", "endDate": None},
            "100.00",
            "1200.00",
            None,
        ),
        (
            {
                "amount": "500.00",
                "paymentFrequency": "ONE_OFF",
                "endDate": "2026-03-31",
            },
            "0.00",
            "0.00",
            "500.00",
        ),
        # Half a cent a month rounds up to 0.01, while ARR is 12 × the exact half cent.
        (
            {
                "amount": "0.03",
                "paymentFrequency": "HALF_YEARLY",
                "endDate": "2026-12-31",
            },
            "0.01",
            "0.06",
            "0.06",
        ),
        # A cent a month for ten years adds up to exactly 1.20.
        (
            {
                "amount": "0.01",
                "paymentFrequency": "MONTHLY",
                "endDate": "2035-12-31",
            },
            "0.01",
            "0.12",
            "1.20",
        ),
    ],
)
async def test_recurring_figures(
    api: Api, fields: dict[str, Any], mrr: str, arr: str, total: str | None
) -> None:
    client_id = await create_client(api)

    contract = await create_contract(api, client_id, fields)

    assert contract["mrr"] == mrr
    assert contract["arr"] == arr
    assert contract["totalContractValue"] == total


async def test_jpy_figures_have_no_decimals(api: Api) -> None:
    client_id = await create_client(api)

    contract = await create_contract(
        api,
        client_id,
        {"currency": "JPY", "amount": "1000", "paymentFrequency": "QUARTERLY"},
    )

    assert contract["mrr"] == "333"
    assert contract["arr"] == "4000"


# --- Financial fields by role ---------------------------------------------------------


async def _financial_contract(api: Api, member_role: str | None = None) -> str:
    client_id = await create_client(api)
    if member_role is not None:
        await join_client(api, client_id, member_role)
    contract = await create_contract(api, client_id, FINANCIAL_VALUES)
    contract_id: str = contract["id"]
    return contract_id


async def _assert_financial_visible(api: Api, role: str) -> None:
    contract_id = await _financial_contract(api)

    contract = await read_contract(api, contract_id, role=role)

    assert contract is not None
    for field, value in FINANCIAL_OUTPUT.items():
        assert contract[field] == value, field


async def _assert_financial_hidden(api: Api, role: str) -> None:
    contract_id = await _financial_contract(api, member_role=role)

    for field in FINANCIAL_FIELDS:
        await assert_cannot_learn(
            api, role, contract_id, field, FINANCIAL_OUTPUT[field]
        )


async def test_financial_fields_visible_as_admin(api: Api) -> None:
    await _assert_financial_visible(api, "admin")


async def test_financial_fields_visible_as_management(api: Api) -> None:
    await _assert_financial_visible(api, "management")


async def test_financial_fields_visible_as_finance(api: Api) -> None:
    await _assert_financial_visible(api, "finance")


async def test_financial_fields_hidden_as_account_manager(api: Api) -> None:
    await _assert_financial_hidden(api, "account_manager")


async def test_financial_fields_hidden_as_sales(api: Api) -> None:
    await _assert_financial_hidden(api, "sales")


async def test_financial_fields_hidden_as_project_staff(api: Api) -> None:
    await _assert_financial_hidden(api, "project_staff")


async def test_financial_fields_hidden_as_integrator(api: Api) -> None:
    await _assert_financial_hidden(api, "integrator")


async def test_non_financial_fields_visible_as_sales(api: Api) -> None:
    contract_id = await _financial_contract(api)

    contract = await read_contract(api, contract_id, role="sales")

    assert contract is not None
    assert contract["name"] == "Hosting"
    assert contract["currency"] == "EUR"
    assert contract["paymentFrequency"] == "QUARTERLY"


async def _assert_amount_sort_forbidden(api: Api, role: str) -> None:
    await _financial_contract(api)

    body = await api.post(
        CONTRACT_LIST, {"orderBy": {"field": "AMOUNT", "direction": "DESC"}}, role=role
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["contracts"]


async def test_sort_by_amount_forbidden_as_account_manager(api: Api) -> None:
    await _assert_amount_sort_forbidden(api, "account_manager")


async def test_sort_by_amount_forbidden_as_sales(api: Api) -> None:
    await _assert_amount_sort_forbidden(api, "sales")


async def test_sort_by_amount_forbidden_as_integrator(api: Api) -> None:
    await _assert_amount_sort_forbidden(api, "integrator")


async def test_sort_by_amount_as_finance(api: Api) -> None:
    client_id = await create_client(api)
    for name, amount in (("Small", "10.00"), ("Large", "900.00"), ("Medium", "55.50")):
        await create_contract(api, client_id, {"name": name, "amount": amount})

    connection = await list_contracts(
        api, role="finance", order_by={"field": "AMOUNT", "direction": "DESC"}
    )

    names = [edge["node"]["name"] for edge in connection["edges"]]
    assert names == ["Large", "Medium", "Small"]


# --- Confidential contracts -----------------------------------------------------------


async def _confidential_contract(
    api: Api, owner_role: str | None = None, member_role: str | None = None
) -> str:
    client_id = await create_client(api, "Secret Client")
    if member_role is not None:
        await join_client(api, client_id, member_role)
    fields: dict[str, Any] = {"name": "Secret deal", "sensitivity": "CONFIDENTIAL"}
    if owner_role is not None:
        fields["ownerId"] = user_id(api.tenant, owner_role)
    await create_contract(api, client_id, {"name": "Open deal"})
    contract = await create_contract(api, client_id, fields)
    contract_id: str = contract["id"]
    return contract_id


async def _assert_confidential_hidden(api: Api, role: str) -> None:
    contract_id = await _confidential_contract(api, member_role=role)

    node = await read_contract(api, contract_id, role=role)
    names = await listed_names(api, role=role)
    found = await listed_names(api, {"search": "secret deal"}, role=role)

    assert node is None
    assert names == ["Open deal"]
    assert found == []


async def _assert_confidential_visible(api: Api, role: str) -> None:
    contract_id = await _confidential_contract(api)

    node = await read_contract(api, contract_id, role=role)
    names = await listed_names(api, role=role)

    assert node is not None
    assert node["name"] == "Secret deal"
    assert names == ["Open deal", "Secret deal"]


async def test_confidential_hidden_as_account_manager(api: Api) -> None:
    await _assert_confidential_hidden(api, "account_manager")


async def test_confidential_hidden_as_sales(api: Api) -> None:
    await _assert_confidential_hidden(api, "sales")


async def test_confidential_hidden_as_project_staff(api: Api) -> None:
    await _assert_confidential_hidden(api, "project_staff")


async def test_confidential_hidden_as_integrator(api: Api) -> None:
    await _assert_confidential_hidden(api, "integrator")


async def test_confidential_visible_as_admin(api: Api) -> None:
    await _assert_confidential_visible(api, "admin")


async def test_confidential_visible_as_management(api: Api) -> None:
    await _assert_confidential_visible(api, "management")


async def test_confidential_visible_as_finance(api: Api) -> None:
    await _assert_confidential_visible(api, "finance")


async def test_own_confidential_visible_as_account_manager(api: Api) -> None:
    contract_id = await _confidential_contract(api, owner_role="account_manager")

    node = await read_contract(api, contract_id, role="account_manager")
    names = await listed_names(api, role="account_manager")

    assert node is not None
    assert node["name"] == "Secret deal"
    assert names == ["Open deal", "Secret deal"]


async def test_confidential_hidden_from_client_contracts_as_sales(api: Api) -> None:
    await _confidential_contract(api)
    clients = await api.data(CLIENTS_NAMED, {"search": "Secret Client"}, role="sales")
    client_id = clients["clients"]["nodes"][0]["id"]

    data = await api.data(CLIENT_CONTRACTS, {"id": client_id}, role="sales")

    contracts = data["node"]["contracts"]
    assert contracts["totalCount"] == 1
    assert [edge["node"]["name"] for edge in contracts["edges"]] == ["Open deal"]


async def test_confidential_parent_hidden_as_sales(api: Api) -> None:
    parent_id = await _confidential_contract(api)
    client_id = await create_client(api)
    child = await create_contract(
        api, client_id, {"name": "Child", "parentId": parent_id}
    )

    as_sales = await api.data(CONTRACT_PARENT, {"id": child["id"]}, role="sales")
    as_finance = await api.data(CONTRACT_PARENT, {"id": child["id"]}, role="finance")

    assert as_finance["node"]["parent"] == {"id": parent_id}
    assert as_sales["node"] == {"name": "Child", "parent": None}


async def test_watched_confidential_visible_as_sales(api: Api) -> None:
    contract_id = await _confidential_contract(api)
    _, contract_pk = decode_id(contract_id)
    await ContractWatcher.create(
        contract_id=contract_pk, user_id=api.tenant.user_ids["sales"]
    )

    node = await read_contract(api, contract_id, role="sales")
    watchers = await api.data(CONTRACT_WATCHERS, {"id": contract_id}, role="sales")

    assert node is not None
    assert node["name"] == "Secret deal"
    assert watchers["node"]["watchers"] == [{"id": user_id(api.tenant, "sales")}]


async def test_note_on_confidential_contract_hidden_as_sales(api: Api) -> None:
    contract_id = await _confidential_contract(api)
    created = await api.data(
        CREATE_NOTE,
        {"input": {"body": "Walk-away price 90k", "contractId": contract_id}},
    )
    note_id = created["createNote"]["record"]["id"]

    as_sales = await api.data(NOTE_NODE, {"id": note_id}, role="sales")
    as_finance = await api.data(NOTE_NODE, {"id": note_id}, role="finance")

    assert as_finance["node"] == {"__typename": "Note", "body": "Walk-away price 90k"}
    assert as_sales["node"] is None


async def test_note_on_confidential_contract_rejected_as_sales(api: Api) -> None:
    contract_id = await _confidential_contract(api)
    missing_id = _contract_id_that_does_not_exist()

    hidden = await api.error(
        CREATE_NOTE,
        {"input": {"body": "Hello", "contractId": contract_id}},
        role="sales",
    )
    missing = await api.error(
        CREATE_NOTE,
        {"input": {"body": "Hello", "contractId": missing_id}},
        role="sales",
    )

    assert hidden["extensions"]["code"] == "NOT_FOUND"
    assert missing["extensions"]["code"] == "NOT_FOUND"
    assert without_id(hidden["message"], contract_id) == without_id(
        missing["message"], missing_id
    )


def _contract_id_that_does_not_exist() -> str:
    return encode_id("Contract", 2**62)


# --- Relay: ids, page size and cursors ------------------------------------------------


async def test_global_id_round_trips(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)

    node = await read_contract(api, contract["id"])

    assert node is not None
    assert node["id"] == contract["id"]
    assert not contract["id"].isdigit()
    assert not client_id.isdigit()
    assert contract["id"] != client_id


async def test_node_with_malformed_id_is_null(api: Api) -> None:
    assert await read_contract(api, "not-an-id") is None


async def test_first_above_maximum_rejected(api: Api) -> None:
    error = await api.error(CONTRACT_LIST, {"first": 101})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "101" in error["message"]
    assert "100" in error["message"]


async def test_first_at_maximum_accepted(api: Api) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id)

    connection = await list_contracts(api, first=100)

    assert connection["totalCount"] == 1


async def test_first_negative_rejected(api: Api) -> None:
    error = await api.error(CONTRACT_LIST, {"first": -1})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "-1" in error["message"]


# Seven contracts with ties in every order and missing numbers, end dates, notice
# deadlines and amounts, so paging must cross tie groups and the nulls-last boundary.
PAGING_ROWS: list[dict[str, Any]] = [
    {
        "name": "Alpha",
        "number": "N001",
        "client": "Acme",
        "startDate": "2026-01-01",
        "endDate": "2026-12-31",
        "notice": 1,
        "amount": "100.00",
    },
    {
        "name": "alpha",
        "number": "n001",
        "client": "Zeta",
        "startDate": "2026-01-01",
        "endDate": "2026-12-31",
        "notice": 1,
        "amount": "100.00",
    },
    {
        "name": "Bravo",
        "number": None,
        "client": "Acme",
        "startDate": "2026-02-01",
        "endDate": None,
        "notice": None,
        "amount": None,
    },
    {
        "name": "charlie",
        "number": "N002",
        "client": "Zeta",
        "startDate": "2026-03-01",
        "endDate": "2027-03-31",
        "notice": None,
        "amount": "50.00",
    },
    {
        "name": "Delta",
        "number": None,
        "client": "acme",
        "startDate": "2026-01-01",
        "endDate": None,
        "notice": None,
        "amount": None,
    },
    {
        "name": "Echo",
        "number": "N003",
        "client": "Zeta",
        "startDate": "2026-02-01",
        "endDate": "2026-06-30",
        "notice": 2,
        "amount": "100.00",
    },
    {
        "name": "echo",
        "number": None,
        "client": "Acme",
        "startDate": "2026-03-01",
        "endDate": "2026-12-31",
        "notice": 1,
        "amount": "0.00",
    },
]


def _sort_value(field: str, node: dict[str, Any]) -> Any:
    """Return the value the API sorts `node` by for `field`, or None when missing."""
    value: Any = {
        "CREATED_AT": node["createdAt"],
        "UPDATED_AT": node["updatedAt"],
        "NAME": node["name"],
        "NUMBER": node["number"],
        "CLIENT_NAME": node["client"]["name"],
        "START_DATE": node["startDate"],
        "END_DATE": node["endDate"],
        "NOTICE_DEADLINE": node["noticeDeadline"],
        "AMOUNT": node["amount"],
    }[field]
    if value is None:
        return None
    if field == "AMOUNT":
        return Decimal(value)
    return value.lower()


async def _create_paging_rows(api: Api) -> None:
    clients: dict[str, str] = {}
    for row in PAGING_ROWS:
        if row["client"] not in clients:
            clients[row["client"]] = await create_client(api, row["client"])
        fields = {
            "name": row["name"],
            "number": row["number"],
            "startDate": row["startDate"],
            "endDate": row["endDate"],
            "amount": row["amount"],
        }
        if row["notice"] is not None:
            fields["noticePeriod"] = {"count": row["notice"], "unit": "MONTHS"}
        await create_contract(api, clients[row["client"]], fields)


async def _all_pages(
    api: Api, order: dict[str, str], size: int
) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(len(PAGING_ROWS) + 1):
        data = await api.data(PAGE, {"first": size, "after": after, "orderBy": order})
        page = data["contracts"]
        assert page["totalCount"] == len(PAGING_ROWS)
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError(f"paging {order} did not end after {len(PAGING_ROWS)} pages")


SORT_FIELDS = [
    "CREATED_AT",
    "NAME",
    "NUMBER",
    "CLIENT_NAME",
    "START_DATE",
    "END_DATE",
    "NOTICE_DEADLINE",
    "UPDATED_AT",
    "AMOUNT",
]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("field", SORT_FIELDS)
async def test_cursor_paging_visits_each_row_once(
    api: Api, field: str, direction: str
) -> None:
    await _create_paging_rows(api)
    order = {"field": field, "direction": direction}

    # Pages of 1 put a cursor on every row, and pages of 3 cross tie groups mid-page.
    by_one = await _all_pages(api, order, size=1)
    by_three = await _all_pages(api, order, size=3)
    single = await _all_pages(api, order, size=100)

    single_ids = [node["id"] for node in single]
    assert len(set(single_ids)) == len(PAGING_ROWS)
    assert [node["id"] for node in by_one] == single_ids
    assert [node["id"] for node in by_three] == single_ids
    values = [_sort_value(field, node) for node in single]
    present = [value for value in values if value is not None]
    assert values == present + [None] * (len(values) - len(present))
    assert present == sorted(present, reverse=direction == "DESC")


async def test_cursor_of_other_order_rejected(api: Api) -> None:
    await _create_paging_rows(api)
    first = await api.data(PAGE, {"first": 2, "orderBy": {"field": "NAME"}})
    cursor = first["contracts"]["pageInfo"]["endCursor"]

    other_field = await api.error(
        PAGE, {"first": 2, "after": cursor, "orderBy": {"field": "END_DATE"}}
    )
    other_direction = await api.error(
        PAGE,
        {
            "first": 2,
            "after": cursor,
            "orderBy": {"field": "NAME", "direction": "DESC"},
        },
    )

    assert other_field["extensions"]["code"] == "BAD_USER_INPUT"
    assert other_direction["extensions"]["code"] == "BAD_USER_INPUT"


async def test_malformed_cursor_rejected(api: Api) -> None:
    error = await api.error(PAGE, {"first": 2, "after": "bm90LWEtY3Vyc29y"})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "bm90LWEtY3Vyc29y" in error["message"]


# --- Filters --------------------------------------------------------------------------


async def _create_filter_rows(api: Api) -> dict[str, str]:
    """Create three contracts with known attributes and return the ids used in them."""
    ids = {
        "acme": await create_client(api, "Acme"),
        "zeta": await create_client(api, "Zeta"),
        "urgent": await create_tag(api, "urgent"),
        "legacy": await create_tag(api, "legacy"),
        "account_manager": user_id(api.tenant, "account_manager"),
        "sales": user_id(api.tenant, "sales"),
    }
    for name in ("Maintenance", "Licence"):
        data = await api.data(CREATE_CONTRACT_TYPE, {"input": {"name": name}})
        ids[name] = data["createContractType"]["record"]["id"]

    await create_contract(
        api,
        ids["acme"],
        {
            "name": "Hosting Acme",
            "number": "H-1",
            "contractTypeId": ids["Maintenance"],
            "tagIds": [ids["urgent"]],
            "ownerId": ids["account_manager"],
            "startDate": "2026-01-01",
            "endDate": "2026-12-31",
            "noticePeriod": {"count": 1, "unit": "MONTHS"},
            "autoRenewal": True,
        },
    )
    await create_contract(
        api,
        ids["zeta"],
        {
            "name": "Licence Zeta",
            "number": "L-7",
            "contractTypeId": ids["Licence"],
            "tagIds": [ids["legacy"]],
            "ownerId": ids["sales"],
            "startDate": "2026-06-01",
            "endDate": "2027-05-31",
            "noticePeriod": {"count": 3, "unit": "MONTHS"},
            "autoRenewal": False,
        },
    )
    support = await create_contract(
        api,
        ids["zeta"],
        {
            "name": "Support",
            "tagIds": [ids["urgent"], ids["legacy"]],
            "startDate": "2025-01-01",
        },
    )
    ids["support"] = support["id"]
    return ids


FILTER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("no filter", {}, ["Hosting Acme", "Licence Zeta", "Support"]),
    ("client", {"clientIds": ["zeta"]}, ["Licence Zeta", "Support"]),
    ("contract type", {"contractTypeIds": ["Licence"]}, ["Licence Zeta"]),
    ("one tag", {"tagIds": ["urgent"]}, ["Hosting Acme", "Support"]),
    (
        "any of two tags",
        {"tagIds": ["urgent", "legacy"]},
        ["Hosting Acme", "Licence Zeta", "Support"],
    ),
    ("owner", {"ownerIds": ["account_manager"]}, ["Hosting Acme"]),
    (
        "start range inclusive",
        {"startDate": {"from": "2026-01-01", "to": "2026-06-01"}},
        ["Hosting Acme", "Licence Zeta"],
    ),
    ("end from", {"endDate": {"from": "2026-12-31"}}, ["Hosting Acme", "Licence Zeta"]),
    ("end to", {"endDate": {"to": "2026-12-31"}}, ["Hosting Acme"]),
    (
        "deadline on one day",
        {"noticeDeadline": {"from": "2026-11-30", "to": "2026-11-30"}},
        ["Hosting Acme"],
    ),
    ("deadline to", {"noticeDeadline": {"to": "2027-02-27"}}, ["Hosting Acme"]),
    ("auto renewal", {"autoRenewal": True}, ["Hosting Acme"]),
    ("no auto renewal", {"autoRenewal": False}, ["Licence Zeta", "Support"]),
    ("search name and client", {"search": "ACME"}, ["Hosting Acme"]),
    ("search client name", {"search": "zet"}, ["Licence Zeta", "Support"]),
    ("search number", {"search": "l-7"}, ["Licence Zeta"]),
    ("search blank", {"search": "  "}, ["Hosting Acme", "Licence Zeta", "Support"]),
    ("combined", {"clientIds": ["zeta"], "tagIds": ["urgent"]}, ["Support"]),
]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [(case[1], case[2]) for case in FILTER_CASES],
    ids=[case[0] for case in FILTER_CASES],
)
async def test_filter(api: Api, filter: dict[str, Any], expected: list[str]) -> None:
    ids = await _create_filter_rows(api)
    resolved = {
        key: [ids[name] for name in value] if key.endswith("Ids") else value
        for key, value in filter.items()
    }

    assert await listed_names(api, resolved) == expected


async def test_filter_include_archived(api: Api) -> None:
    ids = await _create_filter_rows(api)
    await api.data(ARCHIVE_CONTRACT, {"id": ids["support"]})

    default = await listed_names(api)
    archived = await listed_names(api, {"includeArchived": True})

    assert default == ["Hosting Acme", "Licence Zeta"]
    assert archived == ["Hosting Acme", "Licence Zeta", "Support"]


async def test_search_matches_percent_literally(api: Api) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id, {"name": "100% uptime"})
    await create_contract(api, client_id, {"name": "1000 users"})

    assert await listed_names(api, {"search": "100%"}) == ["100% uptime"]


async def test_search_matches_underscore_literally(api: Api) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id, {"name": "plan_b"})
    await create_contract(api, client_id, {"name": "planxb"})

    assert await listed_names(api, {"search": "n_b"}) == ["plan_b"]


async def test_search_ignores_case_of_accented_letters(api: Api) -> None:
    client_id = await create_client(api, "MÜLLER GMBH")
    await create_contract(api, client_id, {"name": "Wartung"})
    await create_contract(api, client_id, {"name": "CAFÉ DE KROON"})

    by_client = await listed_names(api, {"search": "müller"})
    by_name = await listed_names(api, {"search": "café"})

    assert by_client == ["CAFÉ DE KROON", "Wartung"]
    assert by_name == ["CAFÉ DE KROON"]


async def _create_status_rows(api: Api) -> None:
    today = amsterdam_today()
    day = timedelta(days=1)
    client_id = await create_client(api)
    rows = [
        ("Upcoming", today + day, None, "SIGNED"),
        ("Active", today - 10 * day, today, "SIGNED"),
        ("Expired", today - 10 * day, today - day, "SIGNED"),
        ("Draft", today - 10 * day, today, "DRAFT"),
        ("Cancelled", today - 10 * day, today, "CANCELLED"),
    ]
    for name, start, end, stage in rows:
        await create_contract(
            api,
            client_id,
            {
                "name": name,
                "stage": stage,
                "startDate": start.isoformat(),
                "endDate": end.isoformat() if end else None,
            },
        )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["ACTIVE"], ["Active"]),
        (["UPCOMING", "EXPIRED"], ["Expired", "Upcoming"]),
        (["DRAFT"], ["Draft"]),
        (["CANCELLED"], ["Cancelled"]),
        ([], []),
    ],
)
async def test_filter_statuses(
    api: Api, statuses: list[str], expected: list[str]
) -> None:
    await _create_status_rows(api)

    assert await listed_names(api, {"statuses": statuses}) == expected


async def test_status_field_matches_name(api: Api) -> None:
    await _create_status_rows(api)

    connection = await list_contracts(api)

    statuses = {
        edge["node"]["name"]: edge["node"]["status"] for edge in connection["edges"]
    }
    assert statuses == {
        "Upcoming": "UPCOMING",
        "Active": "ACTIVE",
        "Expired": "EXPIRED",
        "Draft": "DRAFT",
        "Cancelled": "CANCELLED",
    }
