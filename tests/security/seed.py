"""Organizations with one record of every kind, for the tenant-isolation matrix.

`seed_tenant` creates the records through the API as the organization's admin, so
they are exactly what a real caller can make. `plant_foreign_links` then writes
links from one organization's records to another's straight into the database, which
the API refuses to do, to check that reads still hide them. `organization_of` and
`cross_tenant_references` read the database to check what a response or a write did.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from tortoise import Tortoise
from tortoise.fields.relational import ForeignKeyFieldInstance, ManyToManyFieldInstance
from tortoise.models import Model

from contractgql.config import Settings
from contractgql.domain.dates import local_today
from contractgql.ids import decode_id, encode_id
from contractgql.models import (
    ApiToken,
    Client,
    ContactPerson,
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractType,
    ContractWatcher,
    CustomFieldDefinition,
    CustomFieldEntity,
    CustomFieldKind,
    Document,
    DocumentKind,
    DocumentTemplate,
    DocumentVersion,
    ImportFormat,
    ImportJob,
    ImportStatus,
    Note,
    Notification,
    Project,
    ProjectMember,
    Reminder,
    ReminderKind,
    Service,
    Tag,
    Task,
    User,
)
from contractgql.security.api_tokens import (
    SHOWN_PREFIX_LENGTH,
    generate_token,
    hash_token,
)
from contractgql.services.workflow import start_step
from tests.conftest import Api, make_tenant
from tests.documents.helpers import pdf_bytes, upload

PAYLOAD = "record { id } errors { field code message }"
SEED_CATALOG = f"""
mutation SeedCatalog($tag: TagInput!, $service: ServiceInput!,
                     $contractType: ContractTypeInput!,
                     $field: CustomFieldDefinitionInput!) {{
  tag: createTag(input: $tag) {{ {PAYLOAD} }}
  service: createService(input: $service) {{ {PAYLOAD} }}
  contractType: createContractType(input: $contractType) {{ {PAYLOAD} }}
  field: createCustomFieldDefinition(input: $field) {{ {PAYLOAD} }}
}}
"""
SEED_RULE = f"""
mutation SeedRule($input: RequiredFieldRuleInput!) {{
  rule: createRequiredFieldRule(input: $input) {{ {PAYLOAD} }}
}}
"""
SEED_CLIENT = f"""
mutation SeedClient($input: ClientInput!) {{
  client: createClient(input: $input) {{ {PAYLOAD} }}
}}
"""
SEED_CLIENT_RECORDS = f"""
mutation SeedClientRecords($contact: ContactPersonInput!, $project: ProjectInput!) {{
  contact: createContactPerson(input: $contact) {{ {PAYLOAD} }}
  project: createProject(input: $project) {{ {PAYLOAD} }}
}}
"""
SEED_MEMBERS = f"""
mutation SeedMembers($projectId: ID!, $userIds: [ID!]!) {{
  members: setProjectMembers(projectId: $projectId, userIds: $userIds) {{ {PAYLOAD} }}
}}
"""
SEED_SERVICE_ACCOUNT = f"""
mutation SeedServiceAccount($input: CreateUserInput!) {{
  user: createUser(input: $input) {{ {PAYLOAD} }}
}}
"""
SEED_API_TOKEN = """
mutation SeedApiToken($input: CreateApiTokenInput!) {
  token: createApiToken(input: $input) {
    record { id } secret errors { field code message }
  }
}
"""
SEED_CONTRACT = """
mutation SeedContract($input: CreateContractInput!) {
  contract: createContract(input: $input) {
    contract { id } errors { field code message }
  }
}
"""
SEED_WATCHER = """
mutation SeedWatcher($id: ID!, $add: ContractLinksInput!) {
  contract: changeContractLinks(id: $id, add: $add) {
    contract { id } errors { field code message }
  }
}
"""
SEED_NOTES = f"""
mutation SeedNotes($contract: NoteInput!, $client: NoteInput!, $project: NoteInput!) {{
  contractNote: createNote(input: $contract) {{ {PAYLOAD} }}
  clientNote: createNote(input: $client) {{ {PAYLOAD} }}
  projectNote: createNote(input: $project) {{ {PAYLOAD} }}
}}
"""
SEED_NOTICE = """
mutation SeedNotice($contractId: ID!) {
  notice: recordNotice(contractId: $contractId, party: CLIENT, date: "2026-02-01") {
    contract { id } errors { field code message }
  }
}
"""
SEED_COMPLETE = """
mutation SeedComplete($id: ID!) {
  task: completeTask(id: $id) { task { id } errors { field code message } }
}
"""
SEED_HOURS = """
mutation SeedHours($contract: ID!, $project: ID!) {
  cap: setContractCap(contractId: $contract, unit: HOURS, period: YEAR,
                      limit: "1000") { cap { id } errors { field code message } }
  entry: createTimeEntry(input: {projectId: $project, contractId: $contract,
                                 date: "2026-06-01", hours: "2",
                                 description: "Seeded work"}) {
    entry { id } errors { field code message }
  }
}
"""
CUSTOM_FIELD_KEY = "matrix_reference"


@dataclass
class SeededTenant:
    """An organization, its admin's API and the global ids of its seeded records."""

    api: Api
    # Text that occurs in this organization's records and nowhere else.
    marker: str
    # Global ids by Node type name. The first id of each type is the main record.
    ids: dict[str, list[str]]
    # Names, numbers, bodies and e-mail addresses that only this organization has.
    secrets: list[str]
    # Bearer API token of the organization's service account, which has the
    # integrator role and the read scope.
    api_token: str

    @property
    def organization_id(self) -> int:
        organization_id: int = self.api.tenant.organization.id
        return organization_id

    def pk(self, type_name: str) -> int:
        """Return the primary key of the main record of `type_name`."""
        return decode_id(self.ids[type_name][0])[1]


