"""Short-lived signed download links.

A link names the document version, the user who created it, that user's token
generation and the time it expires, and carries an HMAC-SHA256 signature over the
four, keyed with a key derived from the server's secret key. Deactivating a user
increments the generation, so the user's links stay invalid after reactivation,
as their login tokens do. The download route checks the signature
and the expiry time, and then checks that this user may still read the document.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from contractgql.errors import ContractGQLError, InvalidArgument
from contractgql.ids import decode_id, encode_id

# Path of the download route, with the global id of a DocumentVersion.
DOWNLOAD_PATH = "/documents/{version_id}"
# Separates these signatures from any other use of the secret key.
_KEY_PURPOSE = b"contractgql document download link v1"


class LinkExpired(ContractGQLError):
    code = "LINK_EXPIRED"


class LinkInvalid(ContractGQLError):
    code = "LINK_INVALID"


@dataclass(frozen=True)
class LinkClaims:
    version_id: int
    user_id: int
    expires: int
    generation: int


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), _KEY_PURPOSE, hashlib.sha256).digest()

    def sign(self, version_id: int, user_id: int, expires: int, generation: int) -> str:
        message = f"{version_id}:{user_id}:{expires}:{generation}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def link(
        self, base_url: str, version_id: int, user_id: int, generation: int, ttl: int
    ) -> tuple[str, datetime]:
        """Return a link that expires `ttl` seconds from now, and its expiry time."""
        expires = int(time.time()) + ttl
        signature = self.sign(version_id, user_id, expires, generation)
        path = DOWNLOAD_PATH.format(version_id=encode_id("DocumentVersion", version_id))
        query = urlencode(
            {
                "user": encode_id("User", user_id),
                "generation": generation,
                "expires": expires,
                "signature": signature,
            }
        )
        url = f"{base_url.rstrip('/')}{path}?{query}"
        return url, datetime.fromtimestamp(expires, UTC)

    def verify(
        self, version_id: int, user: str, generation: str, expires: str, signature: str
    ) -> LinkClaims:
        """Return the claims of a link; raise LinkInvalid or LinkExpired."""
        try:
            user_type, user_id = decode_id(user)
            expires_at = int(expires)
            user_generation = int(generation)
        except (InvalidArgument, ValueError):
            raise LinkInvalid(_INVALID_MESSAGE) from None
        expected = self.sign(version_id, user_id, expires_at, user_generation)
        if user_type != "User" or not hmac.compare_digest(expected, signature):
            raise LinkInvalid(_INVALID_MESSAGE)
        if expires_at < time.time():
            expired = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires_at))
            raise LinkExpired(
                f"The download link expired at {expired}: create a new one with "
                "the createDownloadLink mutation."
            )
        return LinkClaims(version_id, user_id, expires_at, user_generation)


_INVALID_MESSAGE = (
    "The download link is invalid: its signature does not match its parameters. "
    "Use the link exactly as createDownloadLink returned it, or create a new one."
)
