"""Tenant isolation, with the cases generated from the live schema.

Organizations A and B each get one linked record of every kind (see seed.py). The
cases come from introspecting `contractgql.graphql.schema.schema`, so a new type,
field, argument or mutation gets cases without a change here:

- node fetch: every root field that returns a Node by id, for every Node type,
  returns null for the other organization's id, exactly as for a missing id, and
  the record for its own organization's admin.
- id arguments: this covers every ID or [ID] argument, and every ID inside an
  input such as `contracts(filter: {clientIds: ...})`, on the root query and on
  the fields of Node types. Given B's id, each returns what it returns for a
  missing id, and no record of B. The same argument finds B's records for B's admin.
- cursors: a cursor of B's page is rejected on A's page of the same connection.
- mutations: every ID argument and every ID inside an input, given B's id, is
  rejected as NOT_FOUND exactly as a missing id is, and B's records read the same
  before and after. The database then contains no new row that links A and B. Ids of
  links to remove are the exception: they must change nothing and raise no error.
- relations: every field of a Node type that returns records, read from every
  seeded record of A, returns only records of A. A second pair of organizations
  repeats this with links to the other organization planted in the database.
- tokens: a token whose user and organization do not belong together is rejected,
  and an admin's login token and a service account's API token read only their
  own organization.

A Node type without a seeded record, a required argument that BASE_ARGUMENTS does
not fill, an ID field whose record type its name does not tell, and a relation that
the seed leaves empty each fail with a message that names them.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from graphql.pyutils import Undefined

from contractgql.config import Settings
from contractgql.graphql.limits import estimate_cost
from contractgql.graphql.schema import schema as strawberry_schema
from contractgql.ids import encode_id
from contractgql.security.tokens import TokenSigner
from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_named_type,
    get_nullable_type,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
)
from tests.conftest import PASSWORD
from tests.security.seed import (
    SeededTenant,
    cross_tenant_references,
    organization_of,
    plant_foreign_links,
    seed_tenant,
)

SCHEMA: GraphQLSchema = strawberry_schema._schema
NODE_INTERFACE = SCHEMA.get_type("Node")
assert isinstance(NODE_INTERFACE, GraphQLInterfaceType)
NODE_TYPES = sorted(t.name for t in SCHEMA.get_possible_types(NODE_INTERFACE))

PROBE = "Tenant matrix probe"
# Required arguments other than ids, by "Type.field": the smallest input that the
# operation accepts for the caller's own records. Required ids are filled with the
# caller's own records and the id under test with the other organization's.
BASE_ARGUMENTS: dict[str, dict[str, Any]] = {
    "Mutation.createContract": {"input": {"name": PROBE, "startDate": "2026-01-01"}},
    "Mutation.updateContract": {"input": {"name": PROBE}},
    "Mutation.createClient": {"input": {"name": PROBE}},
    "Mutation.updateClient": {"input": {"name": PROBE}},
    "Mutation.createContactPerson": {"input": {"name": PROBE}},
    "Mutation.updateContactPerson": {"input": {"name": PROBE}},
    "Mutation.createProject": {"input": {"name": PROBE}},
    "Mutation.updateProject": {"input": {"name": PROBE}},
    "Mutation.updateService": {"input": {"name": PROBE}},
    "Mutation.updateTag": {"input": {"name": PROBE}},
    "Mutation.updateContractType": {"input": {"name": PROBE}},
    "Mutation.updateCustomFieldDefinition": {"input": {"label": PROBE}},
    "Mutation.createNote": {"input": {"body": PROBE}},
    "Mutation.updateNote": {"body": PROBE},
    "Mutation.setUserRoles": {"roles": ["integrator"]},
    "Mutation.createApiToken": {"input": {"name": PROBE, "scopes": ["READ"]}},
    # NOTE: leaving out the nullable parentId fails with INTERNAL_SERVER_ERROR,
    # because the resolver's parameter has no default. A null clears the parent.
    "Mutation.setContractParent": {"parentId": None},
    "Mutation.recordNotice": {"party": "CLIENT", "date": "2026-02-01"},
    # A JSON request cannot carry a file. The ids are checked before the file is
    # read, so a placeholder proves the same.
    "Mutation.uploadDocument": {"input": {"kind": "OTHER", "file": "placeholder"}},
    "Mutation.uploadDocumentVersion": {"file": "placeholder"},
    "Mutation.createDocumentTemplate": {
        "input": {"name": PROBE, "file": "placeholder"}
    },
    "Mutation.renderDocumentTemplate": {"kind": "OTHER"},
    # The seeded contract covers 2026 and 2027 and has a yearly cap of 1,000 hours.
    "Mutation.createTimeEntry": {
        "input": {"date": "2026-06-02", "hours": "1", "description": PROBE}
    },
    "Mutation.updateTimeEntry": {"input": {"description": PROBE}},
    "Mutation.setContractCap": {"unit": "HOURS", "period": "YEAR", "limit": "100"},
    # Grouped by owner, so that the groups name records whose ids the case checks.
    "Query.completenessSummary": {"groupBy": "OWNER"},
    "Mutation.createRequiredFieldRule": {"input": {"name": PROBE, "fields": ["OWNER"]}},
    "Mutation.updateRequiredFieldRule": {"input": {"name": PROBE}},
}
# Arguments that list links to remove. Unlinking a record that is not linked does
# nothing, whatever the id names, so these must return for B's id exactly what they
# return for a missing id, with no error, instead of NOT_FOUND.
UNLINK_ARGUMENTS = {"remove"}
# ID field names, without the Id or Ids suffix, that do not name their Node type.
ID_NAME_ALIASES = {
    "author": "User",
    "cap": "ContractCap",
    "contact": "ContactPerson",
    "member": "User",
    "owner": "User",
    "parent": "Contract",
    "person": "User",
    "template": "DocumentTemplate",
    "user": "User",
    "version": "DocumentVersion",
    "watcher": "User",
}
# Generated selections stop at this depth, below the server's limit of 12.
MAX_SELECTION_DEPTH = 4
# Snapshot documents stay below the server's limits of 4,000 tokens, 30 aliases and
# an estimated cost of 10,000 fields (the default of CONTRACTGQL_MAX_QUERY_COST).
MAX_DOCUMENT_TOKENS = 3000
MAX_DOCUMENT_ALIASES = 25
MAX_DOCUMENT_COST = 5000
# Page size of the connections that snapshots read. Each seeded organization has
# fewer records than this of every type.
SNAPSHOT_PAGE_SIZE = 10


# --- Reading the schema ---------------------------------------------------------------


@dataclass(frozen=True)
class IdSlot:
    """An ID or [ID] in a field's arguments: the argument, then input field names."""

    path: tuple[str, ...]
    is_list: bool
    # True when the argument and every input field on the path are non-null and
    # have no default, so a request must give a value.
    required: bool
    problem: str | None = None

    @property
    def name(self) -> str:
        return ".".join(self.path)


