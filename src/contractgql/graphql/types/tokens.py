"""API tokens as administrators see them: never the token itself or its hash."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Node
from contractgql.graphql.types.users import UserNode
from contractgql.ids import encode_id

TOKEN_COLUMNS = (
    "id",
    "name",
    "prefix",
    "scopes",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "created_at",
    "user_id",
    "created_by_id",
)


@strawberry.enum(
    name="ApiTokenScope",
    description="What an API token may do. No scope grants more than the roles of "
    "the token's user, and none allows a change.",
)
class ApiTokenScope(Enum):
    READ = strawberry.enum_value(
        "read",
        description="Read what the user's roles may read, except financial "
        "fields, which read as null.",
    )
    READ_FINANCIAL = strawberry.enum_value(
        "read:financial",
        description="Read what the user's roles may read, financial fields included.",
    )


@strawberry.enum(name="ApiTokenStatus")
class ApiTokenStatus(Enum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@strawberry.type(
    name="ApiToken",
    description="A bearer token with which a service account calls the API.",
)
class ApiTokenNode(Node):
    pk: strawberry.Private[int]
    user_pk: strawberry.Private[int]
    created_by_pk: strawberry.Private[int | None]
    name: str
    prefix: str = strawberry.field(
        description="The first characters of the token, to tell tokens apart."
    )
    scopes: list[ApiTokenScope]
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = strawberry.field(
        description="When the token was last used, to the minute: uses within a "
        "minute of the recorded one are not recorded."
    )
    created_at: datetime

    @strawberry.field(description="Whether the token is accepted now.")
    def status(self) -> ApiTokenStatus:
        if self.revoked_at is not None:
            return ApiTokenStatus.REVOKED
        if self.expires_at <= datetime.now(UTC):
            return ApiTokenStatus.EXPIRED
        return ApiTokenStatus.ACTIVE

    @strawberry.field(description="The service account that the token acts as.")
    def user(self, info: Info) -> UserNode:
        return info.context.loaders.user(self.user_pk)

    @strawberry.field(description="The administrator who created the token.")
    def created_by(self, info: Info) -> UserNode | None:
        if self.created_by_pk is None:
            return None
        return info.context.loaders.user(self.created_by_pk)


def api_token_node(row: dict[str, Any]) -> ApiTokenNode:
    return ApiTokenNode(
        id=strawberry.ID(encode_id("ApiToken", row["id"])),
        pk=row["id"],
        user_pk=row["user_id"],
        created_by_pk=row["created_by_id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=[ApiTokenScope(scope) for scope in row["scopes"] or ()],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        created_at=row["created_at"],
    )


def api_token_node_of(token: Any) -> ApiTokenNode:
    """Build the node of a loaded ApiToken model."""
    return api_token_node({column: getattr(token, column) for column in TOKEN_COLUMNS})
