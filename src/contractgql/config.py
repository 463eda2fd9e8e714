"""Settings read from environment variables, each prefixed with CONTRACTGQL_.

With nothing set, the server runs on a SQLite file under ./data and keeps a generated
secret key beside it, so a fresh checkout starts with zero configuration.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(Exception):
    """A setting that is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = None
    # Lifetime of a login token, in seconds.
    token_ttl: int = 12 * 3600
    max_page_size: int = 100
    policy_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "policies")
    cors_origins: tuple[str, ...] = ()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'contractgql.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """Return the signing key; without one, create it and store it in data_dir."""
        if self.secret_key:
            return self.secret_key

        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.touch(mode=0o600)
        key_file.write_text(key)
        return key


def _int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number.") from None


def load_settings() -> Settings:
    """Read settings from the environment, rejecting values that cannot work."""
    env = os.environ
    settings = Settings(
        data_dir=Path(env.get("CONTRACTGQL_DATA_DIR") or "data"),
        database_url=env.get("CONTRACTGQL_DATABASE_URL") or None,
        redis_url=env.get("CONTRACTGQL_REDIS_URL") or None,
        host=env.get("CONTRACTGQL_HOST") or "127.0.0.1",
        port=_int_setting("CONTRACTGQL_PORT", 8000),
        secret_key=env.get("CONTRACTGQL_SECRET_KEY") or None,
        token_ttl=_int_setting("CONTRACTGQL_TOKEN_TTL", 12 * 3600),
        max_page_size=_int_setting("CONTRACTGQL_MAX_PAGE_SIZE", 100),
        policy_dir=Path(env.get("CONTRACTGQL_POLICY_DIR") or PROJECT_ROOT / "policies"),
        cors_origins=tuple(
            origin.strip()
            for origin in (env.get("CONTRACTGQL_CORS_ORIGINS") or "").split(",")
            if origin.strip()
        ),
    )
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    url = settings.resolved_database_url
    if not url.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
        raise ConfigError(
            f"CONTRACTGQL_DATABASE_URL={url!r} is not supported: use "
            "'postgres://user@host:5432/dbname' or 'sqlite:///path/to/file.sqlite3'."
        )
    if not 1 <= settings.max_page_size <= 1000:
        raise ConfigError(
            f"CONTRACTGQL_MAX_PAGE_SIZE={settings.max_page_size} is out of range: "
            "use a value from 1 to 1000."
        )
    if settings.secret_key is not None and len(settings.secret_key) < 32:
        raise ConfigError(
            "CONTRACTGQL_SECRET_KEY is shorter than 32 characters: generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )
