"""Mutations on contracts."""

from __future__ import annotations

import dataclasses
from datetime import date

import strawberry
from strawberry import UNSET

from contractgql.errors import ValidationError
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import ExpectedVersion, decode_typed_id, input_values
from contractgql.graphql.types.common import (
    JSON,
    ContractStageEnum,
    FieldErrorType,
    PaymentFrequencyEnum,
    PeriodInput,
    SensitivityEnum,
    field_errors,
)
from contractgql.graphql.types.contracts import (
    CONTRACT_COLUMNS,
    ContractNode,
    contract_node,
)
from contractgql.models import Contract
from contractgql.services import contracts as service


@strawberry.type
class ContractPayload:
    contract: ContractNode | None
    errors: list[FieldErrorType]


@strawberry.input(
    description="Changes to a contract: fields left out keep their "
    "value, null clears an optional field."
)
class UpdateContractInput:
    name: str | None = UNSET
    client_id: strawberry.ID | None = UNSET
    start_date: date | None = UNSET
    number: str | None = UNSET
    description: str | None = UNSET
    contract_type_id: strawberry.ID | None = UNSET
    owner_id: strawberry.ID | None = UNSET
    contact_id: strawberry.ID | None = UNSET
    parent_id: strawberry.ID | None = UNSET
    stage: ContractStageEnum | None = UNSET  # type: ignore[valid-type]
    sensitivity: SensitivityEnum | None = UNSET  # type: ignore[valid-type]
    end_date: date | None = UNSET
    signed_date: date | None = UNSET
    payment_frequency: PaymentFrequencyEnum | None = UNSET  # type: ignore[valid-type]
    amount: str | None = strawberry.field(
        default=UNSET,
        description="Amount per billing period excluding VAT, as a decimal string "
        "such as '1234.50', with at most the currency's number of decimals.",
    )
    currency: str | None = UNSET
    vat_rate: str | None = strawberry.field(
        default=UNSET, description="VAT rate in percent, such as '21'."
    )
    indexation: str | None = strawberry.field(
        default=UNSET, description="Yearly indexation in percent, such as '2.5'."
    )
    renewal_price_agreement: str | None = UNSET
    auto_renewal: bool | None = UNSET
    renewal_term: PeriodInput | None = UNSET
    notice_period: PeriodInput | None = UNSET
    notice_to_month_end: bool | None = UNSET
    reminder_offsets: list[PeriodInput] | None = strawberry.field(
        default=UNSET,
        description="Reminder offsets before the notice deadline (or the end date) "
        "that replace the contract type's. Null or [] uses the type's.",
    )
    custom_fields: JSON | None = UNSET
    project_ids: list[strawberry.ID] | None = UNSET
    service_ids: list[strawberry.ID] | None = UNSET
    tag_ids: list[strawberry.ID] | None = UNSET


@strawberry.input(
    description="A new contract. Financial fields need the "
    "'contract.financial:write' permission."
)
class CreateContractInput(UpdateContractInput):
    name: str
    client_id: strawberry.ID
    start_date: date


@strawberry.input(
    description="Projects, services, tags and watchers to link or unlink."
)
class ContractLinksInput:
    project_ids: list[strawberry.ID] | None = UNSET
    service_ids: list[strawberry.ID] | None = UNSET
    tag_ids: list[strawberry.ID] | None = UNSET
    watcher_ids: list[strawberry.ID] | None = strawberry.field(
        default=UNSET,
        description="Users who follow the contract; watchers may see it even when "
        "it is confidential.",
    )


async def _payload(info: Info, contract: Contract) -> ContractPayload:
    rows = await Contract.filter(id=contract.id).values(*CONTRACT_COLUMNS)
    return ContractPayload(
        contract=contract_node(rows[0], info.context.viewer), errors=[]
    )


def _failed(error: ValidationError) -> ContractPayload:
    return ContractPayload(contract=None, errors=field_errors(error.errors))


def _links(data: ContractLinksInput | None) -> service.ContractLinks:
    values = input_values(data) if data is not None else {}
    return service.ContractLinks(
        project_ids=values.get("project_ids"),
        service_ids=values.get("service_ids"),
        tag_ids=values.get("tag_ids"),
        watcher_ids=values.get("watcher_ids"),
    )


@strawberry.type
class ContractMutations:
    @strawberry.mutation(description="Create a contract.")
    async def create_contract(
        self, info: Info, input: CreateContractInput
    ) -> ContractPayload:
        viewer = info.context.viewer
        try:
            contract = await service.create_contract(viewer, input_values(input))
        except ValidationError as error:
            return _failed(error)
        return await _payload(info, contract)

    @strawberry.mutation(description="Change fields of a contract.")
    async def update_contract(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateContractInput,
        expected_version: ExpectedVersion = None,
    ) -> ContractPayload:
        viewer = info.context.viewer
        pk = decode_typed_id(id, "Contract")
        try:
            contract = await service.update_contract(
                viewer, pk, input_values(input), expected_version
            )
        except ValidationError as error:
            return _failed(error)
        return await _payload(info, contract)

    @strawberry.mutation(description="Archive a contract; it stays readable by id.")
    async def archive_contract(self, info: Info, id: strawberry.ID) -> ContractPayload:
        contract = await service.archive_contract(
            info.context.viewer, decode_typed_id(id, "Contract")
        )
        return await _payload(info, contract)

    @strawberry.mutation(description="Link and unlink projects, services and tags.")
    async def change_contract_links(
        self,
        info: Info,
        id: strawberry.ID,
        add: ContractLinksInput | None = None,
        remove: ContractLinksInput | None = None,
        expected_version: ExpectedVersion = None,
    ) -> ContractPayload:
        viewer = info.context.viewer
        try:
            contract = await service.change_links(
                viewer,
                decode_typed_id(id, "Contract"),
                _links(add),
                _links(remove),
                expected_version,
            )
        except ValidationError as error:
            return _failed(error)
        return await _payload(info, contract)

    @strawberry.mutation(description="Set or clear the master contract of a contract.")
    async def set_contract_parent(
        self,
        info: Info,
        id: strawberry.ID,
        parent_id: strawberry.ID | None = None,
        expected_version: ExpectedVersion = None,
    ) -> ContractPayload:
        viewer = info.context.viewer
        try:
            values = input_values(_ParentInput(parent_id=parent_id))
            contract = await service.update_contract(
                viewer, decode_typed_id(id, "Contract"), values, expected_version
            )
        except ValidationError as error:
            return _failed(error)
        return await _payload(info, contract)


@dataclasses.dataclass
class _ParentInput:
    parent_id: strawberry.ID | None
