"""Users as other users see them."""

from __future__ import annotations

from typing import Any

import strawberry

from contractgql.graphql.relay import Node
from contractgql.ids import encode_id

USER_COLUMNS = ("id", "name", "email", "roles", "is_active", "is_service_account")


@strawberry.type(
    name="User", description="A person or service account of the organization."
)
class UserNode(Node):
    pk: strawberry.Private[int]
    name: str
    email: str
    roles: list[str]
    is_active: bool
    is_service_account: bool


def user_node(row: dict[str, Any]) -> UserNode:
    return UserNode(
        id=strawberry.ID(encode_id("User", row["id"])),
        pk=row["id"],
        name=row["name"],
        email=row["email"],
        roles=list(row["roles"] or ()),
        is_active=row["is_active"],
        is_service_account=row["is_service_account"],
    )


def user_node_of(user: Any) -> UserNode:
    """Build the node of a loaded User model."""
    return user_node({column: getattr(user, column) for column in USER_COLUMNS})
