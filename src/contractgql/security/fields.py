"""The single place that decides whether a caller may read or set a protected field.

The policy names the protected fields. Output fields (through the executor),
filters, sort orders, aggregates, exports and mutation inputs all ask the viewer's
field access here, so no path shows a value that the field itself would hide.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from contractgql.errors import PermissionDenied
from contractgql.security.policy import FieldName, Policy, PolicyError
from contractgql.security.viewer import Viewer

# Fields and the fields computed from them. Hiding a field while showing a figure
# computed from it would give the value away (an end date is today plus
# daysUntilEnd), so the policy must protect every field computed from a protected
# one, directly or through another. A computed field that is non-null cannot be
# hidden, so its sources cannot be protected at all.
COMPUTED_FROM: dict[FieldName, tuple[str, ...]] = {
    ("Contract", "amount"): ("mrr", "arr", "totalContractValue"),
    ("Contract", "paymentFrequency"): ("mrr", "arr", "totalContractValue"),
    ("Contract", "mrr"): ("arr",),
    ("Contract", "startDate"): ("status", "totalContractValue"),
    ("Contract", "endDate"): (
        "status",
        "daysUntilEnd",
        "noticeDeadline",
        "totalContractValue",
    ),
    ("Contract", "stage"): ("status",),
    ("Contract", "noticePeriod"): (
        "noticeDeadline",
        "earliestEndWithNoticeToday",
        "noticeEffectiveEnd",
    ),
    ("Contract", "noticeToMonthEnd"): (
        "earliestEndWithNoticeToday",
        "noticeEffectiveEnd",
    ),
    ("Contract", "noticeDate"): ("noticeEffectiveEnd",),
    ("Contract", "renewalTerm"): ("noticeEffectiveEnd",),
    ("Contract", "autoRenewal"): ("noticeEffectiveEnd",),
    ("Contract", "noticeDeadline"): ("daysUntilNoticeDeadline",),
}


def computed_from(field: FieldName) -> set[FieldName]:
    """Return every field computed from `field`, directly or through another."""
    found: set[FieldName] = set()
    pending = [field]
    while pending:
        type_name, name = pending.pop()
        for derived in COMPUTED_FROM.get((type_name, name), ()):
            if (type_name, derived) not in found:
                found.add((type_name, derived))
                pending.append((type_name, derived))
    return found


# Input fields whose change needs the write permission of another field. Changing
# the currency changes what the stored amount is worth.
WRITE_DEPENDENCIES: dict[FieldName, FieldName] = {
    ("Contract", "currency"): ("Contract", "amount"),
}


def check_derived_fields(policy: Policy) -> None:
    """Raise PolicyError when a computed field shows a value the policy hides."""
    for source, needed in sorted(policy.protected_fields.items()):
        for derived in sorted(computed_from(source)):
            if policy.protected_fields.get(derived) != needed:
                raise PolicyError(
                    f"{'.'.join(derived)} is computed from {'.'.join(source)}, which "
                    f"the policy protects with {needed!r}: add the line "
                    f"'g, {'.'.join(derived)}, {needed}' to policy.csv."
                )


def may_read_field(viewer: Viewer, type_name: str, field_name: str) -> bool:
    return viewer.fields.may_read(type_name, field_name)


def require_readable(viewer: Viewer, type_name: str, field_name: str, use: str) -> None:
    """Reject filtering, sorting or aggregating on a field the viewer may not read."""
    if viewer.fields.may_read(type_name, field_name):
        return
    permission = viewer.fields.protected[(type_name, field_name)]
    raise PermissionDenied(
        f"You may not {use} {type_name}.{field_name}: it needs the "
        f"'{permission}:read' permission. Remove it from the request or ask an "
        "administrator for a role that has it."
    )


@functools.lru_cache(maxsize=1024)
def graphql_name(name: str) -> str:
    """Return the GraphQL name of a snake_case field name, as strawberry writes it."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


class FieldWriteDenied(PermissionDenied):
    """Rejection of an input that sets fields the viewer may not set."""

    def __init__(self, message: str, fields: list[str]) -> None:
        super().__init__(message)
        # The snake_case names of the denied inputs that the policy protects
        # directly, leaving out those guarded through another field (currency
        # through amount). They are also the import's field names.
        self.fields = fields


