"""API tokens: long-lived, scoped bearer tokens of service accounts.

A token is `cgql_` followed by 43 URL-safe characters (256 random bits). Only its
SHA-256 is stored, so the token is shown once, when it is created. A slow password
hash is not needed because the secret is random, not chosen by a person.

A token's scopes narrow the permissions of its user's roles and grant nothing
beyond them. No scope grants a write permission, so a token can only read.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.expressions import Q

from contractgql.errors import AuthenticationError, NotFound
from contractgql.ids import encode_id
from contractgql.models import ApiToken, User
from contractgql.services.validation import Validator

if TYPE_CHECKING:
    from contractgql.security.viewer import Viewer

TOKEN_PREFIX = "cgql_"
_TOKEN_PATTERN = re.compile(r"cgql_[A-Za-z0-9_-]{43}")
# Characters of the token kept in the `prefix` column to tell tokens apart.
SHOWN_PREFIX_LENGTH = 12

# The permissions that each scope allows. A token's viewer has the permissions of
# its user's roles that one of its scopes allows.
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"contract:read", "contract.confidential:read"}),
    "read:financial": frozenset(
        {"contract:read", "contract.confidential:read", "contract.financial:read"}
    ),
}

DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=365)
MAX_NAME_LENGTH = 100
# Minimum time between two writes of a token's last use.
LAST_USED_INTERVAL = timedelta(minutes=1)

MANAGE_PERMISSION = "user:manage"

_INVALID_MESSAGE = (
    "The API token is invalid or has been revoked: send the whole token as "
    "'Authorization: Bearer cgql_...', or ask an administrator for a new one."
)
_INACTIVE_USER_MESSAGE = (
    "The account behind this API token is deactivated or no longer exists: ask an "
    "administrator."
)


def is_api_token(token: str) -> bool:
    """Return whether a bearer token is an API token, not a login token."""
    return token.startswith(TOKEN_PREFIX)


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def scope_permissions(scopes: list[str]) -> frozenset[str]:
    """Return the permissions that `scopes` allow. Unknown scopes allow nothing."""
    allowed: frozenset[str] = frozenset()
    for scope in scopes:
        allowed |= SCOPE_PERMISSIONS.get(scope, frozenset())
    return allowed


async def verify_api_token(
    token: str, now: datetime | None = None
) -> tuple[User, frozenset[str]]:
    """Return the user of an API token, with its organization loaded, and the
    permissions its scopes allow.

    Raises AuthenticationError for an unknown, revoked or expired token and for a
    deactivated user. Records the token's use at most once a minute.
    """
    if not _TOKEN_PATTERN.fullmatch(token):
        raise AuthenticationError(_INVALID_MESSAGE)
    record = (
        await ApiToken.filter(token_hash=hash_token(token))
        .select_related("user__organization")
        .first()
    )
    if record is None or record.revoked_at is not None:
        raise AuthenticationError(_INVALID_MESSAGE)

    now = now or datetime.now(UTC)
    if record.expires_at <= now:
        raise AuthenticationError(
            f"The API token expired at {_format_time(record.expires_at)}: ask an "
            "administrator for a new one."
        )
    user = record.user
    if not user.is_active or user.organization_id != record.organization_id:
        raise AuthenticationError(_INACTIVE_USER_MESSAGE)

    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_INTERVAL:
        # The condition keeps several processes from writing in the same minute.
        await ApiToken.filter(
            Q(last_used_at=None) | Q(last_used_at__lte=now - LAST_USED_INTERVAL),
            id=record.id,
        ).update(last_used_at=now)
    return user, scope_permissions(record.scopes)


async def create_api_token(
    viewer: Viewer, values: dict[str, Any], now: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for a service account and return it with its secret text.

    `values` contains `user_id`, `name`, `scopes` and optionally `expires_at` (None for
    the default lifetime). Raises ValidationError listing every invalid field.
    """
    viewer.require(MANAGE_PERMISSION, "create API tokens")
    now = now or datetime.now(UTC)
    validator = Validator()
    validator.text(values, "name", max_length=MAX_NAME_LENGTH, required=True)
    scopes = _check_scopes(validator, values.get("scopes"))
    expires_at = _check_expiry(validator, values.get("expires_at"), now)
    user = await _check_token_user(validator, viewer, values.get("user_id"))
    validator.raise_if_any()
    assert user is not None and expires_at is not None

    secret = generate_token()
    record = await ApiToken.create(
        organization_id=viewer.organization_id,
        user_id=user.id,
        name=values["name"],
        token_hash=hash_token(secret),
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        scopes=scopes,
        expires_at=expires_at,
        created_by_id=viewer.user_id,
    )
    return record, secret


