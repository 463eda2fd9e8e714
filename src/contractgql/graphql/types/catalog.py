"""Contract types, projects, services and tags."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from tortoise.expressions import Q

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Connection, Node
from contractgql.graphql.types.audit import AuditEntryNode, history_connection
from contractgql.graphql.types.common import (
    JSON,
    UPDATED_BY_DESCRIPTION,
    PeriodType,
    period_type,
)
from contractgql.graphql.types.documents import documents_of
from contractgql.graphql.types.filters import ContractFilter, ContractOrder
from contractgql.graphql.types.related import linked_to, related_contracts
from contractgql.graphql.types.totals import ContractConnection
from contractgql.ids import encode_id
from contractgql.models import ProjectMember

if TYPE_CHECKING:
    from contractgql.graphql.types.clients import ClientNode
    from contractgql.graphql.types.documents import DocumentNode
    from contractgql.graphql.types.notes import NoteNode
    from contractgql.graphql.types.users import UserNode

DocumentRef = Annotated[
    "DocumentNode", strawberry.lazy("contractgql.graphql.types.documents")
]
ClientRef = Annotated[
    "ClientNode", strawberry.lazy("contractgql.graphql.types.clients")
]
NoteRef = Annotated["NoteNode", strawberry.lazy("contractgql.graphql.types.notes")]
UserRef = Annotated["UserNode", strawberry.lazy("contractgql.graphql.types.users")]

RECORD_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "updated_by_id",
    "version",
    "archived_at",
)


@strawberry.type(
    name="WorkflowStep",
    description="A step of a renewal workflow: a task that its assignee gets when "
    "the step before is done.",
)
class WorkflowStepType:
    title: str = strawberry.field(description="The title of the step's task.")
    assignee: str = strawberry.field(
        description="'owner' for the contract's owner, or a role: the task goes to "
        "the first active user with that role who can see the contract."
    )
    days_after: int = strawberry.field(
        description="Days from the completion of the step before to the task's due "
        "date. The first step counts from the due date of the reminder that starts "
        "the workflow."
    )


@strawberry.type(
    name="ContractType",
    description="A managed contract type with its default reminder schedule and "
    "renewal workflow.",
)
class ContractTypeNode(Node):
    pk: strawberry.Private[int]
    updated_by_pk: strawberry.Private[int | None]
    name: str
    description: str | None
    reminder_offsets: list[PeriodType] = strawberry.field(
        description="Default reminders, as offsets before the notice deadline (or the "
        "end date when there is no notice period)."
    )
    renewal_workflow: list[WorkflowStepType] = strawberry.field(
        description="The steps that a reminder on a contract of this type starts, "
        "in order."
    )
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)

    @strawberry.field(description="Contracts of this type that the caller may see.")
    async def contracts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContractFilter | None = None,
        order_by: ContractOrder | None = None,
    ) -> ContractConnection:
        return await related_contracts(
            info, Q(contract_type_id=self.pk), first, after, filter, order_by
        )


CONTRACT_TYPE_COLUMNS = (
    *RECORD_COLUMNS,
    "name",
    "description",
    "reminder_offsets",
    "renewal_workflow",
)


def contract_type_node(row: dict[str, Any]) -> ContractTypeNode:
    offsets = [
        period_type(o["count"], o["unit"]) for o in row["reminder_offsets"] or ()
    ]
    steps = [
        WorkflowStepType(
            title=step["title"],
            assignee=step["assignee"],
            days_after=step["days_after"],
        )
        for step in row["renewal_workflow"] or ()
    ]
    return ContractTypeNode(
        id=strawberry.ID(encode_id("ContractType", row["id"])),
        pk=row["id"],
        name=row["name"],
        description=row["description"],
        reminder_offsets=[offset for offset in offsets if offset is not None],
        renewal_workflow=steps,
        **_record_fields(row),
    )


@strawberry.type(name="Project", description="A project for a client.")
class ProjectNode(Node):
    pk: strawberry.Private[int]
    updated_by_pk: strawberry.Private[int | None]
    client_pk: strawberry.Private[int]
    name: str
    code: str | None
    description: str | None
    custom_fields: JSON
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)

    @strawberry.field
    def client(self, info: Info) -> ClientRef:
        return info.context.loaders.client(self.client_pk)

    @strawberry.field(description="Notes on this project, newest first.")
    def notes(self, info: Info) -> list[NoteRef]:
        return info.context.loaders.notes("project", self.pk)

    @strawberry.field(
        description="Documents of this project that are not deleted, newest first."
    )
    def documents(self, info: Info) -> list[DocumentRef]:
        return documents_of(info, "project_id", self.pk)

    @strawberry.field(
        description="Recorded changes of this project, newest first. Protected "
        "fields that you may not read show their name with null values."
    )
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEntryNode]:
        return await history_connection(info, "Project", self.pk, first, after)

    @strawberry.field(description="Users who work on this project, by name.")
    async def members(self, info: Info) -> list[UserRef]:
        organization_id = info.context.viewer.organization_id
        user_ids: list[int] = await (
            ProjectMember.filter(
                project_id=self.pk, user__organization_id=organization_id
            )
            .order_by("user__name", "user_id")
            .values_list("user_id", flat=True)
        )  # type: ignore[assignment]
        loaders = info.context.loaders
        return list(await asyncio.gather(*map(loaders.user, user_ids)))

    @strawberry.field(
        description="Contracts linked to this project that the caller may see."
    )
    async def contracts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContractFilter | None = None,
        order_by: ContractOrder | None = None,
    ) -> ContractConnection:
        return await related_contracts(
            info, linked_to("projects", self.pk), first, after, filter, order_by
        )


PROJECT_COLUMNS = (
    *RECORD_COLUMNS,
    "client_id",
    "name",
    "code",
    "description",
    "custom_fields",
)


def project_node(row: dict[str, Any]) -> ProjectNode:
    return ProjectNode(
        id=strawberry.ID(encode_id("Project", row["id"])),
        pk=row["id"],
        client_pk=row["client_id"],
        name=row["name"],
        code=row["code"],
        description=row["description"],
        custom_fields=row["custom_fields"],
        **_record_fields(row),
    )


@strawberry.type(
    name="Service",
    description="A catalogue item such as maintenance, a licence, hosting or support.",
)
class ServiceNode(Node):
    pk: strawberry.Private[int]
    updated_by_pk: strawberry.Private[int | None]
    name: str
    code: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)

    @strawberry.field(description="Contracts for this service that the caller may see.")
    async def contracts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContractFilter | None = None,
        order_by: ContractOrder | None = None,
    ) -> ContractConnection:
        return await related_contracts(
            info, linked_to("services", self.pk), first, after, filter, order_by
        )


SERVICE_COLUMNS = (*RECORD_COLUMNS, "name", "code", "description")


def service_node(row: dict[str, Any]) -> ServiceNode:
    return ServiceNode(
        id=strawberry.ID(encode_id("Service", row["id"])),
        pk=row["id"],
        name=row["name"],
        code=row["code"],
        description=row["description"],
        **_record_fields(row),
    )


@strawberry.type(name="Tag", description="An organization-wide label with a colour.")
class TagNode(Node):
    pk: strawberry.Private[int]
    updated_by_pk: strawberry.Private[int | None]
    name: str
    color: str = strawberry.field(description="Hex colour such as '#d97706'.")
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)

    @strawberry.field(description="Contracts with this tag that the caller may see.")
    async def contracts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContractFilter | None = None,
        order_by: ContractOrder | None = None,
    ) -> ContractConnection:
        return await related_contracts(
            info, linked_to("tags", self.pk), first, after, filter, order_by
        )


TAG_COLUMNS = (*RECORD_COLUMNS, "name", "color")


def tag_node(row: dict[str, Any]) -> TagNode:
    return TagNode(
        id=strawberry.ID(encode_id("Tag", row["id"])),
        pk=row["id"],
        name=row["name"],
        color=row["color"],
        **_record_fields(row),
    )


def _record_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "updated_by_pk": row["updated_by_id"],
        "version": row["version"],
        "archived_at": row["archived_at"],
    }


def load_user(info: Info, pk: int | None) -> Awaitable[UserNode | None] | None:
    """Load a user of the viewer's organization with the request's user loader.

    The loader gathers the users of a whole page into one query. A user of another
    organization loads as None.
    """
    if pk is None:
        return None
    result: Awaitable[UserNode | None] = info.context.loaders.user(pk)
    return result