async def seed_tenant(
    client: httpx.AsyncClient, settings: Settings, label: str
) -> SeededTenant:
    """Create an organization and one linked record of every kind through the API.

    The main contract links to the client, its contact person, the contract type,
    the project, the service, the tag, the owner, a watcher, a parent contract and a
    custom field value. The contract, the client and the project each carry a note,
    the project has a member, and a service account has an API token. The main
    contract also has recorded notice and a reminder whose workflow has one
    completed task and one open task. The admin has a notification about the main
    contract.
    """
    tenant = await make_tenant(settings)
    api = Api(client, tenant)
    marker = f"{label}-{uuid.uuid4().hex[:8]}"
    users = [encode_id("User", user_id) for user_id in tenant.user_ids.values()]
    admin = encode_id("User", tenant.user_ids["admin"])
    users.remove(admin)
    users.insert(0, admin)
    ids: dict[str, list[str]] = {"User": users}

    service_account_email = f"service-{marker.lower()}@example.com"
    service_account = (
        await _created(
            api,
            SEED_SERVICE_ACCOUNT,
            {
                "input": {
                    "email": service_account_email,
                    "name": f"{marker} service account",
                    "roles": ["integrator"],
                    "isServiceAccount": True,
                }
            },
        )
    )["user"]
    users.append(service_account)
    token = await api.data(
        SEED_API_TOKEN,
        {
            "input": {
                "userId": service_account,
                "name": f"{marker} token",
                "scopes": ["READ"],
            }
        },
    )
    assert token["token"]["errors"] == [], token["token"]["errors"]
    ids["ApiToken"] = [token["token"]["record"]["id"]]

    catalog = await _created(
        api,
        SEED_CATALOG,
        {
            "tag": {"name": f"{marker} tag"},
            "service": {"name": f"{marker} service"},
            "contractType": {
                "name": f"{marker} type",
                "renewalWorkflow": [
                    {"title": f"{marker} call", "assignee": "owner"},
                    {"title": f"{marker} quote", "assignee": "sales", "daysAfter": 14},
                ],
            },
            "field": {
                "entity": "CONTRACT",
                "key": CUSTOM_FIELD_KEY,
                "label": f"{marker} reference",
                "kind": "TEXT",
            },
        },
    )
    ids["Tag"] = [catalog["tag"]]
    ids["Service"] = [catalog["service"]]
    ids["ContractType"] = [catalog["contractType"]]
    ids["CustomFieldDefinition"] = [catalog["field"]]
    # Only for cancelled contracts, so that it rejects none of the seeded writes.
    rule = await _created(
        api,
        SEED_RULE,
        {
            "input": {
                "name": f"{marker} rule",
                "contractTypeId": catalog["contractType"],
                "fields": ["OWNER"],
                "stages": ["CANCELLED"],
            }
        },
    )
    ids["RequiredFieldRule"] = [rule["rule"]]

    client_id = (
        await _created(
            api,
            SEED_CLIENT,
            {"input": {"name": f"{marker} client", "tagIds": [catalog["tag"]]}},
        )
    )["client"]
    ids["Client"] = [client_id]
    records = await _created(
        api,
        SEED_CLIENT_RECORDS,
        {
            "contact": {"clientId": client_id, "name": f"{marker} contact"},
            "project": {"clientId": client_id, "name": f"{marker} project"},
        },
    )
    ids["ContactPerson"] = [records["contact"]]
    ids["Project"] = [records["project"]]
    await _created(
        api,
        SEED_MEMBERS,
        {"projectId": records["project"], "userIds": [users[-1]]},
    )

    parent = await _created(
        api,
        SEED_CONTRACT,
        {
            "input": {
                "name": f"{marker} master contract",
                "number": f"{marker}-0",
                "clientId": client_id,
                "startDate": "2025-01-01",
            }
        },
    )
    contract = await _created(
        api,
        SEED_CONTRACT,
        {
            "input": {
                "name": f"{marker} contract",
                "number": f"{marker}-1",
                "clientId": client_id,
                "startDate": "2026-01-01",
                "endDate": "2027-12-31",
                "noticePeriod": {"count": 3, "unit": "MONTHS"},
                "paymentFrequency": "MONTHLY",
                "amount": "1234.50",
                "contractTypeId": catalog["contractType"],
                "ownerId": admin,
                "contactId": records["contact"],
                "parentId": parent["contract"],
                "projectIds": [records["project"]],
                "serviceIds": [catalog["service"]],
                "tagIds": [catalog["tag"]],
                "customFields": {CUSTOM_FIELD_KEY: f"{marker} value"},
            }
        },
    )
    ids["Contract"] = [contract["contract"], parent["contract"]]
    await _created(
        api,
        SEED_WATCHER,
        {"id": contract["contract"], "add": {"watcherIds": [users[1]]}},
    )

    notes = await _created(
        api,
        SEED_NOTES,
        {
            "contract": {
                "body": f"{marker} contract note",
                "contractId": contract["contract"],
            },
            "client": {"body": f"{marker} client note", "clientId": client_id},
            "project": {
                "body": f"{marker} project note",
                "projectId": records["project"],
            },
        },
    )
    ids["Note"] = [notes["contractNote"], notes["clientNote"], notes["projectNote"]]
    ids.update(await _seed_hours(api, contract["contract"], records["project"]))

    # Notifications come from the background scans, which no mutation starts, so
    # the seed writes one for the admin straight into the database.
    notification = await Notification.create(
        organization_id=tenant.organization.id,
        user_id=tenant.user_ids["admin"],
        contract_id=decode_id(contract["contract"])[1],
        kind="reminder",
        source=f"seed:{marker}",
        title=f"{marker} notice deadline",
        body=f"{marker} contract needs a decision.",
    )
    ids["Notification"] = [encode_id("Notification", notification.id)]
    # Uploading a template needs a multipart request, and the matrix needs only
    # the row, so the seed writes it straight into the database.
    template = await DocumentTemplate.create(
        organization_id=tenant.organization.id,
        name=f"{marker} template",
        file_name=f"{marker}.docx",
        size=1,
        sha256="0" * 64,
        placeholders=["client.name"],
        created_by_id=tenant.user_ids["admin"],
    )
    ids["DocumentTemplate"] = [encode_id("DocumentTemplate", template.id)]
    # A finished import job, written straight into the database for the same reason.
    import_job = await ImportJob.create(
        organization_id=tenant.organization.id,
        created_by_id=tenant.user_ids["admin"],
        file_name=f"{marker}.csv",
        stored_path=f"{marker}.csv",
        file_format=ImportFormat.REGISTER,
        status=ImportStatus.SUCCEEDED,
    )
    ids["ImportJob"] = [encode_id("ImportJob", import_job.id)]
    ids.update(await _seed_workflow(api, contract["contract"]))
    ids.update(
        await _seed_documents(
            api,
            marker,
            {
                "contractId": contract["contract"],
                "clientId": client_id,
                "projectId": records["project"],
            },
        )
    )

    secrets = [
        marker,
        tenant.organization.name,
        service_account_email,
        *tenant.emails.values(),
    ]
    return SeededTenant(
        api=api,
        marker=marker,
        ids=ids,
        secrets=secrets,
        api_token=token["token"]["secret"],
    )


