"""Every role × every protected field × every access path, generated from the policy.

The protected fields come from the policy files, so protecting a new field without
adding a FieldCase here makes `test_every_protected_field_has_a_case` fail, and a
new filter or sort order without a declared field makes the registry tests fail.
For each case a denied role must learn nothing: the field reads null, the request
is rejected, or the value is missing, and its text appears nowhere in the raw
response. An allowed role must get the exact value.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contractgql.config import PROJECT_ROOT, Settings
from contractgql.graphql.queries.contracts import (
    FILTER_REVEALS,
    SEARCHED_FIELDS,
    SORT_REVEALS,
)
from contractgql.graphql.schema import schema
from contractgql.graphql.types.filters import ContractFilter, ContractSortField
from contractgql.ids import decode_id, encode_id
from contractgql.importexport.export import EXPORT_COLUMNS
from contractgql.models import Organization
from contractgql.security.policy import ROLES, FieldName, Policy
from tests.conftest import Api, Tenant, make_tenant

POLICY = Policy.load(PROJECT_ROOT / "policies")
# The paths below read contracts. The protected fields of time entries and caps
# have their own matrix in tests/hours/test_field_security.py.
PROTECTED = sorted(f for f in POLICY.protected_fields if f[0] == "Contract")


@dataclass(frozen=True)
class FieldCase:
    """How the seed sets a protected field and what an allowed role reads back."""

    expected: Any
    # Texts that must not appear in a denied role's response.
    needles: tuple[str, ...]
    # The update input that changes the field, with the value to restore it, or
    # None for a computed field that no input sets.
    write: tuple[dict[str, Any], dict[str, Any]] | None
    # A filter that selects the seeded contract through this field, if any.
    filter: dict[str, Any] | None = None
    # The sort order on this field, if any.
    sort: str | None = None
    # The fields of the seeded renewal event that carry this field's value, with
    # the values that an allowed role reads.
    history: dict[str, str] = field(default_factory=dict)


RENEWAL_TERMS = "CPI plus 1.9 percent under the zebra clause"
FINANCIAL_INPUT = {
    "amount": "7345.67",
    "currency": "EUR",
    "paymentFrequency": "QUARTERLY",
    "vatRate": "19.25",
    "indexation": "3.71",
    "renewalPriceAgreement": RENEWAL_TERMS,
    "startDate": "2026-01-01",
    "endDate": "2027-12-31",
}
# The seeded contract starts with a one-year term and this amount, and renews once
# by hand into FINANCIAL_INPUT: 7,082.89 indexed by 3.71% is 7,345.665519, which
# rounds half up to 7,345.67. Its history then contains one renewal event.
FIRST_TERM = {**FINANCIAL_INPUT, "amount": "7082.89", "endDate": "2026-12-31"}
FIELD_CASES: dict[FieldName, FieldCase] = {
    ("Contract", "amount"): FieldCase(
        expected="7345.67",
        needles=("7345.67", "734567", "7082.89", "708289"),
        write=({"amount": "7345.68"}, {"amount": "7345.67"}),
        filter={"amount": {"currency": "EUR", "min": "7345.67", "max": "7345.67"}},
        sort="AMOUNT",
        history={"oldAmount": "7082.89", "newAmount": "7345.67"},
    ),
    ("Contract", "vatRate"): FieldCase(
        expected="19.25",
        needles=("19.25", "1925"),
        write=({"vatRate": "19.55"}, {"vatRate": "19.25"}),
    ),
    ("Contract", "indexation"): FieldCase(
        expected="3.71",
        needles=("3.71",),
        write=({"indexation": "3.85"}, {"indexation": "3.71"}),
        history={"indexation": "3.71"},
    ),
    ("Contract", "renewalPriceAgreement"): FieldCase(
        expected=RENEWAL_TERMS,
        needles=("zebra",),
        write=(
            {"renewalPriceAgreement": "Fixed price"},
            {"renewalPriceAgreement": RENEWAL_TERMS},
        ),
    ),
    # Quarterly 7,345.67 is 2,448.5566... a month, 29,382.68 a year, and 8 quarters
    # from 2026-01-01 to 2027-12-31 make 58,765.36.
    ("Contract", "mrr"): FieldCase(expected="2448.56", needles=("2448.5",), write=None),
    ("Contract", "arr"): FieldCase(
        expected="29382.68", needles=("29382.68",), write=None
    ),
    ("Contract", "totalContractValue"): FieldCase(
        expected="58765.36", needles=("58765.36",), write=None
    ),
}
TOTALS_OF = {"mrr": "mrr", "arr": "arr", "totalContractValue": "totalContractValue"}
PATHS = (
    "list",
    "node",
    "client_contracts",
    "child_parent",
    "filter",
    "sort",
    "cursor",
    "aggregate",
    "search",
    "write",
    "export",
    "history",
    "audit_history",
)


@dataclass
class Seed:
    api: Api
    client_id: str
    project_id: str
    contract_id: str
    child_id: str
    confidential_id: str
    confidential_child_id: str
    note_id: str
    tag_id: str
    ids: dict[str, str] = field(default_factory=dict)


CREATE = """
mutation Create($input: CreateContractInput!) {
  createContract(input: $input) { contract { id } errors { field code message } }
}
"""
LINKS = """
mutation Links($id: ID!, $add: ContractLinksInput) {
  changeContractLinks(id: $id, add: $add) { contract { id } errors { field code } }
}
"""
SEED_RECORDS = """
mutation Seed($client: ClientInput!, $tag: TagInput!) {
  createClient(input: $client) { record { id } errors { field code } }
  createTag(input: $tag) { record { id } errors { field code } }
}
"""
CREATE_PROJECT = """
mutation Project($input: ProjectInput!) {
  createProject(input: $input) { record { id } errors { field code } }
}
"""
SET_MEMBERS = """
mutation Members($id: ID!, $users: [ID!]!) {
  setProjectMembers(projectId: $id, userIds: $users) { errors { field code } }
}
"""
RENEW = """
mutation Renew($id: ID!) {
  renewContract(contractId: $id) { contract { id } errors { field code message } }
}
"""
CREATE_NOTE = """
mutation Note($input: NoteInput!) {
  createNote(input: $input) { record { id } errors { field code } }
}
"""


async def _create(api: Api, fields: dict[str, Any]) -> str:
    data = await api.data(CREATE, {"input": fields})
    assert data["createContract"]["errors"] == []
    contract_id: str = data["createContract"]["contract"]["id"]
    return contract_id


async def _seed(api: Api) -> Seed:
    tenant = api.tenant
    records = await api.data(
        SEED_RECORDS, {"client": {"name": "Matrix Client"}, "tag": {"name": "Key"}}
    )
    client_id = records["createClient"]["record"]["id"]
    tag_id = records["createTag"]["record"]["id"]
    project = await api.data(
        CREATE_PROJECT, {"input": {"clientId": client_id, "name": "Rollout"}}
    )
    project_id = project["createProject"]["record"]["id"]
    staff = encode_id("User", tenant.user_ids["project_staff"])
    await api.data(SET_MEMBERS, {"id": project_id, "users": [staff]})

    # The financial values are chosen to occur nowhere else, so the VAT rates
    # that the cases set become the organization's rates.
    await Organization.filter(id=tenant.organization.id).update(
        vat_rates=[2100, 1925, 1955, 900, 0]
    )
    owner = encode_id("User", tenant.user_ids["account_manager"])
    contract_id = await _create(
        api,
        {
            "name": "Financial deal",
            "number": "FIN-1",
            "clientId": client_id,
            "ownerId": owner,
            "projectIds": [project_id],
            "tagIds": [tag_id],
            **FIRST_TERM,
        },
    )
    renewed = await api.data(RENEW, {"id": contract_id})
    assert renewed["renewContract"]["errors"] == []
    child_id = await _create(
        api,
        {
            "name": "Follow-up",
            "clientId": client_id,
            "parentId": contract_id,
            "startDate": "2026-01-01",
        },
    )
    confidential_id = await _create(
        api,
        {
            "name": "Hush deal",
            "number": "HUSH-1",
            "clientId": client_id,
            "sensitivity": "CONFIDENTIAL",
            "projectIds": [project_id],
            "tagIds": [tag_id],
            "amount": "1111.11",
            "paymentFrequency": "ONE_OFF",
            "startDate": "2026-01-01",
        },
    )
    sales = encode_id("User", tenant.user_ids["sales"])
    await api.data(LINKS, {"id": confidential_id, "add": {"watcherIds": [sales]}})
    confidential_child_id = await _create(
        api,
        {
            "name": "Hush annex",
            "clientId": client_id,
            "parentId": confidential_id,
            "startDate": "2026-01-01",
        },
    )
    note = await api.data(
        CREATE_NOTE, {"input": {"body": "Hush remark", "contractId": confidential_id}}
    )
    return Seed(
        api=api,
        client_id=client_id,
        project_id=project_id,
        contract_id=contract_id,
        child_id=child_id,
        confidential_id=confidential_id,
        confidential_child_id=confidential_child_id,
        note_id=note["createNote"]["record"]["id"],
        tag_id=tag_id,
    )


@pytest_asyncio.fixture(scope="module")
async def seed(settings: Settings, app: Any) -> AsyncIterator[Seed]:
    tenant: Tenant = await make_tenant(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield await _seed(Api(client, tenant))


def _may_read(role: str, field_name: FieldName) -> bool:
    permissions = POLICY.permissions_for(frozenset({role}))
    return POLICY.field_access(permissions).may_read(*field_name)


def _assert_no_needle(body: dict[str, Any], case: FieldCase) -> None:
    raw = json.dumps(body)
    for needle in case.needles:
        assert needle not in raw, f"{needle!r} leaked in {raw[:500]}"


def _assert_forbidden(body: dict[str, Any], case: FieldCase) -> None:
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    _assert_no_needle(body, case)


# --- Paths ----------------------------------------------------------------------------


async def _read_path(
    seed: Seed, role: str, name: str, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    body = await seed.api.post(query, variables, role=role)
    assert "errors" not in body, body
    return body, body["data"]


async def path_list(seed: Seed, role: str, field: FieldName, case: FieldCase) -> None:
    query = f"query {{ contracts(first: 100) {{ nodes {{ id {field[1]} }} }} }}"
    body, data = await _read_path(seed, role, "list", query, {})
    values = {n["id"]: n[field[1]] for n in data["contracts"]["nodes"]}
    _check_value(body, role, field, case, values[seed.contract_id])


async def path_node(seed: Seed, role: str, field: FieldName, case: FieldCase) -> None:
    query = (
        f"query($id: ID!) {{ node(id: $id) {{ ... on Contract {{ {field[1]} }} }} }}"
    )
    body, data = await _read_path(seed, role, "node", query, {"id": seed.contract_id})
    _check_value(body, role, field, case, data["node"][field[1]])


async def path_client_contracts(
    seed: Seed, role: str, field: FieldName, case: FieldCase
) -> None:
    query = (
        "query($id: ID!) { node(id: $id) { ... on Client { contracts(first: 100) "
        f"{{ nodes {{ id {field[1]} }} }} }} }} }}"
    )
    body, data = await _read_path(seed, role, "relation", query, {"id": seed.client_id})
    values = {n["id"]: n[field[1]] for n in data["node"]["contracts"]["nodes"]}
    _check_value(body, role, field, case, values[seed.contract_id])


async def path_child_parent(
    seed: Seed, role: str, field: FieldName, case: FieldCase
) -> None:
    query = (
        "query($id: ID!) { node(id: $id) { ... on Contract "
        f"{{ parent {{ {field[1]} }} }} }} }}"
    )
    body, data = await _read_path(seed, role, "parent", query, {"id": seed.child_id})
    _check_value(body, role, field, case, data["node"]["parent"][field[1]])


def _check_value(
    body: dict[str, Any], role: str, field: FieldName, case: FieldCase, value: Any
) -> None:
    if _may_read(role, field):
        assert value == case.expected
    else:
        assert value is None
        _assert_no_needle(body, case)


FILTERED = """
query($filter: ContractFilter) {
  contracts(filter: $filter) { totalCount nodes { id } }
}
"""
SORTED = """
query($order: ContractOrder, $after: String) {
  contracts(first: 1, orderBy: $order, after: $after) {
    edges { cursor node { id } }
  }
}
"""


async def path_filter(seed: Seed, role: str, field: FieldName, case: FieldCase) -> None:
    revealing = sorted(
        name for name, fields in FILTER_REVEALS.items() if field in fields
    )
    assert revealing == (["amount"] if case.filter else [])
    if case.filter is None:
        return
    body = await seed.api.post(FILTERED, {"filter": case.filter}, role=role)
    if _may_read(role, field):
        assert body["data"]["contracts"]["nodes"] == [{"id": seed.contract_id}]
    else:
        _assert_forbidden(body, case)


async def path_sort(seed: Seed, role: str, field: FieldName, case: FieldCase) -> None:
    revealing = [order.name for order, f in SORT_REVEALS.items() if f == field]
    assert revealing == ([case.sort] if case.sort else [])
    if case.sort is None:
        return
    order = {"field": case.sort, "direction": "DESC"}
    body = await seed.api.post(SORTED, {"order": order}, role=role)
    if _may_read(role, field):
        # The seeded contract has the largest amount of the organization.
        assert [e["node"]["id"] for e in body["data"]["contracts"]["edges"]] == [
            seed.contract_id
        ]
    else:
        _assert_forbidden(body, case)


async def path_cursor(seed: Seed, role: str, field: FieldName, case: FieldCase) -> None:
    """Page through the field's sort order, if the role may use it, and by name."""
    orders = [ContractSortField.NAME]
    if case.sort is not None and _may_read(role, field):
        orders.append(ContractSortField[case.sort])
    await _page_through(seed, role, orders)


