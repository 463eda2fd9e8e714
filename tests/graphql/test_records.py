"""Clients, contacts, projects, catalogues, custom fields and notes through the API."""

from __future__ import annotations

from typing import Any

import pytest

from contractgql.ids import encode_id
from tests.conftest import Api
from tests.graphql.helpers import (
    CREATE_CONTRACT,
    contract_input,
    create_client,
    create_contract,
    create_tag,
    user_id,
)

ERRORS = "errors { field code message }"
CREATE_CLIENT = f"""
mutation CreateClient($input: ClientInput!) {{
  createClient(input: $input) {{
    record {{ id name customFields tags {{ name }} }} {ERRORS}
  }}
}}
"""
UPDATE_CLIENT = f"""
mutation UpdateClient($id: ID!, $input: ClientInput!) {{
  updateClient(id: $id, input: $input) {{ record {{ id name }} {ERRORS} }}
}}
"""
CREATE_CONTACT = f"""
mutation CreateContact($input: ContactPersonInput!) {{
  createContactPerson(input: $input) {{ record {{ id name email }} {ERRORS} }}
}}
"""
CREATE_PROJECT = f"""
mutation CreateProject($input: ProjectInput!) {{
  createProject(input: $input) {{ record {{ id name client {{ name }} }} {ERRORS} }}
}}
"""
UPDATE_PROJECT = f"""
mutation UpdateProject($id: ID!, $input: ProjectInput!) {{
  updateProject(id: $id, input: $input) {{ record {{ id name }} {ERRORS} }}
}}
"""
UPDATE_CONTACT = f"""
mutation UpdateContact($id: ID!, $input: ContactPersonInput!) {{
  updateContactPerson(id: $id, input: $input) {{ record {{ id name }} {ERRORS} }}
}}
"""
PROJECT_CLIENT = """
query ProjectClient($id: ID!) { node(id: $id) { ... on Project { client { name } } } }
"""
CONTACT_CLIENT = """
query ContactClient($id: ID!) {
  node(id: $id) { ... on ContactPerson { client { name } } }
}
"""
CREATE_SERVICE = f"""
mutation CreateService($input: ServiceInput!) {{
  createService(input: $input) {{ record {{ id name }} {ERRORS} }}
}}
"""
CREATE_TAG = f"""
mutation CreateTag($input: TagInput!) {{
  createTag(input: $input) {{ record {{ id name color }} {ERRORS} }}
}}
"""
UPDATE_TAG = f"""
mutation UpdateTag($id: ID!, $input: TagInput!) {{
  updateTag(id: $id, input: $input) {{ record {{ id name color }} {ERRORS} }}
}}
"""
ARCHIVE_TAG = """
mutation ArchiveTag($id: ID!) { archiveTag(id: $id) { record { archivedAt } } }
"""
CREATE_CONTRACT_TYPE = f"""
mutation CreateContractType($input: ContractTypeInput!) {{
  createContractType(input: $input) {{
    record {{ id name reminderOffsets {{ count unit }} }} {ERRORS}
  }}
}}
"""
CREATE_CUSTOM_FIELD = f"""
mutation CreateCustomField($input: CustomFieldDefinitionInput!) {{
  createCustomFieldDefinition(input: $input) {{ record {{ id key }} {ERRORS} }}
}}
"""
CREATE_NOTE = f"""
mutation CreateNote($input: NoteInput!) {{
  createNote(input: $input) {{ record {{ id body author {{ email }} }} {ERRORS} }}
}}
"""
UPDATE_NOTE = f"""
mutation UpdateNote($id: ID!, $body: String!) {{
  updateNote(id: $id, body: $body) {{ record {{ body version }} {ERRORS} }}
}}
"""
NODE_TYPE = """
query NodeType($id: ID!) { node(id: $id) { __typename id } }
"""
TAG_NODE = """
query TagNode($id: ID!) { node(id: $id) { ... on Tag { name color version } } }
"""
NOTE_BODY = """
query NoteBody($id: ID!) { node(id: $id) { ... on Note { body } } }
"""
CLIENT_NODE = """
query ClientNode($id: ID!) { node(id: $id) { ... on Client { name version } } }
"""
TAGS = """
query Tags($includeArchived: Boolean!) {
  tags(includeArchived: $includeArchived) { totalCount nodes { name } }
}
"""
CLIENTS = """
query Clients($search: String, $first: Int) {
  clients(search: $search, first: $first) { totalCount nodes { name } }
}
"""
CONTACTS = """
query Contacts($clientId: ID) { contacts(clientId: $clientId) { nodes { name } } }
"""


