"""The contracts connection: filters, sort orders and pagination."""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from contractgql.db import shared_connection
from contractgql.domain.status import ContractStatus
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.loaders import node_selection, preload_contracts
from contractgql.graphql.relay import Connection, SortKey, paginate, search_text
from contractgql.graphql.types.contracts import (
    ALL_CONTRACT_FIELDS,
    ContractNode,
    contract_columns,
    contract_node,
)
from contractgql.graphql.types.filters import (
    ContractFilter,
    ContractOrder,
    ContractSortField,
    SortDirection,
)
from contractgql.models import Contract, ContractStage
from contractgql.security.fields import require_readable
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer

_SORT_KEYS = {
    ContractSortField.CREATED_AT: SortKey("created_at", "id"),
    ContractSortField.NAME: SortKey("name", "name", case_insensitive=True),
    ContractSortField.NUMBER: SortKey(
        "number", "number", nullable=True, case_insensitive=True
    ),
    ContractSortField.CLIENT_NAME: SortKey(
        "client_name", "client__name", case_insensitive=True
    ),
    ContractSortField.START_DATE: SortKey("start_date", "start_date"),
    ContractSortField.END_DATE: SortKey("end_date", "end_date", nullable=True),
    ContractSortField.NOTICE_DEADLINE: SortKey(
        "notice_deadline", "notice_deadline", nullable=True
    ),
    ContractSortField.UPDATED_AT: SortKey("updated_at", "updated_at"),
    ContractSortField.AMOUNT: SortKey("amount", "amount_minor", nullable=True),
}


async def contracts_connection(
    info: Info,
    first: int | None,
    after: str | None,
    filter: ContractFilter | None,
    order_by: ContractOrder | None,
    scope: Q | None = None,
) -> Connection[ContractNode]:
    viewer = info.context.viewer
    order = order_by or ContractOrder(field=ContractSortField.CREATED_AT)
    key = _SORT_KEYS[order.field]
    if order.field is ContractSortField.AMOUNT:
        require_readable(viewer, "Contract", "amount", "sort on")

    visible = visible_contracts(viewer)
    query = visible.filter(scope) if scope is not None else visible
    query = apply_filter(query, filter or ContractFilter(), viewer)
    selection = node_selection(info)
    fields = (
        selection.keys()
        if selection.keys() <= ALL_CONTRACT_FIELDS
        else ALL_CONTRACT_FIELDS
    )

    async def build(rows: list[dict[str, Any]]) -> list[ContractNode]:
        nodes = [contract_node(row, viewer, fields) for row in rows]
        await preload_contracts(viewer, nodes, selection)
        return nodes

    async with shared_connection():
        return await paginate(
            query,
            visible,
            key=key,
            descending=order.direction is SortDirection.DESC,
            first=first,
            after=after,
            max_page_size=info.context.services.settings.max_page_size,
            columns=contract_columns(fields),
            build=build,
        )


def apply_filter(
    query: QuerySet[Contract], spec: ContractFilter, viewer: Viewer
) -> QuerySet[Contract]:
    if not spec.include_archived:
        query = query.filter(archived_at=None)
    for field, column, type_name in (
        (spec.client_ids, "client_id", "Client"),
        (spec.contract_type_ids, "contract_type_id", "ContractType"),
        (spec.owner_ids, "owner_id", "User"),
    ):
        if field is not None:
            ids = [decode_typed_id(v, type_name, column + "s") for v in field]
            query = query.filter(**{f"{column}__in": ids})
    if spec.tag_ids is not None:
        tag_ids = [decode_typed_id(v, "Tag", "tagIds") for v in spec.tag_ids]
        tagged = Contract.filter(tags__id__in=tag_ids).values("id")
        query = query.filter(id__in=Subquery(tagged))
    if spec.statuses is not None:
        query = query.filter(_status_q(spec.statuses, viewer.today))
    for date_range, column in (
        (spec.start_date, "start_date"),
        (spec.end_date, "end_date"),
        (spec.notice_deadline, "notice_deadline"),
    ):
        if date_range is not None and date_range.from_ is not None:
            query = query.filter(**{f"{column}__gte": date_range.from_})
        if date_range is not None and date_range.to is not None:
            query = query.filter(**{f"{column}__lte": date_range.to})
    if spec.auto_renewal is not None:
        query = query.filter(auto_renewal=spec.auto_renewal)
    text = search_text(spec.search)
    if text is not None:
        query = query.filter(
            Q(name__icontains=text)
            | Q(number__icontains=text)
            | Q(client__name__icontains=text)
        )
    return query


def _status_q(statuses: list[ContractStatus], today: date) -> Q:
    signed = Q(stage=ContractStage.SIGNED)
    conditions = {
        ContractStatus.DRAFT: Q(stage=ContractStage.DRAFT),
        ContractStatus.CANCELLED: Q(stage=ContractStage.CANCELLED),
        ContractStatus.UPCOMING: signed & Q(start_date__gt=today),
        ContractStatus.ACTIVE: signed
        & Q(start_date__lte=today)
        & (Q(end_date=None) | Q(end_date__gte=today)),
        ContractStatus.EXPIRED: signed
        & Q(start_date__lte=today)
        & Q(end_date__lt=today),
    }
    combined = Q(id=-1)
    for status in statuses:
        combined |= conditions[status]
    return combined
