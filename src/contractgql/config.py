"""Settings read from environment variables, each prefixed with CONTRACTGQL_.

With nothing set, the server runs on a SQLite file under ./data and keeps a generated
secret key beside it, so a fresh checkout starts with zero configuration.
"""

from __future__ import annotations

import ipaddress
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
    # Login rate limits within a fixed window of login_window seconds: failed logins
    # per e-mail address, and attempts per client address. 0 turns a limit off.
    login_max_failures: int = 5
    login_max_attempts_per_address: int = 30
    login_window: int = 15 * 60
    # Networks of reverse proxies whose X-Forwarded-For header names the client.
    trusted_proxies: tuple[str, ...] = ()
    # Prefix of the Redis keys that the login rate limits use.
    redis_key_prefix: str = "contractgql:"
    max_page_size: int = 100
    policy_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "policies")
    cors_origins: tuple[str, ...] = ()
    # Limits against abusive requests: the maximum estimated cost of a query, which
    # contractgql.graphql.limits defines (the front end's page of 100 contracts with
    # their client, owner and tags costs 4,805), and the maximum request body size.
    max_query_cost: int = 10_000
    max_body_bytes: int = 1024 * 1024

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
        login_max_failures=_limit_setting("CONTRACTGQL_LOGIN_MAX_FAILURES", 5),
        login_max_attempts_per_address=_limit_setting(
            "CONTRACTGQL_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", 30
        ),
        login_window=_limit_setting("CONTRACTGQL_LOGIN_WINDOW", 15 * 60, minimum=1),
        trusted_proxies=_networks_setting("CONTRACTGQL_TRUSTED_PROXIES"),
        redis_key_prefix=env.get("CONTRACTGQL_REDIS_KEY_PREFIX") or "contractgql:",
        max_page_size=_int_setting("CONTRACTGQL_MAX_PAGE_SIZE", 100),
        policy_dir=Path(env.get("CONTRACTGQL_POLICY_DIR") or PROJECT_ROOT / "policies"),
        cors_origins=tuple(
            origin.strip()
            for origin in (env.get("CONTRACTGQL_CORS_ORIGINS") or "").split(",")
            if origin.strip()
        ),
        max_query_cost=_int_setting("CONTRACTGQL_MAX_QUERY_COST", 10_000),
        max_body_bytes=_int_setting("CONTRACTGQL_MAX_BODY_BYTES", 1024 * 1024),
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
    if settings.max_query_cost < 1:
        raise ConfigError(
            f"CONTRACTGQL_MAX_QUERY_COST={settings.max_query_cost} is out of range: "
            "use a value of at least 1."
        )
    if settings.max_body_bytes < 1024:
        raise ConfigError(
            f"CONTRACTGQL_MAX_BODY_BYTES={settings.max_body_bytes} is out of range: "
            "use a value of at least 1024 bytes."
        )


def _limit_setting(name: str, default: int, minimum: int = 0) -> int:
    value = _int_setting(name, default)
    if value < minimum:
        raise ConfigError(f"{name}={value} is out of range: use {minimum} or more.")
    return value


def _networks_setting(name: str) -> tuple[str, ...]:
    """Read comma-separated IP addresses or networks, such as 10.0.0.0/8."""
    networks = []
    for item in (os.environ.get(name) or "").split(","):
        if not item.strip():
            continue
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise ConfigError(
                f"{name} contains {item.strip()!r}, which is not an IP address or "
                "network: write addresses such as 10.0.0.7 or networks such as "
                "10.0.0.0/8, separated by commas."
            ) from None
    return tuple(networks)
