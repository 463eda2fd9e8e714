"""Create, update and archive for the simpler records: clients, contacts, catalogues.

Each record kind is described by a RecordSpec that names its model, the permission to
change it and a function that validates input and returns the columns to write.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from contractgql.audit import record_change, snapshot
from contractgql.domain.dates import Period
from contractgql.errors import NotFound
from contractgql.ids import encode_id
from contractgql.models import (
    Client,
    ContactPerson,
    Contract,
    ContractType,
    CustomFieldDefinition,
    CustomFieldEntity,
    CustomFieldKind,
    Project,
    Service,
    Tag,
)
from contractgql.models.base import Record
from contractgql.security.fields import require_writable
from contractgql.security.policy import ROLES
from contractgql.security.viewer import Viewer
from contractgql.services.custom_fields import validate_custom_fields
from contractgql.services.references import check_reference, check_references
from contractgql.services.validation import MAX_PERIOD, Validator, is_storable_text
from contractgql.services.versions import (
    archive_with_version,
    changed_columns,
    changed_links,
    check_version,
    claim_version,
)

# Reminder offsets of one schedule, such as 6, 3 and 1 months before the anchor.
MAX_REMINDER_OFFSETS = 10
# Limits of a contract type's renewal workflow. A step's title becomes the title
# of its task, and its days are counted from the completion of the step before.
MAX_WORKFLOW_STEPS = 20
MAX_STEP_TITLE_LENGTH = 300
MAX_STEP_DAYS = 3660
# The assignee that means the contract's owner. Every other assignee is a role.
OWNER_ASSIGNEE = "owner"
# Integrators only read through API tokens, so they cannot complete a task.
ASSIGNABLE_ROLES = tuple(role for role in ROLES if role != "integrator")

Validate = Callable[[Validator, Viewer, dict[str, Any], Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class RecordSpec:
    model: type[Record]
    label: str
    write_permission: str
    validate: Validate
    # Column tuples that must be unique within the organization, with the input field
    # that a duplicate is reported on.
    unique: tuple[tuple[str, ...], ...] = ()


async def create_record(
    viewer: Viewer, spec: RecordSpec, values: dict[str, Any]
) -> Any:
    viewer.require(spec.write_permission, f"create a {spec.label.lower()}")
    require_writable(viewer, spec.model.__name__, values)
    validator = Validator()
    columns = await spec.validate(validator, viewer, values, None)
    validator.raise_if_any()

    record = spec.model(
        organization_id=viewer.organization_id,
        updated_by_id=viewer.user_id,
        **columns,
    )
    if isinstance(record, Client):
        record.created_by_id = viewer.user_id
    await _save(spec, record, values, audit=AuditedChange(viewer, "create", None))
    return record


async def update_record(
    viewer: Viewer,
    spec: RecordSpec,
    record_id: int,
    values: dict[str, Any],
    expected_version: int | None = None,
) -> Any:
    """Apply the given fields to a record. Fields left out keep their value.

    Raises Conflict, and changes nothing, when `expected_version` is given and is
    not the stored version.
    """
    viewer.require(spec.write_permission, f"change a {spec.label.lower()}")
    require_writable(viewer, spec.model.__name__, values)
    record = await get_record(viewer, spec.model, record_id, spec.label)
    validator = Validator()
    columns = await spec.validate(validator, viewer, values, record)

    async def changed(stored: Any) -> list[str]:
        names = changed_columns(stored, columns, {})
        if isinstance(stored, Client):
            names += await changed_links(
                stored, [("tagIds", "tags", values.get("tag_ids"))]
            )
        return sorted(names)

    change = AuditedChange(viewer, "update", None)

    async def claim() -> None:
        # The claim holds the row until the transaction ends, so the values read
        # after it are the ones this update replaces, also under concurrent updates.
        await claim_version(record, spec.label, expected_version, changed)
        stored = await spec.model.get(id=record.id)
        change.before = await _audited_values(stored, values)

    await check_version(record, spec.label, expected_version, changed)
    validator.raise_if_any()

    for name, value in columns.items():
        setattr(record, name, value)
    record.updated_by_id = viewer.user_id
    # Only the columns that the request sets are written, so that concurrent
    # updates of other columns without an expected version are kept.
    written = [*columns, "updated_by_id", "updated_at"]
    await _save(spec, record, values, claim, written, change)
    return record


async def archive_record(viewer: Viewer, spec: RecordSpec, record_id: int) -> Any:
    viewer.require(spec.write_permission, f"archive a {spec.label.lower()}")
    record = await get_record(viewer, spec.model, record_id, spec.label)
    if record.archived_at is None:
        await archive_with_version(viewer, record, f"{audit_name(record)}.archive")
    return record


@dataclass
class AuditedChange:
    """An audited change of a record: its actor, its verb and the values before."""

    viewer: Viewer
    verb: str
    before: dict[str, Any] | None


def audit_name(record: Any) -> str:
    """Return the record kind as an audit action prefix, such as contact_person."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(record).__name__).lower()


