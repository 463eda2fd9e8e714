"""Optimistic concurrency: the expectedVersion argument of every update mutation.

Requests go over HTTP to the ASGI app, and most concurrent tests send them with
asyncio.gather. On PostgreSQL these run on several pooled connections at once, and
on SQLite they interleave between the statements of each request. On PostgreSQL one
more test sends its requests to several `contractgql serve` processes at once.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from tortoise.expressions import F

from contractgql.config import Settings
from contractgql.ids import decode_id
from contractgql.models import (
    AuditLog,
    AuditOutbox,
    Client,
    ContactPerson,
    Contract,
    ContractType,
    CustomFieldDefinition,
    Note,
    Project,
    ProjectMember,
    Service,
    Tag,
)
from contractgql.models.base import Record
from tests.conftest import BACKEND, Api
from tests.graphql.helpers import (
    CREATE_CONTRACT,
    contract_input,
    create_client,
    create_contract,
    create_tag,
    user_id,
)

CONCURRENT_REQUESTS = 20
# Server processes that the PostgreSQL test spreads its concurrent requests over.
SERVER_PROCESSES = 3

UPDATE_CONTRACT = """
mutation UpdateContract($id: ID!, $input: UpdateContractInput!, $version: Int) {
  updateContract(id: $id, input: $input, expectedVersion: $version) {
    contract { id name version } errors { field code message }
  }
}
"""
UPDATE_CLIENT = """
mutation UpdateClient($id: ID!, $input: ClientInput!) {
  updateClient(id: $id, input: $input) { record { id } errors { field code message } }
}
"""
CREATE_NOTE = """
mutation CreateNote($input: NoteInput!) {
  createNote(input: $input) { record { id } errors { code } }
}
"""


@dataclass(frozen=True)
class Case:
    """One update mutation: its call, the model it changes and a valid change."""

    call: str
    model: type[Record]
    variables: dict[str, Any]
    # GraphQL names of the fields that `variables` set to a new value.
    changed_fields: tuple[str, ...]
    payload: str = "record"


CASES = {
    "updateContract": Case(
        "updateContract(id: $id, input: {name: $text}, expectedVersion: $version)",
        Contract,
        {"text": "Renamed"},
        ("name",),
        payload="contract",
    ),
    "changeContractLinks": Case(
        "changeContractLinks(id: $id, add: {tagIds: [$tag]}, "
        "expectedVersion: $version)",
        Contract,
        {},
        ("add.tagIds",),
        payload="contract",
    ),
    "setContractParent": Case(
        "setContractParent(id: $id, parentId: $parent, expectedVersion: $version)",
        Contract,
        {},
        ("parentId",),
        payload="contract",
    ),
    "updateClient": Case(
        "updateClient(id: $id, input: {name: $text}, expectedVersion: $version)",
        Client,
        {"text": "Renamed"},
        ("name",),
    ),
    "updateContactPerson": Case(
        "updateContactPerson(id: $id, input: {name: $text}, expectedVersion: $version)",
        ContactPerson,
        {"text": "Renamed"},
        ("name",),
    ),
    "updateProject": Case(
        "updateProject(id: $id, input: {name: $text}, expectedVersion: $version)",
        Project,
        {"text": "Renamed"},
        ("name",),
    ),
    "setProjectMembers": Case(
        "setProjectMembers(projectId: $id, userIds: [$user], "
        "expectedVersion: $version)",
        Project,
        {},
        ("userIds",),
    ),
    "updateService": Case(
        "updateService(id: $id, input: {name: $text}, expectedVersion: $version)",
        Service,
        {"text": "Renamed"},
        ("name",),
    ),
    "updateTag": Case(
        "updateTag(id: $id, input: {name: $text}, expectedVersion: $version)",
        Tag,
        {"text": "Renamed"},
        ("name",),
    ),
    "updateContractType": Case(
        "updateContractType(id: $id, input: {name: $text}, expectedVersion: $version)",
        ContractType,
        {"text": "Renamed"},
        ("name",),
    ),
    "updateCustomFieldDefinition": Case(
        "updateCustomFieldDefinition(id: $id, input: {label: $text}, "
        "expectedVersion: $version)",
        CustomFieldDefinition,
        {"text": "Renamed"},
        ("label",),
    ),
    "updateNote": Case(
        "updateNote(id: $id, body: $text, expectedVersion: $version)",
        Note,
        {"text": "Renamed"},
        ("body",),
    ),
}
VARIABLE_TYPES = {
    "id": "ID!",
    "version": "Int",
    "text": "String!",
    "tag": "ID!",
    "parent": "ID",
    "user": "ID!",
}


def _document(case: Case) -> str:
    used = [name for name in VARIABLE_TYPES if f"${name}" in case.call]
    declared = ", ".join(f"${name}: {VARIABLE_TYPES[name]}" for name in used)
    return (
        f"mutation Attempt({declared}) {{ {case.call} {{ "
        f"{case.payload} {{ id version }} errors {{ field code message }} }} }}"
    )


async def _record(api: Api, document: str, input: dict[str, Any]) -> str:
    data = await api.data(document, {"input": input})
    payload = next(iter(data.values()))
    assert payload["errors"] == []
    record_id: str = payload["record"]["id"]
    return record_id


async def _target(api: Api, name: str) -> dict[str, Any]:
    """Create the record that mutation `name` changes and the ids it refers to."""
    client_id = await create_client(api, "Acme")
    variables: dict[str, Any] = {
        "tag": await create_tag(api, "urgent"),
        "user": user_id(api.tenant, "sales"),
    }
    model = CASES[name].model
    if model is Contract:
        variables["id"] = (await create_contract(api, client_id))["id"]
        variables["parent"] = (await create_contract(api, client_id))["id"]
    elif model is Client:
        variables["id"] = client_id
    elif model is ContactPerson:
        variables["id"] = await _record(
            api,
            "mutation($input: ContactPersonInput!) { createContactPerson(input: "
            "$input) { record { id } errors { code } } }",
            {"clientId": client_id, "name": "Ann"},
        )
    elif model is Project:
        variables["id"] = await _record(
            api,
            "mutation($input: ProjectInput!) { createProject(input: $input) "
            "{ record { id } errors { code } } }",
            {"clientId": client_id, "name": "Web"},
        )
    elif model is Service:
        variables["id"] = await _record(
            api,
            "mutation($input: ServiceInput!) { createService(input: $input) "
            "{ record { id } errors { code } } }",
            {"name": "Hosting"},
        )
    elif model is Tag:
        variables["id"] = variables["tag"]
    elif model is ContractType:
        variables["id"] = await _record(
            api,
            "mutation($input: ContractTypeInput!) { createContractType(input: "
            "$input) { record { id } errors { code } } }",
            {"name": "Licence"},
        )
    elif model is CustomFieldDefinition:
        variables["id"] = await _record(
            api,
            "mutation($input: CustomFieldDefinitionInput!) { "
            "createCustomFieldDefinition(input: $input) { record { id } "
            "errors { code } } }",
            {"entity": "CLIENT", "key": "region", "label": "Region", "kind": "TEXT"},
        )
    else:
        variables["id"] = await _record(
            api, CREATE_NOTE, {"body": "Called", "clientId": client_id}
        )
    return variables


async def _stored(model: type[Record], global_id: str) -> Any:
    return await model.get(id=decode_id(global_id)[1])


async def _state(model: type[Record], global_id: str) -> dict[str, Any]:
    """Return the stored row, with the contract's tags or the project's members."""
    pk = decode_id(global_id)[1]
    rows = await model.filter(id=pk).values()
    state = dict(rows[0])
    if model is Contract:
        contract = await Contract.get(id=pk)
        state["tags"] = sorted(await contract.tags.all().values_list("id", flat=True))
    if model is Project:
        members = ProjectMember.filter(project_id=pk)
        state["members"] = sorted(await members.values_list("user_id", flat=True))
    return state


@pytest.mark.parametrize("name", sorted(CASES))
async def test_stale_version_rejected(api: Api, name: str) -> None:
    case = CASES[name]
    variables = {**await _target(api, name), **case.variables}
    read = await _stored(case.model, variables["id"])
    # Someone else's change after the caller read the record.
    await case.model.filter(id=read.id).update(version=F("version") + 1)
    state = await _state(case.model, variables["id"])

    body = await api.post(
        _document(case), {**variables, "version": read.version}, role="admin"
    )

    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentVersion"] == read.version + 1
    assert error["extensions"]["changedFields"] == list(case.changed_fields)
    assert error["message"] == (
        f"{_label(case.model)} {variables['id']!r} was changed by someone else: the "
        f"request expected version {read.version}, but the current version is "
        f"{read.version + 1}. Reload the record and apply your changes again."
    )
    assert await _state(case.model, variables["id"]) == state


@pytest.mark.parametrize("version", [0, -5, 99])
async def test_version_never_reached_named(api: Api, version: int) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)

    body = await api.post(
        UPDATE_CONTRACT,
        {"id": contract["id"], "input": {"name": "Other"}, "version": version},
        role="admin",
    )

    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["message"] == (
        f"Contract {contract['id']!r} never had version {version}: versions start at "
        "1 and the current version is 1. Send the version of the record as you read "
        "it."
    )
    assert (await _stored(Contract, contract["id"])).name == "Hosting"


@pytest.mark.parametrize("name", sorted(CASES))
async def test_current_version_accepted(api: Api, name: str) -> None:
    case = CASES[name]
    variables = {**await _target(api, name), **case.variables}
    before = await _stored(case.model, variables["id"])

    data = await api.data(_document(case), {**variables, "version": before.version})

    payload = next(iter(data.values()))
    assert payload["errors"] == []
    assert payload[case.payload]["version"] == before.version + 1
    after = await _stored(case.model, variables["id"])
    assert after.version == before.version + 1


@pytest.mark.parametrize("name", sorted(CASES))
async def test_update_without_version_accepted(api: Api, name: str) -> None:
    case = CASES[name]
    variables = {**await _target(api, name), **case.variables}
    before = await _stored(case.model, variables["id"])

    data = await api.data(_document(case), variables)

    payload = next(iter(data.values()))
    assert payload["errors"] == []
    assert payload[case.payload]["version"] == before.version + 1


def _label(model: type[Record]) -> str:
    return {
        ContactPerson: "Contact person",
        ContractType: "Contract type",
        CustomFieldDefinition: "Custom field",
    }.get(model, model.__name__)


async def test_stale_contract_update_changes_nothing(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id, {"name": "Hosting"})
    await api.data(
        UPDATE_CONTRACT,
        {"id": contract["id"], "input": {"name": "Hosting 2"}, "version": 1},
    )

    error = await api.error(
        UPDATE_CONTRACT,
        {
            "id": contract["id"],
            "input": {"name": "Hosting 3", "description": "New", "stage": "SIGNED"},
            "version": 1,
        },
    )

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentVersion"] == 2
    # The stage is already SIGNED, so only the name and description would change.
    assert error["extensions"]["changedFields"] == ["description", "name"]
    stored = await _stored(Contract, contract["id"])
    assert stored.name == "Hosting 2"
    assert stored.description is None
    assert stored.version == 2


async def _concurrent(
    api: Api, document: str, variables: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return await asyncio.gather(
        *(api.post(document, item, role="admin") for item in variables)
    )


async def test_concurrent_same_version_one_wins(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    requests = [
        {"id": contract["id"], "input": {"name": f"Name {index}"}, "version": 1}
        for index in range(CONCURRENT_REQUESTS)
    ]

    bodies = await _concurrent(api, UPDATE_CONTRACT, requests)

    winners = [body for body in bodies if "errors" not in body]
    losers = [body for body in bodies if "errors" in body]
    assert len(winners) == 1
    assert len(losers) == CONCURRENT_REQUESTS - 1
    codes = {body["errors"][0]["extensions"]["code"] for body in losers}
    assert codes == {"CONFLICT"}
    assert {body["errors"][0]["extensions"]["currentVersion"] for body in losers} == {2}
    stored = await _stored(Contract, contract["id"])
    assert stored.version == 2
    assert stored.name == winners[0]["data"]["updateContract"]["contract"]["name"]


async def test_concurrent_tag_updates_one_wins(api: Api) -> None:
    tag_id = await create_tag(api, "urgent")
    document = _document(CASES["updateTag"])
    requests = [
        {"id": tag_id, "text": f"tag {index}", "version": 1}
        for index in range(CONCURRENT_REQUESTS)
    ]

    bodies = await _concurrent(api, document, requests)

    codes = [
        body["errors"][0]["extensions"]["code"] for body in bodies if "errors" in body
    ]
    assert len(codes) == CONCURRENT_REQUESTS - 1
    assert set(codes) == {"CONFLICT"}
    stored = await _stored(Tag, tag_id)
    assert stored.version == 2


async def test_concurrent_updates_without_version(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    requests = [
        {"id": contract["id"], "input": {"name": f"Name {index}"}}
        for index in range(CONCURRENT_REQUESTS)
    ]

    bodies = await _concurrent(api, UPDATE_CONTRACT, requests)

    assert [body.get("errors") for body in bodies] == [None] * CONCURRENT_REQUESTS
    stored = await _stored(Contract, contract["id"])
    assert stored.version == 1 + CONCURRENT_REQUESTS


async def _audited_changes(entity_type: str, entity_id: int) -> list[list[Any]]:
    """Return the changes of the entity's events, in the order they were written."""
    waiting = await AuditOutbox.filter(
        entity_type=entity_type, entity_id=entity_id
    ).values_list("id", "changes")
    recorded = await AuditLog.filter(
        entity_type=entity_type, entity_id=entity_id
    ).values_list("outbox_id", "changes")
    return [changes for _, changes in sorted([*waiting, *recorded])]


