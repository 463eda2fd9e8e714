"""The `history` connection of contracts, clients and projects."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.graphql.helpers import (
    CREATE_PROJECT,
    UPDATE_CONTRACT,
    create_client,
    create_contract,
)

HISTORY = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on %s {
      history(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes {
          id action at requestId
          actor { id name }
          changes { field oldValue newValue }
        }
      }
    }
  }
}
"""


async def history(
    api: Api,
    type_name: str,
    record_id: str,
    *,
    role: str = "admin",
    first: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    variables = {"id": record_id, "first": first, "after": after}
    data = await api.data(HISTORY % type_name, variables, role=role)
    result: dict[str, Any] = data["node"]["history"]
    return result


def changes_of(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {change["field"]: change for change in entry["changes"]}


async def test_contract_history_newest_first(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    for name in ("Second", "Third"):
        await api.data(UPDATE_CONTRACT, {"id": contract["id"], "input": {"name": name}})

    result = await history(api, "Contract", contract["id"])

    assert result["totalCount"] == 3
    actions = [entry["action"] for entry in result["nodes"]]
    assert actions == ["contract.update", "contract.update", "contract.create"]
    latest = result["nodes"][0]
    assert changes_of(latest)["name"] == {
        "field": "name",
        "oldValue": "Second",
        "newValue": "Third",
    }
    assert latest["actor"]["name"] == "Admin"
    assert latest["requestId"]
    assert latest["at"]


async def test_contract_history_pages(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    for index in range(4):
        await api.data(
            UPDATE_CONTRACT, {"id": contract["id"], "input": {"name": f"N{index}"}}
        )

    first = await history(api, "Contract", contract["id"], first=2)
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await history(
        api, "Contract", contract["id"], first=10, after=first["pageInfo"]["endCursor"]
    )
    assert rest["pageInfo"]["hasNextPage"] is False

    ids = [entry["id"] for entry in first["nodes"] + rest["nodes"]]
    assert len(ids) == 5
    assert len(set(ids)) == 5


async def test_history_hides_protected_values(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(
        api, client_id, {"amount": "4321.98", "currency": "EUR"}
    )
    await api.data(
        UPDATE_CONTRACT,
        {"id": contract["id"], "input": {"amount": "5678.12", "name": "Bigger"}},
    )

    denied = await history(api, "Contract", contract["id"], role="sales")
    update = changes_of(denied["nodes"][0])
    assert update["amount"] == {"field": "amount", "oldValue": None, "newValue": None}
    assert update["name"]["newValue"] == "Bigger"
    raw = str(denied)
    assert "4321" not in raw
    assert "5678" not in raw

    allowed = await history(api, "Contract", contract["id"], role="finance")
    update = changes_of(allowed["nodes"][0])
    assert update["amount"]["oldValue"] == "4321.98"
    assert update["amount"]["newValue"] == "5678.12"


async def test_client_and_project_history(api: Api) -> None:
    client_id = await create_client(api, "History Client")
    await api.data(
        """
        mutation($id: ID!) {
          updateClient(id: $id, input: {name: "History Client 2"}) { errors { code } }
        }
        """,
        {"id": client_id},
    )
    created = await api.data(
        CREATE_PROJECT, {"input": {"clientId": client_id, "name": "Move"}}
    )
    project_id = created["createProject"]["record"]["id"]

    client_history = await history(api, "Client", client_id)
    assert [entry["action"] for entry in client_history["nodes"]] == [
        "client.update",
        "client.create",
    ]
    project_history = await history(api, "Project", project_id)
    assert [entry["action"] for entry in project_history["nodes"]] == ["project.create"]
    assert changes_of(project_history["nodes"][0])["client"]["newValue"] == client_id
