"""Signed bearer tokens issued by the login mutation."""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from contractgql.errors import AuthenticationError

_SALT = "contractgql.login"


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    organization_id: int
    # The user's token generation when the token was issued.
    generation: int


class TokenSigner:
    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: int, organization_id: int, generation: int = 0) -> str:
        payload = {"u": user_id, "o": organization_id, "g": generation}
        return str(self._serializer.dumps(payload))

    def verify(self, token: str) -> TokenClaims:
        """Return the claims of a valid token; raise AuthenticationError otherwise."""
        try:
            payload = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired:
            raise AuthenticationError(
                "The bearer token has expired: log in again to get a new one."
            ) from None
        except BadSignature:
            raise AuthenticationError(
                "The bearer token is invalid: send the token that the login "
                "mutation returned, as 'Authorization: Bearer <token>'."
            ) from None
        return TokenClaims(
            user_id=int(payload["u"]),
            organization_id=int(payload["o"]),
            # Tokens from before generations existed belong to generation 0.
            generation=int(payload.get("g", 0)),
        )