def _chain(events: list[list[Any]], field: str) -> list[tuple[Any, Any]]:
    return [
        (change["old"], change["new"])
        for changes in events
        for change in changes
        if change["field"] == field
    ]


@pytest.mark.parametrize("kind", ["contract", "client"])
async def test_concurrent_updates_audit_the_values_they_replace(
    api: Api, kind: str
) -> None:
    """Each update's audited old value is the value the update before it wrote."""
    client_id = await create_client(api)
    if kind == "contract":
        contract = await create_contract(api, client_id, {"description": "start"})
        target, document, model = contract["id"], UPDATE_CONTRACT, Contract
    else:
        await api.data(UPDATE_CLIENT, {"id": client_id, "input": {"segment": "start"}})
        target, document, model = client_id, UPDATE_CLIENT, Client
    field = "description" if kind == "contract" else "segment"
    requests = [
        {"id": target, "input": {field: f"value {index}"}}
        for index in range(CONCURRENT_REQUESTS)
    ]

    bodies = await _concurrent(api, document, requests)

    assert [body.get("errors") for body in bodies] == [None] * CONCURRENT_REQUESTS
    events = await _audited_changes(model.__name__, decode_id(target)[1])
    # The first change to the field is the one that set "start".
    setup, *chain = _chain(events, field)
    stored = await _stored(model, target)
    assert setup == (None, "start")
    assert len(chain) == CONCURRENT_REQUESTS
    assert [old for old, _ in chain] == ["start", *(new for _, new in chain[:-1])]
    assert chain[-1][1] == getattr(stored, field)