async def revoke_api_token(viewer: Viewer, token_id: int) -> ApiToken:
    """Revoke a token of the viewer's organization. A revoked token stays as it is."""
    viewer.require(MANAGE_PERMISSION, "revoke API tokens")
    record = await ApiToken.filter(
        id=token_id, organization_id=viewer.organization_id
    ).first()
    if record is None:
        raise NotFound(
            f"API token {encode_id('ApiToken', token_id)!r} was not found in your "
            "organization: check the id."
        )
    if record.revoked_at is None:
        record.revoked_at = datetime.now(UTC)
        await record.save(update_fields=["revoked_at"])
    return record


async def revoke_tokens_of_user(user_id: int) -> int:
    """Revoke the user's tokens that are not revoked yet, and return their number."""
    return await ApiToken.filter(user_id=user_id, revoked_at=None).update(
        revoked_at=datetime.now(UTC)
    )


def _check_scopes(validator: Validator, scopes: list[str] | None) -> list[str]:
    names = ", ".join(SCOPE_PERMISSIONS)
    if not scopes:
        validator.add("scopes", "required", f"Give at least one scope: {names}.")
        return []
    unknown = sorted(set(scopes) - set(SCOPE_PERMISSIONS))
    if unknown:
        validator.add(
            "scopes",
            "unknown_scope",
            f"Scope {', '.join(map(repr, unknown))} is unknown: use {names}.",
        )
    return sorted(set(scopes))


def _check_expiry(
    validator: Validator, expires_at: datetime | None, now: datetime
) -> datetime | None:
    """Return the expiry to store: the default lifetime when none is given.

    A time without a timezone is taken as UTC.
    """
    if expires_at is None:
        return now + DEFAULT_LIFETIME
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    latest = now + MAX_LIFETIME
    if expires_at <= now:
        validator.add(
            "expires_at",
            "in_past",
            f"Expiry time {_format_time(expires_at)} is not in the future: pick a "
            f"time after now and at most {MAX_LIFETIME.days} days ahead, or leave it "
            f"out for {DEFAULT_LIFETIME.days} days.",
        )
        return None
    if expires_at > latest:
        validator.add(
            "expires_at",
            "too_late",
            f"Expiry time {_format_time(expires_at)} is more than "
            f"{MAX_LIFETIME.days} days ahead: pick a time up to "
            f"{_format_time(latest)} and create a new token before then.",
        )
        return None
    return expires_at


async def _check_token_user(
    validator: Validator, viewer: Viewer, user_id: int | None
) -> User | None:
    if user_id is None:
        validator.add(
            "user_id", "required", "User is required: pick a service account."
        )
        return None
    user = await User.filter(id=user_id, organization_id=viewer.organization_id).first()
    global_id = encode_id("User", user_id)
    if user is None:
        validator.add(
            "user_id",
            "not_found",
            f"User {global_id!r} was not found in your organization: pick an existing "
            "service account.",
        )
        return None
    if not user.is_service_account:
        validator.add(
            "user_id",
            "not_service_account",
            f"User {global_id!r} ({user.email}) is a person, not a service account: "
            "API tokens are for service accounts only. Create one with createUser "
            "and isServiceAccount: true.",
        )
        return None
    if not user.is_active:
        validator.add(
            "user_id",
            "user_deactivated",
            f"Service account {global_id!r} ({user.email}) is deactivated: "
            "reactivate it first.",
        )
        return None
    return user


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
