"""Batched loading of related records, so a page costs a fixed number of queries.

List resolvers preload the relations that the query selects (see `preload_contracts`).
Anything not preloaded goes through a per-request DataLoader, which gathers the ids
requested in one execution step into a single `IN (...)` query.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField
from tortoise.fields.relational import ManyToManyFieldInstance
from tortoise.models import Model

from contractgql.db import Statement
from contractgql.graphql.types.catalog import (
    CONTRACT_TYPE_COLUMNS,
    PROJECT_COLUMNS,
    SERVICE_COLUMNS,
    TAG_COLUMNS,
    ContractTypeNode,
    ProjectNode,
    ServiceNode,
    TagNode,
    contract_type_node,
    project_node,
    service_node,
    tag_node,
)
from contractgql.graphql.types.clients import (
    CLIENT_COLUMNS,
    CONTACT_COLUMNS,
    ClientNode,
    ContactPersonNode,
    client_node,
    contact_node,
)
from contractgql.graphql.types.common import PartialRow, node_columns
from contractgql.graphql.types.contracts import (
    CONTRACT_COLUMNS,
    ContractNode,
    contract_node,
)
from contractgql.graphql.types.notes import NOTE_COLUMNS, note_node
from contractgql.graphql.types.users import USER_COLUMNS, UserNode, user_node
from contractgql.models import (
    Client,
    ContactPerson,
    ContractType,
    ContractWatcher,
    Note,
    Project,
    Service,
    Tag,
    User,
)
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer

# SQLite allows 32,766 bound variables per statement; stay well below it.
MAX_BATCH = 10_000

# Contract relations that point at one record: (preloaded name, id attribute, loader).
SINGLE_RELATIONS = (
    ("client", "client_pk", "client"),
    ("owner", "owner_pk", "user"),
    ("contact", "contact_pk", "contact"),
    ("contract_type", "contract_type_pk", "contract_type"),
    ("parent", "parent_pk", "contract"),
    ("created_by", "created_by_pk", "user"),
    ("updated_by", "updated_by_pk", "user"),
)
LIST_RELATIONS = ("tags", "projects", "services", "children", "watchers")


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), MAX_BATCH):
        yield ids[start : start + MAX_BATCH]


def _select_list(model: type[Model], columns: Sequence[str], table: str) -> str:
    projection = model._meta.fields_db_projection
    return ", ".join(
        f'{table}."{projection[column]}" AS "{column}"' for column in columns
    )


def _converters(
    model: type[Model], columns: Sequence[str]
) -> list[tuple[str, Callable[[Any], Any]]]:
    """Return the conversions that Tortoise's `values()` applies to these columns."""
    native = {name for _, name, _ in model._meta.db_native_fields}
    return [
        (column, model._meta.fields_map[column].to_python_value)
        for column in columns
        if column not in native
    ]


async def _fetch_by_id(
    model: type[Model],
    organization_id: int,
    ids: Sequence[int],
    columns: Sequence[str],
    build: Callable[[dict[str, Any]], Any],
) -> dict[int, Any]:
    db = model._meta.db
    converters = _converters(model, columns)
    select_list = _select_list(model, columns, "r")
    found: dict[int, Any] = {}
    for chunk in _chunks(sorted(set(ids))):
        statement = Statement(db)
        matches = statement.any_of('r."id"', chunk)
        organization = statement.parameter(organization_id)
        sql = (
            f'SELECT {select_list} FROM "{model._meta.db_table}" r '
            f'WHERE {matches} AND r."organization_id" = {organization}'
        )
        for row in await db.execute_query_dict(sql, statement.parameters):
            for column, convert in converters:
                row[column] = convert(row[column])
            found[row["id"]] = build(PartialRow(row))
    return found


async def _fetch_visible_contracts(
    viewer: Viewer, ids: Sequence[int]
) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = (
            await visible_contracts(viewer)
            .filter(id__in=chunk)
            .values(*CONTRACT_COLUMNS)
        )
        found.update((row["id"], contract_node(row, viewer)) for row in rows)
    return found


