"""GraphQL documents and helpers shared by the API tests."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from contractgql.domain.dates import local_today
from contractgql.ids import encode_id
from tests.conftest import Api, Tenant

FINANCIAL_FIELDS = (
    "amount",
    "vatRate",
    "indexation",
    "renewalPriceAgreement",
    "mrr",
    "arr",
    "totalContractValue",
)

# Creation and update times are left out because a time such as 10:14:21.004 could
# contain a value such as "21.00" that assert_cannot_learn looks for.
CONTRACT_FIELDS = """
  id number name stage status sensitivity startDate endDate noticeDeadline
  daysUntilEnd daysUntilNoticeDeadline earliestEndWithNoticeToday
  noticePeriod { count unit } noticeToMonthEnd autoRenewal renewalTerm { count unit }
  paymentFrequency currency amount vatRate indexation renewalPriceAgreement
  mrr arr totalContractValue customFields version archivedAt
  client { id name } owner { id } tags { name }
"""
FIELD_ERRORS = "errors { field code message }"

CREATE_CLIENT = f"""
mutation CreateClient($input: ClientInput!) {{
  createClient(input: $input) {{ record {{ id name }} {FIELD_ERRORS} }}
}}
"""
CREATE_TAG = f"""
mutation CreateTag($input: TagInput!) {{
  createTag(input: $input) {{ record {{ id name color }} {FIELD_ERRORS} }}
}}
"""
CREATE_CONTRACT = f"""
mutation CreateContract($input: CreateContractInput!) {{
  createContract(input: $input) {{ contract {{ {CONTRACT_FIELDS} }} {FIELD_ERRORS} }}
}}
"""
UPDATE_CONTRACT = f"""
mutation UpdateContract($id: ID!, $input: UpdateContractInput!) {{
  updateContract(id: $id, input: $input) {{
    contract {{ {CONTRACT_FIELDS} }} {FIELD_ERRORS}
  }}
}}
"""
ARCHIVE_CONTRACT = """
mutation ArchiveContract($id: ID!) { archiveContract(id: $id) { contract { id } } }
"""
CONTRACT_NODE = f"""
query ContractNode($id: ID!) {{
  node(id: $id) {{ ... on Contract {{ {CONTRACT_FIELDS} }} }}
}}
"""
CONTRACT_LIST = f"""
query Contracts($first: Int, $after: String, $filter: ContractFilter,
                $orderBy: ContractOrder) {{
  contracts(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {CONTRACT_FIELDS} }} }}
  }}
}}
"""


def amsterdam_today() -> date:
    """Return today's date in the default organization timezone."""
    return local_today("Europe/Amsterdam")


async def create_client(api: Api, name: str = "Acme BV") -> str:
    """Create a client as admin and return its id."""
    data = await api.data(CREATE_CLIENT, {"input": {"name": name}})
    payload = data["createClient"]
    assert payload["errors"] == []
    client_id: str = payload["record"]["id"]
    return client_id


SET_PROJECT_MEMBERS = f"""
mutation SetProjectMembers($projectId: ID!, $userIds: [ID!]!) {{
  setProjectMembers(projectId: $projectId, userIds: $userIds) {{
    record {{ id members {{ id }} }} {FIELD_ERRORS}
  }}
}}
"""
CREATE_PROJECT = f"""
mutation CreateProject($input: ProjectInput!) {{
  createProject(input: $input) {{ record {{ id }} {FIELD_ERRORS} }}
}}
"""


async def join_client(api: Api, client_id: str, role: str) -> str:
    """Create a project for the client with `role`'s user as its only member.

    Project staff see the normal contracts of the clients of their projects.
    """
    created = await api.data(
        CREATE_PROJECT, {"input": {"clientId": client_id, "name": "Support"}}
    )
    project_id: str = created["createProject"]["record"]["id"]
    member = encode_id("User", api.tenant.user_ids[role])
    data = await api.data(
        SET_PROJECT_MEMBERS, {"projectId": project_id, "userIds": [member]}
    )
    assert data["setProjectMembers"]["errors"] == []
    return project_id


async def create_tag(api: Api, name: str) -> str:
    data = await api.data(CREATE_TAG, {"input": {"name": name}})
    payload = data["createTag"]
    assert payload["errors"] == []
    tag_id: str = payload["record"]["id"]
    return tag_id


def contract_input(
    client_id: str, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return a valid CreateContractInput, with `fields` added or replaced."""
    return {
        "name": "Hosting",
        "clientId": client_id,
        "startDate": "2026-01-01",
        **(fields or {}),
    }


async def create_contract(
    api: Api,
    client_id: str,
    fields: dict[str, Any] | None = None,
    *,
    role: str = "admin",
) -> dict[str, Any]:
    """Create a contract that must pass validation and return it as `role` reads it."""
    data = await api.data(
        CREATE_CONTRACT, {"input": contract_input(client_id, fields)}, role=role
    )
    payload = data["createContract"]
    assert payload["errors"] == []
    contract: dict[str, Any] = payload["contract"]
    return contract


async def read_contract(
    api: Api, contract_id: str, *, role: str = "admin"
) -> dict[str, Any] | None:
    data = await api.data(CONTRACT_NODE, {"id": contract_id}, role=role)
    node: dict[str, Any] | None = data["node"]
    return node


async def list_contracts(
    api: Api,
    *,
    role: str = "admin",
    filter: dict[str, Any] | None = None,
    order_by: dict[str, Any] | None = None,
    first: int = 100,
) -> dict[str, Any]:
    variables = {"first": first, "filter": filter, "orderBy": order_by}
    data = await api.data(CONTRACT_LIST, variables, role=role)
    connection: dict[str, Any] = data["contracts"]
    return connection


async def listed_names(
    api: Api, filter: dict[str, Any] | None = None, *, role: str = "admin"
) -> list[str]:
    """Return the names of the contracts that `filter` matches, sorted."""
    connection = await list_contracts(api, role=role, filter=filter)
    names = sorted(edge["node"]["name"] for edge in connection["edges"])
    assert connection["totalCount"] == len(names)
    return names


async def assert_cannot_learn(
    api: Api, role: str, contract_id: str, field: str, secret: str
) -> None:
    """Assert that `role` reads null for `field` and finds `secret` in no response.

    The contract is read by id and through the list, and the secret text is looked for
    anywhere in each raw response, so a leak through another field also fails.
    """
    by_id = await api.post(CONTRACT_NODE, {"id": contract_id}, role=role)
    listed = await api.post(CONTRACT_LIST, {"first": 100}, role=role)

    assert "errors" not in by_id
    assert "errors" not in listed
    assert by_id["data"]["node"][field] is None
    nodes = [edge["node"] for edge in listed["data"]["contracts"]["edges"]]
    matching = [node for node in nodes if node["id"] == contract_id]
    assert len(matching) == 1
    assert matching[0][field] is None
    assert secret not in json.dumps(by_id)
    assert secret not in json.dumps(listed)


def user_id(tenant: Tenant, role: str) -> str:
    """Return the global id of the tenant's user with `role`."""
    return encode_id("User", tenant.user_ids[role])


def without_id(message: str, global_id: str) -> str:
    """Return `message` with `global_id` replaced, to compare two NOT_FOUND texts."""
    return message.replace(global_id, "<id>")
