"""Relations in both directions: contract to client, project, tag and back."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

SETUP = """
mutation Setup($client: ClientInput!, $other: ClientInput!, $tag: TagInput!,
               $service: ServiceInput!, $type: ContractTypeInput!) {
  client: createClient(input: $client) { record { id } errors { code } }
  other: createClient(input: $other) { record { id } errors { code } }
  tag: createTag(input: $tag) { record { id } errors { code } }
  service: createService(input: $service) { record { id } errors { code } }
  type: createContractType(input: $type) { record { id } errors { code } }
}
"""
CREATE_PROJECT = """
mutation ($input: ProjectInput!) { createProject(input: $input) { record { id } } }
"""
CREATE_CONTRACT = """
mutation ($input: CreateContractInput!) {
  createContract(input: $input) { contract { id } errors { field code message } }
}
"""
CREATE_NOTE = """
mutation ($input: NoteInput!) { createNote(input: $input) { record { id body } } }
"""
SET_PARENT = """
mutation ($id: ID!, $parentId: ID) {
  setContractParent(id: $id, parentId: $parentId) {
    contract { parent { name } }
    errors { field code message }
  }
}
"""
CONTRACT_RELATIONS = """
query ($id: ID!) {
  node(id: $id) {
    ... on Contract {
      name
      client { name }
      contractType { name }
      projects { name }
      services { name }
      tags { name }
      parent { name }
      children { name }
      notes { body author { email } }
    }
  }
}
"""
REVERSE = """
query ($client: ID!, $tag: ID!, $project: ID!, $service: ID!, $type: ID!) {
  client: node(id: $client) {
    ... on Client {
      contracts(orderBy: {field: NAME}) { totalCount edges { node { name } } }
      projects { name }
      notes { body }
    }
  }
  tag: node(id: $tag) { ... on Tag { contracts { edges { node { name } } } } }
  project: node(id: $project) {
    ... on Project { contracts { edges { node { name } } } client { name } }
  }
  service: node(id: $service) { ... on Service { contracts { totalCount } } }
  type: node(id: $type) { ... on ContractType { contracts { totalCount } } }
}
"""


async def create_contract(api: Api, **values: Any) -> str:
    data = await api.data(CREATE_CONTRACT, {"input": values})
    assert data["createContract"]["errors"] == []
    contract_id: str = data["createContract"]["contract"]["id"]
    return contract_id


async def test_relations_both_ways(api: Api) -> None:
    ids = await api.data(
        SETUP,
        {
            "client": {"name": "Acme BV"},
            "other": {"name": "Other BV"},
            "tag": {"name": "strategic client", "color": "#2563EB"},
            "service": {"name": "Hosting"},
            "type": {
                "name": "Service subscription",
                "reminderOffsets": [{"count": 2, "unit": "MONTHS"}],
            },
        },
    )
    client_id = ids["client"]["record"]["id"]
    tag_id = ids["tag"]["record"]["id"]
    service_id = ids["service"]["record"]["id"]
    type_id = ids["type"]["record"]["id"]
    project = await api.data(
        CREATE_PROJECT, {"input": {"name": "Website", "clientId": client_id}}
    )
    project_id = project["createProject"]["record"]["id"]
    master = await create_contract(
        api, name="Master agreement", clientId=client_id, startDate="2026-01-01"
    )
    child = await create_contract(
        api,
        name="Hosting 2026",
        clientId=client_id,
        startDate="2026-01-01",
        contractTypeId=type_id,
        projectIds=[project_id],
        serviceIds=[service_id],
        tagIds=[tag_id],
    )
    await create_contract(
        api,
        name="Unrelated",
        clientId=ids["other"]["record"]["id"],
        startDate="2026-01-01",
    )
    parent = await api.data(SET_PARENT, {"id": child, "parentId": master})
    await api.data(
        CREATE_NOTE, {"input": {"body": "Called the client", "contractId": child}}
    )
    await api.data(
        CREATE_NOTE, {"input": {"body": "New address", "clientId": client_id}}
    )

    contract = (await api.data(CONTRACT_RELATIONS, {"id": child}))["node"]
    master_node = (await api.data(CONTRACT_RELATIONS, {"id": master}))["node"]
    reverse = await api.data(
        REVERSE,
        {
            "client": client_id,
            "tag": tag_id,
            "project": project_id,
            "service": service_id,
            "type": type_id,
        },
    )

    assert parent["setContractParent"] == {
        "contract": {"parent": {"name": "Master agreement"}},
        "errors": [],
    }
    assert contract == {
        "name": "Hosting 2026",
        "client": {"name": "Acme BV"},
        "contractType": {"name": "Service subscription"},
        "projects": [{"name": "Website"}],
        "services": [{"name": "Hosting"}],
        "tags": [{"name": "strategic client"}],
        "parent": {"name": "Master agreement"},
        "children": [],
        "notes": [
            {
                "body": "Called the client",
                "author": {"email": api.tenant.emails["admin"]},
            }
        ],
    }
    assert master_node["children"] == [{"name": "Hosting 2026"}]
    assert reverse["client"] == {
        "contracts": {
            "totalCount": 2,
            "edges": [
                {"node": {"name": "Hosting 2026"}},
                {"node": {"name": "Master agreement"}},
            ],
        },
        "projects": [{"name": "Website"}],
        "notes": [{"body": "New address"}],
    }
    assert reverse["tag"] == {
        "contracts": {"edges": [{"node": {"name": "Hosting 2026"}}]}
    }
    assert reverse["project"] == {
        "contracts": {"edges": [{"node": {"name": "Hosting 2026"}}]},
        "client": {"name": "Acme BV"},
    }
    assert reverse["service"] == {"contracts": {"totalCount": 1}}
    assert reverse["type"] == {"contracts": {"totalCount": 1}}


async def test_parent_cycle_rejected(api: Api) -> None:
    ids = await api.data(
        SETUP,
        {
            "client": {"name": "Acme BV"},
            "other": {"name": "B"},
            "tag": {"name": "t"},
            "service": {"name": "s"},
            "type": {"name": "x"},
        },
    )
    client_id = ids["client"]["record"]["id"]
    top = await create_contract(
        api, name="Top", clientId=client_id, startDate="2026-01-01"
    )
    middle = await create_contract(
        api, name="Middle", clientId=client_id, startDate="2026-01-01", parentId=top
    )
    bottom = await create_contract(
        api, name="Bottom", clientId=client_id, startDate="2026-01-01", parentId=middle
    )

    result = await api.data(SET_PARENT, {"id": top, "parentId": bottom})
    self_parent = await api.data(SET_PARENT, {"id": top, "parentId": top})
    after = (await api.data(CONTRACT_RELATIONS, {"id": top}))["node"]

    errors = result["setContractParent"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("parentId", "PARENT_CYCLE")]
    assert bottom in errors[0]["message"]
    assert [e["code"] for e in self_parent["setContractParent"]["errors"]] == [
        "PARENT_CYCLE"
    ]
    assert after["parent"] is None


CHANGE_WATCHERS = """
mutation ($id: ID!, $add: ContractLinksInput, $remove: ContractLinksInput) {
  changeContractLinks(id: $id, add: $add, remove: $remove) {
    contract { watchers { email } }
    errors { field code message }
  }
}
"""
NODE_NAME = "query ($id: ID!) { node(id: $id) { ... on Contract { name } } }"


async def test_watcher_sees_confidential_contract(api: Api) -> None:
    from contractgql.ids import encode_id

    ids = await api.data(
        SETUP,
        {
            "client": {"name": "Acme BV"},
            "other": {"name": "B"},
            "tag": {"name": "t"},
            "service": {"name": "s"},
            "type": {"name": "x"},
        },
    )
    contract_id = await create_contract(
        api,
        name="Secret deal",
        clientId=ids["client"]["record"]["id"],
        startDate="2026-01-01",
        sensitivity="CONFIDENTIAL",
    )
    sales = encode_id("User", api.tenant.user_ids["sales"])

    hidden = await api.data(NODE_NAME, {"id": contract_id}, role="sales")
    added = await api.data(
        CHANGE_WATCHERS, {"id": contract_id, "add": {"watcherIds": [sales]}}
    )
    shown = await api.data(NODE_NAME, {"id": contract_id}, role="sales")
    removed = await api.data(
        CHANGE_WATCHERS, {"id": contract_id, "remove": {"watcherIds": [sales]}}
    )
    hidden_again = await api.data(NODE_NAME, {"id": contract_id}, role="sales")

    assert hidden == {"node": None}
    assert added["changeContractLinks"] == {
        "contract": {"watchers": [{"email": api.tenant.emails["sales"]}]},
        "errors": [],
    }
    assert shown == {"node": {"name": "Secret deal"}}
    assert removed["changeContractLinks"]["contract"] == {"watchers": []}
    assert hidden_again == {"node": None}
