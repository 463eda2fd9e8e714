"""Notes and custom field definitions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Node
from contractgql.graphql.types.catalog import (
    RECORD_COLUMNS,
    _record_fields,
    load_user,
)
from contractgql.graphql.types.common import (
    UPDATED_BY_DESCRIPTION,
    CustomFieldEntityEnum,
    CustomFieldKindEnum,
)
from contractgql.ids import encode_id

if TYPE_CHECKING:
    from contractgql.graphql.types.users import UserNode

UserRef = Annotated["UserNode", strawberry.lazy("contractgql.graphql.types.users")]


@strawberry.type(name="Note", description="A free-text note on a record.")
class NoteNode(Node):
    pk: strawberry.Private[int]
    updated_by_pk: strawberry.Private[int | None]
    author_pk: strawberry.Private[int | None]
    body: str
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)

    @strawberry.field
    def author(self, info: Info) -> UserRef | None:
        if self.author_pk is None:
            return None
        return info.context.loaders.user(self.author_pk)


NOTE_COLUMNS = (*RECORD_COLUMNS, "author_id", "body")


def note_node(row: dict[str, Any]) -> NoteNode:
    return NoteNode(
        id=strawberry.ID(encode_id("Note", row["id"])),
        pk=row["id"],
        author_pk=row["author_id"],
        body=row["body"],
        **_record_fields(row),
    )


@strawberry.type(
    name="CustomFieldDefinition",
    description="A field an organization adds to its contracts, clients or projects.",
)
class CustomFieldDefinitionNode(Node):
    pk: strawberry.Private[int]
    updated_by_pk: strawberry.Private[int | None]
    entity: CustomFieldEntityEnum  # type: ignore[valid-type]
    key: str
    label: str
    kind: CustomFieldKindEnum  # type: ignore[valid-type]
    choices: list[str]
    required: bool
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)


CUSTOM_FIELD_COLUMNS = (
    *RECORD_COLUMNS,
    "entity",
    "key",
    "label",
    "kind",
    "choices",
    "required",
)


def custom_field_node(row: dict[str, Any]) -> CustomFieldDefinitionNode:
    return CustomFieldDefinitionNode(
        id=strawberry.ID(encode_id("CustomFieldDefinition", row["id"])),
        pk=row["id"],
        entity=row["entity"],
        key=row["key"],
        label=row["label"],
        kind=row["kind"],
        choices=list(row["choices"]),
        required=row["required"],
        **_record_fields(row),
    )
