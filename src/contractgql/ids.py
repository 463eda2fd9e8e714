"""Opaque global ids of the form base64url("<Type>:<primary key>")."""

from __future__ import annotations

import base64
import binascii

from contractgql.errors import InvalidArgument


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(global_id: str) -> tuple[str, int]:
    """Return (type name, primary key); raise InvalidArgument for a malformed id."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw_pk = base64.urlsafe_b64decode(padded).decode().partition(":")
        pk = int(raw_pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument(
            f"{global_id!r} is not a valid id: use the `id` value that the API "
            "returned for the record."
        ) from None
    # A key must fit a signed 64-bit column and be written without padding, so
    # that each record has exactly one id.
    if not type_name or not 0 < pk < 2**63 or raw_pk != str(pk):
        raise InvalidArgument(
            f"{global_id!r} is not a valid id: use the `id` value that the API "
            "returned for the record."
        )
    return type_name, pk
