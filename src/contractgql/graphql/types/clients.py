"""Clients and their contact persons."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from tortoise.expressions import Q

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Connection, Node
from contractgql.graphql.types.activity import ActivityConnection, activity_connection
from contractgql.graphql.types.audit import AuditEntryNode, history_connection
from contractgql.graphql.types.catalog import (
    RECORD_COLUMNS,
    _record_fields,
    load_user,
)
from contractgql.graphql.types.common import (
    CREATED_BY_DESCRIPTION,
    JSON,
    UPDATED_BY_DESCRIPTION,
)
from contractgql.graphql.types.documents import documents_of
from contractgql.graphql.types.filters import ContractFilter, ContractOrder
from contractgql.graphql.types.related import related_contracts
from contractgql.graphql.types.totals import ContractConnection
from contractgql.ids import encode_id

if TYPE_CHECKING:
    from contractgql.graphql.types.catalog import ProjectNode, TagNode
    from contractgql.graphql.types.documents import DocumentNode
    from contractgql.graphql.types.notes import NoteNode
    from contractgql.graphql.types.users import UserNode

DocumentRef = Annotated[
    "DocumentNode", strawberry.lazy("contractgql.graphql.types.documents")
]
NoteRef = Annotated["NoteNode", strawberry.lazy("contractgql.graphql.types.notes")]
TagRef = Annotated["TagNode", strawberry.lazy("contractgql.graphql.types.catalog")]
UserRef = Annotated["UserNode", strawberry.lazy("contractgql.graphql.types.users")]
ProjectRef = Annotated[
    "ProjectNode", strawberry.lazy("contractgql.graphql.types.catalog")
]


@strawberry.type(name="Address")
class AddressType:
    kind: str | None
    street: str | None
    postal_code: str | None
    city: str | None
    country: str | None


@strawberry.type(name="Client", description="A customer of the organization.")
class ClientNode(Node):
    pk: strawberry.Private[int]
    created_by_pk: strawberry.Private[int | None]
    updated_by_pk: strawberry.Private[int | None]
    name: str
    coc_number: str | None = strawberry.field(
        description="Chamber-of-commerce registration number."
    )
    vat_number: str | None
    addresses: list[AddressType]
    segment: str | None
    custom_fields: JSON
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None

    @strawberry.field(description=CREATED_BY_DESCRIPTION)
    def created_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.created_by_pk)

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)

    @strawberry.field
    def tags(self, info: Info) -> list[TagRef]:
        return info.context.loaders.client_links("tags", self.pk)

    @strawberry.field
    def contacts(self, info: Info) -> list[ContactPersonNode]:
        return info.context.loaders.client_links("contacts", self.pk)

    @strawberry.field
    def projects(self, info: Info) -> list[ProjectRef]:
        return info.context.loaders.client_links("projects", self.pk)

    @strawberry.field(description="Notes on this client, newest first.")
    def notes(self, info: Info) -> list[NoteRef]:
        return info.context.loaders.notes("client", self.pk)

    @strawberry.field(
        description="Documents of this client that are not deleted, newest first."
    )
    def documents(self, info: Info) -> list[DocumentRef]:
        return documents_of(info, "client_id", self.pk)

    @strawberry.field(
        description="Recorded changes of this client, newest first. Protected "
        "fields that you may not read show their name with null values."
    )
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEntryNode]:
        return await history_connection(info, "Client", self.pk, first, after)

    @strawberry.field(
        description="Notes, recorded changes, reminders and tasks of this client, "
        "newest first. Reminders and tasks are those of the client's contracts "
        "that you may see."
    )
    async def activity(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ActivityConnection:
        return await activity_connection(info, "Client", self.pk, first, after)

    @strawberry.field(description="Contracts with this client that the caller may see.")
    async def contracts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContractFilter | None = None,
        order_by: ContractOrder | None = None,
    ) -> ContractConnection:
        return await related_contracts(
            info, Q(client_id=self.pk), first, after, filter, order_by
        )


CLIENT_COLUMNS = (
    *RECORD_COLUMNS,
    "created_by_id",
    "name",
    "coc_number",
    "vat_number",
    "addresses",
    "segment",
    "custom_fields",
)


def client_node(row: dict[str, Any]) -> ClientNode:
    return ClientNode(
        id=strawberry.ID(encode_id("Client", row["id"])),
        pk=row["id"],
        created_by_pk=row["created_by_id"],
        name=row["name"],
        coc_number=row["coc_number"],
        vat_number=row["vat_number"],
        addresses=[_address(a) for a in row["addresses"] or []],
        segment=row["segment"],
        custom_fields=row["custom_fields"],
        **_record_fields(row),
    )


def _address(raw: dict[str, Any]) -> AddressType:
    return AddressType(
        kind=raw.get("kind"),
        street=raw.get("street"),
        postal_code=raw.get("postalCode"),
        city=raw.get("city"),
        country=raw.get("country"),
    )


@strawberry.type(name="ContactPerson", description="A person at a client.")
class ContactPersonNode(Node):
    pk: strawberry.Private[int]
    updated_by_pk: strawberry.Private[int | None]
    client_pk: strawberry.Private[int]
    name: str
    email: str | None
    phone: str | None
    job_title: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)

    @strawberry.field
    def client(self, info: Info) -> ClientNode:
        return info.context.loaders.client(self.client_pk)


CONTACT_COLUMNS = (*RECORD_COLUMNS, "client_id", "name", "email", "phone", "job_title")


def contact_node(row: dict[str, Any]) -> ContactPersonNode:
    return ContactPersonNode(
        id=strawberry.ID(encode_id("ContactPerson", row["id"])),
        pk=row["id"],
        client_pk=row["client_id"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        job_title=row["job_title"],
        **_record_fields(row),
    )