async def _seed_workflow(api: Api, contract_id: str) -> dict[str, list[str]]:
    """Record notice on the contract and run the first step of its workflow.

    The scans create reminders and start their first step, so the reminder is
    written with the ORM and its first task comes from `start_step`. Completing that
    task through the API starts the second step, assigned to the sales user.
    """
    notice = await api.data(SEED_NOTICE, {"contractId": contract_id})
    assert notice["notice"]["errors"] == [], notice["notice"]["errors"]
    reminder = await Reminder.create(
        organization_id=api.tenant.organization.id,
        contract_id=decode_id(contract_id)[1],
        kind=ReminderKind.NOTICE,
        anchor_date=date(2027, 9, 30),
        offset_count=3,
        offset_unit="months",
        due_date=date(2027, 6, 30),
    )
    first = await start_step(reminder, 0, local_today("Europe/Amsterdam"))
    assert first is not None
    first_id = encode_id("Task", first.id)
    completed = await api.data(SEED_COMPLETE, {"id": first_id})
    assert completed["task"]["errors"] == [], completed["task"]["errors"]
    second = await Task.get(reminder_id=reminder.id, step=1)
    return {
        "Reminder": [encode_id("Reminder", reminder.id)],
        "Task": [first_id, encode_id("Task", second.id)],
    }