async def _fetch_m2m(
    model: type[Model],
    reverse: str,
    owner_ids: Sequence[int],
    organization_id: int,
    columns: Sequence[str],
    build: Callable[[dict[str, Any]], Any],
) -> dict[int, list[Any]]:
    """Return the unarchived linked records of each owner, in name order.

    The statement joins the records to the link table only. A Tortoise filter on
    `<reverse>__id__in` would also join the owners' table, just to read the id that
    the link table already holds.
    """
    relation = model._meta.fields_map[reverse]
    assert isinstance(relation, ManyToManyFieldInstance)
    db = model._meta.db
    converters = _converters(model, columns)
    select_list = _select_list(model, columns, "r")
    owner_key = f'l."{relation.forward_key}"'
    linked: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(owner_ids))):
        statement = Statement(db)
        matches = statement.any_of(owner_key, chunk)
        organization = statement.parameter(organization_id)
        sql = (
            f'SELECT {select_list}, {owner_key} AS "owner_pk" '
            f'FROM "{model._meta.db_table}" r JOIN "{relation.through}" l '
            f'ON r."id" = l."{relation.backward_key}" '
            f'WHERE {matches} AND r."organization_id" = {organization} '
            'AND r."archived_at" IS NULL ORDER BY r."name", r."id"'
        )
        for row in await db.execute_query_dict(sql, statement.parameters):
            owner_pk = row.pop("owner_pk")
            for column, convert in converters:
                row[column] = convert(row[column])
            linked[owner_pk].append(build(PartialRow(row)))
    return linked


async def fetch_contract_links(
    viewer: Viewer,
    name: str,
    contract_ids: Sequence[int],
    fields: AbstractSet[str] | None = None,
) -> dict[int, list[Any]]:
    """Return the linked records of each contract.

    With `fields`, the tags, projects and services read only the columns that those
    fields need, and serve only those fields.
    """
    org = viewer.organization_id
    if name == "tags":
        columns = _columns(TagNode, TAG_COLUMNS, fields)
        return await _fetch_m2m(Tag, "contracts", contract_ids, org, columns, tag_node)
    if name == "projects":
        columns = _columns(ProjectNode, PROJECT_COLUMNS, fields)
        return await _fetch_m2m(
            Project, "contracts", contract_ids, org, columns, project_node
        )
    if name == "services":
        columns = _columns(ServiceNode, SERVICE_COLUMNS, fields)
        return await _fetch_m2m(
            Service, "contracts", contract_ids, org, columns, service_node
        )
    if name == "children":
        return await _fetch_children(viewer, contract_ids)
    if name == "watchers":
        return await _fetch_watchers(viewer, contract_ids)
    raise ValueError(f"Unknown contract relation {name!r}")


def _columns(
    node_type: type, columns: tuple[str, ...], fields: AbstractSet[str] | None
) -> tuple[str, ...]:
    return columns if fields is None else node_columns(node_type, columns, fields)


async def _fetch_children(
    viewer: Viewer, parent_ids: Sequence[int]
) -> dict[int, list[Any]]:
    children: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(parent_ids))):
        rows = (
            await visible_contracts(viewer)
            .filter(parent_id__in=chunk, archived_at=None)
            .order_by("start_date", "id")
            .values(*CONTRACT_COLUMNS)
        )
        for row in rows:
            children[row["parent_id"]].append(contract_node(row, viewer))
    return children


async def _fetch_watchers(
    viewer: Viewer, contract_ids: Sequence[int]
) -> dict[int, list[Any]]:
    watchers: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(contract_ids))):
        pairs = (
            await ContractWatcher.filter(
                contract_id__in=chunk, user__organization_id=viewer.organization_id
            )
            .order_by("user__name")
            .values("contract_id", "user_id")
        )
        users = await _fetch_by_id(
            User,
            viewer.organization_id,
            [p["user_id"] for p in pairs],
            USER_COLUMNS,
            user_node,
        )
        for pair in pairs:
            watchers[pair["contract_id"]].append(users[pair["user_id"]])
    return watchers


