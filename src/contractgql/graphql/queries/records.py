"""Connections over the simpler records, ordered by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise.models import Model
from tortoise.queryset import QuerySet

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Connection, SortKey, paginate, search_text

NAME_ORDER = SortKey("name", "name", case_insensitive=True)


async def records_connection(
    info: Info,
    model: type[Model],
    columns: tuple[str, ...],
    build: Callable[[dict[str, Any]], Any],
    *,
    first: int | None,
    after: str | None,
    search: str | None = None,
    include_archived: bool = False,
    filters: dict[str, Any] | None = None,
    order: SortKey = NAME_ORDER,
) -> Connection[Any]:
    viewer = info.context.viewer
    scope: QuerySet[Any] = model.filter(organization_id=viewer.organization_id)
    query = scope.filter(**(filters or {}))
    if not include_archived:
        query = query.filter(archived_at=None)
    text = search_text(search)
    if text is not None:
        query = query.filter(**{f"{order.column}__icontains": text})

    async def build_all(rows: list[dict[str, Any]]) -> list[Any]:
        return [build(row) for row in rows]

    return await paginate(
        query,
        scope,
        key=order,
        descending=False,
        first=first,
        after=after,
        max_page_size=info.context.services.settings.max_page_size,
        columns=columns,
        build=build_all,
    )
