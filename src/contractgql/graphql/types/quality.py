"""Required-field rules, completeness and data quality signals."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from contractgql.graphql.context import Info
from contractgql.graphql.relay import Node
from contractgql.graphql.types.common import (
    UPDATED_BY_DESCRIPTION,
    ContractFieldEnum,
    ContractStageEnum,
)
from contractgql.ids import encode_id
from contractgql.models import ContractField, ContractStage, RequiredFieldRule
from contractgql.quality.completeness import Completeness, GroupShare
from contractgql.quality.signals import Signal, SignalKind

if TYPE_CHECKING:
    from contractgql.graphql.types.catalog import ContractTypeNode
    from contractgql.graphql.types.clients import ClientNode
    from contractgql.graphql.types.contracts import ContractNode
    from contractgql.graphql.types.users import UserNode

ContractTypeRef = Annotated[
    "ContractTypeNode", strawberry.lazy("contractgql.graphql.types.catalog")
]
ClientRef = Annotated[
    "ClientNode", strawberry.lazy("contractgql.graphql.types.clients")
]
ContractRef = Annotated[
    "ContractNode", strawberry.lazy("contractgql.graphql.types.contracts")
]
UserRef = Annotated["UserNode", strawberry.lazy("contractgql.graphql.types.users")]

SignalKindEnum = strawberry.enum(
    SignalKind,
    name="QualitySignalKind",
    description="Why a record is probably out of date or wrong. "
    "AMOUNT_LOOKS_VAT_INCLUSIVE and ZERO_AMOUNT are shown only to roles that may "
    "read Contract.amount.",
)


@strawberry.enum(description="How the completeness summary groups contracts.")
class CompletenessGrouping(enum.Enum):
    ORGANIZATION = "organization"
    CONTRACT_TYPE = "contract_type"
    OWNER = "owner"


@strawberry.type(
    name="RequiredFieldRule",
    description="Fields that the contracts of one contract type, or of every "
    "type, must have while they are in one of the rule's stages.",
)
class RequiredFieldRuleNode(Node):
    pk: strawberry.Private[int]
    contract_type_pk: strawberry.Private[int | None]
    updated_by_pk: strawberry.Private[int | None]
    name: str
    fields: list[ContractFieldEnum]  # type: ignore[valid-type]
    stages: list[ContractStageEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The stages of the contracts the rule applies to. Changing a "
        "contract into one of them needs every field of the rule."
    )
    created_at: datetime
    updated_at: datetime
    version: int
    archived_at: datetime | None = strawberry.field(
        description="When the rule was deleted; deleted rules no longer apply."
    )

    @strawberry.field(
        description="The contract type the rule applies to; null for every type."
    )
    async def contract_type(self, info: Info) -> ContractTypeRef | None:
        if self.contract_type_pk is None:
            return None
        node: ContractTypeRef | None = await info.context.loaders.contract_type(
            self.contract_type_pk
        )
        return node

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    async def updated_by(self, info: Info) -> UserRef | None:
        if self.updated_by_pk is None:
            return None
        user: UserRef | None = await info.context.loaders.user(self.updated_by_pk)
        return user


RULE_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "updated_by_id",
    "version",
    "archived_at",
    "name",
    "contract_type_id",
    "required_fields",
    "stages",
)


def rule_node(row: Any) -> RequiredFieldRuleNode:
    """Build the node from a row of RULE_COLUMNS or a RequiredFieldRule."""
    if isinstance(row, RequiredFieldRule):
        row = {column: getattr(row, column) for column in RULE_COLUMNS}
    return RequiredFieldRuleNode(
        id=strawberry.ID(encode_id("RequiredFieldRule", row["id"])),
        pk=row["id"],
        contract_type_pk=row["contract_type_id"],
        updated_by_pk=row["updated_by_id"],
        name=row["name"],
        fields=[ContractField(name) for name in row["required_fields"]],
        stages=[ContractStage(name) for name in row["stages"]],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        archived_at=row["archived_at"],
    )


@strawberry.type(description="A data quality problem: the record, why, and the fix.")
class QualitySignal:
    contract_pk: strawberry.Private[int | None]
    client_pk: strawberry.Private[int | None]
    other_client_pk: strawberry.Private[int | None]
    kind: SignalKindEnum  # type: ignore[valid-type]
    reason: str
    fix: str
    fields: list[ContractFieldEnum] = strawberry.field(  # type: ignore[valid-type]
        description="The contract fields that are probably wrong, if any."
    )

    @strawberry.field(description="The contract the signal is about, if any.")
    async def contract(self, info: Info) -> ContractRef | None:
        if self.contract_pk is None:
            return None
        node: ContractRef | None = await info.context.loaders.contract(self.contract_pk)
        return node

    @strawberry.field(description="The client the signal is about, if any.")
    async def client(self, info: Info) -> ClientRef | None:
        return await _client(info, self.client_pk)

    @strawberry.field(
        description="For DUPLICATE_CLIENT: the client that looks like a duplicate "
        "of `client`."
    )
    async def other_client(self, info: Info) -> ClientRef | None:
        return await _client(info, self.other_client_pk)


async def _client(info: Info, pk: int | None) -> ClientRef | None:
    if pk is None:
        return None
    client: ClientRef | None = await info.context.loaders.client(pk)
    return client


def signal_type(signal: Signal) -> QualitySignal:
    return QualitySignal(
        contract_pk=signal.contract_id,
        client_pk=signal.client_id,
        other_client_pk=signal.other_client_id,
        kind=signal.kind,
        reason=signal.reason,
        fix=signal.fix,
        fields=list(signal.fields),
    )


@strawberry.type(description="A checked field that a contract lacks.")
class MissingField:
    field: ContractFieldEnum  # type: ignore[valid-type]
    required_by: list[RequiredFieldRuleNode] = strawberry.field(
        description="The rules that require the field; empty when only the "
        "report's default checks include it."
    )


@strawberry.type(
    description="How complete one contract is. Fields whose absence the caller "
    "may not learn (AMOUNT and VAT_RATE without read access to them) are not "
    "checked."
)
class ContractCompleteness:
    contract: ContractRef
    score: int = strawberry.field(
        description="The share of checked fields that are present, in whole "
        "percent rounded down, so that only a complete contract scores 100."
    )
    complete: bool
    checked_fields: int = strawberry.field(
        description="The number of fields checked on this contract."
    )
    missing: list[MissingField]
    suspicious: list[QualitySignal] = strawberry.field(
        description="Signals about this contract: values that look out of date "
        "or wrong."
    )


def completeness_type(
    contract: Any, result: Completeness, signals: list[Signal]
) -> ContractCompleteness:
    return ContractCompleteness(
        contract=contract,
        score=result.score,
        complete=result.complete,
        checked_fields=result.checked,
        missing=[
            MissingField(
                field=missing.field,
                required_by=[rule_node(rule) for rule in missing.rules],
            )
            for missing in result.missing
        ],
        suspicious=[signal_type(signal) for signal in signals],
    )


@strawberry.type(description="The number of contracts of a group that lack a field.")
class MissingCount:
    field: ContractFieldEnum  # type: ignore[valid-type]
    contracts: int


@strawberry.type(
    description="The share of complete contracts in one group: the organization, "
    "a contract type or an owner."
)
class CompletenessGroup:
    contract_type_pk: strawberry.Private[int | None]
    owner_pk: strawberry.Private[int | None]
    contracts: int
    complete: int
    share: float = strawberry.field(
        description="complete / contracts, from 0 to 1; 1 for an empty group."
    )
    missing: list[MissingCount]

    @strawberry.field(
        description="The group's contract type; null when grouped otherwise, and "
        "for contracts without a type."
    )
    async def contract_type(self, info: Info) -> ContractTypeRef | None:
        if self.contract_type_pk is None:
            return None
        node: ContractTypeRef | None = await info.context.loaders.contract_type(
            self.contract_type_pk
        )
        return node

    @strawberry.field(
        description="The group's owner; null when grouped otherwise, and for "
        "contracts without an owner."
    )
    async def owner(self, info: Info) -> UserRef | None:
        if self.owner_pk is None:
            return None
        user: UserRef | None = await info.context.loaders.user(self.owner_pk)
        return user


def group_type(group: GroupShare, grouping: CompletenessGrouping) -> CompletenessGroup:
    return CompletenessGroup(
        contract_type_pk=(
            group.key if grouping is CompletenessGrouping.CONTRACT_TYPE else None
        ),
        owner_pk=group.key if grouping is CompletenessGrouping.OWNER else None,
        contracts=group.contracts,
        complete=group.complete,
        share=group.share,
        missing=[
            MissingCount(field=field, contracts=count)
            for field, count in sorted(
                group.missing.items(),
                key=lambda item: list(ContractField).index(item[0]),
            )
        ],
    )
