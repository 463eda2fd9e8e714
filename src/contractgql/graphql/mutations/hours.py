"""Mutations and queries of time and material entries and contract caps."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry import UNSET
from tortoise.expressions import Subquery

from contractgql.errors import InvalidArgument, ValidationError
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import ExpectedVersion, decode_typed_id, input_values
from contractgql.graphql.types.common import FieldErrorType, field_errors
from contractgql.graphql.types.hours import (
    CapPeriodEnum,
    CapUnitEnum,
    CapUsageNode,
    ContractCapNode,
    TimeEntryNode,
    cap_usage_node,
    contract_cap_node,
    time_entry_node,
)
from contractgql.models import CapPeriod, CapUnit, ContractCap, TimeEntry
from contractgql.security.records import visible_contracts
from contractgql.services import caps as cap_service
from contractgql.services import hours as entry_service
from contractgql.services.hours import EntryResult, OverrunAction

# Maximum number of entries that one timeEntries query returns.
MAX_LISTED_ENTRIES = 1000

OverrunEnum = strawberry.enum(
    OverrunAction,
    name="CapOverrun",
    description="What to do with an entry that would take a cap past its limit: "
    "REJECT it with the code CAP_EXCEEDED, store it for approval "
    "(REQUEST_APPROVAL), or APPROVE it at once, which needs the "
    "'time_entry.overrun:approve' permission.",
)
Overrun = Annotated[
    OverrunEnum,  # type: ignore[valid-type]
    strawberry.argument(description="Default REJECT."),
]


@strawberry.input(description="A time entry (hours) or a material entry (amount).")
class TimeEntryInput:
    project_id: strawberry.ID | None = UNSET
    contract_id: strawberry.ID | None = strawberry.field(
        default=UNSET,
        description="The contract that covers the work: linked to the project, "
        "signed, and in force on the entry's date.",
    )
    person_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Who did the work; default the caller."
    )
    date: date | None = UNSET
    hours: str | None = strawberry.field(
        default=UNSET,
        description="Hours as a decimal with at most 2 places, such as '7.25', "
        "above 0 and at most 24.",
    )
    amount: str | None = strawberry.field(
        default=UNSET,
        description="Amount of material, excluding VAT, such as '120.50'. Needs "
        "the 'contract.financial:write' permission.",
    )
    currency: str | None = UNSET
    description: str | None = UNSET
    billable: bool | None = strawberry.field(
        default=UNSET,
        description="Default true. Only billable entries count against caps.",
    )


@strawberry.type(description="The written entry, or the reasons it was rejected.")
class TimeEntryPayload:
    entry: TimeEntryNode | None
    warnings: list[CapUsageNode] = strawberry.field(
        description="The caps that reached their warning percentage with this entry."
    )
    errors: list[FieldErrorType]


@strawberry.type(description="The changed cap, or the reasons its input was invalid.")
class ContractCapPayload:
    cap: ContractCapNode | None
    errors: list[FieldErrorType]


@strawberry.type(description="The id of the deleted record, or the reasons.")
class DeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[FieldErrorType]


def _entry_payload(result: EntryResult) -> TimeEntryPayload:
    return TimeEntryPayload(
        entry=time_entry_node(result.entry),
        warnings=[cap_usage_node(usage) for usage in result.warnings],
        errors=[],
    )


def _failed(error: ValidationError) -> TimeEntryPayload:
    return TimeEntryPayload(entry=None, warnings=[], errors=field_errors(error.errors))


def _entry_values(data: TimeEntryInput) -> dict[str, Any]:
    values = input_values(data)
    if values.get("billable", True) is None:
        values["billable"] = True
    if values.get("person_id") is not None:
        values["person_id"] = decode_typed_id(values["person_id"], "User", "personId")
    return values


def _require_fields(values: dict[str, Any], names: tuple[str, ...]) -> None:
    missing = [name for name in names if values.get(name) is None]
    if missing:
        raise InvalidArgument(
            f"A new entry needs {', '.join(missing)}: give "
            f"{'them' if len(missing) > 1 else 'it'} in the input."
        )


@strawberry.type
class HoursMutations:
    @strawberry.mutation(
        description="Record a time or material entry. Warns when a cap of the "
        "contract reaches its warning percentage, and rejects an entry beyond a "
        "cap unless `overrun` says otherwise."
    )
    async def create_time_entry(
        self,
        info: Info,
        input: TimeEntryInput,
        overrun: Overrun = OverrunAction.REJECT,
    ) -> TimeEntryPayload:
        try:
            values = _entry_values(input)
            _require_fields(values, ("project_id", "contract_id", "date"))
            result = await entry_service.create_entry(
                info.context.viewer, values, overrun
            )
        except ValidationError as error:
            return _failed(error)
        return _entry_payload(result)

    @strawberry.mutation(
        description="Correct an entry; fields left out keep their value. A change "
        "of the date, quantity, contract or billable flag is checked against the "
        "caps again."
    )
    async def update_time_entry(
        self,
        info: Info,
        id: strawberry.ID,
        input: TimeEntryInput,
        expected_version: ExpectedVersion = None,
        overrun: Overrun = OverrunAction.REJECT,
    ) -> TimeEntryPayload:
        pk = decode_typed_id(id, "TimeEntry")
        try:
            result = await entry_service.update_entry(
                info.context.viewer, pk, _entry_values(input), overrun, expected_version
            )
        except ValidationError as error:
            return _failed(error)
        return _entry_payload(result)

    @strawberry.mutation(
        description="Approve an entry that waits for approval beyond a cap. Needs "
        "the 'time_entry.overrun:approve' permission."
    )
    async def approve_time_entry(
        self, info: Info, id: strawberry.ID, expected_version: ExpectedVersion = None
    ) -> TimeEntryPayload:
        pk = decode_typed_id(id, "TimeEntry")
        try:
            result = await entry_service.approve_entry(
                info.context.viewer, pk, expected_version
            )
        except ValidationError as error:
            return _failed(error)
        return _entry_payload(result)

    @strawberry.mutation(
        description="Delete an entry. It no longer counts, and stays in the audit "
        "trail."
    )
    async def delete_time_entry(
        self, info: Info, id: strawberry.ID, expected_version: ExpectedVersion = None
    ) -> DeletePayload:
        pk = decode_typed_id(id, "TimeEntry")
        await entry_service.delete_entry(info.context.viewer, pk, expected_version)
        return DeletePayload(deleted_id=id, errors=[])

    @strawberry.mutation(
        description="Create the contract's cap of this unit and period, or change "
        "its limit. Amount caps need the 'contract.financial:write' permission."
    )
    async def set_contract_cap(
        self,
        info: Info,
        contract_id: strawberry.ID,
        unit: CapUnitEnum,  # type: ignore[valid-type]
        period: CapPeriodEnum,  # type: ignore[valid-type]
        limit: Annotated[
            str,
            strawberry.argument(
                description="Hours such as '40' or '7.5', or an amount such as "
                "'12000.00'."
            ),
        ],
        currency: Annotated[
            str | None,
            strawberry.argument(
                description="Currency of an amount cap; default the contract's."
            ),
        ] = None,
        warning_percent: Annotated[
            int | None,
            strawberry.argument(
                description="1 to 100; null uses the organization's default."
            ),
        ] = None,
        expected_version: ExpectedVersion = None,
    ) -> ContractCapPayload:
        pk = decode_typed_id(contract_id, "Contract", "contractId")
        try:
            cap = await cap_service.set_cap(
                info.context.viewer,
                pk,
                CapUnit(unit),
                CapPeriod(period),
                limit,
                currency,
                warning_percent,
                expected_version,
            )
        except ValidationError as error:
            return ContractCapPayload(cap=None, errors=field_errors(error.errors))
        return ContractCapPayload(cap=contract_cap_node(cap), errors=[])

    @strawberry.mutation(description="Delete a cap. Its entries stay.")
    async def delete_contract_cap(
        self, info: Info, id: strawberry.ID, expected_version: ExpectedVersion = None
    ) -> DeletePayload:
        pk = decode_typed_id(id, "ContractCap")
        await cap_service.delete_cap(info.context.viewer, pk, expected_version)
        return DeletePayload(deleted_id=id, errors=[])

    @strawberry.mutation(
        description="Set the organization's default warning percentage of caps "
        "(1 to 100, initially 80). Returns the new value."
    )
    async def set_cap_warning_percent(self, info: Info, percent: int) -> int:
        return await cap_service.set_organization_warning_percent(
            info.context.viewer, percent
        )


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
