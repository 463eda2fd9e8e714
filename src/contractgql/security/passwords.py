"""Password hashing with Argon2id."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when no user matches a login, so that a wrong e-mail address takes
# as long as a wrong password and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("contractgql-no-such-user")

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"The password is {len(password)} characters long: use at least "
            f"{MIN_PASSWORD_LENGTH}."
        )
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False
