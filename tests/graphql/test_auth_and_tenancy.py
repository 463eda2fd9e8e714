"""Logging in, bearer tokens, and isolation between organizations."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contractgql.config import Settings
from contractgql.ids import encode_id
from contractgql.models import User
from contractgql.security.tokens import TokenSigner
from tests.conftest import BACKEND, PASSWORD, Api, Tenant, make_tenant
from tests.graphql.helpers import (
    CREATE_CONTRACT,
    UPDATE_CONTRACT,
    contract_input,
    create_client,
    create_contract,
    create_tag,
    listed_names,
    read_contract,
    user_id,
    without_id,
)

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token user { email } }
}
"""
VIEWER = """
query Viewer { viewer { user { email } roles } }
"""
UNAUTHENTICATED_DOCUMENTS = {
    "viewer": "query { viewer { roles } }",
    "node": 'query { node(id: "Q29udHJhY3Q6MQ") { id } }',
    "contracts": "query { contracts { totalCount } }",
    "clients": "query { clients { totalCount } }",
    "contacts": "query { contacts { totalCount } }",
    "projects": "query { projects { totalCount } }",
    "services": "query { services { totalCount } }",
    "tags": "query { tags { totalCount } }",
    "contractTypes": "query { contractTypes { totalCount } }",
    "customFieldDefinitions": "query { customFieldDefinitions { totalCount } }",
    "users": "query { users { totalCount } }",
    "createClient": """
      mutation { createClient(input: {name: "Acme"}) { errors { code } } }
    """,
    "createTag": 'mutation { createTag(input: {name: "urgent"}) { errors { code } } }',
    "updateContract": """
      mutation { updateContract(id: "Q29udHJhY3Q6MQ", input: {name: "X"}) {
        errors { code } } }
    """,
    "createNote": """
      mutation { createNote(input: {body: "Hi", clientId: "Q2xpZW50OjE"}) {
        errors { code } } }
    """,
}
SETUP_FOREIGN = """
mutation SetupForeign($client: ClientInput!, $tag: TagInput!, $service: ServiceInput!,
                      $type: ContractTypeInput!, $field: CustomFieldDefinitionInput!) {
  client: createClient(input: $client) { record { id } }
  tag: createTag(input: $tag) { record { id } }
  service: createService(input: $service) { record { id } }
  type: createContractType(input: $type) { record { id } }
  field: createCustomFieldDefinition(input: $field) { record { id } }
}
"""
CREATE_PROJECT = """
mutation CreateProject($input: ProjectInput!) {
  createProject(input: $input) { record { id } }
}
"""
CREATE_CONTACT = """
mutation CreateContact($input: ContactPersonInput!) {
  createContactPerson(input: $input) { record { id } }
}
"""
CREATE_NOTE = """
mutation CreateNote($input: NoteInput!) {
  createNote(input: $input) { record { id } errors { field code message } }
}
"""
ARCHIVE_TAG = """
mutation ArchiveTag($id: ID!) { archiveTag(id: $id) { record { archivedAt } } }
"""
CHANGE_LINKS = """
mutation ChangeLinks($id: ID!, $add: ContractLinksInput) {
  changeContractLinks(id: $id, add: $add) {
    contract { tags { name } }
    errors { field code message }
  }
}
"""
NODE = """
query Node($id: ID!) { node(id: $id) { __typename id } }
"""
LISTS = """
query Lists {
  contracts(filter: {includeArchived: true}) { totalCount }
  clients(includeArchived: true) { totalCount nodes { name } }
  contacts(includeArchived: true) { totalCount }
  projects(includeArchived: true) { totalCount }
  services(includeArchived: true) { totalCount }
  tags(includeArchived: true) { totalCount }
  contractTypes(includeArchived: true) { totalCount }
  customFieldDefinitions(includeArchived: true) { totalCount }
  users { totalCount nodes { email } }
}
"""
CONTACTS_OF = """
query ContactsOf($clientId: ID) { contacts(clientId: $clientId) { totalCount } }
"""
PAGE_AFTER = """
query PageAfter($after: String) { contracts(first: 1, after: $after) { totalCount } }
"""
FIRST_PAGE = """
query FirstPage { contracts(first: 1) { pageInfo { endCursor } } }
"""


