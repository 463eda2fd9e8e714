"""Mutations of time and material entries and contract caps."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry
from strawberry import UNSET

from contractgql.errors import ValidationError
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
from contractgql.models import CapPeriod, CapUnit
from contractgql.services import caps as cap_service
from contractgql.services import hours as entry_service
from contractgql.services.hours import EntryResult, OverrunAction

OverrunEnum = strawberry.enum(
    OverrunAction,
    name="CapOverrun",
    description="Handling of an entry that would take a cap past its limit: "
    "REJECT it with the code CAP_EXCEEDED, store it for approval "
    "(REQUEST_APPROVAL), or APPROVE it at once, which needs the "
    "'time_entry.overrun:approve' permission.",
)
Overrun = Annotated[
    OverrunEnum,  # type: ignore[valid-type]
    strawberry.argument(description="Default REJECT."),
]


CONTRACT_DESCRIPTION = (
    "The contract that covers the work: linked to the project, signed, and in "
    "force on the entry's date."
)
HOURS_DESCRIPTION = (
    "Hours as a decimal with at most 2 places, such as '7.25', above 0 and at "
    "most 24. Give hours or amount, not both."
)
AMOUNT_DESCRIPTION = (
    "Amount of material, excluding VAT, such as '120.50', with its currency. "
    "Needs the 'contract.financial:write' permission."
)
BILLABLE_DESCRIPTION = "Only billable entries count against caps."


@strawberry.input(description="A time entry (hours) or a material entry (amount).")
class CreateTimeEntryInput:
    project_id: strawberry.ID
    contract_id: strawberry.ID = strawberry.field(description=CONTRACT_DESCRIPTION)
    date: date
    description: str
    person_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Who did the work; default the caller."
    )
    hours: str | None = strawberry.field(default=UNSET, description=HOURS_DESCRIPTION)
    amount: str | None = strawberry.field(default=UNSET, description=AMOUNT_DESCRIPTION)
    currency: str | None = UNSET
    billable: bool | None = strawberry.field(
        default=UNSET, description=f"Default true. {BILLABLE_DESCRIPTION}"
    )


@strawberry.input(
    description="Changes to a time or material entry; fields left out keep their "
    "value. Giving hours turns a material entry into a time entry, and giving an "
    "amount does the reverse."
)
class UpdateTimeEntryInput:
    project_id: strawberry.ID | None = UNSET
    contract_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description=CONTRACT_DESCRIPTION
    )
    date: date | None = UNSET
    description: str | None = UNSET
    person_id: strawberry.ID | None = UNSET
    hours: str | None = strawberry.field(default=UNSET, description=HOURS_DESCRIPTION)
    amount: str | None = strawberry.field(default=UNSET, description=AMOUNT_DESCRIPTION)
    currency: str | None = UNSET
    billable: bool | None = strawberry.field(
        default=UNSET, description=BILLABLE_DESCRIPTION
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


@strawberry.type(description="The stored warning percentage, or the reasons.")
class WarningPercentPayload:
    percent: int | None
    errors: list[FieldErrorType]


def _entry_payload(result: EntryResult) -> TimeEntryPayload:
    return TimeEntryPayload(
        entry=time_entry_node(result.entry),
        warnings=[cap_usage_node(usage) for usage in result.warnings],
        errors=[],
    )


def _failed(error: ValidationError) -> TimeEntryPayload:
    return TimeEntryPayload(entry=None, warnings=[], errors=field_errors(error.errors))


def _entry_values(data: CreateTimeEntryInput | UpdateTimeEntryInput) -> dict[str, Any]:
    values = input_values(data)
    if values.get("billable", True) is None:
        values["billable"] = True
    if values.get("person_id") is not None:
        values["person_id"] = decode_typed_id(values["person_id"], "User", "personId")
    return values


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
        input: CreateTimeEntryInput,
        overrun: Overrun = OverrunAction.REJECT,
    ) -> TimeEntryPayload:
        try:
            result = await entry_service.create_entry(
                info.context.viewer, _entry_values(input), overrun
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
        input: UpdateTimeEntryInput,
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
        description="Delete an entry and return it as it was. It no longer counts, "
        "and stays in the audit trail."
    )
    async def delete_time_entry(
        self, info: Info, id: strawberry.ID, expected_version: ExpectedVersion = None
    ) -> TimeEntryPayload:
        pk = decode_typed_id(id, "TimeEntry")
        entry = await entry_service.delete_entry(
            info.context.viewer, pk, expected_version
        )
        return _entry_payload(EntryResult(entry))

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

    @strawberry.mutation(
        description="Delete a cap and return it as it was. Its entries stay."
    )
    async def delete_contract_cap(
        self, info: Info, id: strawberry.ID, expected_version: ExpectedVersion = None
    ) -> ContractCapPayload:
        pk = decode_typed_id(id, "ContractCap")
        cap = await cap_service.delete_cap(info.context.viewer, pk, expected_version)
        return ContractCapPayload(cap=contract_cap_node(cap), errors=[])

    @strawberry.mutation(
        description="Set the organization's default warning percentage of caps "
        "(1 to 100, initially 80)."
    )
    async def set_cap_warning_percent(
        self, info: Info, percent: int
    ) -> WarningPercentPayload:
        try:
            stored = await cap_service.set_organization_warning_percent(
                info.context.viewer, percent
            )
        except ValidationError as error:
            return WarningPercentPayload(
                percent=None, errors=field_errors(error.errors)
            )
        return WarningPercentPayload(percent=stored, errors=[])
