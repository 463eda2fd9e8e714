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
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The policy of the checkout, else the copy that an installed package carries.
DEFAULT_POLICY_DIR = (
    PROJECT_ROOT / "policies"
    if (PROJECT_ROOT / "policies" / "model.conf").is_file()
    else Path(__file__).resolve().parent / "policies"
)


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
    policy_dir: Path = field(default_factory=lambda: DEFAULT_POLICY_DIR)
    cors_origins: tuple[str, ...] = ()
    # Limits against abusive requests: the maximum estimated cost of a query, which
    # contractgql.graphql.limits defines (the front end's page of 100 contracts with
    # their client, owner and tags costs 4,805), and the maximum request body size.
    max_query_cost: int = 10_000
    max_body_bytes: int = 1024 * 1024
    # Uploaded documents (contractgql.documents): the folder of the stored files,
    # data_dir/documents when None, the maximum size of one file in bytes, and the
    # lifetime of a signed download link in seconds.
    document_dir: Path | None = None
    max_document_bytes: int = 25 * 1024 * 1024
    download_link_ttl: int = 5 * 60
    # Reminder scans (contractgql.jobs). Without redis_url, `serve` runs them in its
    # own process unless scheduler is False. scan_interval is in minutes, and
    # scan_timeout is the seconds one scan may take in a worker before arq stops it.
    scheduler: bool = True
    scan_interval: int = 15
    scan_timeout: int = 600
    worker_queue: str = "contractgql:queue"
    # Delivery of notifications (contractgql.notifications). Without smtp_host no
    # e-mail is sent. smtp_tls is "starttls", "implicit" (TLS from the first byte,
    # usually port 465) or "none". public_url is the server's address as users reach
    # it, for calendar feed URLs, and contract_url a link template with "{id}" for
    # the contract's global id, for e-mails and calendar events. Digests go out from
    # digest_hour o'clock in each organization's timezone. Subscriptions poll the
    # notifications table every notification_poll_interval seconds.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    # PEM file of the certificate authorities to trust for the SMTP server, in place
    # of the system's, such as a company's own authority.
    smtp_ca_file: str | None = None
    public_url: str | None = None
    contract_url: str | None = None
    digest_hour: int = 7
    notification_poll_interval: float = 5.0
    # Access to /metrics (contractgql.observability.metrics): a bearer token, and
    # networks whose direct clients need none. With neither, /metrics is off.
    metrics_token: str | None = None
    metrics_networks: tuple[str, ...] = ()
    # Where `contractgql worker` serves its metrics over HTTP; no port, no server.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = None
    # Names of the tags that mark a contract as a cancellation risk in the reports,
    # compared without regard to case.
    risk_tags: tuple[str, ...] = ("cancellation risk",)
    # Data quality signals (contractgql.quality.signals): a signed contract whose
    # notice deadline is at most quality_deadline_days ahead, and that has had no
    # change or note for quality_quiet_days, is flagged as stale.
    quality_quiet_days: int = 90
    quality_deadline_days: int = 60

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'contractgql.sqlite3').resolve()}"

    @property
    def resolved_document_dir(self) -> Path:
        if self.document_dir is not None:
            return self.document_dir
        return self.data_dir / "documents"

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