async def _seed_hours(
    api: Api, contract_id: str, project_id: str
) -> dict[str, list[str]]:
    """Cap the contract's hours per year and record one entry on the project."""
    data = await api.data(SEED_HOURS, {"contract": contract_id, "project": project_id})
    assert data["cap"]["errors"] == [], data["cap"]["errors"]
    assert data["entry"]["errors"] == [], data["entry"]["errors"]
    return {
        "ContractCap": [data["cap"]["cap"]["id"]],
        "TimeEntry": [data["entry"]["entry"]["id"]],
    }


async def _created(
    api: Api, document: str, variables: dict[str, Any]
) -> dict[str, str]:
    """Run a seeding mutation that must succeed and return each alias's record id."""
    data = await api.data(document, variables)
    created: dict[str, str] = {}
    for alias, payload in data.items():
        assert payload["errors"] == [], (alias, payload["errors"])
        record = payload.get("record") or payload.get("contract")
        assert record is not None, (alias, payload)
        created[alias] = record["id"]
    return created


async def _seed_documents(
    api: Api, marker: str, targets: dict[str, str]
) -> dict[str, list[str]]:
    """Upload one PDF to each of the contract, the client and the project."""
    documents = []
    for field, target in targets.items():
        name = f"{marker} {field.removesuffix('Id')}.pdf"
        payload = await upload(api, {field: target}, name, pdf_bytes(marker))
        assert payload["errors"] == [], payload["errors"]
        documents.append(payload["document"])
    return {
        "Document": [document["id"] for document in documents],
        "DocumentVersion": [document["versions"][0]["id"] for document in documents],
    }


