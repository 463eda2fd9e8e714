"""Limits on what one GraphQL request may ask of the server.

Two validation rules bound the depth and the aliases of a document, and the
RequestLimits extension bounds the estimated cost of the executed operation and
serves introspection to logged-in callers only.

The depth and alias rules replace strawberry's (0.341). Those expand a fragment
again at every spread: for a document of 22 fragments that each spread the next one
twice, they took 25 s of CPU, and each further fragment doubles that. These rules
count each fragment once and multiply by its spreads, which gives the same counts in
time linear in the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from contractgql.errors import AuthenticationError, ContractGQLError
from contractgql.graphql.relay import DEFAULT_PAGE_SIZE
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)

# Estimated number of items in a list field without paging arguments, such as a
# contract's tags or notes. These lists are not bounded by a page size, and most
# hold a few items.
LIST_SIZE_ESTIMATE = 10

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})

# Introspection fields cost a tenth of other fields, because they are resolved from
# the schema in memory. On the 2-core machine of docs/benchmark.md, graphql-core
# ran GraphiQL's introspection query, estimated at 51,832 fields, in a median of
# 34 ms, and the server returns a page of 100 contracts, estimated at 4,805
# fields, in about 34 ms (29.5 pages per second).
INTROSPECTION_COST_DIVISOR = 10


class QueryTooComplex(ContractGQLError):
    code = "QUERY_TOO_COMPLEX"


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


def _operation_label(operation: OperationDefinitionNode) -> str:
    if operation.name is None:
        return "The anonymous operation"
    return f"Operation '{operation.name.value}'"


class _DepthCounter:
    """Depth of selection sets, where each field with a selection set adds one level.

    Introspection fields count zero, as in strawberry's depth limiter, so that
    GraphiQL's introspection query passes; graphql-core's MaxIntrospectionDepthRule
    bounds their nesting instead. A spread that closes a fragment cycle counts zero,
    and the NoFragmentCycles rule rejects the document.
    """

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._depths: dict[str, int] = {}
        self._in_progress: set[str] = set()

    def depth(self, selection_set: SelectionSetNode) -> int:
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is None or selection.name.value.startswith(
                    "__"
                ):
                    continue
                deepest = max(deepest, 1 + self.depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment_depth(selection.name.value))
        return deepest

    def _fragment_depth(self, name: str) -> int:
        if name in self._depths:
            return self._depths[name]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._in_progress:
            return 0
        self._in_progress.add(name)
        depth = self.depth(fragment.selection_set)
        self._in_progress.discard(name)
        self._depths[name] = depth
        return depth


class _AliasCounter:
    """Aliased fields of selection sets, with each fragment counted at every spread."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._fragments = fragments
        self._counts: dict[str, int] = {}
        self._in_progress: set[str] = set()

    def count(self, selection_set: SelectionSetNode) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    total += 1
                if selection.selection_set is not None:
                    total += self.count(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += self.count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_count(selection.name.value)
        return total

    def _fragment_count(self, name: str) -> int:
        if name in self._counts:
            return self._counts[name]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._in_progress:
            return 0
        self._in_progress.add(name)
        count = self.count(fragment.selection_set)
        self._in_progress.discard(name)
        self._counts[name] = count
        return count


def depth_limit_rule(max_depth: int) -> type[ASTValidationRule]:
    """Build a rule that rejects each operation nested deeper than `max_depth`."""

    class DepthLimitRule(ASTValidationRule):
        # Runs when the whole document has been visited. graphql-core's own check
        # aborts validation before then when fragments nest deeper than its
        # recursion bound, so the recursion here stays within that bound.
        def leave_document(self, node: DocumentNode, *_args: Any) -> None:
            counter = _DepthCounter(_fragments(node))
            for definition in node.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                depth = counter.depth(definition.selection_set)
                if depth > max_depth:
                    self.report_error(
                        GraphQLError(
                            f"{_operation_label(definition)} is nested {depth} "
                            f"levels deep, more than the maximum of {max_depth}: "
                            "select fewer levels of nested fields, and fetch deeper "
                            "records with a separate query.",
                            definition,
                        )
                    )

    return DepthLimitRule


def alias_limit_rule(max_aliases: int) -> type[ASTValidationRule]:
    """Build a rule that rejects documents with more than `max_aliases` aliases."""

    class AliasLimitRule(ASTValidationRule):
        def leave_document(self, node: DocumentNode, *_args: Any) -> None:
            counter = _AliasCounter(_fragments(node))
            aliases = sum(
                counter.count(definition.selection_set)
                for definition in node.definitions
                if isinstance(definition, OperationDefinitionNode)
            )
            if aliases > max_aliases:
                self.report_error(
                    GraphQLError(
                        f"The document contains {aliases} aliased fields, more than "
                        f"the maximum of {max_aliases}: request fewer aliased fields, "
                        "or split them over several requests. The aliases in a "
                        "fragment count once for each spread of the fragment."
                    )
                )

    return AliasLimitRule


class _CostEstimator:
    """Estimated cost of an operation: about the number of fields it resolves.

    Each field costs 1, `__typename` costs nothing and `__schema` and `__type` cost
    a tenth of their selections (INTROSPECTION_COST_DIVISOR). The items of a list
    field multiply the cost of the list's selections: a connection's `edges` and
    `nodes` by its page size, and any other list by LIST_SIZE_ESTIMATE. Every
    branch of inline fragments and every field with @skip or @include counts, so
    the estimate is an upper bound for the list sizes it assumes.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        max_page_size: int,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        self._max_page_size = max_page_size
        self._fragment_costs: dict[tuple[str, int], int] = {}

    def cost(
        self,
        selection_set: SelectionSetNode,
        parent_type: GraphQLCompositeType | None,
        list_size: int,
    ) -> int:
        """Return the cost of `selection_set`, whose list fields have `list_size`
        items each."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent_type, list_size)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = (
                    parent_type
                    if condition is None
                    else _composite(self._schema.get_type(condition.name.value))
                )
                total += self.cost(selection.selection_set, fragment_type, list_size)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_cost(selection.name.value, list_size)
        return total

    def _fragment_cost(self, name: str, list_size: int) -> int:
        # Validation has rejected fragment cycles, and the result is kept for each
        # list size, so every fragment is costed once however often it is spread.
        key = (name, list_size)
        if key not in self._fragment_costs:
            fragment = self._fragments[name]
            condition = fragment.type_condition.name.value
            fragment_type = _composite(self._schema.get_type(condition))
            self._fragment_costs[key] = self.cost(
                fragment.selection_set, fragment_type, list_size
            )
        return self._fragment_costs[key]

    def _field_cost(
        self, field: FieldNode, parent_type: GraphQLCompositeType | None, list_size: int
    ) -> int:
        if field.name.value == "__typename" or parent_type is None:
            return 0
        definition = self._schema.get_field(parent_type, field.name.value)
        if definition is None or field.selection_set is None:
            return 1
        item_type = _composite(get_named_type(definition.type))
        if field.name.value in INTROSPECTION_FIELDS:
            introspection_cost = 1 + self.cost(
                field.selection_set, item_type, LIST_SIZE_ESTIMATE
            )
            return -(-introspection_cost // INTROSPECTION_COST_DIVISOR)
        if "first" in definition.args:
            # A connection: the page size applies to its `edges` and `nodes`.
            page_size = self._page_size(field)
            return 1 + self.cost(field.selection_set, item_type, page_size)
        items = _list_items(definition.type, list_size)
        return 1 + items * self.cost(field.selection_set, item_type, LIST_SIZE_ESTIMATE)

    def _page_size(self, field: FieldNode) -> int:
        """Return the page size that the connection's resolver will use."""
        first: object = None
        for argument in field.arguments or ():
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, VariableNode):
                first = self._variables.get(argument.value.name.value)
            elif isinstance(argument.value, IntValueNode):
                first = int(argument.value.value)
        if not isinstance(first, int):
            return min(DEFAULT_PAGE_SIZE, self._max_page_size)
        # The resolver rejects a page size out of range with its own error.
        return max(0, min(first, self._max_page_size))