def _is_required(type_: Any, default: Any) -> bool:
    return is_non_null_type(type_) and default is Undefined


def id_slots(arguments: dict[str, GraphQLArgument]) -> list[IdSlot]:
    slots: list[IdSlot] = []
    for name, argument in arguments.items():
        required = _is_required(argument.type, argument.default_value)
        slots.extend(_slots_in((name,), argument.type, required, frozenset()))
    return slots


def _slots_in(
    path: tuple[str, ...],
    type_: GraphQLInputType,
    required: bool,
    seen: frozenset[str],
) -> Iterator[IdSlot]:
    nullable = get_nullable_type(type_)
    named = get_named_type(type_)
    if named.name == "ID":
        yield IdSlot(path, is_list_type(nullable), required)
    elif is_input_object_type(named) and named.name not in seen:
        assert isinstance(named, GraphQLInputObjectType)
        if is_list_type(nullable):
            if any(True for _ in _slots_in(path, named, False, seen)):
                yield IdSlot(
                    path,
                    False,
                    required,
                    problem=f"{'.'.join(path)} is a list of {named.name}, which "
                    "holds ids, and this test sets ids only in single input "
                    "objects: extend _set_value.",
                )
            return
        for field_name, field in named.fields.items():
            yield from _slots_in(
                (*path, field_name),
                field.type,
                required and _is_required(field.type, field.default_value),
                seen | {named.name},
            )


def node_type_of(output: GraphQLOutputType) -> str | None:
    """Return the Node type that a field returns itself or in its payload."""
    named = get_named_type(output)
    if named.name in NODE_TYPES:
        return named.name
    if isinstance(named, GraphQLObjectType):
        found: set[str] = {
            get_named_type(field.type).name
            for field in named.fields.values()
            if get_named_type(field.type).name in NODE_TYPES
        }
        if len(found) == 1:
            return found.pop()
    return None


def slot_record_type(field: GraphQLField, slot: IdSlot) -> str | None:
    """Return the Node type whose id belongs in `slot`, or None when unclear.

    A plain `id` or `ids` names the record that the field returns. Any other name
    is the Node type followed by Id or Ids, such as `contractTypeIds`, or an alias
    from ID_NAME_ALIASES followed by Id or Ids.
    """
    last = slot.path[-1]
    if last in ("id", "ids"):
        return node_type_of(field.type)
    for suffix in ("Ids", "Id"):
        if last.endswith(suffix) and len(last) > len(suffix):
            base = last[: -len(suffix)]
            name = ID_NAME_ALIASES.get(base, base[0].upper() + base[1:])
            return name if name in NODE_TYPES else None
    return None


def _has_required_arguments(field: GraphQLField) -> bool:
    return any(
        _is_required(argument.type, argument.default_value)
        for argument in field.args.values()
    )


