"""The authenticated caller of a request and what their roles allow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from contractgql.domain.dates import local_today
from contractgql.errors import AuthenticationError, PermissionDenied
from contractgql.models import Organization, User
from contractgql.security.api_tokens import is_api_token, verify_api_token
from contractgql.security.policy import FieldAccess, Policy
from contractgql.security.tokens import TokenClaims, TokenSigner


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
    # The protected fields that this viewer may not read or set.
    fields: FieldAccess
    # Whether the caller authenticated with an API token, whose scopes only read.
    api_token: bool = False
    _today: list[date] = field(default_factory=list, compare=False, repr=False)

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str, action: str) -> None:
        """Raise PermissionDenied unless the caller has `permission`."""
        if permission not in self.permissions and self.api_token:
            raise PermissionDenied(
                f"API tokens may only read, so this token cannot {action}: it needs "
                f"the {permission!r} permission. Log in as a user whose role has it."
            )
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

    The token is a login token or an API token (`cgql_...`), whose scopes narrow
    the user's permissions. Raises AuthenticationError for a malformed header, a bad,
    expired or revoked token, or a user who was deactivated or moved since the token
    was issued.
    """
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "The Authorization header is not a bearer token: send "
            "'Authorization: Bearer <token>' with the token from the login mutation."
        )

    token = token.strip()
    if is_api_token(token):
        api_user, allowed = await verify_api_token(token)
        return viewer_for(api_user, policy, allowed)

    claims = signer.verify(token)
    user = (
        await User.filter(id=claims.user_id, organization_id=claims.organization_id)
        .select_related("organization")
        .first()
    )
    if user is None or not user.is_active or _revoked(claims, user):
        raise AuthenticationError(
            "The account behind this token is deactivated or no longer exists, or "
            "was deactivated after the token was issued: log in again or ask an "
            "administrator."
        )
    return viewer_for(user, policy)


def _revoked(claims: TokenClaims, user: User) -> bool:
    """Return whether the user was deactivated after the token was issued."""
    return claims.generation != user.token_generation


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
        fields=FULL_FIELD_ACCESS,
    )


# Field access of the operator's command-line tools, which may read and set every field.
FULL_FIELD_ACCESS = FieldAccess({}, frozenset(), frozenset())


def viewer_for(
    user: User, policy: Policy, allowed: frozenset[str] | None = None
) -> Viewer:
    """Build the viewer of `user`, whose organization must be loaded.

    `allowed` narrows the permissions of the user's roles, as an API token's scopes do.
    """
    roles = frozenset(user.roles)
    permissions = policy.permissions_for(roles)
    if allowed is not None:
        permissions &= allowed
    organization = user.organization
    return Viewer(
        user_id=user.id,
        organization_id=user.organization_id,
        name=user.name,
        email=user.email,
        roles=roles,
        permissions=permissions,
        timezone=organization.timezone,
        default_currency=organization.default_currency,
        fields=policy.field_access(permissions),
        api_token=allowed is not None,
    )