async def _record(
    api: Api, document: str, values: dict[str, Any], *, role: str = "admin"
) -> dict[str, Any]:
    """Run a create or update mutation that must succeed and return its record."""
    data = await api.data(document, {"input": values}, role=role)
    (payload,) = data.values()
    assert payload["errors"] == []
    record: dict[str, Any] = payload["record"]
    return record


async def _single_error(
    api: Api, document: str, variables: dict[str, Any], *, role: str = "admin"
) -> dict[str, Any]:
    """Run a mutation that must be rejected with one field error and return it."""
    data = await api.data(document, variables, role=role)
    (payload,) = data.values()
    assert payload["record"] is None
    assert len(payload["errors"]) == 1, payload["errors"]
    error: dict[str, Any] = payload["errors"][0]
    return error


async def _define_custom_field(api: Api, definition: dict[str, Any]) -> None:
    await _record(api, CREATE_CUSTOM_FIELD, definition)


# --- Node -----------------------------------------------------------------------------


async def test_node_resolves_every_type(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    contact = await _record(api, CREATE_CONTACT, {"clientId": client_id, "name": "Ann"})
    project = await _record(api, CREATE_PROJECT, {"clientId": client_id, "name": "Web"})
    service = await _record(api, CREATE_SERVICE, {"name": "Hosting"})
    tag = await _record(api, CREATE_TAG, {"name": "urgent"})
    contract_type = await _record(api, CREATE_CONTRACT_TYPE, {"name": "Licence"})
    custom_field = await _record(
        api,
        CREATE_CUSTOM_FIELD,
        {"entity": "CLIENT", "key": "segment_code", "label": "Code", "kind": "TEXT"},
    )
    note = await _record(api, CREATE_NOTE, {"body": "Called", "clientId": client_id})
    expected = {
        client_id: "Client",
        contract["id"]: "Contract",
        contact["id"]: "ContactPerson",
        project["id"]: "Project",
        service["id"]: "Service",
        tag["id"]: "Tag",
        contract_type["id"]: "ContractType",
        custom_field["id"]: "CustomFieldDefinition",
        note["id"]: "Note",
        user_id(api.tenant, "sales"): "User",
    }

    resolved = {}
    for global_id in expected:
        data = await api.data(NODE_TYPE, {"id": global_id}, role="sales")
        assert data["node"]["id"] == global_id
        resolved[global_id] = data["node"]["__typename"]

    assert resolved == expected


async def test_node_of_missing_record_is_null(api: Api) -> None:
    data = await api.data(NODE_TYPE, {"id": encode_id("Tag", 2**62)})

    assert data["node"] is None


# --- Tags and contract types ----------------------------------------------------------


async def test_tag_duplicate_name_rejected(api: Api) -> None:
    await create_tag(api, "urgent")

    error = await _single_error(api, CREATE_TAG, {"input": {"name": "urgent"}})
    tags = await api.data(TAGS, {"includeArchived": True})

    assert error["field"] == "name"
    assert error["code"] == "DUPLICATE"
    assert "'urgent'" in error["message"]
    assert tags["tags"]["totalCount"] == 1


async def test_tag_rename_to_duplicate_unchanged(api: Api) -> None:
    await create_tag(api, "urgent")
    legacy = await create_tag(api, "legacy")
    before = await api.data(TAG_NODE, {"id": legacy})

    error = await _single_error(
        api, UPDATE_TAG, {"id": legacy, "input": {"name": "urgent"}}
    )

    assert error["field"] == "name"
    assert error["code"] == "DUPLICATE"
    assert await api.data(TAG_NODE, {"id": legacy}) == before
    assert before["node"]["name"] == "legacy"


async def test_tag_invalid_color_rejected(api: Api) -> None:
    error = await _single_error(
        api, CREATE_TAG, {"input": {"name": "urgent", "color": "orange"}}
    )

    assert error["field"] == "color"
    assert error["code"] == "INVALID_COLOR"
    assert "'orange'" in error["message"]


async def test_tag_color_stored_lower_case(api: Api) -> None:
    tag = await _record(api, CREATE_TAG, {"name": "urgent", "color": "#D97706"})

    assert tag["color"] == "#d97706"


async def test_archived_tag_left_out_of_list(api: Api) -> None:
    await create_tag(api, "urgent")
    legacy = await create_tag(api, "legacy")

    await api.data(ARCHIVE_TAG, {"id": legacy})
    active = await api.data(TAGS, {"includeArchived": False})
    everything = await api.data(TAGS, {"includeArchived": True})

    assert active["tags"]["nodes"] == [{"name": "urgent"}]
    assert everything["tags"]["nodes"] == [{"name": "legacy"}, {"name": "urgent"}]


async def test_archived_tag_rejected_on_contract(api: Api) -> None:
    client_id = await create_client(api)
    legacy = await create_tag(api, "legacy")
    await api.data(ARCHIVE_TAG, {"id": legacy})

    data = await api.data(
        CREATE_CONTRACT, {"input": contract_input(client_id, {"tagIds": [legacy]})}
    )

    errors = data["createContract"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("tagIds", "NOT_FOUND")]
    assert legacy in errors[0]["message"]


async def test_contract_type_duplicate_rejected(api: Api) -> None:
    await _record(api, CREATE_CONTRACT_TYPE, {"name": "Licence"})

    error = await _single_error(
        api, CREATE_CONTRACT_TYPE, {"input": {"name": "Licence"}}
    )

    assert error["field"] == "name"
    assert error["code"] == "DUPLICATE"
    assert "'Licence'" in error["message"]


async def test_contract_type_reminder_offsets_stored(api: Api) -> None:
    offsets = [{"count": 3, "unit": "MONTHS"}, {"count": 2, "unit": "WEEKS"}]

    record = await _record(
        api, CREATE_CONTRACT_TYPE, {"name": "Licence", "reminderOffsets": offsets}
    )

    assert record["reminderOffsets"] == offsets


async def test_tag_create_forbidden_as_sales(api: Api) -> None:
    error = await api.error(CREATE_TAG, {"input": {"name": "urgent"}}, role="sales")

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await api.data(TAGS, {"includeArchived": True}))["tags"]["totalCount"] == 0


