"""The user and time of the last change that every editable record shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from contractgql.config import Settings
from contractgql.models import User
from contractgql.security.tokens import TokenSigner
from tests.conftest import Api, QueryCounter, password_hash
from tests.graphql.helpers import contract_input, create_client, user_id

ERRORS = "errors { field code message }"
RECORD_FIELDS = "id updatedAt archivedAt version updatedBy { id }"
# Only admins may change projects, services, tags, contract types and custom
# fields, so those cases need a second admin to tell two editors apart.
SECOND_ADMIN = "second_admin"


@dataclass(frozen=True)
class Kind:
    """An editable record kind, the roles that change it and valid inputs."""

    name: str
    creator: str
    editor: str
    create_input: dict[str, Any]
    update_input: dict[str, Any]
    # Input fields that take the id of a client created for the test.
    client_fields: tuple[str, ...] = ()
    extra_fields: str = ""


KINDS = (
    Kind(
        "Client",
        "sales",
        "admin",
        {"name": "Acme"},
        {"name": "Acme BV"},
        extra_fields="createdBy { id }",
    ),
    Kind(
        "ContactPerson",
        "sales",
        "admin",
        {"name": "Ann"},
        {"jobTitle": "Buyer"},
        client_fields=("clientId",),
    ),
    Kind(
        "Project",
        "admin",
        SECOND_ADMIN,
        {"name": "Web"},
        {"code": "WEB-1"},
        client_fields=("clientId",),
    ),
    Kind("Service", "admin", SECOND_ADMIN, {"name": "Hosting"}, {"code": "HST"}),
    Kind("Tag", "admin", SECOND_ADMIN, {"name": "urgent"}, {"color": "#d97706"}),
    Kind(
        "ContractType",
        "admin",
        SECOND_ADMIN,
        {"name": "Licence"},
        {"description": "Software licences"},
    ),
    Kind(
        "CustomFieldDefinition",
        "admin",
        SECOND_ADMIN,
        {"entity": "CLIENT", "key": "cost_centre", "label": "Cost", "kind": "TEXT"},
        {"label": "Cost centre"},
    ),
)
KIND_IDS = [kind.name for kind in KINDS]


def _fields(kind: Kind) -> str:
    return f"{RECORD_FIELDS} {kind.extra_fields}"


def _create_document(kind: Kind) -> str:
    return f"""
mutation Create($input: {kind.name}Input!) {{
  create{kind.name}(input: $input) {{ record {{ {_fields(kind)} }} {ERRORS} }}
}}
"""


def _update_document(kind: Kind) -> str:
    return f"""
mutation Update($id: ID!, $input: {kind.name}Input!, $expectedVersion: Int) {{
  update{kind.name}(id: $id, input: $input, expectedVersion: $expectedVersion) {{
    record {{ {_fields(kind)} }} {ERRORS}
  }}
}}
"""


def _archive_document(kind: Kind) -> str:
    return f"""
mutation Archive($id: ID!) {{
  archive{kind.name}(id: $id) {{ record {{ {_fields(kind)} }} {ERRORS} }}
}}
"""


def _node_document(kind: Kind) -> str:
    return f"""