async def fetch_client_links(
    viewer: Viewer, name: str, client_ids: Sequence[int]
) -> dict[int, list[Any]]:
    org = viewer.organization_id
    if name == "tags":
        return await _fetch_m2m(Tag, "clients", client_ids, org, TAG_COLUMNS, tag_node)
    model, columns, build = {
        "contacts": (ContactPerson, CONTACT_COLUMNS, contact_node),
        "projects": (Project, PROJECT_COLUMNS, project_node),
    }[name]
    linked: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(client_ids))):
        rows = (
            await model.filter(
                client_id__in=chunk, organization_id=org, archived_at=None
            )
            .order_by("name", "id")
            .values(*columns)
        )
        for row in rows:
            linked[row["client_id"]].append(build(row))
    return linked


async def fetch_notes(
    viewer: Viewer, target: str, owner_ids: Sequence[int]
) -> dict[int, list[Any]]:
    """Return the unarchived notes of each contract, client or project, newest first."""
    column = f"{target}_id"
    notes: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(owner_ids))):
        rows = (
            await Note.filter(
                **{f"{column}__in": chunk},
                organization_id=viewer.organization_id,
                archived_at=None,
            )
            .order_by("-created_at", "-id")
            .values(*NOTE_COLUMNS, column)
        )
        for row in rows:
            notes[row[column]].append(note_node(row))
    return notes