# --- Clients, contacts and projects ---------------------------------------------------


async def test_client_create_as_sales(api: Api) -> None:
    record = await _record(api, CREATE_CLIENT, {"name": "Acme BV"}, role="sales")

    assert record["name"] == "Acme BV"


async def test_client_create_forbidden_as_project_staff(api: Api) -> None:
    error = await api.error(
        CREATE_CLIENT, {"input": {"name": "Acme BV"}}, role="project_staff"
    )

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert (await api.data(CLIENTS))["clients"]["totalCount"] == 0


async def test_client_blank_name_rejected(api: Api) -> None:
    error = await _single_error(api, CREATE_CLIENT, {"input": {"name": "  "}})

    assert error["field"] == "name"
    assert error["code"] == "REQUIRED"


async def test_client_update_blank_name_unchanged(api: Api) -> None:
    client_id = await create_client(api, "Acme BV")
    before = await api.data(CLIENT_NODE, {"id": client_id})

    error = await _single_error(
        api, UPDATE_CLIENT, {"id": client_id, "input": {"name": ""}}
    )

    assert error["field"] == "name"
    assert error["code"] == "REQUIRED"
    assert await api.data(CLIENT_NODE, {"id": client_id}) == before


async def test_client_tags_stored(api: Api) -> None:
    urgent = await create_tag(api, "urgent")

    record = await _record(api, CREATE_CLIENT, {"name": "Acme", "tagIds": [urgent]})

    assert record["tags"] == [{"name": "urgent"}]