def protected_inputs(
    viewer: Viewer, type_name: str, input_fields: Iterable[str]
) -> set[str]:
    """Return the snake_case input fields that a field permission governs."""
    protected = viewer.fields.protected
    return {
        name
        for name in input_fields
        if _guard(type_name, graphql_name(name)) in protected
    }


def require_writable(
    viewer: Viewer, type_name: str, input_fields: Iterable[str]
) -> None:
    """Reject an input that sets a field the viewer may not set, naming every one.

    `input_fields` are the snake_case names of the input fields in the request.
    """
    read_only = _read_only_inputs(
        viewer.fields.read_only, type_name, tuple(input_fields)
    )
    if not read_only:
        return
    denied = {
        name: viewer.fields.protected[guarded] for name, guarded in read_only.items()
    }
    permissions = sorted({f"'{permission}:write'" for permission in denied.values()})
    raise FieldWriteDenied(
        f"You may not set {', '.join(sorted(denied))}: changing them needs the "
        f"{' and '.join(permissions)} permission. Leave these fields out of the input "
        "or ask a user whose role has it.",
        sorted(
            name
            for name in input_fields
            if read_only.get(graphql_name(name)) == (type_name, graphql_name(name))
        ),
    )


@functools.lru_cache(maxsize=256)
def _read_only_inputs(
    read_only: frozenset[FieldName], type_name: str, input_fields: tuple[str, ...]
) -> dict[str, FieldName]:
    """Return the GraphQL name and guarding field of each input the viewer may not
    set. Cached, because a bulk import checks the same inputs on every row; the
    caller must not change the returned dict."""
    denied: dict[str, FieldName] = {}
    for name in input_fields:
        guarded = _guard(type_name, graphql_name(name))
        if guarded in read_only:
            denied[graphql_name(name)] = guarded
    return denied


def _guard(type_name: str, field_name: str) -> FieldName:
    return WRITE_DEPENDENCIES.get((type_name, field_name), (type_name, field_name))


def protected_note(permission: str) -> str:
    """Return the sentence that a protected field's schema description ends with."""
    return f"Requires the `{permission}:read` permission; null for callers without it."


# The GraphQL fields whose value each import field's cells give: the contract field
# it fills, or for currency also the amount, whose worth it sets.
IMPORT_FIELD_SOURCES: dict[str, tuple[FieldName, ...]] = {
    "number": (("Contract", "number"),),
    "name": (("Contract", "name"),),
    "client": (("Contract", "client"),),
    "client_coc_number": (("Client", "cocNumber"),),
    "client_vat_number": (("Client", "vatNumber"),),
    "contract_type": (("Contract", "contractType"),),
    "status": (("Contract", "stage"),),
    "start_date": (("Contract", "startDate"),),
    "end_date": (("Contract", "endDate"),),
    "signed_date": (("Contract", "signedDate"),),
    "amount": (("Contract", "amount"),),
    "currency": (("Contract", "currency"), ("Contract", "amount")),
    "vat_rate": (("Contract", "vatRate"),),
    "payment_frequency": (("Contract", "paymentFrequency"),),
    "auto_renewal": (("Contract", "autoRenewal"),),
    "notice_period": (("Contract", "noticePeriod"),),
    "renewal_term": (("Contract", "renewalTerm"),),
    "indexation": (("Contract", "indexation"),),
    "description": (("Contract", "description"),),
    "owner_email": (("Contract", "owner"),),
    "tags": (("Contract", "tags"),),
}


def hidden_import_field(viewer: Viewer, field: str | None) -> FieldName | None:
    """Return a protected field that hides a cell of import `field` from `viewer`.

    Returns None when the viewer may see the cell. A cell of no known field, such
    as a value beyond the last column, may hold any field's value, so it is hidden
    when any import field is.
    """
    sources = IMPORT_FIELD_SOURCES.get(field) if field is not None else None
    if sources is None:
        sources = tuple(
            source for fields in IMPORT_FIELD_SOURCES.values() for source in fields
        )
    for type_name, field_name in sources:
        if not viewer.fields.may_read(type_name, field_name):
            return (type_name, field_name)
    return None
