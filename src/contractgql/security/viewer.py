"""The authenticated caller of a request and what their roles allow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from contractgql.domain.dates import local_today
from contractgql.errors import AuthenticationError, PermissionDenied
from contractgql.models import Organization, User
from contractgql.security.policy import Policy
from contractgql.security.tokens import TokenSigner


@dataclass(frozen=True)
class Viewer:
    # None for the operator's command-line tools, which act as no particular user.
    user_id: int | None
    organization_id: int
    name: str
    email: str
    roles: frozenset[str]
    permissions: frozenset[str]
    timezone: str
    default_currency: str
    _today: list[date] = field(default_factory=list, compare=False, repr=False)

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str, action: str) -> None:
        """Raise PermissionDenied unless the caller has `permission`."""
        if permission not in self.permissions:
            raise PermissionDenied(
                f"Your roles ({', '.join(sorted(self.roles)) or 'none'}) do not allow "
                f"you to {action}: it needs the {permission!r} permission. "
                "Ask an administrator for a role that has it."
            )

    @property
    def today(self) -> date:
        """Return the organization's local date, fixed for the whole request."""
        if not self._today:
            self._today.append(local_today(self.timezone))
        return self._today[0]


async def authenticate(
    authorization: str | None, signer: TokenSigner, policy: Policy
) -> Viewer | None:
    """Return the viewer for an Authorization header, or None when it is absent.

    Raises AuthenticationError for a malformed header, a bad token, or a user who
    was deactivated or moved since the token was issued.
    """
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "The Authorization header is not a bearer token: send "
            "'Authorization: Bearer <token>' with the token from the login mutation."
        )

    claims = signer.verify(token.strip())
    user = (
        await User.filter(id=claims.user_id, organization_id=claims.organization_id)
        .select_related("organization")
        .first()
    )
    if user is None or not user.is_active:
        raise AuthenticationError(
            "The account behind this token is deactivated or no longer exists: "
            "log in again or ask an administrator."
        )
    return viewer_for(user, policy)


def system_viewer(organization: Organization, permissions: frozenset[str]) -> Viewer:
    """Return a viewer for operator commands such as import, holding `permissions`."""
    return Viewer(
        user_id=None,
        organization_id=organization.id,
        name="contractgql command line",
        email="",
        roles=frozenset({"admin"}),
        permissions=permissions,
        timezone=organization.timezone,
        default_currency=organization.default_currency,
    )


def viewer_for(user: User, policy: Policy) -> Viewer:
    """Build the viewer of `user`, whose organization must be loaded."""
    roles = frozenset(user.roles)
    organization = user.organization
    return Viewer(
        user_id=user.id,
        organization_id=user.organization_id,
        name=user.name,
        email=user.email,
        roles=roles,
        permissions=policy.permissions_for(roles),
        timezone=organization.timezone,
        default_currency=organization.default_currency,
    )