query Read($id: ID!) {{ node(id: $id) {{ ... on {kind.name} {{ {_fields(kind)} }} }} }}
"""


async def _add_second_admin(api: Api, settings: Settings) -> None:
    """Add a second admin to the tenant, with a bearer token under SECOND_ADMIN."""
    tenant = api.tenant
    email = f"second-admin-{uuid.uuid4().hex[:10]}@example.com"
    user = await User.create(
        organization=tenant.organization,
        email=email,
        name="Second Admin",
        roles=["admin"],
        password_hash=password_hash(),
    )
    signer = TokenSigner(settings.resolved_secret_key(), settings.token_ttl)
    tenant.user_ids[SECOND_ADMIN] = user.id
    tenant.emails[SECOND_ADMIN] = email
    tenant.tokens[SECOND_ADMIN] = signer.issue(user.id, tenant.organization.id)


async def _mutate(
    api: Api, document: str, variables: dict[str, Any], role: str
) -> dict[str, Any]:
    """Run a mutation that must succeed and return its record."""
    data = await api.data(document, variables, role=role)
    (payload,) = data.values()
    assert payload["errors"] == []
    record: dict[str, Any] = payload["record"]
    return record


async def _create(api: Api, settings: Settings, kind: Kind) -> dict[str, Any]:
    """Add a second admin, then create a record of `kind` as its creator."""
    await _add_second_admin(api, settings)
    values = dict(kind.create_input)
    if kind.client_fields:
        client_id = await create_client(api)
        values.update({name: client_id for name in kind.client_fields})
    return await _mutate(api, _create_document(kind), {"input": values}, kind.creator)


def _updated_at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["updatedAt"])


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
async def test_create_sets_updated_by(api: Api, settings: Settings, kind: Kind) -> None:
    created = await _create(api, settings, kind)

    assert created["updatedBy"] == {"id": user_id(api.tenant, kind.creator)}
    assert created["version"] == 1


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
async def test_update_sets_updated_by(api: Api, settings: Settings, kind: Kind) -> None:
    created = await _create(api, settings, kind)
    variables = {"id": created["id"], "input": kind.update_input}

    updated = await _mutate(api, _update_document(kind), variables, kind.editor)
    read = await api.data(_node_document(kind), {"id": created["id"]}, role="admin")

    editor = {"id": user_id(api.tenant, kind.editor)}
    assert updated["updatedBy"] == editor
    assert updated["version"] == 2
    assert _updated_at(updated) > _updated_at(created)
    assert read["node"]["updatedBy"] == editor
    assert read["node"]["updatedAt"] == updated["updatedAt"]


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
async def test_archive_sets_updated_by(
    api: Api, settings: Settings, kind: Kind
) -> None:
    created = await _create(api, settings, kind)

    archived = await _mutate(
        api, _archive_document(kind), {"id": created["id"]}, kind.editor
    )

    assert archived["updatedBy"] == {"id": user_id(api.tenant, kind.editor)}
    assert archived["archivedAt"] is not None
    assert archived["version"] == 2
    assert _updated_at(archived) > _updated_at(created)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
async def test_conflicting_update_keeps_updated_by(
    api: Api, settings: Settings, kind: Kind
) -> None:
    created = await _create(api, settings, kind)
    variables = {"id": created["id"], "input": kind.update_input, "expectedVersion": 7}

    error = await api.error(_update_document(kind), variables, role=kind.editor)
    read = await api.data(_node_document(kind), {"id": created["id"]}, role="admin")

    assert error["extensions"]["code"] == "CONFLICT"
    assert read["node"]["updatedBy"] == {"id": user_id(api.tenant, kind.creator)}
    assert read["node"]["updatedAt"] == created["updatedAt"]


async def test_client_created_by_kept_on_update(api: Api, settings: Settings) -> None:
    (kind,) = [kind for kind in KINDS if kind.name == "Client"]
    created = await _create(api, settings, kind)
    variables = {"id": created["id"], "input": kind.update_input}

    updated = await _mutate(api, _update_document(kind), variables, kind.editor)

    creator = {"id": user_id(api.tenant, kind.creator)}
    assert created["createdBy"] == creator
    assert updated["createdBy"] == creator
    assert updated["updatedBy"] == {"id": user_id(api.tenant, kind.editor)}


SET_PROJECT_MEMBERS = f"""
mutation SetMembers($projectId: ID!, $userIds: [ID!]!) {{
  setProjectMembers(projectId: $projectId, userIds: $userIds) {{
    record {{ {RECORD_FIELDS} members {{ id }} }} {ERRORS}
  }}
}}
"""


async def test_project_members_set_updated_by(api: Api, settings: Settings) -> None:
    (kind,) = [kind for kind in KINDS if kind.name == "Project"]
    created = await _create(api, settings, kind)
    member = user_id(api.tenant, "project_staff")

    updated = await _mutate(
        api,
        SET_PROJECT_MEMBERS,
        {"projectId": created["id"], "userIds": [member]},
        SECOND_ADMIN,
    )

    assert updated["members"] == [{"id": member}]
    assert updated["updatedBy"] == {"id": user_id(api.tenant, SECOND_ADMIN)}
    assert updated["version"] == 2
    assert _updated_at(updated) > _updated_at(created)


CREATE_NOTE = f"""
mutation CreateNote($input: NoteInput!) {{
  createNote(input: $input) {{ record {{ {RECORD_FIELDS} author {{ id }} }} {ERRORS} }}
}}
"""
UPDATE_NOTE = f"""
mutation UpdateNote($id: ID!, $body: String!) {{
  updateNote(id: $id, body: $body) {{
    record {{ {RECORD_FIELDS} author {{ id }} }} {ERRORS}
  }}
}}
"""
ARCHIVE_NOTE = f"""
mutation ArchiveNote($id: ID!) {{
  archiveNote(id: $id) {{ record {{ {RECORD_FIELDS} }} {ERRORS} }}
}}
"""
NOTE_NODE = f"""
query NoteNode($id: ID!) {{ node(id: $id) {{ ... on Note {{ {RECORD_FIELDS} }} }} }}
"""


async def test_note_update_sets_updated_by(api: Api) -> None:
    client_id = await create_client(api)
    author = {"id": user_id(api.tenant, "project_staff")}
    created = await _mutate(
        api,
        CREATE_NOTE,
        {"input": {"body": "Called them", "clientId": client_id}},
        "project_staff",
    )

    updated = await _mutate(
        api, UPDATE_NOTE, {"id": created["id"], "body": "Called them twice"}, "admin"
    )
    read = await api.data(NOTE_NODE, {"id": created["id"]}, role="project_staff")

    admin = {"id": user_id(api.tenant, "admin")}
    assert created["updatedBy"] == author
    assert updated["updatedBy"] == admin
    assert updated["author"] == author
    assert updated["version"] == 2
    assert _updated_at(updated) > _updated_at(created)
    assert read["node"]["updatedBy"] == admin


async def test_note_archive_sets_updated_by(api: Api) -> None:
    client_id = await create_client(api)
    created = await _mutate(
        api,
        CREATE_NOTE,
        {"input": {"body": "Called them", "clientId": client_id}},
        "project_staff",
    )

    archived = await _mutate(api, ARCHIVE_NOTE, {"id": created["id"]}, "admin")

    assert archived["updatedBy"] == {"id": user_id(api.tenant, "admin")}
    assert archived["archivedAt"] is not None
    assert _updated_at(archived) > _updated_at(created)


CREATE_CONTRACT = f"""
mutation CreateContract($input: CreateContractInput!) {{
  createContract(input: $input) {{ contract {{ {RECORD_FIELDS} createdBy {{ id }} }} }}
}}
"""
UPDATE_CONTRACT = f"""
mutation UpdateContract($id: ID!, $input: UpdateContractInput!) {{
  updateContract(id: $id, input: $input) {{
    contract {{ {RECORD_FIELDS} createdBy {{ id }} }} {ERRORS}
  }}
}}
"""
ARCHIVE_CONTRACT = f"""
mutation ArchiveContract($id: ID!) {{
  archiveContract(id: $id) {{ contract {{ {RECORD_FIELDS} }} }}
}}
"""


async def _create_draft_contract(api: Api) -> dict[str, Any]:
    """Create a draft contract as sales and return it."""
    client_id = await create_client(api)
    data = await api.data(
        CREATE_CONTRACT,
        {"input": contract_input(client_id, {"stage": "DRAFT"})},
        role="sales",
    )
    contract: dict[str, Any] = data["createContract"]["contract"]
    return contract


async def test_contract_update_sets_updated_by(api: Api) -> None:
    created = await _create_draft_contract(api)

    data = await api.data(
        UPDATE_CONTRACT, {"id": created["id"], "input": {"name": "Hosting 2027"}}
    )
    updated = data["updateContract"]["contract"]

    sales = {"id": user_id(api.tenant, "sales")}
    assert data["updateContract"]["errors"] == []
    assert created["updatedBy"] == sales
    assert updated["createdBy"] == sales
    assert updated["updatedBy"] == {"id": user_id(api.tenant, "admin")}
    assert _updated_at(updated) > _updated_at(created)


async def test_contract_archive_sets_updated_by(api: Api) -> None:
    created = await _create_draft_contract(api)

    data = await api.data(ARCHIVE_CONTRACT, {"id": created["id"]}, role="management")
    archived = data["archiveContract"]["contract"]

    assert archived["updatedBy"] == {"id": user_id(api.tenant, "management")}
    assert archived["archivedAt"] is not None
    assert _updated_at(archived) > _updated_at(created)


# --- Statements per page --------------------------------------------------------------

CREATE_CLIENT = f"""
mutation CreateClient($input: ClientInput!) {{
  createClient(input: $input) {{ record {{ id }} {ERRORS} }}
}}
"""
UPDATE_CLIENT = f"""
mutation UpdateClient($id: ID!, $input: ClientInput!) {{
  updateClient(id: $id, input: $input) {{ record {{ id }} {ERRORS} }}
}}
"""
CREATE_CONTACT = f"""
mutation CreateContact($input: ContactPersonInput!) {{
  createContactPerson(input: $input) {{ record {{ id }} {ERRORS} }}
}}
"""
CLIENT_PAGE = """
query ClientPage($first: Int!) {
  clients(first: $first) {
    nodes {
      name
      createdBy { name }
      updatedBy { name }
      contacts { name updatedBy { name } }
    }
  }
}
"""
# One statement each: authenticating the token, the page, the creators and editors
# of its clients, and their contacts. The editors of the contacts are users that
# the request's user loader has read already, so they cost no statement.
CLIENT_PAGE_STATEMENTS = 4
CLIENT_COUNT = 100


async def _create_edited_clients(api: Api) -> None:
    """Create clients as sales with one contact each, and edit half of them.

    Admin edits the even clients and creates the contacts of the odd ones, so a
    page of clients names both users in each of its user fields.
    """
    for index in range(CLIENT_COUNT):
        client = await _mutate(
            api,
            CREATE_CLIENT,
            {"input": {"name": f"Client {index:03d}"}},
            "sales",
        )
        if index % 2 == 0:
            await _mutate(
                api,
                UPDATE_CLIENT,
                {"id": client["id"], "input": {"segment": "retail"}},
                "admin",
            )
        await _mutate(
            api,
            CREATE_CONTACT,
            {"input": {"clientId": client["id"], "name": f"Contact {index:03d}"}},
            "sales" if index % 2 == 0 else "admin",
        )


async def _statements_for_client_page(
    api: Api, count_queries: QueryCounter, size: int
) -> int:
    count_queries.statements.clear()
    data = await api.data(CLIENT_PAGE, {"first": size}, role="management")

    nodes = data["clients"]["nodes"]
    assert len(nodes) == size
    assert {node["createdBy"]["name"] for node in nodes} == {"Sales"}
    assert [node["updatedBy"]["name"] for node in nodes[:2]] == ["Admin", "Sales"]
    contact_editors = [node["contacts"][0]["updatedBy"]["name"] for node in nodes]
    assert contact_editors[:2] == ["Sales", "Admin"]
    assert all(len(node["contacts"]) == 1 for node in nodes)
    return len(count_queries.statements)


async def test_client_page_editors_statements_constant(
    api: Api, count_queries: QueryCounter
) -> None:
    await _create_edited_clients(api)

    small = await _statements_for_client_page(api, count_queries, 5)
    large = await _statements_for_client_page(api, count_queries, CLIENT_COUNT)

    assert small == CLIENT_PAGE_STATEMENTS
    assert large == CLIENT_PAGE_STATEMENTS