def _list_items(type_: GraphQLOutputType, list_size: int) -> int:
    """Return the number of items a field of `type_` is estimated to return."""
    items = 1
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        if isinstance(type_, GraphQLList):
            items *= list_size
        type_ = type_.of_type
    return items


def _composite(type_: GraphQLNamedType | None) -> GraphQLCompositeType | None:
    return type_ if is_composite_type(type_) else None


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    max_page_size: int,
) -> int:
    """Return the estimated cost of `operation` in a validated `document`.

    `variables` are the coerced variable values, so a page size passed in a
    variable or as a variable's default counts like a literal one.
    """
    root_type = schema.get_root_type(operation.operation)
    estimator = _CostEstimator(schema, _fragments(document), variables, max_page_size)
    return estimator.cost(operation.selection_set, root_type, LIST_SIZE_ESTIMATE)


def uses_introspection(
    document: DocumentNode, operation: OperationDefinitionNode
) -> bool:
    """Return whether `operation` selects `__schema` or `__type`, also in fragments."""
    fragments = _fragments(document)
    visited: set[str] = set()
    pending = [operation.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in INTROSPECTION_FIELDS:
                    return True
                if selection.selection_set is not None:
                    pending.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in visited and name in fragments:
                    visited.add(name)
                    pending.append(fragments[name].selection_set)
    return False


class WrongTransport(ContractGQLError):
    code = "BAD_REQUEST"


class RequestLimits(SchemaExtension):
    """Reject a validated operation that costs too much, introspects anonymously or
    came over the wrong transport.

    Subscriptions are served over a websocket only, and a websocket serves
    subscriptions only. The checks run per request, before execution, because they
    depend on the variables, the caller and the transport, which the cached
    validation result does not.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            error = self._check(document)
            if error is not None and _over_websocket(context.context):
                # strawberry (0.341) starts a subscription even when the result is
                # set, but turns an error raised here into the operation's result.
                raise error
            if error is not None:
                # strawberry skips execution when the result is already set.
                context.result = ExecutionResult(data=None, errors=[error])
        yield

    def _check(self, document: DocumentNode) -> GraphQLError | None:
        context = self.execution_context
        operation = get_operation_ast(document, context.operation_name)
        if operation is None:
            return None  # execution reports the missing or ambiguous operation
        request_context = context.context
        wrong_transport = _transport_error(request_context, operation)
        if wrong_transport is not None:
            return GraphQLError(
                wrong_transport.message, operation, original_error=wrong_transport
            )
        if uses_introspection(document, operation):
            denied = _introspection_error(request_context)
            if denied is not None:
                return GraphQLError(denied.message, operation, original_error=denied)

        schema = context.schema._schema
        variables = get_variable_values(
            schema, operation.variable_definitions or (), context.variables or {}
        )
        if isinstance(variables, list):
            return None  # execution reports the invalid variables
        settings = request_context.services.settings
        cost = estimate_cost(
            schema, document, operation, variables.coerced, settings.max_page_size
        )
        if cost <= settings.max_query_cost:
            return None
        too_complex = QueryTooComplex(
            f"The query's estimated cost is {cost}, more than the maximum of "
            f"{settings.max_query_cost}: request smaller pages with `first`, fewer "
            "nested lists or fewer fields, or split the query into several requests."
        )
        return GraphQLError(
            too_complex.message,
            operation,
            original_error=too_complex,
            extensions={"cost": cost, "maxCost": settings.max_query_cost},
        )


def _over_websocket(request_context: Any) -> bool:
    return bool(getattr(request_context, "over_websocket", False))


def _transport_error(
    request_context: Any, operation: OperationDefinitionNode
) -> WrongTransport | None:
    """Return the error for an operation sent over the wrong transport, or None."""
    subscription = operation.operation == OperationType.SUBSCRIPTION
    if subscription and not _over_websocket(request_context):
        return WrongTransport(
            "Subscriptions are served over a websocket only: connect to /graphql "
            "with the graphql-transport-ws subprotocol and send the token in the "
            "connection_init payload."
        )
    if not subscription and _over_websocket(request_context):
        return WrongTransport(
            "A websocket to /graphql runs subscriptions only: send queries and "
            "mutations as HTTP POST requests to /graphql."
        )
    return None


def _introspection_error(request_context: Any) -> AuthenticationError | None:
    """Return the error for a caller who may not introspect, or None."""
    auth_error = getattr(request_context, "auth_error", None)
    if auth_error is not None:
        return auth_error  # type: ignore[no-any-return]
    if getattr(request_context, "viewer_or_none", None) is not None:
        return None
    return AuthenticationError(
        "Introspection with __schema or __type is available to logged-in callers "
        "only: call the login mutation and send its token as "
        "'Authorization: Bearer <token>'."
    )
