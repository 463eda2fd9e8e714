"""Per-request GraphQL context: the caller, shared services and batch loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from strawberry.types import Info as StrawberryInfo

from contractgql.config import Settings
from contractgql.errors import AuthenticationError
from contractgql.observability.request_id import current_request_id, new_request_id
from contractgql.security.policy import Policy
from contractgql.security.throttle import LoginThrottle
from contractgql.security.tokens import TokenSigner
from contractgql.security.viewer import Viewer

if TYPE_CHECKING:
    from contractgql.graphql.loaders import Loaders


@dataclass
class Services:
    """Process-wide objects the resolvers need, created once at start."""

    settings: Settings
    policy: Policy
    signer: TokenSigner
    throttle: LoginThrottle


@dataclass
class Context:
    services: Services
    viewer_or_none: Viewer | None
    request: Any = None
    response: Any = None
    auth_error: AuthenticationError | None = None
    # The id that the request middleware gave the request, quoted in the response
    # and the log line of an unexpected error.
    request_id: str = field(
        default_factory=lambda: current_request_id.get() or new_request_id()
    )
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def viewer(self) -> Viewer:
        """Return the authenticated caller, or raise AuthenticationError."""
        if self.auth_error is not None:
            raise self.auth_error
        if self.viewer_or_none is None:
            raise AuthenticationError(
                "You are not logged in: call the login mutation and send its token "
                "as 'Authorization: Bearer <token>'."
            )
        return self.viewer_or_none

    @property
    def hidden_fields(self) -> frozenset[tuple[str, str]]:
        """Return the protected fields that this request may not read."""
        if self.viewer_or_none is not None:
            return self.viewer_or_none.fields.hidden
        return frozenset(self.services.policy.protected_fields)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            from contractgql.graphql.loaders import Loaders

            self._loaders = Loaders(self.viewer)
        return self._loaders


Info = StrawberryInfo[Context, None]