class Loaders:
    """DataLoaders of one request, all scoped to the viewer's organization."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer
        org = viewer.organization_id
        self._by_id: dict[str, DataLoader[int, Any]] = {
            "client": self._by_id_loader(Client, CLIENT_COLUMNS, client_node),
            "user": self._by_id_loader(User, USER_COLUMNS, user_node),
            "contact": self._by_id_loader(ContactPerson, CONTACT_COLUMNS, contact_node),
            "contract_type": self._by_id_loader(
                ContractType, CONTRACT_TYPE_COLUMNS, contract_type_node
            ),
            "contract": DataLoader(
                lambda ids: self._ordered(_fetch_visible_contracts(viewer, ids), ids)
            ),
        }
        self._links: dict[tuple[str, str], DataLoader[int, list[Any]]] = {}
        self._organization_id = org

    def _by_id_loader(
        self, model: type[Model], columns: Sequence[str], build: Callable[..., Any]
    ) -> DataLoader[int, Any]:
        org = self.viewer.organization_id

        async def load(ids: list[int]) -> list[Any]:
            return await self._ordered(
                _fetch_by_id(model, org, ids, columns, build), ids
            )

        return DataLoader(load)

    @staticmethod
    async def _ordered(fetch: Awaitable[dict[int, Any]], ids: list[int]) -> list[Any]:
        found = await fetch
        return [found.get(pk) for pk in ids]

    def client(self, pk: int) -> Awaitable[Any]:
        return self._by_id["client"].load(pk)

    def user(self, pk: int) -> Awaitable[Any]:
        return self._by_id["user"].load(pk)

    def contact(self, pk: int) -> Awaitable[Any]:
        return self._by_id["contact"].load(pk)

    def contract_type(self, pk: int) -> Awaitable[Any]:
        return self._by_id["contract_type"].load(pk)

    def contract(self, pk: int) -> Awaitable[Any]:
        return self._by_id["contract"].load(pk)

    def contract_links(self, name: str, contract_pk: int) -> Awaitable[list[Any]]:
        return self._link_loader("contract", name, fetch_contract_links).load(
            contract_pk
        )

    def notes(self, target: str, owner_pk: int) -> Awaitable[list[Any]]:
        return self._link_loader("notes", target, fetch_notes).load(owner_pk)

    def client_links(self, name: str, client_pk: int) -> Awaitable[list[Any]]:
        return self._link_loader("client", name, fetch_client_links).load(client_pk)

    def _link_loader(
        self,
        owner: str,
        name: str,
        fetch: Callable[[Viewer, str, Sequence[int]], Awaitable[dict[int, list[Any]]]],
    ) -> DataLoader[int, list[Any]]:
        key = (owner, name)
        if key not in self._links:

            async def load(ids: list[int]) -> list[list[Any]]:
                found = await fetch(self.viewer, name, ids)
                return [found.get(pk, []) for pk in ids]

            self._links[key] = DataLoader(load)
        return self._links[key]


async def preload_contracts(
    viewer: Viewer, nodes: list[ContractNode], selection: dict[str, set[str]]
) -> None:
    """Load the selected relations of a page of contracts in one query per relation.

    `selection` maps each field selected on the nodes to the fields selected below
    it (see `node_selection`), and only the columns that those need are read.
    """
    if not nodes:
        return
    for name, attribute, loader in SINGLE_RELATIONS:
        if name not in selection:
            continue
        ids = [getattr(node, attribute) for node in nodes if getattr(node, attribute)]
        fetch = _single_fetchers[loader]
        found = await fetch(viewer, ids, selection[name]) if ids else {}
        for node in nodes:
            pk = getattr(node, attribute)
            node.preloaded[name] = found.get(pk) if pk else None
    for name in LIST_RELATIONS:
        if name in selection:
            linked = await fetch_contract_links(
                viewer, name, [n.pk for n in nodes], selection[name]
            )
            for node in nodes:
                node.preloaded[name] = linked.get(node.pk, [])


_single_fetchers: dict[
    str, Callable[[Viewer, Sequence[int], AbstractSet[str]], Awaitable[dict[int, Any]]]
] = {
    "client": lambda v, ids, fields: _fetch_by_id(
        Client,
        v.organization_id,
        ids,
        node_columns(ClientNode, CLIENT_COLUMNS, fields),
        client_node,
    ),
    "user": lambda v, ids, fields: _fetch_by_id(
        User,
        v.organization_id,
        ids,
        node_columns(UserNode, USER_COLUMNS, fields),
        user_node,
    ),
    "contact": lambda v, ids, fields: _fetch_by_id(
        ContactPerson,
        v.organization_id,
        ids,
        node_columns(ContactPersonNode, CONTACT_COLUMNS, fields),
        contact_node,
    ),
    "contract_type": lambda v, ids, fields: _fetch_by_id(
        ContractType,
        v.organization_id,
        ids,
        node_columns(ContractTypeNode, CONTRACT_TYPE_COLUMNS, fields),
        contract_type_node,
    ),
    "contract": lambda v, ids, fields: _fetch_visible_contracts(v, ids),
}


def node_selection(info: Any) -> dict[str, set[str]]:
    """Return the fields selected on the nodes of a connection field.

    Each snake_case field name maps to the names selected directly below it, from
    `nodes` and `edges { node }` and through fragments, so one node can serve every
    place where the query selects it. Directives such as @skip are not evaluated,
    so a skipped field counts as selected.
    """
    selection: dict[str, set[str]] = defaultdict(set)
    for field in info.selected_fields:
        for child in _flatten(field.selections):
            if child.name == "nodes":
                _add_selection(selection, child.selections)
            elif child.name == "edges":
                for edge_field in _flatten(child.selections):
                    if edge_field.name == "node":
                        _add_selection(selection, edge_field.selections)
    return dict(selection)


def _add_selection(selection: dict[str, set[str]], selections: list[Any]) -> None:
    for field in _flatten(selections):
        selection[_snake_case(field.name)] |= _names(field.selections)


def selected_fields(info: Any) -> set[str]:
    """Return the snake_case names selected directly on the current field."""
    wanted: set[str] = set()
    for field in info.selected_fields:
        wanted |= _names(field.selections)
    return wanted


def _names(selections: list[Any]) -> set[str]:
    return {_snake_case(f.name) for f in _flatten(selections)}


@functools.cache
def _snake_case(name: str) -> str:
    """Return the Python name of a camelCase GraphQL field name, such as end_date.

    The names come from validated documents, so the cache contains at most the
    schema's field names.
    """
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _flatten(selections: list[Any]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, (FragmentSpread, InlineFragment)):
            yield from _flatten(selection.selections)
        elif isinstance(selection, SelectedField):
            yield selection
