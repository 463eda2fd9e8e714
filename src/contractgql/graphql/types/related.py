"""Connections from a record to its contracts, shared by several object types."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise.expressions import Q, Subquery

from contractgql.graphql.context import Info
from contractgql.graphql.types.filters import ContractFilter, ContractOrder
from contractgql.models import Contract

if TYPE_CHECKING:
    from contractgql.graphql.types.totals import ContractConnection


async def related_contracts(
    info: Info,
    scope: Q,
    first: int | None,
    after: str | None,
    filter: ContractFilter | None,
    order_by: ContractOrder | None,
) -> ContractConnection:
    # Imported here because the query module imports the object types.
    from contractgql.graphql.queries.contracts import contracts_connection

    return await contracts_connection(info, first, after, filter, order_by, scope)


def linked_to(relation: str, pk: int) -> Q:
    """Return a condition for contracts linked to record `pk` through `relation`."""
    linked = Contract.filter(**{f"{relation}__id": pk}).values("id")
    return Q(id__in=Subquery(linked))