async def plant_foreign_links(victim: SeededTenant, foreign: SeededTenant) -> None:
    """Link `victim`'s records to `foreign`'s records directly in the database.

    The API rejects every one of these links. They stand for rows that an importer
    bug, a race or a manual fix could leave behind, which reads must still hide.
    Every relation field of the victim's records gets a foreign record behind it,
    except the non-null references such as Project.client, whose null would only
    be an error. New records are appended to `victim.ids`, so a walk visits them.
    """
    org = victim.organization_id
    foreign_org = foreign.organization_id
    foreign_user = foreign.pk("User")

    # Contract.tags, .projects, .services and .watchers.
    contract = await Contract.get(id=victim.pk("Contract"))
    await contract.tags.add(await Tag.get(id=foreign.pk("Tag")))
    await contract.projects.add(await Project.get(id=foreign.pk("Project")))
    await contract.services.add(await Service.get(id=foreign.pk("Service")))
    await ContractWatcher.create(contract_id=contract.id, user_id=foreign_user)

    # Client.tags, .contacts, .projects and Project.members.
    client = await Client.get(id=victim.pk("Client"))
    await client.tags.add(await Tag.get(id=foreign.pk("Tag")))
    await ContactPerson.create(
        organization_id=foreign_org,
        client_id=client.id,
        name=f"{foreign.marker} planted contact",
    )
    await Project.create(
        organization_id=foreign_org,
        client_id=client.id,
        name=f"{foreign.marker} planted project",
    )
    await ProjectMember.create(project_id=victim.pk("Project"), user_id=foreign_user)

    # The foreign contract falls under the victim's client, type, parent contract,
    # project, service and tag, for Client.contracts, ContractType.contracts,
    # Contract.children, Project.contracts, Service.contracts and Tag.contracts.
    foreign_contract = await Contract.get(id=foreign.pk("Contract"))
    foreign_contract.client_id = client.id
    foreign_contract.contract_type_id = victim.pk("ContractType")
    foreign_contract.parent_id = contract.id
    await foreign_contract.save()
    await foreign_contract.tags.add(await Tag.get(id=victim.pk("Tag")))
    await foreign_contract.projects.add(await Project.get(id=victim.pk("Project")))
    await foreign_contract.services.add(await Service.get(id=victim.pk("Service")))

    # Foreign notes on the victim's contract, client and project.
    for target, pk in (
        ("contract_id", contract.id),
        ("client_id", client.id),
        ("project_id", victim.pk("Project")),
    ):
        foreign_note = Note(
            organization_id=foreign_org,
            author_id=foreign_user,
            body=f"{foreign.marker} planted note",
        )
        setattr(foreign_note, target, pk)
        await foreign_note.save()

    # A victim contract and note whose nullable references all point at foreign
    # records, for Contract.owner, .contact, .contractType, .parent, .createdBy,
    # .updatedBy, Note.author and Note.updatedBy.
    planted = await Contract.create(
        organization_id=org,
        client_id=client.id,
        name=f"{victim.marker} planted contract",
        start_date=date(2026, 1, 1),
        currency="EUR",
        owner_id=foreign_user,
        contact_id=foreign.pk("ContactPerson"),
        contract_type_id=foreign.pk("ContractType"),
        parent_id=foreign.pk("Contract"),
        created_by_id=foreign_user,
        updated_by_id=foreign_user,
    )
    victim.ids["Contract"].append(encode_id("Contract", planted.id))
    note = await Note.create(
        organization_id=org,
        author_id=foreign_user,
        updated_by_id=foreign_user,
        client_id=client.id,
        body=f"{victim.marker} planted note",
    )
    victim.ids["Note"].append(encode_id("Note", note.id))

    # Foreign documents on the victim's contract, client and project, for their
    # documents, and a foreign version of the victim's document, for
    # Document.versions.
    for target, pk in (
        ("contract_id", contract.id),
        ("client_id", client.id),
        ("project_id", victim.pk("Project")),
    ):
        foreign_document = Document(
            organization_id=foreign_org,
            kind=DocumentKind.OTHER,
            name=f"{foreign.marker} planted document",
            last_version_number=1,
            created_by_id=foreign_user,
        )
        setattr(foreign_document, target, pk)
        await foreign_document.save()
    await DocumentVersion.create(
        organization_id=foreign_org,
        document_id=victim.pk("Document"),
        number=99,
        file_name=f"{foreign.marker} planted.pdf",
        generated_name="planted.pdf",
        content_type="application/pdf",
        size=1,
        sha256="0" * 64,
        created_by_id=foreign_user,
    )

    # A victim API token created by a foreign user, for ApiToken.createdBy.
    secret = generate_token()
    api_token = await ApiToken.create(
        organization_id=org,
        user_id=victim.pk("User"),
        name=f"{victim.marker} planted token",
        token_hash=hash_token(secret),
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        scopes=["read"],
        expires_at=datetime.now(UTC) + timedelta(days=1),
        created_by_id=foreign_user,
    )
    victim.ids["ApiToken"].append(encode_id("ApiToken", api_token.id))

    # A notification of the victim's admin about a foreign contract, for
    # Notification.contract.
    notification = await Notification.create(
        organization_id=org,
        user_id=victim.pk("User"),
        contract_id=foreign.pk("Contract"),
        kind="reminder",
        source=f"planted:{victim.marker}",
        title=f"{victim.marker} planted notification",
        body="",
    )
    victim.ids["Notification"].append(encode_id("Notification", notification.id))

    await _plant_foreign_editors(victim, foreign_user, client.id)
    await _plant_workflow_links(victim, foreign, contract.id)


