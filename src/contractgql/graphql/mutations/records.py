"""Create, update and archive mutations for clients, contacts and the catalogues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry import UNSET

from contractgql.errors import ValidationError
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import ExpectedVersion, decode_typed_id, input_values
from contractgql.graphql.types.catalog import (
    CONTRACT_TYPE_COLUMNS,
    PROJECT_COLUMNS,
    SERVICE_COLUMNS,
    TAG_COLUMNS,
    ContractTypeNode,
    ProjectNode,
    ServiceNode,
    TagNode,
    contract_type_node,
    project_node,
    service_node,
    tag_node,
)
from contractgql.graphql.types.clients import (
    CLIENT_COLUMNS,
    CONTACT_COLUMNS,
    ClientNode,
    ContactPersonNode,
    client_node,
    contact_node,
)
from contractgql.graphql.types.common import (
    JSON,
    CustomFieldEntityEnum,
    CustomFieldKindEnum,
    FieldErrorType,
    PeriodInput,
    field_errors,
)
from contractgql.graphql.types.notes import (
    CUSTOM_FIELD_COLUMNS,
    NOTE_COLUMNS,
    CustomFieldDefinitionNode,
    NoteNode,
    custom_field_node,
    note_node,
)
from contractgql.services import notes as note_service
from contractgql.services import projects as project_service
from contractgql.services import records as service
from contractgql.services.records import (
    MAX_WORKFLOW_STEPS,
    RecordSpec,
    WorkflowStep,
)

NodeT = TypeVar("NodeT")


@strawberry.type(
    description="The changed record, or the reasons its input was invalid."
)
class Payload(Generic[NodeT]):
    record: NodeT | None
    errors: list[FieldErrorType]


@strawberry.input(name="AddressInput")
class AddressInput:
    kind: str | None = None
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str | None = None


@strawberry.input
class ClientInput:
    name: str | None = UNSET
    coc_number: str | None = UNSET
    vat_number: str | None = UNSET
    segment: str | None = UNSET
    addresses: list[AddressInput] | None = UNSET
    custom_fields: JSON | None = UNSET
    tag_ids: list[strawberry.ID] | None = UNSET


@strawberry.input
class ContactPersonInput:
    client_id: strawberry.ID | None = UNSET
    name: str | None = UNSET
    email: str | None = UNSET
    phone: str | None = UNSET
    job_title: str | None = UNSET


@strawberry.input
class ProjectInput:
    client_id: strawberry.ID | None = UNSET
    name: str | None = UNSET
    code: str | None = UNSET
    description: str | None = UNSET
    custom_fields: JSON | None = UNSET


@strawberry.input
class ServiceInput:
    name: str | None = UNSET
    code: str | None = UNSET
    description: str | None = UNSET


@strawberry.input
class TagInput:
    name: str | None = UNSET
    color: str | None = UNSET


@strawberry.input(
    name="WorkflowStepInput",
    description="A step of a renewal workflow. The assignee is 'owner' or a role "
    "other than 'integrator'.",
)
class WorkflowStepInput:
    title: str
    assignee: str
    days_after: int = strawberry.field(
        default=0,
        description="Days from the completion of the step before (for the first "
        "step, from the reminder's due date) to the task's due date, 0 or more.",
    )

    def to_step(self) -> WorkflowStep:
        return WorkflowStep(self.title, self.assignee, self.days_after)


@strawberry.input
class ContractTypeInput:
    name: str | None = UNSET
    description: str | None = UNSET
    reminder_offsets: list[PeriodInput] | None = UNSET
    renewal_workflow: list[WorkflowStepInput] | None = strawberry.field(
        default=UNSET,
        description=f"At most {MAX_WORKFLOW_STEPS} steps; null or [] for none.",
    )


@strawberry.input
class CustomFieldDefinitionInput:
    entity: CustomFieldEntityEnum | None = UNSET  # type: ignore[valid-type]
    key: str | None = UNSET
    label: str | None = UNSET
    kind: CustomFieldKindEnum | None = UNSET  # type: ignore[valid-type]
    choices: list[str] | None = UNSET
    required: bool | None = UNSET


@strawberry.input
class NoteInput:
    body: str
    contract_id: strawberry.ID | None = UNSET
    client_id: strawberry.ID | None = UNSET
    project_id: strawberry.ID | None = UNSET


def _values(data: Any) -> dict[str, Any]:
    values = input_values(data)
    if values.get("renewal_workflow") is not None:
        values["renewal_workflow"] = [
            step.to_step() for step in values["renewal_workflow"]
        ]
    if "addresses" in values and values["addresses"] is not None:
        values["addresses"] = [
            {
                "kind": a.kind,
                "street": a.street,
                "postalCode": a.postal_code,
                "city": a.city,
                "country": a.country,
            }
            for a in values["addresses"]
        ]
    return values


async def _node(
    record: Any, columns: tuple[str, ...], build: Callable[..., Any]
) -> Any:
    rows = await type(record).filter(id=record.id).values(*columns)
    return build(rows[0])


async def _create(
    info: Info,
    spec: RecordSpec,
    data: Any,
    columns: tuple[str, ...],
    build: Callable[..., Any],
) -> Payload[Any]:
    try:
        record = await service.create_record(info.context.viewer, spec, _values(data))
    except ValidationError as error:
        return Payload(record=None, errors=field_errors(error.errors))
    return Payload(record=await _node(record, columns, build), errors=[])


async def _update(
    info: Info,
    spec: RecordSpec,
    id: str,
    data: Any,
    columns: tuple[str, ...],
    build: Callable[..., Any],
    expected_version: int | None,
) -> Payload[Any]:
    pk = decode_typed_id(id, spec.model.__name__)
    try:
        record = await service.update_record(
            info.context.viewer, spec, pk, _values(data), expected_version
        )
    except ValidationError as error:
        return Payload(record=None, errors=field_errors(error.errors))
    return Payload(record=await _node(record, columns, build), errors=[])


async def _archive(
    info: Info,
    spec: RecordSpec,
    id: str,
    columns: tuple[str, ...],
    build: Callable[..., Any],
) -> Payload[Any]:
    pk = decode_typed_id(id, spec.model.__name__)
    record = await service.archive_record(info.context.viewer, spec, pk)
    return Payload(record=await _node(record, columns, build), errors=[])


@strawberry.type
class RecordMutations:
    @strawberry.mutation
    async def create_client(
        self, info: Info, input: ClientInput
    ) -> Payload[ClientNode]:
        return await _create(info, service.CLIENTS, input, CLIENT_COLUMNS, client_node)

    @strawberry.mutation
    async def update_client(
        self,
        info: Info,
        id: strawberry.ID,
        input: ClientInput,
        expected_version: ExpectedVersion = None,
    ) -> Payload[ClientNode]:
        return await _update(
            info,
            service.CLIENTS,
            id,
            input,
            CLIENT_COLUMNS,
            client_node,
            expected_version,
        )

    @strawberry.mutation
    async def archive_client(
        self, info: Info, id: strawberry.ID
    ) -> Payload[ClientNode]:
        return await _archive(info, service.CLIENTS, id, CLIENT_COLUMNS, client_node)

    @strawberry.mutation
    async def create_contact_person(
        self, info: Info, input: ContactPersonInput
    ) -> Payload[ContactPersonNode]:
        return await _create(
            info, service.CONTACTS, input, CONTACT_COLUMNS, contact_node
        )

    @strawberry.mutation
    async def update_contact_person(
        self,
        info: Info,
        id: strawberry.ID,
        input: ContactPersonInput,
        expected_version: ExpectedVersion = None,
    ) -> Payload[ContactPersonNode]:
        return await _update(
            info,
            service.CONTACTS,
            id,
            input,
            CONTACT_COLUMNS,
            contact_node,
            expected_version,
        )

    @strawberry.mutation
    async def archive_contact_person(
        self, info: Info, id: strawberry.ID
    ) -> Payload[ContactPersonNode]:
        return await _archive(info, service.CONTACTS, id, CONTACT_COLUMNS, contact_node)

    @strawberry.mutation
    async def create_project(
        self, info: Info, input: ProjectInput
    ) -> Payload[ProjectNode]:
        return await _create(
            info, service.PROJECTS, input, PROJECT_COLUMNS, project_node
        )

    @strawberry.mutation
    async def update_project(
        self,
        info: Info,
        id: strawberry.ID,
        input: ProjectInput,
        expected_version: ExpectedVersion = None,
    ) -> Payload[ProjectNode]:
        return await _update(
            info,
            service.PROJECTS,
            id,
            input,
            PROJECT_COLUMNS,
            project_node,
            expected_version,
        )

    @strawberry.mutation(
        description="Replace the members of a project. Project staff see the "
        "normal contracts of the clients of their projects. Needs 'project:write'."
    )
    async def set_project_members(
        self,
        info: Info,
        project_id: strawberry.ID,
        user_ids: list[strawberry.ID],
        expected_version: ExpectedVersion = None,
    ) -> Payload[ProjectNode]:
        pk = decode_typed_id(project_id, "Project", "projectId")
        users = [decode_typed_id(user, "User", "userIds") for user in user_ids]
        try:
            record = await project_service.set_members(
                info.context.viewer, pk, users, expected_version
            )
        except ValidationError as error:
            return Payload(record=None, errors=field_errors(error.errors))
        return Payload(
            record=await _node(record, PROJECT_COLUMNS, project_node), errors=[]
        )

    @strawberry.mutation
    async def archive_project(
        self, info: Info, id: strawberry.ID
    ) -> Payload[ProjectNode]:
        return await _archive(info, service.PROJECTS, id, PROJECT_COLUMNS, project_node)

    @strawberry.mutation
    async def create_service(
        self, info: Info, input: ServiceInput
    ) -> Payload[ServiceNode]:
        return await _create(
            info, service.SERVICES, input, SERVICE_COLUMNS, service_node
        )

    @strawberry.mutation
    async def update_service(
        self,
        info: Info,
        id: strawberry.ID,
        input: ServiceInput,
        expected_version: ExpectedVersion = None,
    ) -> Payload[ServiceNode]:
        return await _update(
            info,
            service.SERVICES,
            id,
            input,
            SERVICE_COLUMNS,
            service_node,
            expected_version,
        )

    @strawberry.mutation
    async def archive_service(
        self, info: Info, id: strawberry.ID
    ) -> Payload[ServiceNode]:
        return await _archive(info, service.SERVICES, id, SERVICE_COLUMNS, service_node)

    @strawberry.mutation
    async def create_tag(self, info: Info, input: TagInput) -> Payload[TagNode]:
        return await _create(info, service.TAGS, input, TAG_COLUMNS, tag_node)

    @strawberry.mutation
    async def update_tag(
        self,
        info: Info,
        id: strawberry.ID,
        input: TagInput,
        expected_version: ExpectedVersion = None,
    ) -> Payload[TagNode]:
        return await _update(
            info,
            service.TAGS,
            id,
            input,
            TAG_COLUMNS,
            tag_node,
            expected_version,
        )

    @strawberry.mutation
    async def archive_tag(self, info: Info, id: strawberry.ID) -> Payload[TagNode]:
        return await _archive(info, service.TAGS, id, TAG_COLUMNS, tag_node)

    @strawberry.mutation
    async def create_contract_type(
        self, info: Info, input: ContractTypeInput
    ) -> Payload[ContractTypeNode]:
        return await _create(
            info,
            service.CONTRACT_TYPES,
            input,
            CONTRACT_TYPE_COLUMNS,
            contract_type_node,
        )

    @strawberry.mutation
    async def update_contract_type(
        self,
        info: Info,
        id: strawberry.ID,
        input: ContractTypeInput,
        expected_version: ExpectedVersion = None,
    ) -> Payload[ContractTypeNode]:
        return await _update(
            info,
            service.CONTRACT_TYPES,
            id,
            input,
            CONTRACT_TYPE_COLUMNS,
            contract_type_node,
            expected_version,
        )

    @strawberry.mutation
    async def archive_contract_type(
        self, info: Info, id: strawberry.ID
    ) -> Payload[ContractTypeNode]:
        return await _archive(
            info, service.CONTRACT_TYPES, id, CONTRACT_TYPE_COLUMNS, contract_type_node
        )

    @strawberry.mutation
    async def create_custom_field_definition(
        self, info: Info, input: CustomFieldDefinitionInput
    ) -> Payload[CustomFieldDefinitionNode]:
        return await _create(
            info,
            service.CUSTOM_FIELD_DEFINITIONS,
            input,
            CUSTOM_FIELD_COLUMNS,
            custom_field_node,
        )

    @strawberry.mutation
    async def update_custom_field_definition(
        self,
        info: Info,
        id: strawberry.ID,
        input: CustomFieldDefinitionInput,
        expected_version: ExpectedVersion = None,
    ) -> Payload[CustomFieldDefinitionNode]:
        return await _update(
            info,
            service.CUSTOM_FIELD_DEFINITIONS,
            id,
            input,
            CUSTOM_FIELD_COLUMNS,
            custom_field_node,
            expected_version,
        )

    @strawberry.mutation
    async def archive_custom_field_definition(
        self, info: Info, id: strawberry.ID
    ) -> Payload[CustomFieldDefinitionNode]:
        return await _archive(
            info,
            service.CUSTOM_FIELD_DEFINITIONS,
            id,
            CUSTOM_FIELD_COLUMNS,
            custom_field_node,
        )

    @strawberry.mutation(description="Add a note to one contract, client or project.")
    async def create_note(self, info: Info, input: NoteInput) -> Payload[NoteNode]:
        try:
            note = await note_service.create_note(
                info.context.viewer, input_values(input)
            )
        except ValidationError as error:
            return Payload(record=None, errors=field_errors(error.errors))
        return Payload(record=await _node(note, NOTE_COLUMNS, note_node), errors=[])

    @strawberry.mutation(description="Change the text of a note you wrote.")
    async def update_note(
        self,
        info: Info,
        id: strawberry.ID,
        body: str,
        expected_version: ExpectedVersion = None,
    ) -> Payload[NoteNode]:
        try:
            note = await note_service.update_note(
                info.context.viewer, decode_typed_id(id, "Note"), body, expected_version
            )
        except ValidationError as error:
            return Payload(record=None, errors=field_errors(error.errors))
        return Payload(record=await _node(note, NOTE_COLUMNS, note_node), errors=[])

    @strawberry.mutation
    async def archive_note(self, info: Info, id: strawberry.ID) -> Payload[NoteNode]:
        note = await note_service.archive_note(
            info.context.viewer, decode_typed_id(id, "Note")
        )
        return Payload(record=await _node(note, NOTE_COLUMNS, note_node), errors=[])
