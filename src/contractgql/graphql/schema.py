"""The assembled GraphQL schema."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import strawberry
from graphql.language import Token
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    SchemaExtension,
)

from contractgql.graphql.context import Info
from contractgql.graphql.errors import ContractSchema, ErrorCodes
from contractgql.graphql.execution import FastExecutor
from contractgql.graphql.limits import (
    RequestLimits,
    alias_limit_rule,
    depth_limit_rule,
)
from contractgql.graphql.mutations.accounts import AccountMutations
from contractgql.graphql.mutations.auth import LoginPayload, login
from contractgql.graphql.mutations.contracts import ContractMutations
from contractgql.graphql.mutations.documents import DocumentMutations
from contractgql.graphql.mutations.hours import HoursMutations
from contractgql.graphql.mutations.imports import ImportMutations
from contractgql.graphql.mutations.notifications import NotificationMutations
from contractgql.graphql.mutations.policy import PolicyMutations
from contractgql.graphql.mutations.quality import QualityMutations
from contractgql.graphql.mutations.records import RecordMutations
from contractgql.graphql.mutations.workflow import WorkflowMutations
from contractgql.graphql.observation import OperationObservation
from contractgql.graphql.queries.hours import HoursQueries
from contractgql.graphql.queries.root import Query as RootQuery
from contractgql.graphql.subscriptions import Subscription
from contractgql.graphql.types import documents as document_types
from contractgql.graphql.types.catalog import (
    ContractTypeNode,
    ProjectNode,
    ServiceNode,
    TagNode,
)
from contractgql.graphql.types.clients import ClientNode, ContactPersonNode
from contractgql.graphql.types.contracts import ContractNode
from contractgql.graphql.types.hours import ContractCapNode, TimeEntryNode
from contractgql.graphql.types.notes import CustomFieldDefinitionNode, NoteNode
from contractgql.graphql.types.notifications import NotificationNode
from contractgql.graphql.types.quality import RequiredFieldRuleNode
from contractgql.graphql.types.tokens import ApiTokenNode
from contractgql.graphql.types.users import UserNode
from contractgql.graphql.types.workflow import ReminderNode, TaskNode
from graphql import ASTValidationRule, DocumentNode, GraphQLError

# Limits on one request's document, against queries built to exhaust the server.
# The limits that operators may change, such as the maximum estimated cost of a
# query, are settings (contractgql.config).
MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 4000

# Memory that the cache of parsed and validated documents may take, as an estimate:
# the query's length plus DOCUMENT_BYTES_PER_TOKEN for each token of its syntax
# tree. graphql-core 3.3.2 keeps every token of a document parsed with locations,
# and tracemalloc measured 400 to 500 bytes per token for documents of 3,000 to
# 3,600 tokens.
DOCUMENT_CACHE_BYTES = 32 * 1024 * 1024
DOCUMENT_BYTES_PER_TOKEN = 500

# Built once, so that every request validates with the same rule classes and a
# validated document can be reused.
_LIMIT_RULES: list[type[ASTValidationRule]] = [
    depth_limit_rule(MAX_DEPTH),
    alias_limit_rule(MAX_ALIASES),
]


class DocumentLimits(AddValidationRules):
    """Reject documents deeper than MAX_DEPTH or with more than MAX_ALIASES aliases."""

    def __init__(self) -> None:
        super().__init__(_LIMIT_RULES)


@dataclass(frozen=True)
class _CachedDocument:
    document: DocumentNode
    errors: tuple[GraphQLError, ...]
    size: int


class _DocumentCache:
    """Least recently used documents and their validation errors, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[object, _CachedDocument] = OrderedDict()

    def get(self, key: object) -> _CachedDocument | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: object, entry: _CachedDocument) -> None:
        if entry.size > self.max_bytes or key in self._entries:
            return
        self._entries[key] = entry
        self.size += entry.size
        while self.size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.size -= evicted.size


_documents = _DocumentCache(DOCUMENT_CACHE_BYTES)


def _token_count(document: DocumentNode) -> int:
    count = 0
    token: Token | None = document.loc.start_token if document.loc else None
    while token is not None:
        count += 1
        token = token.next
    return count


class DocumentCache(SchemaExtension):
    """Parse and validate each distinct query text once and reuse the result.

    Clients send the same few documents again and again, and parsing and validating
    the contracts page took 6.9 ms of CPU on every request (docs/benchmark.md).
    The key is the schema and the query text with the token limit and the
    validation rules, so a cached result is the one that parsing and validation
    would produce again, rejections included. Documents that fail to parse are not
    cached.
    """

    def __init__(self) -> None:
        self._key: object = None
        self._query_length = 0
        self._hit: _CachedDocument | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            self._query_length = len(context.query)
            self._key = (
                context.schema,
                context.query,
                context.parse_options.get("max_tokens"),
                context.validation_rules,
            )
            self._hit = _documents.get(self._key)
            if self._hit is not None:
                context.graphql_document = self._hit.document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._hit is not None:
            # strawberry skips its own validation once this is set.
            context.pre_execution_errors = list(self._hit.errors)
            yield
            return
        yield
        document = context.graphql_document
        errors = context.pre_execution_errors
        if self._key is None or document is None or errors is None:
            return
        size = self._query_length + DOCUMENT_BYTES_PER_TOKEN * _token_count(document)
        _documents.put(self._key, _CachedDocument(document, tuple(errors), size))


@strawberry.type
class Query(RootQuery, HoursQueries):
    pass


@strawberry.type
class Mutation(
    ContractMutations,
    WorkflowMutations,
    RecordMutations,
    PolicyMutations,
    AccountMutations,
    NotificationMutations,
    DocumentMutations,
    ImportMutations,
    HoursMutations,
    QualityMutations,
):
    @strawberry.mutation(
        description="Log in with e-mail and password; returns a token."
    )
    async def login(self, info: Info, email: str, password: str) -> LoginPayload:
        return await login(info, email, password)


schema = ContractSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[
        ContractNode,
        ClientNode,
        ContactPersonNode,
        ContractTypeNode,
        ProjectNode,
        ServiceNode,
        TagNode,
        UserNode,
        ApiTokenNode,
        NoteNode,
        CustomFieldDefinitionNode,
        NotificationNode,
        ReminderNode,
        TaskNode,
        document_types.DocumentNode,
        document_types.DocumentVersionNode,
        document_types.DocumentTemplateNode,
        TimeEntryNode,
        ContractCapNode,
        RequiredFieldRuleNode,
    ],
    extensions=[
        OperationObservation,
        ErrorCodes,
        DocumentLimits,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        DocumentCache,
        RequestLimits,
    ],
    execution_context_class=FastExecutor,
)