async def _page_through(seed: Seed, role: str, orders: list[ContractSortField]) -> None:
    """Page one contract at a time and check that each cursor holds only an id."""
    for order in orders:
        variables: dict[str, Any] = {"order": {"field": order.name}, "after": None}
        for _ in range(10):
            body = await seed.api.post(SORTED, variables, role=role)
            assert "errors" not in body, body
            edges = body["data"]["contracts"]["edges"]
            if not edges:
                break
            cursor = edges[0]["cursor"]
            decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            pk = decode_id(edges[0]["node"]["id"])[1]
            assert decoded.decode() == f"v1:{order.value}:a:{pk}"
            variables["after"] = cursor


TOTALS = """
query { contracts { totals { count mrr { currency amount } arr { currency amount }
  totalContractValue { currency amount } } } }
"""


async def path_aggregate(
    seed: Seed, role: str, field: FieldName, case: FieldCase
) -> None:
    body, data = await _read_path(seed, role, "aggregate", TOTALS, {})
    totals = data["contracts"]["totals"]
    for name, source in TOTALS_OF.items():
        if _may_read(role, ("Contract", source)):
            assert totals[name] is not None
        else:
            assert totals[name] is None
    if field[1] in TOTALS_OF and _may_read(role, field):
        expected = case.expected
        if field[1] == "totalContractValue" and _sees_confidential(role):
            # The confidential contract adds its one-off 1,111.11.
            expected = "59876.47"
        assert totals[field[1]] == [{"currency": "EUR", "amount": expected}]
    if not _may_read(role, field):
        _assert_no_needle(body, case)