def id_selection(output: GraphQLOutputType, depth: int = 0) -> str | None:
    """Return a selection of every record id reachable below `output`, or None.

    A type with an `id` is selected as `{ __typename id }`. Other object types, such
    as connections and edges, are walked for fields that lead to ids, and their
    `totalCount` is kept so that two responses also compare on counts.
    """
    named = get_named_type(output)
    if not isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
        return None
    if "id" in named.fields:
        return "{ __typename id }"
    if depth >= MAX_SELECTION_DEPTH:
        return None
    parts = []
    for name, field in named.fields.items():
        if _has_required_arguments(field):
            continue
        below = id_selection(field.type, depth + 1)
        if below is not None:
            parts.append(f"{name} {below}")
    if not parts:
        return None
    if "totalCount" in named.fields:
        parts.append("totalCount")
    return "{ " + " ".join(parts) + " }"


def full_selection(output: GraphQLOutputType, depth: int = 0) -> str | None:
    """Return a selection of every field of a record, with related records as ids.

    Fields with required arguments are left out, and connections read pages of
    SNAPSHOT_PAGE_SIZE. Returns "" for a leaf type and None for a type that
    nothing can be selected from within the depth limit.
    """
    named = get_named_type(output)
    if is_leaf_type(named):
        return ""
    if not isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
        return None
    if depth > 0 and "id" in named.fields:
        return "{ id }"
    if depth >= MAX_SELECTION_DEPTH:
        return None
    parts = ["__typename"] if depth == 0 else []
    for name, field in named.fields.items():
        if _has_required_arguments(field):
            continue
        below = full_selection(field.type, depth + 1)
        if below is None:
            continue
        page = f"(first: {SNAPSHOT_PAGE_SIZE})" if "first" in field.args else ""
        parts.append(f"{name}{page} {below}".strip())
    return "{ " + " ".join(parts) + " }" if parts else None


def _declared(field: GraphQLField, arguments: dict[str, Any]) -> tuple[str, str]:
    """Return variable declarations and argument uses for the given arguments."""
    declarations = ", ".join(
        f"$a_{name}: {field.args[name].type}" for name in arguments
    )
    uses = ", ".join(f"{name}: $a_{name}" for name in arguments)
    return declarations, uses


def _wrapped(text: str) -> str:
    return f"({text})" if text else ""


def _variables(arguments: dict[str, Any]) -> dict[str, Any]:
    return {f"a_{name}": value for name, value in arguments.items()}


# --- Filling arguments ----------------------------------------------------------------


class Unfillable(Exception):
    """The test does not know a value for a required argument."""


