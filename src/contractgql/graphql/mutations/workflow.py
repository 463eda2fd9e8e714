"""Mutations on contract terms and renewal workflows: notice, renewal, tasks."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from contractgql.errors import ValidationError
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.mutations.contracts import ContractPayload
from contractgql.graphql.types.common import FieldErrorType, field_errors
from contractgql.graphql.types.contracts import CONTRACT_COLUMNS, contract_node
from contractgql.graphql.types.workflow import (
    TASK_COLUMNS,
    NoticePartyEnum,
    TaskNode,
    task_node,
)
from contractgql.models import Contract, Task
from contractgql.services import notice as notice_service
from contractgql.services import workflow as workflow_service


@strawberry.type(description="The task, or the reasons it could not be completed.")
class TaskPayload:
    task: TaskNode | None
    errors: list[FieldErrorType]


async def _contract_payload(info: Info, contract_id: int) -> ContractPayload:
    rows = await Contract.filter(id=contract_id).values(*CONTRACT_COLUMNS)
    return ContractPayload(
        contract=contract_node(rows[0], info.context.viewer), errors=[]
    )


@strawberry.type
class WorkflowMutations:
    @strawberry.mutation(
        description="Record that the client or the organization gave notice on a "
        "day, today or earlier. The contract then ends on `noticeEffectiveEnd`, and "
        "an open-ended contract gets that day as its end date. Needs the right to "
        "change the contract."
    )
    async def record_notice(
        self,
        info: Info,
        contract_id: strawberry.ID,
        party: NoticePartyEnum,  # type: ignore[valid-type]
        day: Annotated[date, strawberry.argument(name="date")],
    ) -> ContractPayload:
        pk = decode_typed_id(contract_id, "Contract", "contractId")
        try:
            contract = await notice_service.record_notice(
                info.context.viewer, pk, party, day
            )
        except ValidationError as error:
            return ContractPayload(contract=None, errors=field_errors(error.errors))
        return await _contract_payload(info, contract.id)

    @strawberry.mutation(
        description="Withdraw recorded notice, to correct notice recorded by "
        "mistake or with a wrong date: record it again afterwards. The end date "
        "stays as it is, so change it with updateContract when the notice had set "
        "or moved it. Needs the right to change the contract."
    )
    async def withdraw_notice(
        self,
        info: Info,
        contract_id: strawberry.ID,
        expected_version: int | None = None,
    ) -> ContractPayload:
        pk = decode_typed_id(contract_id, "Contract", "contractId")
        try:
            contract = await notice_service.withdraw_notice(
                info.context.viewer, pk, expected_version
            )
        except ValidationError as error:
            return ContractPayload(contract=None, errors=field_errors(error.errors))
        return await _contract_payload(info, contract.id)

    @strawberry.mutation(
        description="Renew a signed contract by hand for one term, as the daily "
        "renewal would: the new term follows the end date and the indexation is "
        "applied to the amount. Needs 'contract:write'."
    )
    async def renew_contract(
        self, info: Info, contract_id: strawberry.ID
    ) -> ContractPayload:
        pk = decode_typed_id(contract_id, "Contract", "contractId")
        try:
            contract = await notice_service.renew_contract(info.context.viewer, pk)
        except ValidationError as error:
            return ContractPayload(contract=None, errors=field_errors(error.errors))
        return await _contract_payload(info, contract.id)

    @strawberry.mutation(
        description="Mark a workflow task done and start the workflow's next step. "
        "The assignee may complete it, and so may everyone who may change the "
        "contract. Completing a task that is done already changes nothing."
    )
    async def complete_task(self, info: Info, id: strawberry.ID) -> TaskPayload:
        pk = decode_typed_id(id, "Task")
        try:
            task = await workflow_service.complete_task(
                info.context.viewer, pk, policy=info.context.services.policy
            )
        except ValidationError as error:
            return TaskPayload(task=None, errors=field_errors(error.errors))
        rows = await Task.filter(id=task.id).values(*TASK_COLUMNS)
        return TaskPayload(task=task_node(rows[0]), errors=[])