async def path_search(seed: Seed, role: str, field: FieldName, case: FieldCase) -> None:
    searchable = field in SEARCHED_FIELDS and _may_read(role, field)
    for needle in case.needles:
        body = await seed.api.post(FILTERED, {"filter": {"search": needle}}, role=role)
        assert "errors" not in body, body
        count = body["data"]["contracts"]["totalCount"]
        assert count == (1 if searchable else 0)


UPDATE = """
mutation($id: ID!, $input: UpdateContractInput!) {
  updateContract(id: $id, input: $input) { contract { id } errors { field code } }
}
"""
READ_AS_ADMIN = "query($id: ID!) { node(id: $id) { ... on Contract { %s } } }"


async def path_write(seed: Seed, role: str, field: FieldName, case: FieldCase) -> None:
    update_input = schema._schema.type_map["UpdateContractInput"]
    update_fields = set(getattr(update_input, "fields", {}))
    if case.write is None:
        assert field[1] not in update_fields
        return
    change, restore = case.write
    variables = {"id": seed.contract_id, "input": change}
    body = await seed.api.post(UPDATE, variables, role=role)
    stored = await seed.api.data(READ_AS_ADMIN % field[1], {"id": seed.contract_id})
    permissions = POLICY.permissions_for(frozenset({role}))
    if POLICY.field_access(permissions).may_write(*field):
        assert body["data"]["updateContract"]["errors"] == []
        assert stored["node"][field[1]] == next(iter(change.values()))
        await seed.api.data(UPDATE, {"id": seed.contract_id, "input": restore})
    else:
        assert body.get("data") is None or body["data"]["updateContract"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] in (
            ["FORBIDDEN"],
            ["NOT_FOUND"],
        )
        _assert_no_needle(body, case)
        assert stored["node"][field[1]] == case.expected


