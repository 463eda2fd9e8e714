"""User management by administrators: create, deactivate, reactivate, change roles.

Every action needs the `user:manage` permission and touches only users of the
administrator's organization.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from contractgql.audit import record_change, snapshot
from contractgql.errors import NotFound
from contractgql.ids import encode_id
from contractgql.models import User
from contractgql.security.api_tokens import MANAGE_PERMISSION, revoke_tokens_of_user
from contractgql.security.passwords import MIN_PASSWORD_LENGTH, hash_password
from contractgql.security.policy import ROLES, Policy
from contractgql.security.viewer import Viewer
from contractgql.services.validation import Validator
from contractgql.services.versions import ChangedFields, check_version, claim_version

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200
# The record kind that conflict messages name.
USER_LABEL = "User"
# Columns that every change of a user writes besides the changed ones.
# claim_version writes the version.
LAST_CHANGE_COLUMNS = ["updated_by_id", "updated_at"]


async def create_user(viewer: Viewer, values: dict[str, Any]) -> User:
    """Create a person, who logs in with a password, or a service account, which
    has no password and calls the API with API tokens.

    `values` contains `email`, `name`, `roles`, `is_service_account` and, for a
    person, `password`. Raises ValidationError listing every invalid field.
    """
    viewer.require(MANAGE_PERMISSION, "create users")
    validator = Validator()
    if values.get("email") is not None:
        values["email"] = values["email"].strip().lower()
    validator.text(
        values, "email", max_length=MAX_EMAIL_LENGTH, required=True, label="E-mail"
    )
    validator.email(values, "email")
    validator.text(values, "name", max_length=MAX_NAME_LENGTH, required=True)
    roles = _check_roles(validator, values.get("roles"))
    is_service_account = bool(values.get("is_service_account"))
    password_hash = _check_password(validator, values, is_service_account)
    email = values.get("email")
    # An invalid address, such as one with a NUL character that PostgreSQL cannot
    # store, must not reach the database in the duplicate check either.
    if (
        email
        and not validator.has_error("email")
        and await User.filter(email=email).exists()
    ):
        _add_duplicate_email(validator, email)
    validator.raise_if_any()

    try:
        async with in_transaction():
            user = await User.create(
                organization_id=viewer.organization_id,
                email=email,
                name=values["name"],
                roles=roles,
                password_hash=password_hash,
                is_service_account=is_service_account,
                updated_by_id=viewer.user_id,
            )
            await record_change(viewer, "user.create", user, None, snapshot(user))
            return user
    except IntegrityError:
        # Another request took the address after the check.
        _add_duplicate_email(validator, email)
        validator.raise_if_any()
        raise


async def deactivate_user(
    viewer: Viewer, user_id: int, expected_version: int | None = None
) -> User:
    """Deactivate a user and revoke their API tokens.

    Their login and API tokens stop working on their next request, because every
    request checks that the user is active, and login tokens issued before stay
    invalid after a reactivation. Deactivating them again changes nothing and
    keeps the version. Raises Conflict, and changes nothing, when
    `expected_version` is given and is not the stored version.
    """
    viewer.require(MANAGE_PERMISSION, "deactivate users")
    user = await _get_user(viewer, user_id)

    async def changed(stored: User) -> list[str]:
        return ["isActive"] if stored.is_active else []

    await check_version(user, USER_LABEL, expected_version, changed)
    if user.id == viewer.user_id:
        validator = Validator()
        validator.add(
            "id",
            "own_account",
            "You cannot deactivate your own account: ask another administrator.",
        )
        validator.raise_if_any()
    async with in_transaction():
        if user.is_active:
            user, before = await _claim_user(viewer, user, expected_version, changed)
            # When a concurrent deactivation came first, this one only increments
            # the version and sets the editor.
            if user.is_active:
                user.is_active = False
                user.token_generation += 1
            await user.save(
                update_fields=["is_active", "token_generation", *LAST_CHANGE_COLUMNS]
            )
            await record_change(viewer, "user.deactivate", user, before, snapshot(user))
        await revoke_tokens_of_user(user.id)
    return user


async def reactivate_user(
    viewer: Viewer, user_id: int, expected_version: int | None = None
) -> User:
    """Let a deactivated user log in again. Their revoked API tokens stay revoked.

    Reactivating an active user changes nothing and keeps the version. Raises
    Conflict, and changes nothing, when `expected_version` is given and is not
    the stored version.
    """
    viewer.require(MANAGE_PERMISSION, "reactivate users")
    user = await _get_user(viewer, user_id)

    async def changed(stored: User) -> list[str]:
        return [] if stored.is_active else ["isActive"]

    await check_version(user, USER_LABEL, expected_version, changed)
    if not user.is_active:
        async with in_transaction():
            user, before = await _claim_user(viewer, user, expected_version, changed)
            user.is_active = True
            await user.save(update_fields=["is_active", *LAST_CHANGE_COLUMNS])
            await record_change(viewer, "user.reactivate", user, before, snapshot(user))
    return user


async def set_user_roles(
    viewer: Viewer,
    policy: Policy,
    user_id: int,
    roles: list[str],
    expected_version: int | None = None,
) -> User:
    """Replace a user's roles. Administrators cannot take `user:manage` from
    themselves, so an organization keeps at least the administrator who acts.

    Raises Conflict, and changes nothing, when `expected_version` is given and is
    not the stored version.
    """
    viewer.require(MANAGE_PERMISSION, "change the roles of users")
    user = await _get_user(viewer, user_id)
    validator = Validator()
    new_roles = _check_roles(validator, roles)

    async def changed(stored: User) -> list[str]:
        return [] if sorted(stored.roles) == new_roles else ["roles"]

    await check_version(user, USER_LABEL, expected_version, changed)
    if (
        new_roles
        and user.id == viewer.user_id
        and MANAGE_PERMISSION not in policy.permissions_for(frozenset(new_roles))
    ):
        validator.add(
            "roles",
            "own_admin_role",
            f"Roles {', '.join(new_roles)} would take the {MANAGE_PERMISSION!r} "
            "permission from your own account: keep the admin role, or ask another "
            "administrator to change your roles.",
        )
    validator.raise_if_any()
    async with in_transaction():
        user, before = await _claim_user(viewer, user, expected_version, changed)
        user.roles = new_roles
        await user.save(update_fields=["roles", *LAST_CHANGE_COLUMNS])
        await record_change(viewer, "user.roles", user, before, snapshot(user))
    return user


async def _claim_user(
    viewer: Viewer, user: User, expected_version: int | None, changed: ChangedFields
) -> tuple[User, dict[str, Any]]:
    """Claim the next version and return the stored user and its audited values.

    Call it inside the change's transaction, before any other write. The claim
    locks the row until the transaction ends, so the returned user contains the
    values that the change replaces, also under concurrent changes. Its
    `updated_by_id` is set to the viewer's user.
    """
    await claim_version(user, USER_LABEL, expected_version, changed)
    stored = await User.get(id=user.id)
    before = snapshot(stored)
    stored.updated_by_id = viewer.user_id
    return stored, before


async def _get_user(viewer: Viewer, user_id: int) -> User:
    user = await User.filter(id=user_id, organization_id=viewer.organization_id).first()
    if user is None:
        raise NotFound(
            f"User {encode_id('User', user_id)!r} was not found in your organization: "
            "check the id."
        )
    return user


def _check_roles(validator: Validator, roles: list[str] | None) -> list[str]:
    """Return the roles sorted and without duplicates, or [] after an error."""
    names = ", ".join(ROLES)
    if not roles:
        validator.add("roles", "required", f"Give at least one role: {names}.")
        return []
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        validator.add(
            "roles",
            "unknown_role",
            f"Role {', '.join(map(repr, unknown))} is unknown: use one or more of "
            f"{names}.",
        )
        return []
    return sorted(set(roles))


def _check_password(
    validator: Validator, values: dict[str, Any], is_service_account: bool
) -> str | None:
    """Return the password hash to store, or None for a service account."""
    password = values.get("password")
    if is_service_account:
        if password is not None:
            validator.add(
                "password",
                "not_allowed",
                "A service account has no password, because it calls the API with "
                "API tokens: leave the password out.",
            )
        return None
    if not password:
        validator.add(
            "password",
            "required",
            f"A password is required for a person: give at least "
            f"{MIN_PASSWORD_LENGTH} characters.",
        )
        return None
    try:
        return hash_password(password)
    except ValueError as error:
        validator.add("password", "too_short", str(error))
        return None


def _add_duplicate_email(validator: Validator, email: str | None) -> None:
    validator.add(
        "email",
        "duplicate",
        f"E-mail address {email!r} is already used by another account: choose another.",
    )
