"""Required-field rules: validating them, and enforcing them on contract writes.

A rule names fields that the contracts of one contract type (or of every type)
must have while they are in one of the rule's stages. Creating a contract must
satisfy every rule that applies to it. An update of a contract that already
breaks a rule is rejected only when it touches what the rule guards:

- it sets one of the fields the rule names (to an empty value, or to another
  value while the field stays missing, such as clearing the notice period), or
- it moves the contract into a stage the rule applies to, or
- it changes the contract type to the one the rule is scoped to. A rule for
  every contract type is not re-checked on a type change, because it applied
  before the change as well.

Edits of other fields go through, so old gaps never block unrelated work. The
completeness report lists the contracts that break a rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from contractgql.errors import Conflict, NotFound
from contractgql.ids import encode_id
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
# The RequiredFieldRuleInput field of each column whose GraphQL name is not the
# column's camel-case name.
INPUT_NAMES = {"requiredFields": "fields"}
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
    if not validator.has_error("fields"):
        await _check_duplicate(validator, viewer, columns, current)
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


async def _check_duplicate(
    validator: Validator, viewer: Viewer, columns: dict[str, Any], current: Any
) -> None:
    """Reject a rule with the same contract type, fields and stages as another rule
    of the organization that is not deleted. Order does not matter."""

    def column(name: str) -> Any:
        if name in columns:
            return columns[name]
        return getattr(current, name) if current is not None else None

    type_id = column("contract_type_id")
    fields = set(column("required_fields"))
    stages = set(column("stages"))
    others = RequiredFieldRule.filter(
        organization_id=viewer.organization_id,
        archived_at=None,
        contract_type_id=type_id,
    )
    if current is not None:
        others = others.exclude(id=current.id)
    for other in await others.order_by("id"):
        if set(other.required_fields) == fields and set(other.stages) == stages:
            validator.add(
                "fields",
                "duplicate",
                f"Rule {other.name!r} ({encode_id('RequiredFieldRule', other.id)}) "
                "already requires these fields for the same contract type and "
                "stages: change that rule instead.",
            )
            return


async def get_active_rule(viewer: Viewer, rule_id: int) -> RequiredFieldRule:
    """Load the organization's rule after checking the write permission.

    Raises NotFound when the rule does not exist or is deleted.
    """
    viewer.require(RULES.write_permission, "change a required-field rule")
    rule = await RequiredFieldRule.filter(
        id=rule_id, organization_id=viewer.organization_id
    ).first()
    global_id = encode_id("RequiredFieldRule", rule_id)
    if rule is None:
        raise NotFound(
            f"Required-field rule {global_id!r} was not found in your organization: "
            "check the id."
        )
    if rule.archived_at is not None:
        raise NotFound(
            f"Required-field rule {global_id!r} was deleted, so it can no longer be "
            "changed: list the current rules with requiredFieldRules."
        )
    return rule


def with_input_names(error: Conflict) -> Conflict:
    """Return the conflict with changedFields named as in RequiredFieldRuleInput."""
    names = sorted(INPUT_NAMES.get(name, name) for name in error.changed_fields)
    return Conflict(str(error), error.current_version, names)


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
    rules: list[RequiredFieldRule] | None = None,
) -> None:
    """Add a `required_by_rule` error for each guarded field the write leaves empty.

    `columns` are the column values the write sets, and `current` the stored
    contract, or None on create. `rules` are the organization's rules as
    rules_for() returns them, for a caller that checks many contracts against
    the rules it read once; by default they are read here.
    """
    if rules is None:
        rules = await rules_for(viewer.organization_id)
    if not rules:
        return
    state = _state_after(columns, current)
    stage = str(state["stage"])
    type_id = state["contract_type_id"]
    stage_moved = current is not None and (
        "stage" in columns and str(columns["stage"]) != str(current.stage)
    )
    type_changed = current is not None and (
        "contract_type_id" in columns
        and columns["contract_type_id"] != current.contract_type_id
    )
    signed_document: bool | None = None
    reported: set[ContractField] = set()
    for rule in rules:
        if not applies(rule, type_id, stage):
            continue
        for name in rule.required_fields:
            field = ContractField(name)
            spec = FIELD_SPECS[field]
            # A type change re-checks only the rules of the new type, because a
            # rule for every type applied before the change as well.
            touched = (
                current is None
                or stage_moved
                or (type_changed and rule.contract_type_id is not None)
                or any(column in columns for column in spec.columns)
            )
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