async def test_client_search_ignores_case(api: Api) -> None:
    for name in ("Acme BV", "Zeta NV", "acme holding"):
        await create_client(api, name)

    data = await api.data(CLIENTS, {"search": "ACME"})

    assert data["clients"]["nodes"] == [{"name": "Acme BV"}, {"name": "acme holding"}]


async def test_clients_first_above_maximum_rejected(api: Api) -> None:
    error = await api.error(CLIENTS, {"first": 101})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "101" in error["message"]
    assert "100" in error["message"]


@pytest.mark.parametrize(
    ("kind", "value"),
    [("DATE", "31-12-2026"), ("NUMBER", "ten"), ("BOOLEAN", "yes"), ("TEXT", 12)],
)
async def test_client_custom_field_value_rejected(
    api: Api, kind: str, value: Any
) -> None:
    await _define_custom_field(
        api, {"entity": "CLIENT", "key": "extra", "label": "Extra", "kind": kind}
    )

    error = await _single_error(
        api,
        CREATE_CLIENT,
        {"input": {"name": "Acme", "customFields": {"extra": value}}},
    )

    assert error["field"] == "customFields.extra"
    assert error["code"] == "INVALID_CUSTOM_FIELD_VALUE"
    assert repr(value) in error["message"]


async def test_client_choice_custom_field_rejected(api: Api) -> None:
    await _define_custom_field(
        api,
        {
            "entity": "CLIENT",
            "key": "tier",
            "label": "Tier",
            "kind": "CHOICE",
            "choices": ["gold", "silver"],
        },
    )

    error = await _single_error(
        api,
        CREATE_CLIENT,
        {"input": {"name": "Acme", "customFields": {"tier": "bronze"}}},
    )

    assert error["field"] == "customFields.tier"
    assert error["code"] == "INVALID_CUSTOM_FIELD_VALUE"
    assert "'bronze'" in error["message"]
    assert "'gold'" in error["message"]


async def test_client_unknown_custom_field_rejected(api: Api) -> None:
    error = await _single_error(
        api,
        CREATE_CLIENT,
        {"input": {"name": "Acme", "customFields": {"tier": "gold"}}},
    )

    assert error["field"] == "customFields.tier"
    assert error["code"] == "UNKNOWN_CUSTOM_FIELD"
    assert "'tier'" in error["message"]


async def test_client_custom_fields_stored(api: Api) -> None:
    await _define_custom_field(
        api, {"entity": "CLIENT", "key": "since", "label": "Since", "kind": "DATE"}
    )

    record = await _record(
        api, CREATE_CLIENT, {"name": "Acme", "customFields": {"since": "2020-02-29"}}
    )

    assert record["customFields"] == {"since": "2020-02-29"}


async def test_custom_field_key_invalid(api: Api) -> None:
    definition = {
        "entity": "CLIENT",
        "key": "Cost Centre",
        "label": "Cost centre",
        "kind": "TEXT",
    }

    error = await _single_error(api, CREATE_CUSTOM_FIELD, {"input": definition})

    assert error["field"] == "key"
    assert error["code"] == "INVALID_KEY"
    assert "'Cost Centre'" in error["message"]


async def test_contact_invalid_email_rejected(api: Api) -> None:
    client_id = await create_client(api)
    values = {"clientId": client_id, "name": "Ann", "email": "ann-at-example"}

    error = await _single_error(api, CREATE_CONTACT, {"input": values})

    assert error["field"] == "email"
    assert error["code"] == "INVALID_EMAIL"
    assert "'ann-at-example'" in error["message"]


async def test_contact_missing_client_rejected(api: Api) -> None:
    missing = encode_id("Client", 2**62)

    error = await _single_error(
        api, CREATE_CONTACT, {"input": {"clientId": missing, "name": "Ann"}}
    )

    assert error["field"] == "clientId"
    assert error["code"] == "NOT_FOUND"
    assert missing in error["message"]


