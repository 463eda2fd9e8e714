"""The login mutation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import strawberry

from contractgql.errors import AuthenticationError
from contractgql.graphql.context import Info
from contractgql.graphql.types.users import UserNode, user_node
from contractgql.models import User
from contractgql.security.passwords import verify_password


@strawberry.type
class LoginPayload:
    token: str = strawberry.field(
        description="Bearer token: send it as 'Authorization: Bearer <token>'."
    )
    expires_at: datetime
    user: UserNode


async def login(info: Info, email: str, password: str) -> LoginPayload:
    user = await User.filter(email=email.strip().lower()).first()
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        raise AuthenticationError(
            "The e-mail address or password is incorrect, or the account is "
            "deactivated: check both and try again."
        )

    user.last_login_at = datetime.now(UTC)
    await user.save(update_fields=["last_login_at"])
    services = info.context.services
    return LoginPayload(
        token=services.signer.issue(user.id, user.organization_id),
        expires_at=user.last_login_at + timedelta(seconds=services.signer.ttl_seconds),
        user=user_node(
            {
                "id": user.id,
                "name": user.name,
                "email": user.email,
                "roles": user.roles,
                "is_active": user.is_active,
                "is_service_account": user.is_service_account,
            }
        ),
    )
