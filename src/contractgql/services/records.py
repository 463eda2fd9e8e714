"""Create, update and archive for the simpler records: clients, contacts, catalogues.

Each record kind is described by a RecordSpec that names its model, the permission to
change it and a function that validates input and returns the columns to write.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from contractgql.errors import NotFound
from contractgql.ids import encode_id
from contractgql.models import (
    Client,
    ContactPerson,
    ContractType,
    CustomFieldDefinition,
    CustomFieldEntity,
    CustomFieldKind,
    Project,
    Service,
    Tag,
)
from contractgql.models.base import Record
from contractgql.security.viewer import Viewer
from contractgql.services.custom_fields import validate_custom_fields
from contractgql.services.references import check_reference, check_references
from contractgql.services.validation import Validator

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
    validator = Validator()
    columns = await spec.validate(validator, viewer, values, None)
    validator.raise_if_any()

    record = spec.model(organization_id=viewer.organization_id, **columns)
    await _save(spec, record, values)
    return record


async def update_record(
    viewer: Viewer, spec: RecordSpec, record_id: int, values: dict[str, Any]
) -> Any:
    viewer.require(spec.write_permission, f"change a {spec.label.lower()}")
    record = await get_record(viewer, spec.model, record_id, spec.label)
    validator = Validator()
    columns = await spec.validate(validator, viewer, values, record)
    validator.raise_if_any()

    for name, value in columns.items():
        setattr(record, name, value)
    record.version += 1
    await _save(spec, record, values)
    return record


async def archive_record(viewer: Viewer, spec: RecordSpec, record_id: int) -> Any:
    viewer.require(spec.write_permission, f"archive a {spec.label.lower()}")
    record = await get_record(viewer, spec.model, record_id, spec.label)
    if record.archived_at is None:
        record.archived_at = datetime.now(UTC)
        record.version += 1
        await record.save()
    return record


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


async def _save(spec: RecordSpec, record: Any, values: dict[str, Any]) -> None:
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
        try:
            await record.save()
        except IntegrityError:
            # A concurrent request may have taken a unique value after the check.
            if not spec.unique:
                raise
            _raise_duplicate(spec, record, spec.unique[0])
        if tag_ids is not None and isinstance(record, Client):
            await record.tags.clear()
            tags = await Tag.filter(
                id__in=tag_ids, organization_id=record.organization_id
            )
            await record.tags.add(*tags)


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
        offsets = values["reminder_offsets"] or []
        for index, offset in enumerate(offsets):
            if offset.count < 1:
                validator.add(
                    f"reminder_offsets.{index}",
                    "out_of_range",
                    f"Reminder offset {offset.count} {offset.unit.value} is not "
                    "positive: use a count of 1 or more.",
                )
        columns["reminder_offsets"] = [
            {"count": offset.count, "unit": offset.unit.value} for offset in offsets
        ]
    return columns


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
