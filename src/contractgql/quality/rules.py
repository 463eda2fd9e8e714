"""Required-field rules: validating them, and enforcing them on contract writes.

A rule names fields that the contracts of one contract type (or of every type)
must have while they are in one of the rule's stages. Creating a contract must
satisfy every rule that applies to it. An update of a contract that already
breaks a rule is rejected only when it touches what the rule guards:

- it sets one of the fields the rule names (to an empty value, or to another
  value while the field stays missing, such as clearing the notice period), or
- it moves the contract into a stage the rule applies to, or to a contract type
  that the rule applies to.

Edits of other fields go through, so old gaps never block unrelated work. The
completeness report lists the contracts that break a rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contractgql.models import (
    Contract,
    ContractField,
    ContractStage,
    ContractType,
    Document,
    DocumentKind,
    RequiredFieldRule,
)
from contractgql.quality.fields import FIELD_SPECS, is_missing
from contractgql.security.viewer import Viewer
from contractgql.services.records import RecordSpec
from contractgql.services.references import check_reference
from contractgql.services.validation import Validator

MAX_RULES_PER_ORGANIZATION = 200
# The stages a rule applies to when its input names none.
DEFAULT_STAGES = (ContractStage.DRAFT, ContractStage.SIGNED)


async def validate_rule(
    validator: Validator, viewer: Viewer, values: dict[str, Any], current: Any
) -> dict[str, Any]:
    """Check a rule's input and return the columns to write."""
    creating = current is None
    validator.text(
        values, "name", max_length=200, required=creating or "name" in values
    )
    columns: dict[str, Any] = {
        name: values[name] for name in ("name", "contract_type_id") if name in values
    }
    await check_reference(
        validator,
        ContractType,
        viewer.organization_id,
        "contract_type_id",
        values.get("contract_type_id"),
        "Contract type",
        extra={"archived_at": None},
    )
    if creating or "fields" in values:
        fields = _unique(values.get("fields") or [])
        if not fields:
            validator.add(
                "fields",
                "required",
                "A rule needs at least one field, such as NOTICE_PERIOD or OWNER.",
            )
        columns["required_fields"] = [ContractField(f).value for f in fields]
    if creating or "stages" in values:
        stages = _unique(values.get("stages") or DEFAULT_STAGES)
        columns["stages"] = [ContractStage(s).value for s in stages]
    if creating:
        count = await RequiredFieldRule.filter(
            organization_id=viewer.organization_id, archived_at=None
        ).count()
        if count >= MAX_RULES_PER_ORGANIZATION:
            validator.add(
                "name",
                "too_many",
                f"Your organization already has {count} required-field rules: "
                "delete one, or extend an existing rule with more fields.",
            )
    return columns


def _unique(items: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


async def rules_for(organization_id: int) -> list[RequiredFieldRule]:
    """Return the organization's rules that are not deleted, oldest first."""
    return await RequiredFieldRule.filter(
        organization_id=organization_id, archived_at=None
    ).order_by("id")


def applies(rule: RequiredFieldRule, contract_type_id: int | None, stage: str) -> bool:
    """Return whether `rule` applies to a contract of this type in this stage."""
    type_matches = rule.contract_type_id in (None, contract_type_id)
    return type_matches and str(stage) in rule.stages


async def has_signed_document(contract_id: int | None) -> bool:
    if contract_id is None:
        return False
    return await Document.filter(
        contract_id=contract_id,
        kind=DocumentKind.SIGNED_CONTRACT,
        deleted_at=None,
        last_version_number__gte=1,
    ).exists()


async def enforce_rules(
    validator: Validator,
    viewer: Viewer,
    columns: dict[str, Any],
    current: Contract | None,
) -> None:
    """Add a `required_by_rule` error for each guarded field the write leaves empty.

    `columns` are the column values the write sets, and `current` the stored
    contract, or None on create.
    """
    rules = await rules_for(viewer.organization_id)
    if not rules:
        return
    state = _state_after(columns, current)
    stage = str(state["stage"])
    type_id = state["contract_type_id"]
    guarded_move = current is not None and (
        ("stage" in columns and str(columns["stage"]) != str(current.stage))
        or (
            "contract_type_id" in columns
            and columns["contract_type_id"] != current.contract_type_id
        )
    )
    signed_document: bool | None = None
    reported: set[ContractField] = set()
    for rule in rules:
        if not applies(rule, type_id, stage):
            continue
        for name in rule.required_fields:
            field = ContractField(name)
            spec = FIELD_SPECS[field]
            touched = current is None or guarded_move
            touched = touched or any(column in columns for column in spec.columns)
            if field in reported or not touched:
                continue
            if field is ContractField.SIGNED_DOCUMENT and signed_document is None:
                signed_document = await has_signed_document(
                    current.id if current else None
                )
            if is_missing(state, field, bool(signed_document)):
                reported.add(field)
                validator.add(
                    spec.input_name, "required_by_rule", _message(rule, field, stage)
                )


def _state_after(columns: dict[str, Any], current: Contract | None) -> dict[str, Any]:
    """Return the contract's columns as the write would leave them."""
    state: dict[str, Any] = {}
    for spec in FIELD_SPECS.values():
        for column in spec.columns:
            state[column] = getattr(current, column) if current else None
    state["stage"] = current.stage if current else ContractStage.SIGNED
    state["contract_type_id"] = current.contract_type_id if current else None
    state.update(columns)
    return state


def _message(rule: RequiredFieldRule, field: ContractField, stage: str) -> str:
    label = FIELD_SPECS[field].label
    if field is ContractField.SIGNED_DOCUMENT:
        return (
            f"Rule {rule.name!r} requires a signed contract document before a "
            f"contract is {stage}: save it as a draft, upload the signed document "
            "with kind SIGNED_CONTRACT, then change the stage."
        )
    return (
        f"{label} is required by rule {rule.name!r} for {stage} contracts"
        f"{' of this type' if rule.contract_type_id else ''}: enter a value."
    )


RULES = RecordSpec(
    RequiredFieldRule, "Required-field rule", "contract_type:write", validate_rule
)
