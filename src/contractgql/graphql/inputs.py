"""Turning GraphQL input objects into the plain dicts that the services take."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import strawberry
from strawberry import UNSET

from contractgql.errors import FieldError, InvalidArgument, ValidationError
from contractgql.graphql.types.common import PeriodInput
from contractgql.ids import decode_id

# The optional version argument of every update of an editable record.
ExpectedVersion = Annotated[
    int | None,
    strawberry.argument(
        description="The version of the record that the change is based on. When "
        "it is not the stored version, nothing changes and the mutation fails with "
        "the code CONFLICT. Front ends should always send it; without it the last "
        "write wins."
    ),
]

# Input fields holding ids, and the type of record each must name.
ID_FIELDS = {
    "client_id": "Client",
    "client_ids": "Client",
    "contract_id": "Contract",
    "parent_id": "Contract",
    "contract_type_id": "ContractType",
    "contract_type_ids": "ContractType",
    "owner_id": "User",
    "owner_ids": "User",
    "watcher_ids": "User",
    "contact_id": "ContactPerson",
    "project_id": "Project",
    "project_ids": "Project",
    "service_ids": "Service",
    "tag_ids": "Tag",
}


def decode_typed_id(global_id: str, expected: str, field: str = "id") -> int:
    """Return the primary key of `global_id`, which must name a record of `expected`."""
    type_name, pk = decode_id(global_id)
    if type_name != expected:
        raise InvalidArgument(
            f"{field}={global_id!r} is the id of a {type_name}, not of a {expected}: "
            f"pass the id of a {expected}."
        )
    return pk


def input_values(data: Any) -> dict[str, Any]:
    """Return the fields the caller gave (UNSET ones left out), with ids decoded."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for item in dataclasses.fields(data):
        value = getattr(data, item.name)
        if value is UNSET:
            continue
        try:
            values[item.name] = _convert(item.name, value)
        except InvalidArgument as error:
            errors.append(FieldError(item.name, "invalid_id", error.message))
        except ValueError as error:
            # Period rejects a negative count when it is built.
            errors.append(FieldError(item.name, "out_of_range", str(error)))
    if errors:
        raise ValidationError(errors)
    return values


def _convert(name: str, value: Any) -> Any:
    expected = ID_FIELDS.get(name)
    if expected and value is not None:
        if isinstance(value, list):
            return [decode_typed_id(v, expected, name) for v in value]
        return decode_typed_id(value, expected, name)
    if isinstance(value, PeriodInput):
        return value.to_period()
    if isinstance(value, list):
        return [v.to_period() if isinstance(v, PeriodInput) else v for v in value]
    return value