async def _audited_values(record: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Return the record's audited values, with its tags when the input sets them."""
    if values.get("tag_ids") is None or not isinstance(record, Client):
        return snapshot(record)
    tag_ids: list[int] = await record.tags.all().values_list("id", flat=True)  # type: ignore[assignment]
    return snapshot(record, tags=[encode_id("Tag", pk) for pk in sorted(tag_ids)])


async def get_record(
    viewer: Viewer, model: type[Record], record_id: int, label: str
) -> Any:
    record = await model.filter(
        id=record_id, organization_id=viewer.organization_id
    ).first()
    if record is None:
        raise NotFound(
            f"{label} {encode_id(model.__name__, record_id)!r} was not found in your "
            "organization: check the id."
        )
    return record


async def _unsettle_contracts_of_type(contract_type_id: int) -> None:
    """Make the next scan plan the type's contracts again, with the new offsets.

    Scans skip contracts whose version they planned, and a type's offsets are
    not part of its contracts' versions. Versions start at 1.
    """
    # A new value below any that a scan could have read, so that a scan running
    # now fails to settle these contracts with the old offsets.
    of_type = Contract.filter(contract_type_id=contract_type_id)
    await of_type.filter(scanned_version__lte=0).update(
        scanned_version=F("scanned_version") - 1
    )
    await of_type.filter(scanned_version__gt=0).update(scanned_version=-1)


async def _save(
    spec: RecordSpec,
    record: Any,
    values: dict[str, Any],
    claim: Callable[[], Awaitable[None]] | None = None,
    update_fields: list[str] | None = None,
    audit: AuditedChange | None = None,
) -> None:
    """Insert or update `record`, running `claim` first in the same transaction.

    `audit` describes the change for the audit outbox, written last in the
    transaction.
    """
    for columns in spec.unique:
        clash = spec.model.filter(
            organization_id=record.organization_id,
            **{column: getattr(record, column) for column in columns},
        )
        if record.id is not None:
            clash = clash.exclude(id=record.id)
        if await clash.exists():
            _raise_duplicate(spec, record, columns)

    tag_ids = values.get("tag_ids")
    async with in_transaction():
        if claim is not None:
            await claim()
        try:
            await record.save(update_fields=update_fields)
        except IntegrityError:
            # A concurrent request may have taken a unique value after the check.
            if not spec.unique:
                raise
            _raise_duplicate(spec, record, spec.unique[0])
        if (
            isinstance(record, ContractType)
            and update_fields is not None
            and "reminder_offsets" in update_fields
        ):
            await _unsettle_contracts_of_type(record.id)
        if tag_ids is not None and isinstance(record, Client):
            await record.tags.clear()
            tags = await Tag.filter(
                id__in=tag_ids, organization_id=record.organization_id
            )
            await record.tags.add(*tags)
        if audit is not None:
            # Read back, so that columns other updates changed meanwhile show
            # their stored values, in the audit and in the response.
            await record.refresh_from_db()
            after = await _audited_values(record, values)
            action = f"{audit_name(record)}.{audit.verb}"
            await record_change(audit.viewer, action, record, audit.before, after)


def _raise_duplicate(spec: RecordSpec, record: Any, columns: tuple[str, ...]) -> None:
    field = columns[-1]
    value = getattr(record, field)
    validator = Validator()
    validator.add(
        field,
        "duplicate",
        f"{spec.label} {field.replace('_', ' ')} {value!r} is already used in your "
        "organization: choose another.",
    )
    validator.raise_if_any()


async def _validate_client(
    validator: Validator, viewer: Viewer, values: dict[str, Any], current: Any
) -> dict[str, Any]:
    creating = current is None
    validator.text(
        values, "name", max_length=300, required=creating or "name" in values
    )
    validator.text(
        values, "coc_number", max_length=40, label="Chamber-of-commerce number"
    )
    validator.text(values, "vat_number", max_length=40, label="VAT number")
    validator.text(values, "segment", max_length=100)
    await check_references(
        validator, Tag, viewer.organization_id, "tag_ids", values.get("tag_ids"), "Tag"
    )
    columns = _pick(
        values, ("name", "coc_number", "vat_number", "segment", "addresses")
    )
    if "addresses" in columns:
        columns["addresses"] = columns["addresses"] or []
    _check_custom_fields_shape(validator, values)
    await _custom_fields(
        validator, viewer, values, current, CustomFieldEntity.CLIENT, columns
    )
    return columns


async def _validate_contact(
    validator: Validator, viewer: Viewer, values: dict[str, Any], current: Any
) -> dict[str, Any]:
    creating = current is None
    validator.text(
        values, "name", max_length=200, required=creating or "name" in values
    )
    validator.text(values, "email", max_length=254, label="E-mail address")
    validator.email(values, "email")
    validator.text(values, "phone", max_length=50)
    validator.text(values, "job_title", max_length=200)
    if values.get("client_id") is None and (creating or "client_id" in values):
        validator.add("client_id", "required", "Client is required: pick a client.")
    await check_reference(
        validator,
        Client,
        viewer.organization_id,
        "client_id",
        values.get("client_id"),
        "Client",
    )
    return _pick(values, ("name", "email", "phone", "job_title", "client_id"))


async def _validate_project(
    validator: Validator, viewer: Viewer, values: dict[str, Any], current: Any
) -> dict[str, Any]:
    creating = current is None
    validator.text(
        values, "name", max_length=300, required=creating or "name" in values
    )
    validator.text(values, "code", max_length=50)
    if values.get("client_id") is None and (creating or "client_id" in values):
        validator.add("client_id", "required", "Client is required: pick a client.")
    await check_reference(
        validator,
        Client,
        viewer.organization_id,
        "client_id",
        values.get("client_id"),
        "Client",
    )
    validator.text(values, "description", max_length=20_000)
    _check_custom_fields_shape(validator, values)
    columns = _pick(values, ("name", "code", "description", "client_id"))
    await _custom_fields(
        validator, viewer, values, current, CustomFieldEntity.PROJECT, columns
    )
    return columns


async def _validate_service(
    validator: Validator, viewer: Viewer, values: dict[str, Any], current: Any
) -> dict[str, Any]:
    creating = current is None
    validator.text(
        values, "name", max_length=200, required=creating or "name" in values
    )
    validator.text(values, "code", max_length=50)
    return _pick(values, ("name", "code", "description"))


async def _validate_tag(
    validator: Validator, viewer: Viewer, values: dict[str, Any], current: Any
) -> dict[str, Any]:
    creating = current is None
    validator.text(
        values, "name", max_length=100, required=creating or "name" in values
    )
    validator.color(values, "color")
    columns = _pick(values, ("name", "color"))
    if columns.get("color"):
        columns["color"] = columns["color"].lower()
    elif "color" in columns:
        del columns["color"]
    return columns


async def _validate_contract_type(
    validator: Validator, viewer: Viewer, values: dict[str, Any], current: Any
) -> dict[str, Any]:
    creating = current is None
    validator.text(
        values, "name", max_length=100, required=creating or "name" in values
    )
    columns = _pick(values, ("name", "description"))
    if "reminder_offsets" in values:
        columns["reminder_offsets"] = reminder_offsets_column(
            validator, "reminder_offsets", values["reminder_offsets"] or []
        )
    if "renewal_workflow" in values:
        columns["renewal_workflow"] = workflow_column(
            validator, "renewal_workflow", values["renewal_workflow"] or []
        )
    return columns


def reminder_offsets_column(
    validator: Validator, field: str, offsets: list[Period]
) -> list[dict[str, Any]]:
    """Check reminder offsets and return them as the JSON column stores them.

    Each offset must be from 1 to the maximum of a period, and a schedule has at
    most MAX_REMINDER_OFFSETS of them.
    """
    if len(offsets) > MAX_REMINDER_OFFSETS:
        validator.add(
            field,
            "too_many",
            f"{len(offsets)} reminder offsets were given: use at most "
            f"{MAX_REMINDER_OFFSETS}.",
        )
    for index, offset in enumerate(offsets):
        maximum = MAX_PERIOD[offset.unit.value]
        if not 1 <= offset.count <= maximum:
            validator.add(
                f"{field}.{index}",
                "out_of_range",
                f"Reminder offset {offset.count} {offset.unit.value} is out of "
                f"range: use from 1 to {maximum} {offset.unit.value}.",
            )
    return [{"count": offset.count, "unit": offset.unit.value} for offset in offsets]


@dataclass(frozen=True)
class WorkflowStep:
    """One step of a renewal workflow as a mutation gives it."""

    title: str
    assignee: str
    days_after: int


def workflow_column(
    validator: Validator, field: str, steps: list[WorkflowStep]
) -> list[dict[str, Any]]:
    """Check renewal workflow steps and return them as the JSON column stores them.

    A workflow has at most MAX_WORKFLOW_STEPS steps. Each has a title, an assignee
    that is "owner" or a role that can complete tasks, and 0 or more days.
    """
    if len(steps) > MAX_WORKFLOW_STEPS:
        validator.add(
            field,
            "too_many",
            f"{len(steps)} workflow steps were given: use at most "
            f"{MAX_WORKFLOW_STEPS}.",
        )
    column = []
    for index, step in enumerate(steps):
        path = f"{field}.{index}"
        title = (step.title or "").strip()
        if not title:
            validator.add(f"{path}.title", "required", "Step title is required.")
        elif not is_storable_text(title):
            validator.add(
                f"{path}.title",
                "invalid_characters",
                "Step title contains a NUL character, another control character or "
                "an unpaired surrogate: remove it.",
            )
        elif len(title) > MAX_STEP_TITLE_LENGTH:
            validator.add(
                f"{path}.title",
                "too_long",
                f"Step title is {len(title)} characters long: shorten it to at "
                f"most {MAX_STEP_TITLE_LENGTH}.",
            )
        assignee = step.assignee.strip()
        if assignee != OWNER_ASSIGNEE and assignee not in ASSIGNABLE_ROLES:
            validator.add(
                f"{path}.assignee",
                "unknown_assignee",
                f"Assignee {step.assignee!r} is neither 'owner' nor a role that can "
                f"complete tasks: use 'owner' or one of "
                f"{', '.join(ASSIGNABLE_ROLES)}.",
            )
        if not 0 <= step.days_after <= MAX_STEP_DAYS:
            validator.add(
                f"{path}.days_after",
                "out_of_range",
                f"Days after of {step.days_after} is out of range: use from 0 to "
                f"{MAX_STEP_DAYS} days.",
            )
        column.append(
            {"title": title, "assignee": assignee, "days_after": step.days_after}
        )
    return column


_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


async def _validate_custom_field_definition(
    validator: Validator, viewer: Viewer, values: dict[str, Any], current: Any
) -> dict[str, Any]:
    creating = current is None
    validator.text(
        values, "label", max_length=200, required=creating or "label" in values
    )
    key = values.get("key")
    if creating and not key:
        validator.add("key", "required", "Key is required, such as 'cost_centre'.")
    elif key is not None and not _KEY.match(key):
        validator.add(
            "key",
            "invalid_key",
            f"Key {key!r} is invalid: use lower-case letters, digits and underscores, "
            "starting with a letter, at most 64 characters.",
        )
    if not creating and "key" in values and key != current.key:
        validator.add("key", "immutable", "Key cannot change once values are stored.")

    kind = values.get("kind", current.kind if current else None)
    choices = values.get("choices", current.choices if current else [])
    if kind is CustomFieldKind.CHOICE and not choices:
        validator.add(
            "choices",
            "required",
            "A choice field needs at least one choice: list the allowed values.",
        )
    if len(set(choices or [])) != len(choices or []):
        validator.add(
            "choices", "duplicate", "Choices must be different from each other."
        )
    columns = _pick(values, ("label", "key", "kind", "required", "entity"))
    if "choices" in values:
        columns["choices"] = choices or []
    return columns


async def _custom_fields(
    validator: Validator,
    viewer: Viewer,
    values: dict[str, Any],
    current: Any,
    entity: CustomFieldEntity,
    columns: dict[str, Any],
) -> None:
    changes = await validate_custom_fields(
        validator,
        viewer.organization_id,
        entity,
        values.get("custom_fields") or {},
        creating=current is None,
    )
    if "custom_fields" in values:
        merged = dict(current.custom_fields) if current else {}
        merged.update(changes)
        columns["custom_fields"] = {k: v for k, v in merged.items() if v is not None}


def _check_custom_fields_shape(validator: Validator, values: dict[str, Any]) -> None:
    if "custom_fields" in values and not isinstance(
        values["custom_fields"] or {}, dict
    ):
        validator.add(
            "custom_fields",
            "invalid_custom_fields",
            "Custom fields must be an object of key and value pairs, such as "
            '{"cost_centre": "R&D"}.',
        )
        values.pop("custom_fields")


def _pick(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: values[name] for name in names if name in values}


CLIENTS = RecordSpec(Client, "Client", "client:write", _validate_client)
CONTACTS = RecordSpec(
    ContactPerson, "Contact person", "contact:write", _validate_contact
)
PROJECTS = RecordSpec(Project, "Project", "project:write", _validate_project)
SERVICES = RecordSpec(Service, "Service", "service:write", _validate_service)
TAGS = RecordSpec(Tag, "Tag", "tag:write", _validate_tag, unique=(("name",),))
CONTRACT_TYPES = RecordSpec(
    ContractType,
    "Contract type",
    "contract_type:write",
    _validate_contract_type,
    unique=(("name",),),
)
CUSTOM_FIELD_DEFINITIONS = RecordSpec(
    CustomFieldDefinition,
    "Custom field",
    "custom_field:write",
    _validate_custom_field_definition,
    unique=(("entity", "key"),),
)
