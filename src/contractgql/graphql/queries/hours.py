"""Queries of time and material entries, contract caps and their consumption."""

from __future__ import annotations

from datetime import date

import strawberry
from tortoise.expressions import Subquery

from contractgql.errors import InvalidArgument, NotFound
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.relay import Node
from contractgql.graphql.types.hours import (
    CapUsageNode,
    ContractCapNode,
    TimeEntryNode,
    cap_usage_node,
    contract_cap_node,
    time_entry_node,
)
from contractgql.models import ContractCap, TimeEntry
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer
from contractgql.services import caps as cap_service
from contractgql.services import hours as entry_service

# Maximum number of entries that one timeEntries query returns.
MAX_LISTED_ENTRIES = 1000


async def hours_node(viewer: Viewer, type_name: str, pk: int) -> Node | None:
    """Return the TimeEntry or ContractCap with `pk` for `node(id:)`, or None."""
    try:
        if type_name == "TimeEntry":
            return time_entry_node(await entry_service.get_entry(viewer, pk))
        return contract_cap_node(await cap_service.get_cap(viewer, pk))
    except NotFound:
        return None


@strawberry.type
class HoursQueries:
    @strawberry.field(
        description=f"Entries of a project or contract that you may see, by date, "
        f"at most {MAX_LISTED_ENTRIES}. Deleted entries are left out."
    )
    async def time_entries(
        self,
        info: Info,
        project_id: strawberry.ID | None = None,
        contract_id: strawberry.ID | None = None,
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> list[TimeEntryNode]:
        viewer = info.context.viewer
        if project_id is None and contract_id is None:
            raise InvalidArgument(
                "Give projectId, contractId or both to list time entries."
            )
        query = TimeEntry.filter(
            organization_id=viewer.organization_id,
            archived_at=None,
            contract_id__in=Subquery(visible_contracts(viewer).values("id")),
        )
        if project_id is not None:
            query = query.filter(
                project_id=decode_typed_id(project_id, "Project", "projectId")
            )
        if contract_id is not None:
            query = query.filter(
                contract_id=decode_typed_id(contract_id, "Contract", "contractId")
            )
        if from_date is not None:
            query = query.filter(entry_date__gte=from_date)
        if to_date is not None:
            query = query.filter(entry_date__lte=to_date)
        entries = await query.order_by("entry_date", "id").limit(MAX_LISTED_ENTRIES)
        return [time_entry_node(entry) for entry in entries]

    @strawberry.field(description="The caps of a contract that you may see.")
    async def contract_caps(
        self, info: Info, contract_id: strawberry.ID
    ) -> list[ContractCapNode]:
        pk = decode_typed_id(contract_id, "Contract", "contractId")
        contract = await cap_service.visible_contract(info.context.viewer, pk)
        caps = await ContractCap.filter(contract_id=contract.id).order_by("id")
        return [contract_cap_node(cap) for cap in caps]

    @strawberry.field(
        description="Consumption of a cap in each of its periods that overlap "
        "fromDate..toDate (default: the period that contains today), at most 120."
    )
    async def cap_usage(
        self,
        info: Info,
        cap_id: strawberry.ID,
        from_date: date | None = None,
        to_date: date | None = None,
    ) -> list[CapUsageNode]:
        viewer = info.context.viewer
        cap = await cap_service.get_cap(
            viewer, decode_typed_id(cap_id, "ContractCap", "capId")
        )
        contract = await cap_service.visible_contract(viewer, cap.contract_id)
        first = from_date or to_date or viewer.today
        last = to_date or first
        usages = await cap_service.usage_between(cap, contract, first, last)
        return [cap_usage_node(usage) for usage in usages]

    @strawberry.field(
        description="The organization's default warning percentage of caps."
    )
    async def cap_warning_percent(self, info: Info) -> int:
        viewer = info.context.viewer
        return await cap_service.organization_warning_percent(viewer.organization_id)
