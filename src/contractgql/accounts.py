"""Organizations and user accounts, as operators create them from the command line."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from contractgql.audit import record_event, snapshot
from contractgql.models import Organization, User
from contractgql.security.passwords import hash_password
from contractgql.security.policy import ROLES


class AccountError(Exception):
    """An account that cannot be created; the message explains why and what to do."""


async def get_or_create_organization(
    name: str, timezone: str = "Europe/Amsterdam", currency: str = "EUR"
) -> Organization:
    name = " ".join(name.split())
    if not name:
        raise AccountError("The organization name is empty: give a name.")
    organization = await Organization.filter(name=name).first()
    if organization is None:
        organization = await Organization.create(
            name=name, timezone=timezone, default_currency=currency
        )
    return organization


async def create_user(
    organization: Organization,
    email: str,
    name: str,
    roles: list[str],
    password: str | None,
) -> User:
    """Create a user. A user without a password is a service account, which calls
    the API with API tokens only."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise AccountError(
            f"Unknown role {', '.join(unknown)}: use one or more of {', '.join(ROLES)}."
        )
    if not roles:
        raise AccountError(f"Give the user at least one role: {', '.join(ROLES)}.")
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(
            f"E-mail address {email!r} is invalid: use name@example.com."
        )
    password_hash = None
    if password is not None:
        try:
            password_hash = hash_password(password)
        except ValueError as error:
            raise AccountError(str(error)) from None

    async with in_transaction():
        if await User.filter(email=email).exists():
            raise AccountError(
                f"A user with e-mail address {email!r} already exists: pick another "
                "address."
            )
        user = await User.create(
            organization=organization,
            email=email,
            name=name,
            roles=sorted(set(roles)),
            password_hash=password_hash,
            is_service_account=password is None,
        )
        # Created from the command line, so no user of the API is the actor.
        await record_event(
            organization.id, None, "user.create", "User", user.id, None, snapshot(user)
        )
        return user
