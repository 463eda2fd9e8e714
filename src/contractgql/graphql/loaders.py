"""Batched loading of related records, so a page costs a fixed number of queries.

List resolvers preload the relations that the query selects (see `preload_contracts`).
Anything not preloaded goes through a per-request DataLoader, which gathers the ids
requested in one execution step into a single `IN (...)` query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField
from tortoise.models import Model

from contractgql.graphql.types.catalog import (
    CONTRACT_TYPE_COLUMNS,
    PROJECT_COLUMNS,
    SERVICE_COLUMNS,
    TAG_COLUMNS,
    contract_type_node,
    project_node,
    service_node,
    tag_node,
)
from contractgql.graphql.types.clients import (
    CLIENT_COLUMNS,
    CONTACT_COLUMNS,
    client_node,
    contact_node,
)
from contractgql.graphql.types.contracts import (
    CONTRACT_COLUMNS,
    ContractNode,
    contract_node,
)
from contractgql.graphql.types.notes import NOTE_COLUMNS, note_node
from contractgql.graphql.types.users import USER_COLUMNS, user_node
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
_GRAPHQL_NAMES = {
    "contractType": "contract_type",
    "createdBy": "created_by",
    "updatedBy": "updated_by",
}


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), MAX_BATCH):
        yield ids[start : start + MAX_BATCH]


async def _fetch_by_id(
    model: type[Model],
    organization_id: int,
    ids: Sequence[int],
    columns: Sequence[str],
    build: Callable[[dict[str, Any]], Any],
) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = await model.filter(id__in=chunk, organization_id=organization_id).values(
            *columns
        )
        found.update((row["id"], build(row)) for row in rows)
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
    """Return the unarchived linked records of each owner, in name order."""
    linked: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(set(owner_ids))):
        rows = (
            await model.filter(
                **{f"{reverse}__id__in": chunk},
                organization_id=organization_id,
                archived_at=None,
            )
            .order_by("name", "id")
            .values(*columns, owner_pk=f"{reverse}__id")
        )
        for row in rows:
            linked[row["owner_pk"]].append(build(row))
    return linked


async def fetch_contract_links(
    viewer: Viewer, name: str, contract_ids: Sequence[int]
) -> dict[int, list[Any]]:
    org = viewer.organization_id
    if name == "tags":
        return await _fetch_m2m(
            Tag, "contracts", contract_ids, org, TAG_COLUMNS, tag_node
        )
    if name == "projects":
        return await _fetch_m2m(
            Project, "contracts", contract_ids, org, PROJECT_COLUMNS, project_node
        )
    if name == "services":
        return await _fetch_m2m(
            Service, "contracts", contract_ids, org, SERVICE_COLUMNS, service_node
        )
    if name == "children":
        return await _fetch_children(viewer, contract_ids)
    if name == "watchers":
        return await _fetch_watchers(viewer, contract_ids)
    raise ValueError(f"Unknown contract relation {name!r}")


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
    viewer: Viewer, nodes: list[ContractNode], wanted: set[str]
) -> None:
    """Load the selected relations of a page of contracts in one query per relation."""
    if not nodes:
        return
    for name, attribute, loader in SINGLE_RELATIONS:
        if name not in wanted:
            continue
        ids = [getattr(node, attribute) for node in nodes if getattr(node, attribute)]
        found = await _single_fetchers[loader](viewer, ids) if ids else {}
        for node in nodes:
            pk = getattr(node, attribute)
            node.preloaded[name] = found.get(pk) if pk else None
    for name in LIST_RELATIONS:
        if name in wanted:
            linked = await fetch_contract_links(viewer, name, [n.pk for n in nodes])
            for node in nodes:
                node.preloaded[name] = linked.get(node.pk, [])


_single_fetchers: dict[
    str, Callable[[Viewer, Sequence[int]], Awaitable[dict[int, Any]]]
] = {
    "client": lambda v, ids: _fetch_by_id(
        Client, v.organization_id, ids, CLIENT_COLUMNS, client_node
    ),
    "user": lambda v, ids: _fetch_by_id(
        User, v.organization_id, ids, USER_COLUMNS, user_node
    ),
    "contact": lambda v, ids: _fetch_by_id(
        ContactPerson, v.organization_id, ids, CONTACT_COLUMNS, contact_node
    ),
    "contract_type": lambda v, ids: _fetch_by_id(
        ContractType, v.organization_id, ids, CONTRACT_TYPE_COLUMNS, contract_type_node
    ),
    "contract": _fetch_visible_contracts,
}


def selected_node_fields(info: Any) -> set[str]:
    """Return the snake_case names selected on the nodes of a connection field."""
    wanted: set[str] = set()
    for field in info.selected_fields:
        for child in _flatten(field.selections):
            if child.name == "nodes":
                wanted |= _names(child.selections)
            elif child.name == "edges":
                for edge_field in _flatten(child.selections):
                    if edge_field.name == "node":
                        wanted |= _names(edge_field.selections)
    return wanted


def selected_fields(info: Any) -> set[str]:
    """Return the snake_case names selected directly on the current field."""
    wanted: set[str] = set()
    for field in info.selected_fields:
        wanted |= _names(field.selections)
    return wanted


def _names(selections: list[Any]) -> set[str]:
    return {_GRAPHQL_NAMES.get(f.name, f.name) for f in _flatten(selections)}


def _flatten(selections: list[Any]) -> Iterable[SelectedField]:
    for selection in selections:
        if isinstance(selection, (FragmentSpread, InlineFragment)):
            yield from _flatten(selection.selections)
        elif isinstance(selection, SelectedField):
            yield selection