async def _plant_foreign_editors(
    victim: SeededTenant, foreign_user: int, client_id: int
) -> None:
    """Plant a victim user and record of each editable kind with a foreign editor.

    The walks of each kind's updatedBy field and of Client.createdBy reach them.
    """
    org = victim.organization_id
    name = f"{victim.marker} planted editor"
    records = [
        Client(organization_id=org, name=name, created_by_id=foreign_user),
        ContactPerson(organization_id=org, client_id=client_id, name=name),
        Project(organization_id=org, client_id=client_id, name=name),
        Service(organization_id=org, name=name),
        Tag(organization_id=org, name=name),
        ContractType(organization_id=org, name=name),
        CustomFieldDefinition(
            organization_id=org,
            entity=CustomFieldEntity.PROJECT,
            key="planted_editor",
            label=name,
            kind=CustomFieldKind.TEXT,
        ),
        User(
            organization_id=org,
            email=f"editor-{victim.marker.lower()}@example.com",
            name=name,
            roles=["sales"],
        ),
    ]
    for record in records:
        record.updated_by_id = foreign_user
        await record.save()
        type_name = type(record).__name__
        victim.ids[type_name].append(encode_id(type_name, record.id))


async def _plant_workflow_links(
    victim: SeededTenant, foreign: SeededTenant, contract_id: int
) -> None:
    """Plant workflow rows that cross the two organizations.

    A victim task is assigned to and completed by a foreign user, for Task.assignee
    and .completedBy. A victim event was recorded by a foreign user, for
    ContractEvent.createdBy. A foreign reminder, task and event sit on the victim's
    contract and reminder, for Contract.reminders, .tasks, .events and
    Reminder.tasks.
    """
    org = victim.organization_id
    foreign_org = foreign.organization_id
    foreign_user = foreign.pk("User")
    reminder_id = victim.pk("Reminder")

    task = await Task.create(
        organization_id=org,
        contract_id=contract_id,
        reminder_id=reminder_id,
        step=8,
        title=f"{victim.marker} planted task",
        assignee_id=foreign_user,
        completed_by_id=foreign_user,
        due_date=date(2026, 1, 1),
    )
    victim.ids["Task"].append(encode_id("Task", task.id))
    await ContractEvent.create(
        organization_id=org,
        contract_id=contract_id,
        kind=ContractEventKind.RENEWED,
        term_end=date(2025, 12, 31),
        occurred_on=date(2026, 1, 1),
        created_by_id=foreign_user,
    )

    await Reminder.create(
        organization_id=foreign_org,
        contract_id=contract_id,
        kind=ReminderKind.END,
        anchor_date=date(2027, 12, 31),
        offset_count=1,
        offset_unit="months",
        due_date=date(2027, 11, 30),
    )
    await Task.create(
        organization_id=foreign_org,
        contract_id=contract_id,
        reminder_id=reminder_id,
        step=9,
        title=f"{foreign.marker} planted task",
        assignee_id=foreign_user,
        due_date=date(2026, 1, 1),
    )
    await ContractEvent.create(
        organization_id=foreign_org,
        contract_id=contract_id,
        kind=ContractEventKind.EXPIRED,
        term_end=date(2024, 12, 31),
        occurred_on=date(2025, 1, 1),
        created_by_id=foreign_user,
    )


