"""The login mutation."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import strawberry
from tortoise.exceptions import OperationalError

from contractgql.errors import AuthenticationError
from contractgql.graphql.context import Info
from contractgql.graphql.types.users import UserNode, user_node_of
from contractgql.models import User
from contractgql.security.passwords import verify_password
from contractgql.security.throttle import RateLimited, client_address

logger = logging.getLogger(__name__)


@strawberry.type
class LoginPayload:
    token: str = strawberry.field(
        description="Bearer token: send it as 'Authorization: Bearer <token>'."
    )
    expires_at: datetime
    user: UserNode


async def login(info: Info, email: str, password: str) -> LoginPayload:
    """Check an e-mail address and password and return a signed login token.

    The rate limits count the attempt first and may reject it with RateLimited
    before any user is looked up, so the reply does not depend on whether the
    account exists.
    """
    services = info.context.services
    normalised_email = email.strip().lower()
    throttle = services.throttle
    address = client_address(info.context.request, services.settings.trusted_proxies)
    try:
        await throttle.check_attempt(normalised_email, address)
    except RateLimited as error:
        _set_retry_after(info, error.retry_after)
        raise

    user = await User.filter(email=normalised_email).first()
    # Argon2 takes about 0.2 s of CPU: a worker thread keeps other requests moving.
    valid = await asyncio.to_thread(
        verify_password, user.password_hash if user else None, password
    )
    if user is None or not valid or not user.is_active:
        raise AuthenticationError(
            "The e-mail address or password is incorrect, or the account is "
            "deactivated: check both and try again."
        )

    await throttle.record_success(normalised_email)
    user.last_login_at = datetime.now(UTC)
    try:
        await user.save(update_fields=["last_login_at"])
    except OperationalError as error:
        # SQLite lets one transaction write at a time, and a large import holds
        # the lock for minutes. The login time is not worth refusing the login.
        if "database is locked" not in str(error):
            raise
        logger.warning(
            "User %d logged in, but the login time was not stored: %s", user.id, error
        )
    return LoginPayload(
        token=services.signer.issue(
            user.id, user.organization_id, user.token_generation
        ),
        expires_at=user.last_login_at + timedelta(seconds=services.signer.ttl_seconds),
        user=user_node_of(user),
    )


def _set_retry_after(info: Info, seconds: int) -> None:
    """Set the Retry-After header of the HTTP response, where there is one."""
    response = info.context.response
    headers = getattr(response, "headers", None)
    if headers is not None:
        headers["Retry-After"] = str(seconds)