async def path_export(seed: Seed, role: str, field: FieldName, case: FieldCase) -> None:
    response = await seed.api.client.get(
        "/export/contracts.csv",
        headers={"Authorization": f"Bearer {seed.api.tenant.tokens[role]}"},
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    headers = [c.header for c in EXPORT_COLUMNS if c.graphql_field == field[1]]
    assert len(headers) == 1
    row = next(r for r in rows if r["id"] == seed.contract_id)
    if _may_read(role, field):
        assert row[headers[0]] == case.expected
    else:
        assert headers[0] not in row
        for needle in case.needles:
            assert needle not in response.text


HISTORY = """
query($id: ID!) {
  node(id: $id) {
    ... on Contract {
      events { kind termEnd newEndDate oldAmount newAmount indexation }
    }
  }
}
"""


async def path_history(
    seed: Seed, role: str, field: FieldName, case: FieldCase
) -> None:
    """Read the renewal in the contract's history, whose amounts are financial."""
    body, data = await _read_path(
        seed, role, "history", HISTORY, {"id": seed.contract_id}
    )
    events = data["node"]["events"]
    assert [(e["kind"], e["termEnd"], e["newEndDate"]) for e in events] == [
        ("RENEWED", "2026-12-31", "2027-12-31")
    ]
    for name, expected in case.history.items():
        _check_value(
            body, role, field, replace(case, expected=expected), events[0][name]
        )
    if not _may_read(role, field):
        _assert_no_needle(body, case)


AUDIT_HISTORY = """
query($id: ID!) {
  node(id: $id) {
    ... on Contract {
      history(first: 100) { nodes { action changes { field oldValue newValue } } }
    }
  }
}
"""


async def path_audit_history(
    seed: Seed, role: str, field: FieldName, case: FieldCase
) -> None:
    """Read the contract's audit history: every role sees which fields changed,
    and only the roles that may read a field see its old and new values."""
    body, data = await _read_path(
        seed, role, "audit history", AUDIT_HISTORY, {"id": seed.contract_id}
    )
    changes = [
        change
        for entry in data["node"]["history"]["nodes"]
        for change in entry["changes"]
        if change["field"] == field[1]
    ]
    if case.write is None:
        # A computed field is never stored, so no change names it.
        assert changes == []
        return
    assert changes, f"no change of {field[1]} in the history"
    values = [change["newValue"] for change in changes]
    values += [change["oldValue"] for change in changes]
    if _may_read(role, field):
        assert case.expected in values
    else:
        assert values == [None] * len(values)
        _assert_no_needle(body, case)


PATH_CHECKS: dict[str, Callable[[Seed, str, FieldName, FieldCase], Awaitable[None]]] = {
    "list": path_list,
    "node": path_node,
    "client_contracts": path_client_contracts,
    "child_parent": path_child_parent,
    "filter": path_filter,
    "sort": path_sort,
    "cursor": path_cursor,
    "aggregate": path_aggregate,
    "search": path_search,
    "write": path_write,
    "export": path_export,
    "history": path_history,
    "audit_history": path_audit_history,
}


# --- The field matrix -----------------------------------------------------------------


def test_every_protected_field_has_a_case() -> None:
    missing = [".".join(f) for f in PROTECTED if f not in FIELD_CASES]
    assert missing == [], f"add a FieldCase for {missing} to this module"


def test_every_path_has_a_check() -> None:
    assert set(PATH_CHECKS) == set(PATHS)


def test_every_history_value_has_a_case() -> None:
    event_type = schema._schema.type_map["ContractEvent"]
    values = {
        name
        for name, event_field in getattr(event_type, "fields", {}).items()
        if "Decimal" in str(event_field.type)
    }
    covered = [name for case in FIELD_CASES.values() for name in case.history]

    assert sorted(covered) == sorted(values)


def test_every_filter_declares_its_fields() -> None:
    names = {item.name for item in ContractFilter.__strawberry_definition__.fields}
    assert set(FILTER_REVEALS) == names


def test_every_sort_declares_its_field() -> None:
    assert set(SORT_REVEALS) == set(ContractSortField)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("field", PROTECTED, ids=".".join)
@pytest.mark.parametrize("role", ROLES)
async def test_field_access(seed: Seed, role: str, field: FieldName, path: str) -> None:
    case = FIELD_CASES[field]

    await PATH_CHECKS[path](seed, role, field, case)


@pytest.mark.parametrize("role", ROLES)
async def test_cursors_hold_only_ids(seed: Seed, role: str) -> None:
    orders = [order for order, f in SORT_REVEALS.items() if _may_read(role, f)]

    await _page_through(seed, role, orders)


# --- The confidential record matrix ---------------------------------------------------


def _sees_confidential(role: str) -> bool:
    """Return whether `role` sees the seeded confidential contract.

    Sales watches it, and the roles with 'contract.confidential:read' see all.
    """
    permissions = POLICY.permissions_for(frozenset({role}))
    return "contract.confidential:read" in permissions or role == "sales"


RECORD_PATHS: dict[str, tuple[str, str]] = {
    "node": ("query($id: ID!) { r: node(id: $id) { id } }", "confidential"),
    "nodes_list": ("query { r: contracts(first: 100) { nodes { id } } }", ""),
    "count": ("query { r: contracts { totalCount } }", ""),
    "totals_count": ("query { r: contracts { totals { count } } }", ""),
    "client_contracts": (
        "query($id: ID!) { r: node(id: $id) { ... on Client { contracts(first: 100) "
        "{ totalCount nodes { id } } } } }",
        "client",
    ),
    "project_contracts": (
        "query($id: ID!) { r: node(id: $id) { ... on Project { contracts(first: 100) "
        "{ totalCount nodes { id } } } } }",
        "project",
    ),
    "tag_contracts": (
        "query($id: ID!) { r: node(id: $id) { ... on Tag { contracts(first: 100) "
        "{ totalCount nodes { id } } } } }",
        "tag",
    ),
    "child_parent": (
        "query($id: ID!) { r: node(id: $id) { ... on Contract { parent { id } } } }",
        "confidential_child",
    ),
    "search": (
        'query { r: contracts(filter: {search: "hush"}) { totalCount nodes { id } } }',
        "",
    ),
    "note": ("query($id: ID!) { r: node(id: $id) { id } }", "note"),
    "audit_history": (
        "query($id: ID!) { r: node(id: $id) { id ... on Contract "
        "{ history(first: 10) { nodes { action } } } } }",
        "confidential",
    ),
}


@pytest.mark.parametrize("path", sorted(RECORD_PATHS))
@pytest.mark.parametrize("role", ROLES)
async def test_confidential_record(seed: Seed, role: str, path: str) -> None:
    query, target = RECORD_PATHS[path]
    ids = {
        "confidential": seed.confidential_id,
        "client": seed.client_id,
        "project": seed.project_id,
        "tag": seed.tag_id,
        "confidential_child": seed.confidential_child_id,
        "note": seed.note_id,
    }
    variables = {"id": ids[target]} if target else {}

    body = await seed.api.post(query, variables, role=role)

    assert "errors" not in body, body
    raw = json.dumps(body)
    result = body["data"]["r"]
    if _sees_confidential(role):
        assert (
            seed.confidential_id in raw
            or seed.note_id in raw
            or (_count(result) is not None)
        )
        assert _count(result) in (None, _expected_count(role, path, True))
    else:
        assert seed.confidential_id not in raw
        assert "Hush" not in raw
        assert _count(result) in (None, _expected_count(role, path, False))
        if path in ("node", "note", "audit_history"):
            assert result is None


def _count(result: Any) -> int | None:
    if not isinstance(result, dict):
        return None
    if "totalCount" in result:
        return int(result["totalCount"])
    if "totals" in result:
        return int(result["totals"]["count"])
    if "contracts" in result and isinstance(result["contracts"], dict):
        return int(result["contracts"]["totalCount"])
    return None


def _expected_count(role: str, path: str, sees: bool) -> int:
    """Return how many contracts the counting paths report to `role`."""
    # The organization holds four contracts: Financial deal, Follow-up, Hush deal
    # and Hush annex. Only Hush deal is confidential.
    linked = {"project_contracts", "tag_contracts"}
    if path in linked:
        return 2 if sees else 1
    if path == "search":
        return 2 if sees else 1
    return 4 if sees else 3


@pytest.mark.parametrize("role", ROLES)
async def test_confidential_export(seed: Seed, role: str) -> None:
    response = await seed.api.client.get(
        "/export/contracts.csv",
        headers={"Authorization": f"Bearer {seed.api.tenant.tokens[role]}"},
    )

    assert response.status_code == 200
    ids = [row["id"] for row in csv.DictReader(io.StringIO(response.text))]
    expected = [seed.contract_id, seed.child_id, seed.confidential_child_id]
    if _sees_confidential(role):
        expected.insert(2, seed.confidential_id)
    assert ids == expected
    assert ("Hush deal" in response.text) is _sees_confidential(role)
