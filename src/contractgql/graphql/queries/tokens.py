"""The connection of API tokens, for administrators."""

from __future__ import annotations

from typing import Any

import strawberry

from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.relay import Connection, SortKey, paginate
from contractgql.graphql.types.tokens import (
    TOKEN_COLUMNS,
    ApiTokenNode,
    api_token_node,
)
from contractgql.models import ApiToken
from contractgql.security.api_tokens import MANAGE_PERMISSION
from contractgql.security.viewer import Viewer

NAME_ORDER = SortKey("name", "name", case_insensitive=True)


async def api_tokens_connection(
    info: Info,
    first: int | None,
    after: str | None,
    user_id: strawberry.ID | None,
    include_revoked: bool,
) -> Connection[Any]:
    viewer = info.context.viewer
    viewer.require(MANAGE_PERMISSION, "list API tokens")
    scope = ApiToken.filter(organization_id=viewer.organization_id)
    query = scope
    if user_id is not None:
        query = query.filter(user_id=decode_typed_id(user_id, "User", "userId"))
    if not include_revoked:
        query = query.filter(revoked_at=None)

    async def build(rows: list[dict[str, Any]]) -> list[Any]:
        return [api_token_node(row) for row in rows]

    return await paginate(
        query,
        scope,
        key=NAME_ORDER,
        descending=False,
        first=first,
        after=after,
        max_page_size=info.context.services.settings.max_page_size,
        columns=TOKEN_COLUMNS,
        build=build,
    )


async def api_token_by_id(viewer: Viewer, pk: int) -> ApiTokenNode | None:
    """Return a token of the viewer's organization for node(id:), or None.

    Like the apiTokens query, it shows tokens only to viewers with 'user:manage'.
    """
    if not viewer.may(MANAGE_PERMISSION):
        return None
    rows = await ApiToken.filter(id=pk, organization_id=viewer.organization_id).values(
        *TOKEN_COLUMNS
    )
    return api_token_node(rows[0]) if rows else None