async def test_contacts_filtered_by_client(api: Api) -> None:
    acme = await create_client(api, "Acme")
    zeta = await create_client(api, "Zeta")
    await _record(api, CREATE_CONTACT, {"clientId": acme, "name": "Ann"})
    await _record(api, CREATE_CONTACT, {"clientId": zeta, "name": "Bob"})

    data = await api.data(CONTACTS, {"clientId": zeta})

    assert data["contacts"]["nodes"] == [{"name": "Bob"}]


async def test_project_without_client_rejected(api: Api) -> None:
    error = await _single_error(api, CREATE_PROJECT, {"input": {"name": "Web"}})

    assert error["field"] == "clientId"
    assert error["code"] == "REQUIRED"


async def test_project_links_client(api: Api) -> None:
    client_id = await create_client(api, "Acme")

    record = await _record(api, CREATE_PROJECT, {"clientId": client_id, "name": "Web"})

    assert record["client"] == {"name": "Acme"}


# --- Notes ----------------------------------------------------------------------------


async def test_note_create_as_project_staff(api: Api) -> None:
    client_id = await create_client(api)

    note = await _record(
        api,
        CREATE_NOTE,
        {"body": "Called them", "clientId": client_id},
        role="project_staff",
    )

    assert note["body"] == "Called them"
    assert note["author"] == {"email": api.tenant.emails["project_staff"]}


async def test_note_create_forbidden_as_integrator(api: Api) -> None:
    client_id = await create_client(api)

    error = await api.error(
        CREATE_NOTE, {"input": {"body": "Hi", "clientId": client_id}}, role="integrator"
    )

    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_note_with_two_targets_rejected(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    values = {"body": "Hi", "clientId": client_id, "contractId": contract["id"]}

    error = await _single_error(api, CREATE_NOTE, {"input": values})

    assert error["field"] == "contractId"
    assert error["code"] == "INVALID_TARGET"
    assert "2" in error["message"]


async def test_note_blank_body_rejected(api: Api) -> None:
    client_id = await create_client(api)

    error = await _single_error(
        api, CREATE_NOTE, {"input": {"body": "   ", "clientId": client_id}}
    )

    assert error["field"] == "body"
    assert error["code"] == "REQUIRED"


async def test_note_update_forbidden_as_other_author_sales(api: Api) -> None:
    client_id = await create_client(api)
    note = await _record(
        api,
        CREATE_NOTE,
        {"body": "Original", "clientId": client_id},
        role="project_staff",
    )

    error = await api.error(
        UPDATE_NOTE, {"id": note["id"], "body": "Edited"}, role="sales"
    )
    stored = await api.data(NOTE_BODY, {"id": note["id"]})

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert stored["node"] == {"body": "Original"}


async def test_note_update_as_admin(api: Api) -> None:
    client_id = await create_client(api)
    note = await _record(
        api,
        CREATE_NOTE,
        {"body": "Original", "clientId": client_id},
        role="project_staff",
    )

    data = await api.data(UPDATE_NOTE, {"id": note["id"], "body": "Edited"})

    assert data["updateNote"]["errors"] == []
    assert data["updateNote"]["record"] == {"body": "Edited", "version": 2}


async def test_project_client_removal_rejected(api: Api) -> None:
    client_id = await create_client(api, "Acme")
    project = await _record(api, CREATE_PROJECT, {"clientId": client_id, "name": "Web"})

    error = await _single_error(
        api, UPDATE_PROJECT, {"id": project["id"], "input": {"clientId": None}}
    )
    stored = await api.data(PROJECT_CLIENT, {"id": project["id"]})

    assert error["field"] == "clientId"
    assert error["code"] == "REQUIRED"
    assert stored["node"] == {"client": {"name": "Acme"}}


async def test_contact_client_removal_rejected(api: Api) -> None:
    client_id = await create_client(api, "Acme")
    contact = await _record(api, CREATE_CONTACT, {"clientId": client_id, "name": "Ann"})

    error = await _single_error(
        api, UPDATE_CONTACT, {"id": contact["id"], "input": {"clientId": None}}
    )
    stored = await api.data(CONTACT_CLIENT, {"id": contact["id"]})

    assert error["field"] == "clientId"
    assert error["code"] == "REQUIRED"
    assert stored["node"] == {"client": {"name": "Acme"}}