ARCHIVE = {
    "contract": "mutation A($id: ID!) { archiveContract(id: $id) { contract { id } } }",
    "client": "mutation A($id: ID!) { archiveClient(id: $id) { record { id } } }",
}


UPDATE_NOTE = """
mutation UpdateNote($id: ID!, $body: String!) {
  updateNote(id: $id, body: $body) { record { id } errors { code } }
}
"""


async def test_concurrent_note_edits_audit_the_bodies_they_replace(api: Api) -> None:
    client_id = await create_client(api)
    created = await api.data(
        CREATE_NOTE, {"input": {"body": "start", "clientId": client_id}}
    )
    note_id = created["createNote"]["record"]["id"]

    bodies = await _concurrent(
        api,
        UPDATE_NOTE,
        [{"id": note_id, "body": f"body {index}"} for index in range(10)],
    )

    assert [body.get("errors") for body in bodies] == [None] * 10
    events = await _audited_changes("Note", decode_id(note_id)[1])
    setup, *chain = _chain(events, "body")
    assert setup == (None, "start")
    assert [old for old, _ in chain] == ["start", *(new for _, new in chain[:-1])]
    assert (await _stored(Note, note_id)).body == chain[-1][1]


@pytest.mark.parametrize("kind", ["contract", "client"])
async def test_archive_during_updates_loses_no_update(api: Api, kind: str) -> None:
    """An archive running among updates neither undoes one nor is undone by one."""
    client_id = await create_client(api)
    if kind == "contract":
        contract = await create_contract(api, client_id, {"description": "start"})
        target, document, model, field = (
            contract["id"],
            UPDATE_CONTRACT,
            Contract,
            "description",
        )
    else:
        await api.data(UPDATE_CLIENT, {"id": client_id, "input": {"segment": "start"}})
        target, document, model, field = client_id, UPDATE_CLIENT, Client, "segment"
    before = await _stored(model, target)
    updates = [
        api.post(
            document, {"id": target, "input": {field: f"value {index}"}}, role="admin"
        )
        for index in range(5)
    ]
    archive = api.post(ARCHIVE[kind], {"id": target}, role="admin")

    bodies = await asyncio.gather(*updates, archive)

    succeeded = [body for body in bodies[:5] if not body.get("errors")]
    stored = await _stored(model, target)
    events = await _audited_changes(model.__name__, decode_id(target)[1])
    _, *chain = _chain(events, field)
    assert bodies[5].get("errors") is None
    assert stored.archived_at is not None
    # Every write took its own version, the archive included.
    assert stored.version == before.version + len(succeeded) + 1
    assert len(chain) == len(succeeded)
    assert [old for old, _ in chain] == ["start", *(new for _, new in chain[:-1])]
    assert getattr(stored, field) == chain[-1][1]
    archives = [c for c in events if any(x["field"] == "archivedAt" for x in c)]
    assert len(archives) == 1
    assert [x["field"] for x in archives[0]] == ["archivedAt"]


