"""The audit history of a record: who changed which fields, when, in which request."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Connection, SortKey, paginate
from contractgql.graphql.types.common import JSON
from contractgql.ids import encode_id
from contractgql.models import AuditLog
from contractgql.security.viewer import Viewer

if TYPE_CHECKING:
    from contractgql.graphql.types.users import UserNode

UserRef = Annotated["UserNode", strawberry.lazy("contractgql.graphql.types.users")]

NEWEST_FIRST = SortKey("sequence", "sequence")
AUDIT_COLUMNS = ("id", "actor_id", "action", "changes", "request_id", "created_at")


@strawberry.type(
    name="AuditChange",
    description="One field of a change. The values are null when the field is "
    "protected and you may not read it.",
)
class AuditChangeType:
    field: str
    old_value: JSON | None
    new_value: JSON | None


@strawberry.type(name="AuditEntry", description="One recorded change of a record.")
class AuditEntryNode:
    id: strawberry.ID
    action: str = strawberry.field(
        description="What happened, such as contract.update."
    )
    at: datetime
    request_id: str | None = strawberry.field(
        description="Id of the GraphQL request that made the change, if any."
    )
    changes: list[AuditChangeType]
    actor_pk: strawberry.Private[int | None]

    @strawberry.field(description="Who made the change, or null when the system did.")
    async def actor(self, info: Info) -> UserRef | None:
        if self.actor_pk is None:
            return None
        return await info.context.loaders.user(self.actor_pk)


def audit_entry(viewer: Viewer, type_name: str, row: dict[str, Any]) -> AuditEntryNode:
    """Build an entry, with null values for the fields the viewer may not read."""
    changes = []
    for change in row["changes"] or []:
        field = str(change.get("field"))
        readable = viewer.fields.may_read(type_name, field)
        changes.append(
            AuditChangeType(
                field=field,
                old_value=change.get("old") if readable else None,
                new_value=change.get("new") if readable else None,
            )
        )
    return AuditEntryNode(
        # Named after the model, like every other global id, so that the id
        # leads to its table.
        id=strawberry.ID(encode_id("AuditLog", row["id"])),
        action=row["action"],
        at=row["created_at"],
        request_id=row["request_id"],
        changes=changes,
        actor_pk=row["actor_id"],
    )


async def history_connection(
    info: Info, type_name: str, pk: int, first: int | None, after: str | None
) -> Connection[AuditEntryNode]:
    """Return the recorded changes of one record, newest first.

    The caller has already read the record itself, so it is visible to them.
    Changes still in the outbox appear once the recorder has moved them.
    """
    viewer = info.context.viewer
    scope = AuditLog.filter(
        organization_id=viewer.organization_id, entity_type=type_name, entity_id=pk
    )

    async def build(rows: list[dict[str, Any]]) -> list[AuditEntryNode]:
        return [audit_entry(viewer, type_name, row) for row in rows]

    return await paginate(
        scope,
        scope,
        key=NEWEST_FIRST,
        descending=True,
        first=first,
        after=after,
        max_page_size=info.context.services.settings.max_page_size,
        columns=AUDIT_COLUMNS,
        build=build,
    )