def _names_setting(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Read a comma-separated list of names, or `default` when the variable is unset.

    An empty value sets an empty list.
    """
    raw = os.environ.get(name)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def load_settings() -> Settings:
    """Read settings from the environment, rejecting values that cannot work."""
    env = os.environ
    settings = Settings(
        data_dir=Path(env.get("CONTRACTGQL_DATA_DIR") or "data"),
        database_url=env.get("CONTRACTGQL_DATABASE_URL") or None,
        redis_url=env.get("CONTRACTGQL_REDIS_URL") or None,
        host=env.get("CONTRACTGQL_HOST") or "127.0.0.1",
        port=_port_setting("CONTRACTGQL_PORT", 8000),
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
        policy_dir=Path(env.get("CONTRACTGQL_POLICY_DIR") or DEFAULT_POLICY_DIR),
        cors_origins=_origins_setting("CONTRACTGQL_CORS_ORIGINS"),
        max_query_cost=_int_setting("CONTRACTGQL_MAX_QUERY_COST", 10_000),
        max_body_bytes=_int_setting("CONTRACTGQL_MAX_BODY_BYTES", 1024 * 1024),
        document_dir=_path_setting("CONTRACTGQL_DOCUMENT_DIR"),
        max_document_bytes=_int_setting(
            "CONTRACTGQL_MAX_DOCUMENT_BYTES", 25 * 1024 * 1024
        ),
        download_link_ttl=_int_setting("CONTRACTGQL_DOWNLOAD_LINK_TTL", 5 * 60),
        scheduler=_switch_setting("CONTRACTGQL_SCHEDULER", True),
        scan_interval=_int_setting("CONTRACTGQL_SCAN_INTERVAL", 15),
        scan_timeout=_int_setting("CONTRACTGQL_SCAN_TIMEOUT", 600),
        worker_queue=env.get("CONTRACTGQL_WORKER_QUEUE") or "contractgql:queue",
        smtp_host=env.get("CONTRACTGQL_SMTP_HOST") or None,
        smtp_port=_int_setting("CONTRACTGQL_SMTP_PORT", 587),
        smtp_tls=(env.get("CONTRACTGQL_SMTP_TLS") or "starttls").lower(),
        smtp_username=env.get("CONTRACTGQL_SMTP_USERNAME") or None,
        smtp_password=env.get("CONTRACTGQL_SMTP_PASSWORD") or None,
        smtp_from=env.get("CONTRACTGQL_SMTP_FROM") or None,
        smtp_ca_file=env.get("CONTRACTGQL_SMTP_CA_FILE") or None,
        public_url=(env.get("CONTRACTGQL_PUBLIC_URL") or "").rstrip("/") or None,
        contract_url=env.get("CONTRACTGQL_CONTRACT_URL") or None,
        digest_hour=_int_setting("CONTRACTGQL_DIGEST_HOUR", 7),
        notification_poll_interval=_float_setting(
            "CONTRACTGQL_NOTIFICATION_POLL_INTERVAL", 5.0
        ),
        metrics_token=env.get("CONTRACTGQL_METRICS_TOKEN") or None,
        metrics_networks=_networks_setting("CONTRACTGQL_METRICS_NETWORKS"),
        worker_metrics_host=env.get("CONTRACTGQL_WORKER_METRICS_HOST") or "127.0.0.1",
        worker_metrics_port=_optional_int_setting("CONTRACTGQL_WORKER_METRICS_PORT"),
        risk_tags=_names_setting("CONTRACTGQL_RISK_TAGS", ("cancellation risk",)),
        quality_quiet_days=_int_setting("CONTRACTGQL_QUALITY_QUIET_DAYS", 90),
        quality_deadline_days=_int_setting("CONTRACTGQL_QUALITY_DEADLINE_DAYS", 60),
    )
    _validate(settings)
    _validate_redis(settings)
    _validate_quality(settings)
    _validate_documents(settings)
    _validate_scans(settings)
    _validate_delivery(settings)
    _validate_metrics(settings)
    return settings


def _port_setting(name: str, default: int) -> int:
    port = _int_setting(name, default)
    if not 1 <= port <= 65535:
        raise ConfigError(
            f"{name}={port} is out of range: use a TCP port from 1 to 65535, such "
            f"as {default}."
        )
    return port


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level_setting() -> str:
    """Read CONTRACTGQL_LOG_LEVEL, upper-cased, INFO when unset."""
    raw = os.environ.get("CONTRACTGQL_LOG_LEVEL") or "INFO"
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(
            f"CONTRACTGQL_LOG_LEVEL={raw!r} is not a log level: use one of "
            f"{', '.join(LOG_LEVELS)}."
        )
    return level


REDIS_SCHEMES = ("redis", "rediss", "unix")


def _validate_redis(settings: Settings) -> None:
    url = settings.redis_url
    if url is not None and urlsplit(url).scheme.lower() not in REDIS_SCHEMES:
        raise ConfigError(
            f"CONTRACTGQL_REDIS_URL={_without_password(url)!r} is not a Redis URL: "
            "use redis://host:6379/0, rediss:// for TLS, or unix:///path/to/socket."
        )


def _without_password(url: str) -> str:
    scheme, separator, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}{separator}{rest.rsplit('@', 1)[-1]}"


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origins_setting(name: str) -> tuple[str, ...]:
    """Read comma-separated browser origins, normalised to the form that browsers
    send in the Origin header: lower-case scheme and host, no default port and no
    trailing slash. `*` is rejected, so that each allowed origin is listed."""
    origins = []
    for item in (os.environ.get(name) or "").split(","):
        if item.strip():
            origins.append(_normalise_origin(name, item.strip()))
    return tuple(dict.fromkeys(origins))


def _normalise_origin(name: str, raw: str) -> str:
    example = "such as https://app.example.com or http://localhost:5173"
    if raw == "*":
        raise ConfigError(
            f"{name} contains '*', which is not supported: list each origin that "
            f"may call the API, {example}, separated by commas."
        )
    parts = urlsplit(raw)
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(
            f"{name} contains {raw!r}, which is not an origin: write the scheme, "
            f"host and port that the browser shows, {example}."
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(
            f"{name} contains {raw!r}, which has a path, query or user name: write "
            f"only the scheme, host and port, {example}."
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(
            f"{name} contains {raw!r}, whose port is invalid: use a TCP port from 1 "
            f"to 65535, {example}."
        ) from None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _optional_int_setting(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    return _int_setting(name, 0)


def _validate_metrics(settings: Settings) -> None:
    if settings.metrics_token is not None and len(settings.metrics_token) < 32:
        raise ConfigError(
            "CONTRACTGQL_METRICS_TOKEN is shorter than 32 characters: generate one "
            "with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
    port = settings.worker_metrics_port
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(
            f"CONTRACTGQL_WORKER_METRICS_PORT={port} is out of range: use a TCP "
            "port from 1 to 65535, such as 9464."
        )


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


def _path_setting(name: str) -> Path | None:
    raw = os.environ.get(name)
    return Path(raw) if raw else None


def _validate_documents(settings: Settings) -> None:
    # GraphQL's Int, which DocumentVersion.size uses, has 32 bits.
    if not 1 <= settings.max_document_bytes <= 2**31 - 1:
        raise ConfigError(
            f"CONTRACTGQL_MAX_DOCUMENT_BYTES={settings.max_document_bytes} is out of "
            "range: use from 1 to 2147483647 bytes, such as 26214400 for 25 MiB."
        )
    if not 10 <= settings.download_link_ttl <= 24 * 3600:
        raise ConfigError(
            f"CONTRACTGQL_DOWNLOAD_LINK_TTL={settings.download_link_ttl} is out of "
            "range: use from 10 to 86400 seconds."
        )


SMTP_TLS_MODES = ("starttls", "implicit", "none")


def _validate_delivery(settings: Settings) -> None:
    """Reject notification delivery settings that cannot work."""
    if settings.smtp_tls not in SMTP_TLS_MODES:
        raise ConfigError(
            f"CONTRACTGQL_SMTP_TLS={settings.smtp_tls!r} is not supported: use "
            "starttls, implicit or none."
        )
    if settings.smtp_host is not None and not settings.smtp_from:
        raise ConfigError(
            "CONTRACTGQL_SMTP_HOST is set but CONTRACTGQL_SMTP_FROM is missing: set "
            "the sender address, such as 'Contracts <contracts@example.com>'."
        )
    if settings.smtp_host is not None and not 1 <= settings.smtp_port <= 65535:
        raise ConfigError(
            f"CONTRACTGQL_SMTP_PORT={settings.smtp_port} is out of range: use a TCP "
            "port from 1 to 65535, such as 587 for STARTTLS or 465 for implicit TLS."
        )
    if (settings.smtp_username is None) != (settings.smtp_password is None):
        raise ConfigError(
            "Only one of CONTRACTGQL_SMTP_USERNAME and CONTRACTGQL_SMTP_PASSWORD is "
            "set: set both to log in to the SMTP server, or neither."
        )
    if settings.smtp_username is not None and settings.smtp_tls == "none":
        raise ConfigError(
            "CONTRACTGQL_SMTP_TLS=none would send the SMTP password unencrypted: use "
            "starttls or implicit, or leave out the username and password."
        )
    if settings.smtp_ca_file is not None and not Path(settings.smtp_ca_file).is_file():
        raise ConfigError(
            f"CONTRACTGQL_SMTP_CA_FILE={settings.smtp_ca_file!r} is not a file: give "
            "the path of a PEM file with the certificate authorities to trust."
        )
    if settings.public_url is not None and not settings.public_url.startswith(
        ("https://", "http://")
    ):
        raise ConfigError(
            f"CONTRACTGQL_PUBLIC_URL={settings.public_url!r} is not an http(s) URL: "
            "use the address users reach the server at, such as "
            "'https://contracts.example.com'."
        )
    if settings.contract_url is not None and "{id}" not in settings.contract_url:
        raise ConfigError(
            f"CONTRACTGQL_CONTRACT_URL={settings.contract_url!r} has no '{{id}}': "
            "write a link template such as 'https://crm.example.com/contracts/{id}'."
        )
    if not 0 <= settings.digest_hour <= 23:
        raise ConfigError(
            f"CONTRACTGQL_DIGEST_HOUR={settings.digest_hour} is out of range: use an "
            "hour from 0 to 23."
        )
    if not 0.05 <= settings.notification_poll_interval <= 3600:
        raise ConfigError(
            "CONTRACTGQL_NOTIFICATION_POLL_INTERVAL="
            f"{settings.notification_poll_interval} is out of range: use from 0.05 "
            "to 3600 seconds."
        )


def _float_setting(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number.") from None


# Scan intervals in minutes that divide an hour, or whole hours that divide a day, so
# that runs fall on the same clock times every day.
SCAN_INTERVALS = tuple(
    minutes
    for minutes in range(1, 24 * 60 + 1)
    if (minutes < 60 and 60 % minutes == 0)
    or (minutes % 60 == 0 and 1440 % minutes == 0)
)


def _validate_scans(settings: Settings) -> None:
    if settings.scan_interval not in SCAN_INTERVALS:
        raise ConfigError(
            f"CONTRACTGQL_SCAN_INTERVAL={settings.scan_interval} is not supported: use "
            "minutes that divide an hour or whole hours that divide a day, one of "
            f"{', '.join(map(str, SCAN_INTERVALS))}."
        )
    if settings.scan_timeout < 10:
        raise ConfigError(
            f"CONTRACTGQL_SCAN_TIMEOUT={settings.scan_timeout} is out of range: use "
            "at least 10 seconds."
        )


def _switch_setting(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a switch: use on or off.")


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


# Maximum look-back or look-ahead of the stale-data signal, in days.
MAX_QUALITY_DAYS = 3660


def _validate_quality(settings: Settings) -> None:
    for name, value in (
        ("CONTRACTGQL_QUALITY_QUIET_DAYS", settings.quality_quiet_days),
        ("CONTRACTGQL_QUALITY_DEADLINE_DAYS", settings.quality_deadline_days),
    ):
        if not 1 <= value <= MAX_QUALITY_DAYS:
            raise ConfigError(
                f"{name}={value} is out of range: use a number of days from 1 to "
                f"{MAX_QUALITY_DAYS}."
            )
