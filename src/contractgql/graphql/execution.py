"""A graphql-core executor with shorter paths for the most frequent kinds of field.

A page of 100 contracts has about 2,300 fields, and graphql-core and strawberry spent
about 12 µs of CPU on each (docs/benchmark.md). `FastExecutor` keeps their results,
errors and error paths, and takes two shortcuts:

- A plain scalar or enum field, one that strawberry reads with `getattr`, is read
  and serialized in one step. graphql-core would build a path, a resolve info and
  strawberry's resolver call, and complete the value through its generic value
  completion.
- A field with a resolver method that takes no GraphQL arguments, such as a
  contract's `client`, calls the method directly. strawberry would convert the
  (absent) arguments and chain the (absent) field extensions on each call.

It relies on graphql-core 3.3's `Executor.execute_fields` and `execute_field`, and
on strawberry 0.341 keeping its field definition in the graphql-core field's
extensions. Every other field takes graphql-core's and strawberry's own path, and
so does every field while a field middleware is installed or the schema has
exception handlers. tests/graphql/test_execution.py compares the results with
strawberry's own executor.

It is also where field security is enforced for output: every field that the
policy protects and the caller may not read resolves to null on both paths, before
any resolver runs, whatever type it is on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar
from weakref import WeakKeyDictionary

from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
    is_leaf_type,
)

PlanT = TypeVar("PlanT")

# Types of attribute values that are never awaitable, checked before the slower
# generic awaitable check.
_PLAIN_TYPES = frozenset({str, int, float, bool, date, datetime, Decimal})


class _LeafField(NamedTuple):
    """Plan for reading and serializing one plain leaf field of one object type."""

    read: Callable[[Any], Any]
    return_type: GraphQLOutputType
    leaf_type: GraphQLLeafType
    non_null: bool
    # The value type that the leaf type serializes as it is, if any: str for String
    # and ID, bool for Boolean.
    unchanged_type: type | None


# graphql-core's String and ID serialize a str, and Boolean a bool, as it is.
_UNCHANGED_TYPES: dict[GraphQLLeafType, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
}


class _ResolverField(NamedTuple):
    """Plan for calling the resolver method of one field, as strawberry would."""

    function: Callable[..., Any]
    definition: StrawberryField
    pass_self: bool
    # Names of the `root` and `parent` parameters, which also receive the source.
    source_parameters: tuple[str, ...]
    info_parameter: str | None


class _Step(NamedTuple):
    response_name: str
    field_details_list: FieldDetailsList
    leaf: _LeafField | None
    hidden: bool


def _definition(field_def: GraphQLField) -> StrawberryField | None:
    definition = (field_def.extensions or {}).get(
        GraphQLCoreConverter.DEFINITION_BACKREF
    )
    return definition if isinstance(definition, StrawberryField) else None


def _leaf_field(field_def: GraphQLField) -> _LeafField | None:
    """Return how to read a field, or None if it needs graphql-core's full path.

    Only strawberry fields without a resolver, arguments or field extensions,
    read with the default `getattr`, and of a scalar or enum type qualify.
    """
    definition = _definition(field_def)
    if (
        definition is None
        or field_def.args
        or not definition.is_basic_field
        or definition.default_resolver is not getattr
        or not getattr(field_def.resolve, "_is_default", False)
    ):
        return None
    return_type = field_def.type
    if isinstance(return_type, GraphQLNonNull):
        leaf_type = return_type.of_type
    else:
        leaf_type = return_type
    if not is_leaf_type(leaf_type):
        return None
    return _LeafField(
        attrgetter(definition.python_name),
        return_type,
        leaf_type,
        isinstance(return_type, GraphQLNonNull),
        _UNCHANGED_TYPES.get(leaf_type),
    )


def _resolver_field(field_def: GraphQLField) -> _ResolverField | None:
    """Return how to call a field's resolver, or None if strawberry must call it.

    Only resolvers without GraphQL arguments and without field extensions (which
    include permission classes) qualify. strawberry passes such a resolver the
    source as `self`, `root` or `parent` and its Info as `info`, and nothing else.
    """
    definition = _definition(field_def)
    if definition is None or field_def.args:
        return None
    resolver = definition.base_resolver
    if (
        resolver is None
        or not callable(resolver.wrapped_func)
        or definition.arguments
        or definition.extensions
        or definition.is_subscription
    ):
        return None
    source_parameters = tuple(
        parameter.name
        for parameter in (resolver.root_parameter, resolver.parent_parameter)
        if parameter is not None
    )
    info = resolver.info_parameter
    function: Callable[..., Any] = resolver.wrapped_func
    return _ResolverField(
        function,
        definition,
        resolver.self_parameter is not None,
        source_parameters,
        info.name if info is not None else None,
    )


# Plans per object type and field name, shared by all requests, and dropped with
# their schema.
_leaf_fields: WeakKeyDictionary[GraphQLObjectType, dict[str, _LeafField | None]] = (
    WeakKeyDictionary()
)
_resolver_fields: WeakKeyDictionary[
    GraphQLObjectType, dict[str, _ResolverField | None]
] = WeakKeyDictionary()


def _plan(
    plans: WeakKeyDictionary[GraphQLObjectType, dict[str, PlanT | None]],
    make: Callable[[GraphQLField], PlanT | None],
    parent_type: GraphQLObjectType,
    field_name: str,
) -> PlanT | None:
    """Return the cached plan of a field, making it on first use."""
    fields = plans.get(parent_type)
    if fields is None:
        fields = plans[parent_type] = {}
    if field_name not in fields:
        field_def = parent_type.fields.get(field_name)
        fields[field_name] = make(field_def) if field_def is not None else None
    return fields[field_name]


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """Execute plain fields and argument-free resolvers on a short path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Field middleware, such as an extension with a `resolve` hook, expects to
        # see every field, so with any of it installed no field takes a short path.
        self._short_path = manager is None or not manager.middlewares
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        if strawberry_schema is None:
            self._short_path = False
        else:
            self._info_class = strawberry_schema.config.info_class
            # Exception handlers turn a resolver's exception into a result, inside
            # strawberry's resolver wrapper. A strawberry without this attribute
            # may have them elsewhere, so it gets no short path either.
            converter = strawberry_schema.schema_converter
            if getattr(converter, "_exception_handler_specs", True):
                self._short_path = False
        # Per (object type, grouped field set): the grouped field set, kept alive so
        # that its id is not reused, and the steps that execute it. graphql-core
        # collects the subfields of a list's items once, so the items of a list
        # share one grouped field set.
        self._steps: dict[
            tuple[GraphQLObjectType, int], tuple[GroupedFieldSet, list[_Step]]
        ] = {}
        # Protected fields that the caller may not read: (type name, field name).
        # They resolve to null without running their resolver, on every path.
        self._hidden: frozenset[tuple[str, str]] = getattr(
            self.context_value, "hidden_fields", frozenset()
        )

    def _steps_for(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[_Step]:
        key = (parent_type, id(grouped_field_set))
        cached = self._steps.get(key)
        if cached is not None:
            return cached[1]
        steps = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            leaf = None
            if not node.arguments:
                leaf = _plan(_leaf_fields, _leaf_field, parent_type, node.name.value)
            hidden = (parent_type.name, node.name.value) in self._hidden
            steps.append(_Step(response_name, field_details_list, leaf, hidden))
        self._steps[key] = (grouped_field_set, steps)
        return steps

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        if not self._short_path:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        # The same loop as graphql-core's Executor.execute_fields, with leaf fields
        # completed in place.
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        complete_leaf_value = self.complete_leaf_value
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, leaf, hidden in self._steps_for(
                parent_type, grouped_field_set
            ):
                if hidden:
                    results[response_name] = None
                    continue
                if leaf is not None:
                    try:
                        value = leaf.read(source_value)
                        if value is None or value is Undefined:
                            if leaf.non_null:
                                raise TypeError(
                                    "Cannot return null for non-nullable field"
                                    f" {parent_type}."
                                    f"{field_details_list[0].node.name.value}."
                                )
                            results[response_name] = None
                            continue
                        value_type = type(value)
                        if value_type is leaf.unchanged_type:
                            results[response_name] = value
                            continue
                        if value_type not in _PLAIN_TYPES:
                            if is_awaitable(value):
                                results[response_name] = self._complete_awaitable(
                                    parent_type,
                                    field_details_list,
                                    Path(path, response_name, parent_type.name),
                                    leaf,
                                    value,
                                    position_context,
                                )
                                awaitable_fields.append(response_name)
                                continue
                            if isinstance(value, Exception):
                                raise value
                        results[response_name] = complete_leaf_value(
                            leaf.leaf_type, value
                        )
                        continue
                    except Exception as raw_error:
                        self.handle_field_error(
                            raw_error,
                            leaf.return_type,
                            field_details_list,
                            Path(path, response_name, parent_type.name),
                        )
                        results[response_name] = None
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background(
                    [results[field] for field in awaitable_fields]
                )
            raise

        if not awaitable_fields:
            return results
        return self._gather_fields(results, awaitable_fields)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """Execute a field as graphql-core does, calling a plain resolver directly.

        A field that the caller may not read is null, and its resolver never runs.
        """
        first_node = field_details_list[0].node
        field_name = first_node.name.value
        if self._hidden and (parent_type.name, field_name) in self._hidden:
            return None
        field_def = parent_type.fields.get(field_name)
        resolver = None
        if self._short_path and field_def is not None and not first_node.arguments:
            resolver = _plan(_resolver_fields, _resolver_field, parent_type, field_name)
        if field_def is None or resolver is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )

        # The rest follows graphql-core's Executor.execute_field.
        return_type = field_def.type
        info = self.build_resolve_info(
            field_def,
            [details.node for details in field_details_list],
            parent_type,
            path,
        )
        try:
            result = self._call(resolver, source, info)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type,
                    field_details_list,
                    info,
                    path,
                    result,
                    position_context,
                )
            completed = self.complete_value(
                return_type,
                field_details_list,
                info,
                path,
                result,
                position_context,
            )
            if self.is_awaitable(completed):
                return self._await_completed(
                    completed, return_type, field_details_list, path
                )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    def _call(self, resolver: _ResolverField, source: Any, info: Any) -> Any:
        keywords = dict.fromkeys(resolver.source_parameters, source)
        if resolver.info_parameter is not None:
            keywords[resolver.info_parameter] = self._info_class(
                _raw_info=info, _field=resolver.definition
            )
        if resolver.pass_self:
            return resolver.function(source, **keywords)
        return resolver.function(**keywords)

    async def _await_completed(
        self,
        completed: Any,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def _complete_awaitable(
        self,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        leaf: _LeafField,
        value: Any,
        position_context: Any,
    ) -> Any:
        """Complete an awaitable attribute the way graphql-core's execute_field does."""
        info = self.build_resolve_info(
            parent_type.fields[field_details_list[0].node.name.value],
            [details.node for details in field_details_list],
            parent_type,
            path,
        )
        return self.complete_awaitable_value(
            leaf.return_type, field_details_list, info, path, value, position_context
        )

    async def _gather_fields(
        self, results: dict[str, Any], awaitable_fields: list[str]
    ) -> dict[str, Any]:
        """Await the awaitable field results, as graphql-core's execute_fields does."""
        if len(awaitable_fields) == 1:
            field = awaitable_fields[0]
            results[field] = await results[field]
        else:
            awaited = await gather_with_cancel(
                *(results[field] for field in awaitable_fields)
            )
            results.update(zip(awaitable_fields, awaited, strict=True))
        return results
