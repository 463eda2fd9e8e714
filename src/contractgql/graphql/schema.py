"""The assembled GraphQL schema."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from contractgql.graphql.context import Info
from contractgql.graphql.errors import ErrorCodes
from contractgql.graphql.mutations.auth import LoginPayload, login
from contractgql.graphql.mutations.contracts import ContractMutations
from contractgql.graphql.mutations.records import RecordMutations
from contractgql.graphql.queries.root import Query
from contractgql.graphql.types.catalog import (
    ContractTypeNode,
    ProjectNode,
    ServiceNode,
    TagNode,
)
from contractgql.graphql.types.clients import ClientNode, ContactPersonNode
from contractgql.graphql.types.contracts import ContractNode
from contractgql.graphql.types.notes import CustomFieldDefinitionNode, NoteNode
from contractgql.graphql.types.users import UserNode

# Limits on one request's document, against queries built to exhaust the server.
MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4000


@strawberry.type
class Mutation(ContractMutations, RecordMutations):
    @strawberry.mutation(
        description="Log in with e-mail and password; returns a token."
    )
    async def login(self, info: Info, email: str, password: str) -> LoginPayload:
        return await login(info, email, password)


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    types=[
        ContractNode,
        ClientNode,
        ContactPersonNode,
        ContractTypeNode,
        ProjectNode,
        ServiceNode,
        TagNode,
        UserNode,
        NoteNode,
        CustomFieldDefinitionNode,
    ],
    extensions=[
        ErrorCodes,
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
    ],
)