def _set_value(arguments: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = arguments
    for name in path[:-1]:
        target = target.setdefault(name, {})
    target[path[-1]] = value


def _missing_required(
    arguments: Mapping[str, GraphQLArgument | GraphQLInputField],
    values: dict[str, Any],
    prefix: str = "",
) -> list[str]:
    missing = []
    for name, argument in arguments.items():
        value = values.get(name, Undefined)
        if value is Undefined:
            if _is_required(argument.type, argument.default_value):
                missing.append(prefix + name)
            continue
        named = get_named_type(argument.type)
        if isinstance(named, GraphQLInputObjectType) and isinstance(value, dict):
            missing += _missing_required(named.fields, value, f"{prefix}{name}.")
    return missing


def build_arguments(
    owner: str,
    field_name: str,
    field: GraphQLField,
    slot: IdSlot,
    value: str,
    own_id: Callable[[str], str],
) -> dict[str, Any]:
    """Return arguments with `value` in `slot` and the caller's ids elsewhere.

    `own_id(type_name)` returns the caller's id of a Node type. Raises Unfillable
    naming the argument when a required one has no value.
    """
    key = f"{owner}.{field_name}"
    arguments = copy.deepcopy(BASE_ARGUMENTS.get(key, {}))
    for other in id_slots(field.args):
        if other.path == slot.path or not other.required:
            continue
        record_type = slot_record_type(field, other)
        if record_type is None:
            raise Unfillable(
                f"{key} requires {other.name}, and its name does not tell which "
                "Node type it takes: add the name to ID_NAME_ALIASES."
            )
        own = own_id(record_type)
        _set_value(arguments, other.path, [own] if other.is_list else own)
    _set_value(arguments, slot.path, [value] if slot.is_list else value)
    missing = _missing_required(field.args, arguments)
    if missing:
        raise Unfillable(
            f"{key} requires {', '.join(missing)}, which the test cannot fill: "
            "add a valid value to BASE_ARGUMENTS."
        )
    return arguments


# --- Cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArgumentCase:
    """One ID slot of one field, to be given the other organization's id."""

    owner: str
    field_name: str
    slot: IdSlot
    record_type: str | None
    problem: str | None

    @property
    def field(self) -> GraphQLField:
        owner_type = SCHEMA.get_type(self.owner)
        assert isinstance(owner_type, (GraphQLObjectType, GraphQLInterfaceType))
        field: GraphQLField = owner_type.fields[self.field_name]
        return field

    @property
    def test_id(self) -> str:
        return f"{self.owner}.{self.field_name}.{self.slot.name}"


def _fills_with_placeholders(case: ArgumentCase) -> str | None:
    """Return why the case cannot be filled, checked with placeholder ids."""

    def placeholder(type_name: str) -> str:
        return encode_id(type_name, 1)

    try:
        build_arguments(
            case.owner,
            case.field_name,
            case.field,
            case.slot,
            placeholder(case.record_type or "Node"),
            placeholder,
        )
    except Unfillable as error:
        return str(error)
    return None


def _argument_cases(owner: str) -> list[ArgumentCase]:
    owner_type = SCHEMA.get_type(owner)
    assert isinstance(owner_type, GraphQLObjectType)
    cases = []
    for field_name, field in owner_type.fields.items():
        if owner == "Query" and field_name in NODE_FETCH_FIELDS:
            continue
        for slot in id_slots(field.args):
            record_type = slot_record_type(field, slot)
            problem = slot.problem
            if record_type is None and problem is None:
                problem = (
                    f"{owner}.{field_name}({slot.name}) takes an id, and neither its "
                    "name nor the field's type tells which Node type: add the name "
                    "to ID_NAME_ALIASES."
                )
            case = ArgumentCase(owner, field_name, slot, record_type, problem)
            if case.problem is None:
                case = ArgumentCase(
                    owner,
                    field_name,
                    slot,
                    record_type,
                    _fills_with_placeholders(case),
                )
            cases.append(case)
    return cases


def _node_fetch_fields() -> dict[str, IdSlot]:
    """Return the root fields that fetch records of any Node type by id."""
    assert SCHEMA.query_type is not None
    fields = {}
    for name, field in SCHEMA.query_type.fields.items():
        slots = id_slots(field.args)
        if get_named_type(field.type) is NODE_INTERFACE and len(slots) == 1:
            fields[name] = slots[0]
    return fields


def _relation_fields() -> list[tuple[str, str]]:
    relations = []
    for type_name in NODE_TYPES:
        node_type = SCHEMA.get_type(type_name)
        assert isinstance(node_type, GraphQLObjectType)
        for field_name, field in node_type.fields.items():
            if id_selection(field.type, 1) is not None:
                relations.append((type_name, field_name))
    return relations


def _connection_fields() -> list[str]:
    """Return the root fields that page with `first` and `after`."""
    assert SCHEMA.query_type is not None
    return [
        name
        for name, field in SCHEMA.query_type.fields.items()
        if {"first", "after"} <= field.args.keys()
        and not _has_required_arguments(field)
    ]


NODE_FETCH_FIELDS = _node_fetch_fields()
QUERY_CASES = [
    case for owner in ["Query", *NODE_TYPES] for case in _argument_cases(owner)
]
assert SCHEMA.mutation_type is not None
MUTATION_CASES = _argument_cases(SCHEMA.mutation_type.name)
RELATIONS = _relation_fields()
CONNECTIONS = _connection_fields()


# --- Fixtures -------------------------------------------------------------------------


@dataclass
class TenantPair:
    """The organization whose admin calls the API, and the other one."""

    own: SeededTenant
    other: SeededTenant
    # The other organization's snapshot and the rows that link the two
    # organizations after the last mutation case, so that each case reads them once
    # and a change is blamed on the case that made it.
    other_snapshot: list[dict[str, Any]] | None = None
    cross_references: list[str] | None = None


@pytest_asyncio.fixture(scope="module")
async def http(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest_asyncio.fixture(scope="module")
async def pair(http: httpx.AsyncClient, settings: Settings) -> TenantPair:
    """Organizations A and B, seeded through the API, with no link between them."""
    a = await seed_tenant(http, settings, "OrgA")
    b = await seed_tenant(http, settings, "OrgB")
    return TenantPair(own=a, other=b)


@pytest_asyncio.fixture(scope="module")
async def planted(http: httpx.AsyncClient, settings: Settings) -> TenantPair:
    """Two more organizations, the first with links to the second's records."""
    victim = await seed_tenant(http, settings, "OrgP")
    foreign = await seed_tenant(http, settings, "OrgQ")
    await plant_foreign_links(victim, foreign)
    return TenantPair(own=victim, other=foreign)


def _readers(pair: TenantPair, direction: str) -> TenantPair:
    """Return the pair whose `own` reads the ids of `other`, for "a-reads-b" or
    "b-reads-a"."""
    if direction == "a-reads-b":
        return pair
    return TenantPair(own=pair.other, other=pair.own)


# --- Checks on responses --------------------------------------------------------------


def missing_id(type_name: str) -> str:
    """Return a well-formed id of `type_name` that names no record."""
    return encode_id(type_name, 2**62)


def response_ids(value: Any) -> list[str]:
    """Return every `id` value in a response body."""
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if key == "id" and isinstance(item, str):
                found.append(item)
            else:
                found += response_ids(item)
        return found
    if isinstance(value, list):
        return [found for item in value for found in response_ids(item)]
    return []


async def foreign_records(body: dict[str, Any], organization_id: int) -> list[str]:
    """Return the ids in `body` of records outside `organization_id`."""
    return [
        global_id
        for global_id in response_ids(body)
        if await organization_of(global_id) != organization_id
    ]


def leaked_secrets(body: dict[str, Any], tenant: SeededTenant) -> list[str]:
    text = json.dumps(body)
    return [secret for secret in tenant.secrets if secret in text]


def without_ids(body: dict[str, Any], *global_ids: str) -> str:
    """Return the body as JSON text with the given ids replaced by a placeholder."""
    text = json.dumps(body, sort_keys=True)
    for global_id in global_ids:
        text = text.replace(global_id, "<id>")
    return text


async def snapshot(tenant: SeededTenant) -> list[dict[str, Any]]:
    """Read every seeded record and every root list of `tenant` as its admin.

    NOTE: fields such as daysUntilEnd change at midnight in the organization's
    timezone, so a run that crosses it can fail one mutation case.
    """
    documents = snapshot_documents(tenant)
    return [await tenant.api.data(document) for document in documents]


def snapshot_documents(tenant: SeededTenant) -> list[str]:
    """Return documents that read all of `tenant`'s seeded records and root lists."""
    key = tuple((name, tuple(ids)) for name, ids in sorted(tenant.ids.items()))
    return _snapshot_documents(key)


@functools.cache
def _snapshot_documents(ids: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    selections = []
    for type_name, type_ids in ids:
        node_type = SCHEMA.get_type(type_name)
        assert isinstance(node_type, GraphQLObjectType)
        selection = full_selection(node_type)
        for global_id in type_ids:
            selections.append(
                f'node(id: "{global_id}") {{ ... on {type_name} {selection} }}'
            )
    assert SCHEMA.query_type is not None
    for name in CONNECTIONS:
        selections.append(_root_list_ids(name))

    # A document's token count and cost are at most the sums over documents with
    # one of its selections each, because each of those also counts the frame.
    documents: list[str] = []
    chunk: list[str] = []
    chunk_tokens = chunk_cost = 0
    for selection in selections:
        tokens, cost = _size(_aliased([selection]))
        if chunk and (
            len(chunk) == MAX_DOCUMENT_ALIASES
            or chunk_tokens + tokens > MAX_DOCUMENT_TOKENS
            or chunk_cost + cost > MAX_DOCUMENT_COST
        ):
            documents.append(_aliased(chunk))
            chunk, chunk_tokens, chunk_cost = [], 0, 0
        chunk.append(selection)
        chunk_tokens += tokens
        chunk_cost += cost
    documents.append(_aliased(chunk))
    return documents


def _root_list_ids(field_name: str) -> str:
    """Return a selection of the ids of every record of a root connection.

    Each Boolean argument or filter field whose name starts with `include`, such as
    includeArchived, is set to true, so that archived and revoked records count.
    Their fields are read through `node(id:)`.
    """
    field = SCHEMA.query_type.fields[field_name]  # type: ignore[union-attr]
    arguments = [f"first: {SNAPSHOT_PAGE_SIZE}"]
    for name, argument in field.args.items():
        named = get_named_type(argument.type)
        if name.startswith("include") and named.name == "Boolean":
            arguments.append(f"{name}: true")
        elif isinstance(named, GraphQLInputObjectType):
            included = [
                f"{key}: true"
                for key, input_field in named.fields.items()
                if key.startswith("include")
                and get_named_type(input_field.type).name == "Boolean"
            ]
            if included:
                arguments.append(f"{name}: {{{', '.join(included)}}}")
    selection = id_selection(field.type)
    return f"{field_name}({', '.join(arguments)}) {selection}"


def _aliased(selections: list[str]) -> str:
    body = " ".join(f"r{index}: {text}" for index, text in enumerate(selections))
    return f"query Snapshot {{ {body} }}"


def _size(document: str) -> tuple[int, int]:
    """Return the token count of `document` and its cost as the server estimates it."""
    parsed = parse(document)
    count = 0
    token = parsed.loc.start_token if parsed.loc else None
    while token is not None:
        count += 1
        token = token.next
    operation = parsed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    cost = estimate_cost(SCHEMA, parsed, operation, {}, max_page_size=100)
    return count, cost


# --- Node fetch -----------------------------------------------------------------------


def _fetch_document(field_name: str, slot: IdSlot) -> str:
    field = SCHEMA.query_type.fields[field_name]  # type: ignore[union-attr]
    argument = field.args[slot.path[0]]
    return (
        f"query Fetch($value: {argument.type}) "
        f"{{ {field_name}({slot.path[0]}: $value) {{ __typename id }} }}"
    )


@pytest.mark.parametrize("direction", ["a-reads-b", "b-reads-a"])
@pytest.mark.parametrize("type_name", NODE_TYPES)
@pytest.mark.parametrize("field_name", sorted(NODE_FETCH_FIELDS))
async def test_node_fetch_hides_other_tenant(
    pair: TenantPair, field_name: str, type_name: str, direction: str
) -> None:
    readers = _readers(pair, direction)
    reader, owner = readers.own, readers.other
    if not owner.ids.get(type_name):
        pytest.fail(
            f"The seed has no record of Node type {type_name}: add one to "
            "seed_tenant in tests/security/seed.py."
        )
    slot = NODE_FETCH_FIELDS[field_name]
    document = _fetch_document(field_name, slot)

    def value(global_id: str) -> Any:
        return [global_id] if slot.is_list else global_id

    for foreign_id in owner.ids[type_name]:
        missing = missing_id(type_name)
        foreign = await reader.api.post(
            document, {"value": value(foreign_id)}, role="admin"
        )
        absent = await reader.api.post(
            document, {"value": value(missing)}, role="admin"
        )
        own = await owner.api.data(document, {"value": value(foreign_id)})

        assert "errors" not in foreign, foreign
        assert without_ids(foreign, foreign_id) == without_ids(absent, missing)
        assert response_ids(foreign) == []
        assert leaked_secrets(foreign, owner) == []
        assert response_ids(own) == [foreign_id]


# --- Id arguments of queries ----------------------------------------------------------


def _query_document(case: ArgumentCase, arguments: dict[str, Any]) -> str:
    declarations, uses = _declared(case.field, arguments)
    selection = id_selection(case.field.type) or ""
    call = f"{case.field_name}{_wrapped(uses)} {selection}"
    if case.owner == "Query":
        return f"query Probe{_wrapped(declarations)} {{ {call} }}"
    declarations = ", ".join(filter(None, ["$start: ID!", declarations]))
    return (
        f"query Probe({declarations}) "
        f"{{ node(id: $start) {{ ... on {case.owner} {{ {call} }} }} }}"
    )


async def _run_query_case(
    case: ArgumentCase, caller: SeededTenant, value: str
) -> dict[str, Any]:
    def own_id(type_name: str) -> str:
        return caller.ids[type_name][0]

    arguments = build_arguments(
        case.owner, case.field_name, case.field, case.slot, value, own_id
    )
    variables = _variables(arguments)
    if case.owner != "Query":
        variables["start"] = own_id(case.owner)
    return await caller.api.post(
        _query_document(case, arguments), variables, role="admin"
    )


@pytest.mark.parametrize("case", QUERY_CASES, ids=lambda case: case.test_id)
async def test_query_id_argument_hides_other_tenant(
    pair: TenantPair, case: ArgumentCase
) -> None:
    if case.problem is not None:
        pytest.fail(case.problem)
    assert case.record_type is not None
    a, b = pair.own, pair.other
    for required in {case.record_type, case.owner} - {"Query"}:
        if not b.ids.get(required):
            pytest.fail(f"The seed has no record of Node type {required}.")
    missing = missing_id(case.record_type)
    absent = await _run_query_case(case, a, missing)

    # Every seeded id of the type is tried, because the main record may not be the
    # one that the argument finds something for, such as a user without API tokens.
    found_for_b = []
    for foreign_id in b.ids[case.record_type]:
        foreign = await _run_query_case(case, a, foreign_id)
        own = await _run_query_case(case, b, foreign_id)

        assert without_ids(foreign, foreign_id) == without_ids(absent, missing)
        assert await foreign_records(foreign, a.organization_id) == []
        assert leaked_secrets(foreign, b) == []
        assert "errors" not in own, own["errors"]
        assert await foreign_records(own, b.organization_id) == []
        found_for_b += response_ids(own)
    assert found_for_b != [], (
        f"{case.test_id} finds nothing of B for B's own admin, so this case proves "
        "nothing: link the seeded records so that it does."
    )


@pytest.mark.parametrize("field_name", CONNECTIONS)
async def test_cursor_of_other_tenant_rejected(
    pair: TenantPair, field_name: str
) -> None:
    a, b = pair.own, pair.other
    field = SCHEMA.query_type.fields[field_name]  # type: ignore[union-attr]
    first_page = await b.api.data(
        f"query FirstPage {{ {field_name}(first: 1) {{ pageInfo {{ endCursor }} }} }}"
    )
    cursor = first_page[field_name]["pageInfo"]["endCursor"]
    assert cursor is not None, f"The seed gives B no {field_name} to page through."
    document = (
        f"query NextPage($after: String) {{ {field_name}(first: 1, after: $after) "
        f"{id_selection(field.type)} }}"
    )

    body = await a.api.post(document, {"after": cursor}, role="admin")

    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == [
        "BAD_USER_INPUT"
    ]
    assert leaked_secrets(body, b) == []


async def test_seed_has_no_cross_tenant_references(pair: TenantPair) -> None:
    organizations = [pair.own.organization_id, pair.other.organization_id]

    assert await cross_tenant_references(organizations) == []


async def test_cross_tenant_check_finds_planted_links(planted: TenantPair) -> None:
    organizations = [planted.own.organization_id, planted.other.organization_id]

    problems = await cross_tenant_references(organizations)

    # Service and Tag rows are flagged through their many-to-many contracts.
    flagged = sorted({problem.split(" ", 1)[0] for problem in problems})
    assert flagged == [
        "ApiToken",
        "Client",
        "ContactPerson",
        "Contract",
        "ContractEvent",
        "ContractType",
        "ContractWatcher",
        "CustomFieldDefinition",
        "Document",
        "DocumentVersion",
        "Note",
        "Notification",
        "Project",
        "ProjectMember",
        "Reminder",
        "Service",
        "Tag",
        "Task",
        "User",
    ]


# --- Mutations ------------------------------------------------------------------------


def _mutation_document(case: ArgumentCase, arguments: dict[str, Any]) -> str:
    declarations, uses = _declared(case.field, arguments)
    payload = get_named_type(case.field.type)
    selection = ""
    if isinstance(payload, GraphQLObjectType):
        parts = ["__typename"]
        if "errors" in payload.fields:
            parts.append("errors { field code message }")
        selection = "{ " + " ".join(parts) + " }"
    return (
        f"mutation Probe{_wrapped(declarations)} "
        f"{{ {case.field_name}{_wrapped(uses)} {selection} }}"
    )


async def _run_mutation_case(
    case: ArgumentCase, caller: SeededTenant, value: str
) -> dict[str, Any]:
    def own_id(type_name: str) -> str:
        return caller.ids[type_name][0]

    arguments = build_arguments(
        case.owner, case.field_name, case.field, case.slot, value, own_id
    )
    return await caller.api.post(
        _mutation_document(case, arguments), _variables(arguments), role="admin"
    )


def _input_field(slot: IdSlot) -> str:
    """Return the name that a payload FieldError gives `slot`: its path in the input."""
    path = slot.path[1:] if slot.path[0] == "input" else slot.path
    return ".".join(path)


@pytest.mark.parametrize("case", MUTATION_CASES, ids=lambda case: case.test_id)
async def test_mutation_rejects_other_tenant_id(
    pair: TenantPair, case: ArgumentCase
) -> None:
    if case.problem is not None:
        pytest.fail(case.problem)
    assert case.record_type is not None
    a, b = pair.own, pair.other
    if not b.ids.get(case.record_type):
        pytest.fail(f"The seed has no record of Node type {case.record_type}.")
    foreign_id = b.ids[case.record_type][0]
    missing = missing_id(case.record_type)
    organizations = [a.organization_id, b.organization_id]
    before = pair.other_snapshot or await snapshot(b)
    if pair.cross_references is None:
        pair.cross_references = await cross_tenant_references(organizations)
    links_before = pair.cross_references

    absent = await _run_mutation_case(case, a, missing)
    foreign = await _run_mutation_case(case, a, foreign_id)
    after = await snapshot(b)
    links_after = await cross_tenant_references(organizations)
    pair.other_snapshot = after
    pair.cross_references = links_after

    assert without_ids(foreign, foreign_id) == without_ids(absent, missing)
    assert leaked_secrets(foreign, b) == []
    if case.slot.path[0] in UNLINK_ARGUMENTS:
        assert "errors" not in foreign, foreign["errors"]
        assert foreign["data"][case.field_name]["errors"] == []
    elif "errors" in foreign:
        assert foreign["data"] is None
        assert len(foreign["errors"]) == 1, foreign["errors"]
        assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert foreign["errors"][0]["path"] == [case.field_name]
    else:
        errors = foreign["data"][case.field_name]["errors"]
        codes = [(error["field"], error["code"]) for error in errors]
        assert codes == [(_input_field(case.slot), "NOT_FOUND")]
    assert after == before
    assert [link for link in links_after if link not in links_before] == []


# --- Tokens ---------------------------------------------------------------------------

VIEWER = "query Viewer { viewer { user { id } } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token }
}
"""


def _with_claims(token: str, claims: dict[str, int]) -> str:
    """Return `token` with its payload replaced and its old timestamp and signature."""
    payload = json.dumps(claims, separators=(",", ":")).encode()
    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    _, timestamp, signature = token.split(".")
    return f"{encoded}.{timestamp}.{signature}"


FORGED_TOKENS = [
    "a-user-with-b-organization-signed",
    "b-user-with-a-organization-signed",
    "a-token-with-b-organization-unsigned",
    "a-token-with-b-user-unsigned",
    "b-token-with-a-organization-unsigned",
]


@pytest.mark.parametrize("forgery", FORGED_TOKENS)
async def test_forged_token_rejected(
    pair: TenantPair, settings: Settings, forgery: str
) -> None:
    a, b = pair.own, pair.other
    signer = TokenSigner(settings.resolved_secret_key(), settings.token_ttl)
    a_user = a.api.tenant.user_ids["admin"]
    b_user = b.api.tenant.user_ids["admin"]
    a_token = a.api.tenant.tokens["admin"]
    b_token = b.api.tenant.tokens["admin"]
    tokens = {
        "a-user-with-b-organization-signed": signer.issue(a_user, b.organization_id),
        "b-user-with-a-organization-signed": signer.issue(b_user, a.organization_id),
        "a-token-with-b-organization-unsigned": _with_claims(
            a_token, {"u": a_user, "o": b.organization_id}
        ),
        "a-token-with-b-user-unsigned": _with_claims(
            a_token, {"u": b_user, "o": a.organization_id}
        ),
        "b-token-with-a-organization-unsigned": _with_claims(
            b_token, {"u": b_user, "o": a.organization_id}
        ),
    }

    response = await a.api.client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Bearer {tokens[forgery]}"},
    )
    body = response.json()

    assert response.status_code == 200
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == [
        "UNAUTHENTICATED"
    ]
    assert leaked_secrets(body, a) == []
    assert leaked_secrets(body, b) == []


@pytest.mark.parametrize("direction", ["a-reads-b", "b-reads-a"])
@pytest.mark.parametrize("credential", ["login-token", "api-token"])
async def test_credential_reads_own_tenant_only(
    pair: TenantPair, settings: Settings, credential: str, direction: str
) -> None:
    readers = _readers(pair, direction)
    reader, owner = readers.own, readers.other
    client = reader.api.client
    if credential == "login-token":
        login = await client.post(
            "/graphql",
            json={
                "query": LOGIN,
                "variables": {
                    "email": reader.api.tenant.emails["admin"],
                    "password": PASSWORD,
                },
            },
        )
        token = login.json()["data"]["login"]["token"]
        signer = TokenSigner(settings.resolved_secret_key(), settings.token_ttl)
        claims = signer.verify(token)
        assert claims.user_id == reader.api.tenant.user_ids["admin"]
        assert claims.organization_id == reader.organization_id
    else:
        token = reader.api_token
    headers = {"Authorization": f"Bearer {token}"}
    # Using the API token changes its lastUsedAt, which the snapshots read.
    pair.other_snapshot = None

    async def post(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    lists = [await post(document, {}) for document in snapshot_documents(reader)]
    fetched = [
        await post("query Fetch($id: ID!) { node(id: $id) { id } }", {"id": global_id})
        for ids in owner.ids.values()
        for global_id in ids
    ]

    for body in lists:
        # The API token's read scope may leave some lists forbidden.
        codes = {error["extensions"]["code"] for error in body.get("errors", [])}
        assert codes <= ({"FORBIDDEN"} if credential == "api-token" else set())
        assert await foreign_records(body, reader.organization_id) == []
        assert leaked_secrets(body, owner) == []
    assert [body.get("errors") for body in fetched] == [None] * len(fetched)
    assert [body["data"]["node"] for body in fetched] == [None] * len(fetched)


# --- Relations ------------------------------------------------------------------------


@pytest.mark.parametrize("world", ["seeded", "planted"])
@pytest.mark.parametrize(
    ("type_name", "field_name"), RELATIONS, ids=[f"{t}.{f}" for t, f in RELATIONS]
)
async def test_relation_returns_own_tenant_only(
    pair: TenantPair,
    planted: TenantPair,
    type_name: str,
    field_name: str,
    world: str,
) -> None:
    tenants = pair if world == "seeded" else planted
    own, other = tenants.own, tenants.other
    node_type = SCHEMA.get_type(type_name)
    assert isinstance(node_type, GraphQLObjectType)
    field = node_type.fields[field_name]
    if _has_required_arguments(field):
        pytest.fail(
            f"{type_name}.{field_name} has required arguments, which the walk "
            "cannot fill: give it values here."
        )
    if not own.ids.get(type_name):
        pytest.fail(f"The seed has no record of Node type {type_name}.")
    document = (
        f"query Walk($id: ID!) {{ node(id: $id) {{ ... on {type_name} "
        f"{{ {field_name} {id_selection(field.type, 1)} }} }} }}"
    )

    bodies = [
        await own.api.post(document, {"id": global_id}, role="admin")
        for global_id in own.ids[type_name]
    ]

    reached = []
    for global_id, body in zip(own.ids[type_name], bodies, strict=True):
        assert "errors" not in body, body["errors"]
        assert body["data"]["node"] is not None, (
            f"node(id:) returns null for {type_name} {global_id!r} to the admin of "
            "its own organization, so its relations cannot be walked."
        )
        assert leaked_secrets(body, other) == []
        assert await foreign_records(body, own.organization_id) == []
        reached += response_ids(body["data"]["node"][field_name])
    assert reached != [], (
        f"No seeded {type_name} has a record behind {field_name}, so this case "
        "proves nothing: link one in seed_tenant in tests/security/seed.py."
    )