async def _post(
    client: httpx.AsyncClient,
    document: str,
    variables: dict[str, Any],
    token: str | None,
) -> dict[str, Any]:
    """Post a document with a raw bearer token (or none) and return the body."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = await client.post(
        "/graphql", json={"query": document, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] is None
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


# --- Login ----------------------------------------------------------------------------


async def test_login_token_works(client: httpx.AsyncClient, tenant: Tenant) -> None:
    email = tenant.emails["finance"]

    login = await _post(client, LOGIN, {"email": email, "password": PASSWORD}, None)
    token = login["data"]["login"]["token"]
    viewer = await _post(client, VIEWER, {}, token)

    assert login["data"]["login"]["user"] == {"email": email}
    assert viewer["data"]["viewer"] == {"user": {"email": email}, "roles": ["finance"]}


async def test_login_email_ignores_case(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    email = tenant.emails["sales"]

    login = await _post(
        client, LOGIN, {"email": f"  {email.upper()} ", "password": PASSWORD}, None
    )

    assert login["data"]["login"]["user"] == {"email": email}


async def test_login_failures_look_alike(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    wrong_password = await _post(
        client,
        LOGIN,
        {"email": tenant.emails["admin"], "password": "wrong-password"},
        None,
    )
    unknown_email = await _post(
        client, LOGIN, {"email": "nobody@example.com", "password": PASSWORD}, None
    )

    wrong = _only_error(wrong_password)
    unknown = _only_error(unknown_email)
    assert wrong["extensions"]["code"] == "UNAUTHENTICATED"
    assert unknown["extensions"]["code"] == "UNAUTHENTICATED"
    assert wrong["message"] == unknown["message"]


async def test_login_deactivated_user_rejected(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await User.filter(id=tenant.user_ids["sales"]).update(is_active=False)

    body = await _post(
        client, LOGIN, {"email": tenant.emails["sales"], "password": PASSWORD}, None
    )
    unknown = await _post(
        client, LOGIN, {"email": "nobody@example.com", "password": PASSWORD}, None
    )

    error = _only_error(body)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == _only_error(unknown)["message"]


# --- Tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", ["garbage", "eyJ1IjoxLCJvIjoxfQ.AAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAA", ""]
)
async def test_bad_token_rejected(client: httpx.AsyncClient, token: str) -> None:
    error = _only_error(await _post(client, VIEWER, {}, token))

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_token_of_other_key_rejected(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    signer = TokenSigner("another-secret-key-" + "y" * 32, 3600)
    token = signer.issue(tenant.user_ids["admin"], tenant.organization.id)

    error = _only_error(await _post(client, VIEWER, {}, token))

    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_expired_token_rejected(
    client: httpx.AsyncClient,
    tenant: Tenant,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = TokenSigner(settings.resolved_secret_key(), settings.token_ttl)
    issued_at = time.time() - settings.token_ttl - 60
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: issued_at)
        token = signer.issue(tenant.user_ids["admin"], tenant.organization.id)

    error = _only_error(await _post(client, VIEWER, {}, token))

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in error["message"]


async def test_non_bearer_header_rejected(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Token {tenant.tokens['admin']}"},
    )

    error = _only_error(response.json())
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_deactivated_user_token_rejected(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    token = tenant.tokens["account_manager"]
    before = await _post(client, VIEWER, {}, token)

    await User.filter(id=tenant.user_ids["account_manager"]).update(is_active=False)
    after = await _post(client, VIEWER, {}, token)

    assert before["data"]["viewer"]["roles"] == ["account_manager"]
    assert _only_error(after)["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("name", sorted(UNAUTHENTICATED_DOCUMENTS))
async def test_missing_token_rejected(client: httpx.AsyncClient, name: str) -> None:
    body = await _post(client, UNAUTHENTICATED_DOCUMENTS[name], {}, None)

    # `node` is nullable, so its error leaves a null node in `data`. Every other field
    # is non-null, so its error makes `data` null.
    assert body["data"] == ({"node": None} if name == "node" else None)
    assert len(body["errors"]) == 1
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["errors"][0]["path"] == [name]


# --- Tenancy --------------------------------------------------------------------------


@pytest_asyncio.fixture
async def other(client: httpx.AsyncClient, settings: Settings) -> Api:
    """Return the admin API of a second organization."""
    return Api(client, await make_tenant(settings))


@pytest_asyncio.fixture
async def foreign(other: Api) -> dict[str, str]:
    """Create one record of every kind in the second organization and return the ids."""
    data = await other.data(
        SETUP_FOREIGN,
        {
            "client": {"name": "Foreign Client"},
            "tag": {"name": "foreign"},
            "service": {"name": "Foreign service"},
            "type": {"name": "Foreign type"},
            "field": {
                "entity": "CONTRACT",
                "key": "foreign",
                "label": "F",
                "kind": "TEXT",
            },
        },
    )
    ids = {name: payload["record"]["id"] for name, payload in data.items()}

    project = await other.data(
        CREATE_PROJECT,
        {"input": {"clientId": ids["client"], "name": "Foreign project"}},
    )
    contact = await other.data(
        CREATE_CONTACT,
        {"input": {"clientId": ids["client"], "name": "Foreign contact"}},
    )
    contract = await create_contract(
        other,
        ids["client"],
        {
            "name": "Foreign deal",
            "number": "F-1",
            "tagIds": [ids["tag"]],
            "ownerId": user_id(other.tenant, "admin"),
        },
    )
    note = await other.data(
        CREATE_NOTE, {"input": {"body": "Foreign note", "contractId": contract["id"]}}
    )

    ids["project"] = project["createProject"]["record"]["id"]
    ids["contact"] = contact["createContactPerson"]["record"]["id"]
    ids["contract"] = contract["id"]
    ids["note"] = note["createNote"]["record"]["id"]
    ids["user"] = user_id(other.tenant, "admin")
    return ids


async def test_other_tenant_not_listed(api: Api, foreign: dict[str, str]) -> None:
    data = await api.data(LISTS)

    totals = {name: data[name]["totalCount"] for name in data}
    assert totals == {
        "contracts": 0,
        "clients": 0,
        "contacts": 0,
        "projects": 0,
        "services": 0,
        "tags": 0,
        "contractTypes": 0,
        "customFieldDefinitions": 0,
        "users": 7,
    }
    emails = sorted(node["email"] for node in data["users"]["nodes"])
    assert emails == sorted(api.tenant.emails.values())


NODE_KINDS = [
    "client",
    "tag",
    "service",
    "type",
    "field",
    "project",
    "contact",
    "contract",
    "note",
    "user",
]


@pytest.mark.parametrize("kind", NODE_KINDS)
async def test_other_tenant_node_is_null(
    api: Api, foreign: dict[str, str], kind: str
) -> None:
    data = await api.data(NODE, {"id": foreign[kind]})

    assert data["node"] is None


@pytest.mark.parametrize(
    ("filter_key", "kind"),
    [
        ("clientIds", "client"),
        ("tagIds", "tag"),
        ("ownerIds", "user"),
        ("contractTypeIds", "type"),
    ],
)
async def test_filter_by_other_tenant_id_matches_nothing(
    api: Api, foreign: dict[str, str], filter_key: str, kind: str
) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id, {"name": "Own deal"})

    assert await listed_names(api, {filter_key: [foreign[kind]]}) == []


async def test_contacts_of_other_tenant_client_empty(
    api: Api, foreign: dict[str, str]
) -> None:
    data = await api.data(CONTACTS_OF, {"clientId": foreign["client"]})

    assert data["contacts"]["totalCount"] == 0


REFERENCES = [
    ("clientId", "client", "Client", False),
    ("tagIds", "tag", "Tag", True),
    ("serviceIds", "service", "Service", True),
    ("projectIds", "project", "Project", True),
    ("contractTypeId", "type", "ContractType", False),
    ("ownerId", "user", "User", False),
    ("parentId", "contract", "Contract", False),
    ("contactId", "contact", "ContactPerson", False),
]


@pytest.mark.parametrize(("field", "kind", "type_name", "is_list"), REFERENCES)
async def test_other_tenant_reference_looks_missing(
    api: Api,
    foreign: dict[str, str],
    field: str,
    kind: str,
    type_name: str,
    is_list: bool,
) -> None:
    client_id = await create_client(api)
    missing = encode_id(type_name, 2**62)

    async def errors_for(reference: str) -> list[dict[str, Any]]:
        value: Any = [reference] if is_list else reference
        fields = {field: value} if field != "clientId" else {}
        base = contract_input(client_id, fields)
        if field == "clientId":
            base["clientId"] = reference
        data = await api.data(CREATE_CONTRACT, {"input": base})
        assert data["createContract"]["contract"] is None
        errors: list[dict[str, Any]] = data["createContract"]["errors"]
        return errors

    foreign_errors = await errors_for(foreign[kind])
    missing_errors = await errors_for(missing)

    assert [(e["field"], e["code"]) for e in foreign_errors] == [(field, "NOT_FOUND")]
    assert [(e["field"], e["code"]) for e in missing_errors] == [(field, "NOT_FOUND")]
    assert without_id(foreign_errors[0]["message"], foreign[kind]) == without_id(
        missing_errors[0]["message"], missing
    )
    assert await listed_names(api) == []


async def test_update_other_tenant_contract_looks_missing(
    api: Api, other: Api, foreign: dict[str, str]
) -> None:
    missing = encode_id("Contract", 2**62)
    variables = {"input": {"name": "Hijacked"}}

    foreign_error = await api.error(
        UPDATE_CONTRACT, {"id": foreign["contract"], **variables}
    )
    missing_error = await api.error(UPDATE_CONTRACT, {"id": missing, **variables})
    stored = await read_contract(other, foreign["contract"])

    assert foreign_error["extensions"]["code"] == "NOT_FOUND"
    assert missing_error["extensions"]["code"] == "NOT_FOUND"
    assert without_id(foreign_error["message"], foreign["contract"]) == without_id(
        missing_error["message"], missing
    )
    assert stored is not None
    assert stored["name"] == "Foreign deal"


async def test_archive_other_tenant_tag_looks_missing(
    api: Api, foreign: dict[str, str]
) -> None:
    missing = encode_id("Tag", 2**62)

    foreign_error = await api.error(ARCHIVE_TAG, {"id": foreign["tag"]})
    missing_error = await api.error(ARCHIVE_TAG, {"id": missing})

    assert foreign_error["extensions"]["code"] == "NOT_FOUND"
    assert without_id(foreign_error["message"], foreign["tag"]) == without_id(
        missing_error["message"], missing
    )


async def test_note_on_other_tenant_contract_looks_missing(
    api: Api, foreign: dict[str, str]
) -> None:
    missing = encode_id("Contract", 2**62)

    foreign_error = await api.error(
        CREATE_NOTE, {"input": {"body": "Hi", "contractId": foreign["contract"]}}
    )
    missing_error = await api.error(
        CREATE_NOTE, {"input": {"body": "Hi", "contractId": missing}}
    )

    assert foreign_error["extensions"]["code"] == "NOT_FOUND"
    assert without_id(foreign_error["message"], foreign["contract"]) == without_id(
        missing_error["message"], missing
    )


async def test_link_other_tenant_tag_rejected(
    api: Api, foreign: dict[str, str]
) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    own_tag = await create_tag(api, "own")

    data = await api.data(
        CHANGE_LINKS,
        {"id": contract["id"], "add": {"tagIds": [own_tag, foreign["tag"]]}},
    )

    errors = data["changeContractLinks"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("add.tagIds", "NOT_FOUND")]
    stored = await read_contract(api, contract["id"])
    assert stored is not None
    assert stored["tags"] == []


async def test_other_tenant_cursor_rejected(
    api: Api, other: Api, foreign: dict[str, str]
) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id)
    first_page = await other.data(FIRST_PAGE)
    cursor = first_page["contracts"]["pageInfo"]["endCursor"]

    error = await api.error(PAGE_AFTER, {"after": cursor})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_same_number_and_tag_in_other_tenant_accepted(
    api: Api, foreign: dict[str, str]
) -> None:
    client_id = await create_client(api)

    contract = await create_contract(api, client_id, {"number": "F-1"})
    tag_id = await create_tag(api, "foreign")

    assert contract["number"] == "F-1"
    assert tag_id != foreign["tag"]


@pytest.mark.skipif(BACKEND != "sqlite", reason="only SQLite locks the database")
async def test_login_while_another_writer_holds_sqlite(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    """A long import holds SQLite's write lock; logging in still works meanwhile."""
    email = tenant.emails["finance"]
    path = settings.resolved_database_url.removeprefix("sqlite://")
    writer = sqlite3.connect(path, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        login = await _post(client, LOGIN, {"email": email, "password": PASSWORD}, None)
        token = login["data"]["login"]["token"]
        viewer = await _post(client, VIEWER, {}, token)
    finally:
        writer.rollback()
        writer.close()

    assert viewer["data"]["viewer"] == {"user": {"email": email}, "roles": ["finance"]}
    user = await User.get(id=tenant.user_ids["finance"])
    assert user.last_login_at is None