def _model(type_name: str) -> type[Model]:
    models = Tortoise.apps["models"]
    if type_name not in models:
        raise AssertionError(
            f"The API returned an id of type {type_name!r}, which has no model of "
            "the same name: teach tests/security/seed.py where its rows are stored."
        )
    model: type[Model] = models[type_name]
    return model


async def organization_of(global_id: str) -> int | None:
    """Return the organization of the record that `global_id` names, or None."""
    type_name, pk = decode_id(global_id)
    rows = await _model(type_name).filter(id=pk).values_list("organization_id")
    return int(rows[0][0]) if rows else None


def _organization_paths(model: type[Model]) -> list[str]:
    """Return the value paths from `model` to the organization of each related row.

    One path is the row's own organization, if it has one. The others go through
    each foreign key and many-to-many field to a model that has an organization.
    """
    meta = model._meta
    paths = ["organization_id"] if "organization" in meta.fk_fields else []
    for name in sorted((meta.fk_fields | meta.m2m_fields) - {"organization"}):
        field = meta.fields_map[name]
        assert isinstance(field, (ForeignKeyFieldInstance, ManyToManyFieldInstance))
        if "organization" in field.related_model._meta.fk_fields:
            paths.append(f"{name}__organization_id")
    return paths


async def cross_tenant_references(organization_ids: list[int]) -> list[str]:
    """Return every row of these organizations that references another one's row.

    Every model is checked: a row and each record it links to through a foreign key
    or a many-to-many field must belong to the same organization. Link rows without
    an organization of their own, such as watchers, must link two records of one
    organization.
    """
    problems: list[str] = []
    for name, model in sorted(Tortoise.apps["models"].items()):
        paths = _organization_paths(model)
        if len(paths) < 2:
            continue
        rows = await model.filter(**{f"{paths[0]}__in": organization_ids}).values(
            "id", *paths
        )
        for row in rows:
            organizations = {row[path] for path in paths if row[path] is not None}
            if len(organizations) > 1:
                problems.append(f"{name} {row}")
    return problems
