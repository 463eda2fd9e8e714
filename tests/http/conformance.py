"""Check that a GraphQL response matches the schema and the request's document.

schemathesis only reports a null in a non-null field. This walks the `data` of a
response along the operation's selection set and reports every value whose shape
or type the schema does not allow, and every missing or extra response key.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    parse,
)


def _is_date(value: Any) -> bool:
    try:
        datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_datetime(value: Any) -> bool:
    try:
        datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_decimal(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


# Tests of the serialized value of each scalar of schema.graphql.
SCALAR_CHECKS = {
    "String": lambda value: isinstance(value, str),
    "ID": lambda value: isinstance(value, str),
    "Boolean": lambda value: isinstance(value, bool),
    "Int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "Float": lambda value: (
        isinstance(value, int | float) and not isinstance(value, bool)
    ),
    "Date": _is_date,
    "DateTime": _is_datetime,
    "Decimal": _is_decimal,
    "JSON": lambda value: True,
    "Upload": lambda value: False,
}


class ResponseChecker:
    """Compare the data of responses with one schema."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema

    def violations(self, query: str, data: Any) -> list[str]:
        """Return a description of each place where `data` breaks the schema."""
        document = parse(query)
        fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        [operation] = [
            definition
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
        ]
        root = self.schema.get_root_type(operation.operation)
        assert root is not None
        problems: list[str] = []
        if data is None:
            return problems
        walker = _Walker(self.schema, fragments, problems)
        walker.check_object(root, operation.selection_set, data, "data")
        return problems


class _Walker:
    """Walk one response's data along a document and collect the problems."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        problems: list[str],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.problems = problems

    def _fields(
        self, type_: GraphQLObjectType | None, selection_set: SelectionSetNode
    ) -> dict[str, list[tuple[str | None, FieldNode]]]:
        """Collect the response names of a selection set.

        Each maps to its field nodes with the type condition they sit under, or
        None for fields selected on the type itself. With `type_` None (an
        abstract type whose object type the response does not name), every
        fragment counts.
        """
        collected: dict[str, list[tuple[str | None, FieldNode]]] = {}
        self._collect(type_, selection_set, None, collected)
        return collected

    def _collect(
        self,
        type_: GraphQLObjectType | None,
        selection_set: SelectionSetNode,
        condition: str | None,
        collected: dict[str, list[tuple[str | None, FieldNode]]],
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.alias or selection.name
                collected.setdefault(name.value, []).append((condition, selection))
                continue
            if isinstance(selection, InlineFragmentNode):
                inner = selection.type_condition
                fragment_set = selection.selection_set
            else:
                assert isinstance(selection, FragmentSpreadNode)
                fragment = self.fragments[selection.name.value]
                inner = fragment.type_condition
                fragment_set = fragment.selection_set
            inner_name = inner.name.value if inner is not None else condition
            if type_ is not None and inner_name is not None:
                applies = self.schema.get_type(inner_name)
                if applies is not type_ and not (
                    is_abstract_type(applies)
                    and self.schema.is_sub_type(applies, type_)  # type: ignore[arg-type]
                ):
                    continue
            self._collect(type_, fragment_set, inner_name, collected)

    def check_object(
        self,
        type_: Any,
        selection_set: SelectionSetNode,
        value: Any,
        path: str,
    ) -> None:
        """Check an object value. Without `__typename`, an object of an abstract type
        is checked only for the fields it has, against every fragment."""
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected an object, got {value!r}")
            return
        concrete: GraphQLObjectType | None = None
        if isinstance(type_, GraphQLObjectType):
            concrete = type_
        elif isinstance(value.get("__typename"), str):
            named = self.schema.get_type(value["__typename"])
            if not isinstance(named, GraphQLObjectType) or not self.schema.is_sub_type(
                type_, named
            ):
                self.problems.append(f"{path}: {value['__typename']} is not a {type_}")
                return
            concrete = named
        fields = self._fields(concrete, selection_set)
        if concrete is not None:
            missing = sorted(set(fields) - set(value))
            if missing:
                self.problems.append(f"{path}: missing {missing}")
        extra = sorted(set(value) - set(fields))
        if extra:
            self.problems.append(f"{path}: unexpected keys {extra}")
        for key, field_value in value.items():
            for condition, node in fields.get(key, []):
                owner = concrete or self.schema.get_type(condition or type_.name)
                field_name = node.name.value
                if field_name == "__typename":
                    if not isinstance(field_value, str):
                        self.problems.append(f"{path}.{key}: __typename not a string")
                    break
                definition = getattr(owner, "fields", {}).get(field_name)
                if definition is None:
                    continue
                self.check_value(definition.type, node, field_value, f"{path}.{key}")
                break

    def check_value(
        self, type_: GraphQLOutputType, node: FieldNode, value: Any, path: str
    ) -> None:
        if isinstance(type_, GraphQLNonNull):
            if value is None:
                self.problems.append(f"{path}: null in a non-null field")
                return
            type_ = type_.of_type
        if value is None:
            return
        if isinstance(type_, GraphQLList):
            if not isinstance(value, list):
                self.problems.append(f"{path}: expected a list, got {value!r}")
                return
            for index, item in enumerate(value):
                self.check_value(type_.of_type, node, item, f"{path}[{index}]")
            return
        named = get_named_type(type_)
        if isinstance(named, GraphQLScalarType):
            check = SCALAR_CHECKS.get(named.name)
            if check is None or not check(value):
                self.problems.append(f"{path}: {value!r} is not a valid {named.name}")
            return
        if isinstance(named, GraphQLEnumType):
            if value not in named.values:
                self.problems.append(f"{path}: {value!r} is not a {named.name} value")
            return
        assert node.selection_set is not None
        self.check_object(named, node.selection_set, value, path)
