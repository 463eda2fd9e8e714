"""Users as other users see them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Node
from contractgql.ids import encode_id

USER_COLUMNS = (
    "id",
    "name",
    "email",
    "roles",
    "is_active",
    "is_service_account",
    "updated_at",
    "updated_by_id",
    "version",
)


@strawberry.type(
    name="User", description="A person or service account of the organization."
)
class UserNode(Node):
    pk: strawberry.Private[int]
    updated_by_pk: strawberry.Private[int | None]
    name: str
    email: str
    roles: list[str]
    is_active: bool
    is_service_account: bool
    updated_at: datetime = strawberry.field(
        description="The time of the user's creation or last change, such as of "
        "their roles or active flag. Logins leave it unchanged."
    )
    version: int = strawberry.field(
        description="The version of this user, which each change of their roles or "
        "active flag increments. Send it as expectedVersion to setUserRoles, "
        "deactivateUser and reactivateUser."
    )

    @strawberry.field(
        description="The administrator who created this user or last changed their "
        "roles or active flag through the API, or null when unknown, such as for "
        "users created with `contractgql create-user`."
    )
    async def updated_by(self, info: Info) -> UserNode | None:
        if self.updated_by_pk is None:
            return None
        # The loader gathers the users of a whole page into one query. A user of
        # another organization loads as None.
        user: UserNode | None = await info.context.loaders.user(self.updated_by_pk)
        return user


def user_node(row: dict[str, Any]) -> UserNode:
    return UserNode(
        id=strawberry.ID(encode_id("User", row["id"])),
        pk=row["id"],
        updated_by_pk=row["updated_by_id"],
        name=row["name"],
        email=row["email"],
        roles=list(row["roles"] or ()),
        is_active=row["is_active"],
        is_service_account=row["is_service_account"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def user_node_of(user: Any) -> UserNode:
    """Build the node of a loaded User model."""
    return user_node({column: getattr(user, column) for column in USER_COLUMNS})
