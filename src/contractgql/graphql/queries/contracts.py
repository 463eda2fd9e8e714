"""The contracts connection: filters, sort orders and pagination."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from tortoise.expressions import F, Q, Subquery
from tortoise.queryset import QuerySet, ValuesQuery

from contractgql.db import shared_connection
from contractgql.domain.money import MoneyError, to_minor_units, validate_currency
from contractgql.domain.status import ContractStatus
from contractgql.errors import InvalidArgument
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.loaders import node_selection, preload_contracts
from contractgql.graphql.relay import SortKey, paginate, search_text
from contractgql.graphql.types.contracts import (
    ALL_CONTRACT_FIELDS,
    ContractNode,
    contract_columns,
    contract_node,
)
from contractgql.graphql.types.filters import (
    AmountRange,
    ContractFilter,
    ContractOrder,
    ContractSortField,
    SortDirection,
)
from contractgql.graphql.types.totals import ContractConnection
from contractgql.models import Contract, ContractStage, Document
from contractgql.quality.completeness import missing_q
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

# The Contract field whose values each sort order reveals through the order of the
# results. Sorting needs read access to that field.
SORT_REVEALS: dict[ContractSortField, tuple[str, str]] = {
    ContractSortField.CREATED_AT: ("Contract", "createdAt"),
    ContractSortField.NAME: ("Contract", "name"),
    ContractSortField.NUMBER: ("Contract", "number"),
    ContractSortField.CLIENT_NAME: ("Client", "name"),
    ContractSortField.START_DATE: ("Contract", "startDate"),
    ContractSortField.END_DATE: ("Contract", "endDate"),
    ContractSortField.NOTICE_DEADLINE: ("Contract", "noticeDeadline"),
    ContractSortField.UPDATED_AT: ("Contract", "updatedAt"),
    ContractSortField.AMOUNT: ("Contract", "amount"),
}

# The fields whose values each filter condition reveals through which contracts
# match. Filtering needs read access to all of them.
FILTER_REVEALS: dict[str, tuple[tuple[str, str], ...]] = {
    "client_ids": (("Contract", "client"),),
    "contract_type_ids": (("Contract", "contractType"),),
    "statuses": (("Contract", "status"),),
    "tag_ids": (("Contract", "tags"),),
    "owner_ids": (("Contract", "owner"),),
    "start_date": (("Contract", "startDate"),),
    "end_date": (("Contract", "endDate"),),
    "notice_deadline": (("Contract", "noticeDeadline"),),
    "auto_renewal": (("Contract", "autoRenewal"),),
    "amount": (("Contract", "amount"), ("Contract", "currency")),
    "search": (),
    # Checked per field by missing_q, which rejects protected fields the caller
    # may not read.
    "missing": (),
    "include_archived": (("Contract", "archivedAt"),),
}

# Text search looks in these fields, leaving out any the caller may not read.
SEARCHED_FIELDS: dict[tuple[str, str], str] = {
    ("Contract", "name"): "name__icontains",
    ("Contract", "number"): "number__icontains",
    ("Client", "name"): "client__name__icontains",
}


async def contracts_connection(
    info: Info,
    first: int | None,
    after: str | None,
    filter: ContractFilter | None,
    order_by: ContractOrder | None,
    scope: Q | None = None,
) -> ContractConnection:
    viewer = info.context.viewer
    order = order_by or ContractOrder(field=ContractSortField.CREATED_AT)
    key = _SORT_KEYS[order.field]
    require_readable(viewer, *SORT_REVEALS[order.field], "sort on")

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
        page = await paginate(
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
    return ContractConnection(
        edges=page.edges,
        nodes=page.nodes,
        page_info=page.page_info,
        count_query=page.count_query,
        viewer=viewer,
    )


def check_filter(spec: ContractFilter, viewer: Viewer) -> None:
    """Reject a filter on a field that the viewer may not read."""
    for name, revealed in FILTER_REVEALS.items():
        default = None if name != "include_archived" else False
        if getattr(spec, name) == default:
            continue
        for type_name, field_name in revealed:
            require_readable(viewer, type_name, field_name, "filter on")


def apply_filter(
    query: QuerySet[Contract], spec: ContractFilter, viewer: Viewer
) -> QuerySet[Contract]:
    check_filter(spec, viewer)
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
    if spec.amount is not None:
        query = query.filter(_amount_q(spec.amount))
    text = search_text(spec.search)
    if text is not None:
        query = query.filter(_search_q(text, viewer))
    if spec.missing:
        query = query.filter(missing_q(viewer, spec.missing))
    return query


def _amount_q(spec: AmountRange) -> Q:
    try:
        currency = validate_currency(spec.currency)
        low = None if spec.min is None else to_minor_units(spec.min, currency)
        high = None if spec.max is None else to_minor_units(spec.max, currency)
    except MoneyError as error:
        raise InvalidArgument(f"filter.amount: {error.message}") from None
    condition = Q(currency=currency, amount_minor__isnull=False)
    if low is not None:
        condition &= Q(amount_minor__gte=low)
    if high is not None:
        condition &= Q(amount_minor__lte=high)
    return condition


def _search_q(text: str, viewer: Viewer) -> Q:
    matches = Q(id=-1)
    for (type_name, field_name), lookup in SEARCHED_FIELDS.items():
        if viewer.fields.may_read(type_name, field_name):
            matches |= Q(**{lookup: text})
    return matches | Q(id__in=Subquery(_contracts_with_text(text, viewer)))


def _contracts_with_text(text: str, viewer: Viewer) -> ValuesQuery[Literal[False]]:
    """Return the ids of the visible contracts whose documents contain `text`.

    Only the latest version of each document that is not deleted counts. The
    documents are limited to the viewer's visible contracts here too, so no
    document of a contract that the viewer cannot see is ever matched.
    """
    visible = visible_contracts(viewer).values("id")
    return Document.filter(
        organization_id=viewer.organization_id,
        deleted_at__isnull=True,
        contract_id__in=Subquery(visible),
        texts__text__icontains=text,
        texts__version_number=F("last_version_number"),
    ).values("contract_id")


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
