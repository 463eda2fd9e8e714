"""The single place that decides whether a caller may read or write a protected field.

Output fields, filters, sort orders and mutation inputs all ask `may_read_field` or
`may_write_field` here, so no path leaks a value that the field itself would hide.
"""

from __future__ import annotations

from contractgql.errors import PermissionDenied
from contractgql.security.viewer import Viewer

FINANCIAL_READ = "contract.financial:read"
FINANCIAL_WRITE = "contract.financial:write"

# GraphQL type name -> field name -> permission needed to read it.
PROTECTED_FIELDS: dict[str, dict[str, str]] = {
    "Contract": {
        name: FINANCIAL_READ
        for name in (
            "amount",
            "vatRate",
            "indexation",
            "renewalPriceAgreement",
            "mrr",
            "arr",
            "totalContractValue",
        )
    },
}

# Contract input fields whose change needs the financial write permission.
# Currency counts too: changing it changes what the stored amount is worth.
FINANCIAL_INPUT_FIELDS = frozenset(
    {"amount", "currency", "vat_rate", "indexation", "renewal_price_agreement"}
)


def read_permission(type_name: str, field_name: str) -> str | None:
    return PROTECTED_FIELDS.get(type_name, {}).get(field_name)


def may_read_field(viewer: Viewer, type_name: str, field_name: str) -> bool:
    permission = read_permission(type_name, field_name)
    return permission is None or viewer.may(permission)


def require_readable(viewer: Viewer, type_name: str, field_name: str, use: str) -> None:
    """Reject filtering or sorting on a field the viewer may not read."""
    permission = read_permission(type_name, field_name)
    if permission is not None and not viewer.may(permission):
        raise PermissionDenied(
            f"You may not {use} {type_name}.{field_name}: it needs the "
            f"{permission!r} permission. Remove it from the request or ask an "
            "administrator for a role that has it."
        )


def protected_description(description: str, type_name: str, field_name: str) -> str:
    """Append the permission a protected field needs to its schema description."""
    permission = read_permission(type_name, field_name)
    if permission is None:
        return description
    return (
        f"{description} Requires the `{permission}` permission; "
        "null for callers without it."
    )