async def test_concurrent_field_updates_all_kept(api: Api) -> None:
    """Updates without a version that set different fields all keep their value."""
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    inputs = [
        {"name": "New name"},
        {"description": "New description"},
        {"number": "C-1"},
        {"renewalPriceAgreement": "CPI"},
    ]

    bodies = await _concurrent(
        api, UPDATE_CONTRACT, [{"id": contract["id"], "input": i} for i in inputs]
    )

    assert [body.get("errors") for body in bodies] == [None] * len(inputs)
    stored = await _stored(Contract, contract["id"])
    assert stored.name == "New name"
    assert stored.description == "New description"
    assert stored.number == "C-1"
    assert stored.renewal_price_agreement == "CPI"
    assert stored.version == 1 + len(inputs)


async def test_concurrent_notes_all_created(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    requests = [
        {"input": {"body": f"Note {index}", "contractId": contract["id"]}}
        for index in range(CONCURRENT_REQUESTS)
    ]

    bodies = await _concurrent(api, CREATE_NOTE, requests)

    assert [body.get("errors") for body in bodies] == [None] * CONCURRENT_REQUESTS
    assert all(body["data"]["createNote"]["errors"] == [] for body in bodies)
    count = await Note.filter(contract_id=decode_id(contract["id"])[1]).count()
    assert count == CONCURRENT_REQUESTS


@pytest.fixture
def servers(settings: Settings, tmp_path: Path) -> Iterator[list[str]]:
    """Start SERVER_PROCESSES `contractgql serve` processes on the test database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CONTRACTGQL_")
    }
    env.update(
        CONTRACTGQL_DATA_DIR=str(tmp_path),
        CONTRACTGQL_SECRET_KEY=settings.resolved_secret_key(),
        CONTRACTGQL_DATABASE_URL=settings.database_url or "",
        CONTRACTGQL_SCHEDULER="off",
        CONTRACTGQL_LOG_LEVEL="WARNING",
    )
    processes = []
    urls = []
    try:
        for _ in range(SERVER_PROCESSES):
            port = _free_port()
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "contractgql", "serve", "--port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            _wait_until_ready(url, process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"The server at {url} exited early."
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"The server at {url} did not become ready within 60 s.")


@pytest.mark.skipif(
    BACKEND != "postgres",
    reason="needs PostgreSQL: SQLite lets one process write at a time",
)
async def test_parallel_processes_one_wins(api: Api, servers: list[str]) -> None:
    """Updates sent to several server processes at once: exactly one wins."""
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    headers = {"Authorization": f"Bearer {api.tenant.tokens['admin']}"}

    async with httpx.AsyncClient(headers=headers, timeout=60) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    f"{servers[index % len(servers)]}/graphql",
                    json={
                        "query": UPDATE_CONTRACT,
                        "variables": {
                            "id": contract["id"],
                            "input": {"name": f"Name {index}"},
                            "version": 1,
                        },
                    },
                )
                for index in range(CONCURRENT_REQUESTS)
            )
        )

    bodies = [response.json() for response in responses]
    winners = [body for body in bodies if "errors" not in body]
    codes = [
        body["errors"][0]["extensions"]["code"] for body in bodies if "errors" in body
    ]
    assert len(winners) == 1
    assert codes == ["CONFLICT"] * (CONCURRENT_REQUESTS - 1)
    stored = await _stored(Contract, contract["id"])
    assert stored.version == 2
    assert stored.name == winners[0]["data"]["updateContract"]["contract"]["name"]


@pytest.mark.skipif(
    BACKEND != "postgres", reason="SQLite has one writer, so no number can race"
)
async def test_number_taken_during_create_is_duplicate(
    api: Api, settings: Settings
) -> None:
    """A number that another transaction commits while a create waits on it."""
    client_id = await create_client(api, "Racing client")
    number = "RACE-0001"
    url = (settings.database_url or "").replace("postgres://", "postgresql://", 1)
    other = await asyncpg.connect(url)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute(
            "INSERT INTO contracts (name, number, client_id, organization_id, "
            "start_date, stage, sensitivity, payment_frequency, currency, "
            "auto_renewal, notice_to_month_end, custom_fields, version, "
            "scanned_version, created_at, updated_at) VALUES ('Other', $1, $2, $3, "
            "'2026-01-01', 'signed', 'normal', 'one_off', 'EUR', false, false, "
            "'{}', 1, 0, now(), now())",
            number,
            decode_id(client_id)[1],
            api.tenant.organization.id,
        )
        create = asyncio.create_task(
            api.data(
                CREATE_CONTRACT,
                {"input": contract_input(client_id, {"number": number})},
            )
        )
        # The create waits on the unique index until the other transaction ends.
        await asyncio.sleep(1.0)
        assert not create.done()
        await transaction.commit()
        data = await asyncio.wait_for(create, timeout=30)
    finally:
        await other.close()

    assert data["createContract"]["contract"] is None
    assert data["createContract"]["errors"] == [
        {
            "field": "number",
            "code": "DUPLICATE",
            "message": f"Contract number {number!r} is already used by another "
            "contract in your organization: choose a different number.",
        }
    ]
    numbered = Contract.filter(
        organization_id=api.tenant.organization.id, number=number
    )
    assert await numbered.values_list("name", flat=True) == ["Other"]
