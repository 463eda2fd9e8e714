"""Mutations of required-field rules and of the organization's VAT rates."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import UNSET

from contractgql.errors import Conflict, ValidationError
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import ExpectedVersion, decode_typed_id, input_values
from contractgql.graphql.mutations.records import Payload
from contractgql.graphql.types.common import (
    ContractFieldEnum,
    ContractStageEnum,
    FieldErrorType,
    field_errors,
)
from contractgql.graphql.types.quality import (
    RULE_COLUMNS,
    RequiredFieldRuleNode,
    rule_node,
)
from contractgql.models import RequiredFieldRule
from contractgql.quality.choices import format_rate, set_vat_rates
from contractgql.quality.rules import RULES, get_active_rule, with_input_names
from contractgql.services import records as service


@strawberry.input(
    description="A required-field rule. Fields left out of an update keep their value."
)
class RequiredFieldRuleInput:
    name: str | None = UNSET
    contract_type_id: strawberry.ID | None = strawberry.field(
        default=UNSET,
        description="The contract type the rule applies to; null for every type.",
    )
    fields: list[ContractFieldEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=UNSET, description="The fields the rule requires; at least one."
    )
    stages: list[ContractStageEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=UNSET,
        description="The stages of the contracts it applies to; DRAFT and SIGNED "
        "when left out on create or given as an empty list.",
    )


async def _node(record: Any) -> RequiredFieldRuleNode:
    rows = await RequiredFieldRule.filter(id=record.id).values(*RULE_COLUMNS)
    return rule_node(rows[0])


@strawberry.type(description="The organization's VAT rates, or why they were invalid.")
class VatRatesPayload:
    vat_rates: list[str] | None = strawberry.field(
        description="The stored rates in percent, highest first."
    )
    errors: list[FieldErrorType]


@strawberry.type
class QualityMutations:
    @strawberry.mutation(
        description="Replace the VAT rates that contracts may use, in percent such "
        "as '21'. Contracts keep their stored rate. Needs 'contract_type:write'."
    )
    async def set_vat_rates(self, info: Info, rates: list[str]) -> VatRatesPayload:
        try:
            stored = await set_vat_rates(info.context.viewer, rates)
        except ValidationError as error:
            return VatRatesPayload(vat_rates=None, errors=field_errors(error.errors))
        return VatRatesPayload(
            vat_rates=[format_rate(rate) for rate in stored], errors=[]
        )

    @strawberry.mutation(
        description="Create a required-field rule. Needs 'contract_type:write'."
    )
    async def create_required_field_rule(
        self, info: Info, input: RequiredFieldRuleInput
    ) -> Payload[RequiredFieldRuleNode]:
        try:
            record = await service.create_record(
                info.context.viewer, RULES, input_values(input)
            )
        except ValidationError as error:
            return Payload(record=None, errors=field_errors(error.errors))
        return Payload(record=await _node(record), errors=[])

    @strawberry.mutation(
        description="Change a required-field rule. Needs 'contract_type:write'."
    )
    async def update_required_field_rule(
        self,
        info: Info,
        id: strawberry.ID,
        input: RequiredFieldRuleInput,
        expected_version: ExpectedVersion = None,
    ) -> Payload[RequiredFieldRuleNode]:
        pk = decode_typed_id(id, "RequiredFieldRule")
        # NOTE: a rule deleted between this check and the update is still updated.
        await get_active_rule(info.context.viewer, pk)
        try:
            record = await service.update_record(
                info.context.viewer, RULES, pk, input_values(input), expected_version
            )
        except ValidationError as error:
            return Payload(record=None, errors=field_errors(error.errors))
        except Conflict as error:
            raise with_input_names(error) from error
        return Payload(record=await _node(record), errors=[])

    @strawberry.mutation(
        description="Delete a required-field rule: it stops applying at once, and "
        "stays readable by id with archivedAt set, for the audit trail. Updating "
        "or deleting it again fails with NOT_FOUND. Needs 'contract_type:write'."
    )
    async def delete_required_field_rule(
        self, info: Info, id: strawberry.ID
    ) -> Payload[RequiredFieldRuleNode]:
        pk = decode_typed_id(id, "RequiredFieldRule")
        # NOTE: two concurrent deletes can both pass this check and both succeed.
        await get_active_rule(info.context.viewer, pk)
        record = await service.archive_record(info.context.viewer, RULES, pk)
        return Payload(record=await _node(record), errors=[])
