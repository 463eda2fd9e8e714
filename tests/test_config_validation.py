"""Validation of the port, CORS origins, log level and Redis URL settings."""

from __future__ import annotations

import pytest

from contractgql import cli
from contractgql.config import ConfigError, load_settings, log_level_setting


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in (
        "CONTRACTGQL_PORT",
        "CONTRACTGQL_CORS_ORIGINS",
        "CONTRACTGQL_LOG_LEVEL",
        "CONTRACTGQL_REDIS_URL",
        "CONTRACTGQL_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONTRACTGQL_DATA_DIR", str(tmp_path))


def config_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    return str(raised.value)


@pytest.mark.parametrize("value", ["0", "-1", "65536", "99999"])
def test_port_out_of_range(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    message = config_error(monkeypatch, "CONTRACTGQL_PORT", value)
    assert message == (
        f"CONTRACTGQL_PORT={value} is out of range: use a TCP port from 1 to "
        "65535, such as 8000."
    )


def test_port_limits_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTGQL_PORT", "65535")
    assert load_settings().port == 65535
    monkeypatch.setenv("CONTRACTGQL_PORT", "1")
    assert load_settings().port == 1


@pytest.mark.parametrize("value", ["70000", "0", "-1"])
def test_serve_port_option_out_of_range(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["serve", "--port", value])
    assert raised.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"contractgql serve: error: argument --port: {value} is out of range: use "
        "a TCP port from 1 to 65535, such as 8000."
    )


def test_serve_port_option_not_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["serve", "--port", "http"])
    assert raised.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "contractgql serve: error: argument --port: 'http' is not a whole number: "
        "use a TCP port from 1 to 65535, such as 8000."
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://app.example.com/", ("https://app.example.com",)),
        ("https://App.Example.COM", ("https://app.example.com",)),
        ("HTTPS://app.example.com:443", ("https://app.example.com",)),
        ("http://app.example.com:80", ("http://app.example.com",)),
        ("https://app.example.com:8443", ("https://app.example.com:8443",)),
        (
            "http://localhost:5173, http://[::1]:5173",
            (
                "http://localhost:5173",
                "http://[::1]:5173",
            ),
        ),
        ("https://a.example.com,https://a.example.com/", ("https://a.example.com",)),
    ],
)
def test_cors_origins_normalised(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("CONTRACTGQL_CORS_ORIGINS", raw)
    assert load_settings().cors_origins == expected


EXAMPLE = "such as https://app.example.com or http://localhost:5173"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "app.example.com",
            "CONTRACTGQL_CORS_ORIGINS contains 'app.example.com', which is not an "
            "origin: write the scheme, host and port that the browser shows, "
            f"{EXAMPLE}.",
        ),
        (
            "ftp://app.example.com",
            "CONTRACTGQL_CORS_ORIGINS contains 'ftp://app.example.com', which is not "
            "an origin: write the scheme, host and port that the browser shows, "
            f"{EXAMPLE}.",
        ),
        (
            "*",
            "CONTRACTGQL_CORS_ORIGINS contains '*', which is not supported: list "
            f"each origin that may call the API, {EXAMPLE}, separated by commas.",
        ),
        (
            "https://app.example.com/graphql",
            "CONTRACTGQL_CORS_ORIGINS contains 'https://app.example.com/graphql', "
            "which has a path, query or user name: write only the scheme, host and "
            f"port, {EXAMPLE}.",
        ),
        (
            "https://app.example.com:99999",
            "CONTRACTGQL_CORS_ORIGINS contains 'https://app.example.com:99999', "
            "whose port is invalid: use a TCP port from 1 to 65535, "
            f"{EXAMPLE}.",
        ),
    ],
)
def test_cors_origin_rejected(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: str
) -> None:
    assert config_error(monkeypatch, "CONTRACTGQL_CORS_ORIGINS", raw) == expected


def test_log_level_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTGQL_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError) as raised:
        log_level_setting()
    assert str(raised.value) == (
        "CONTRACTGQL_LOG_LEVEL='LOUD' is not a log level: use one of DEBUG, INFO, "
        "WARNING, ERROR, CRITICAL."
    )


def test_log_level_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACTGQL_LOG_LEVEL", "debug")
    assert log_level_setting() == "DEBUG"
    monkeypatch.delenv("CONTRACTGQL_LOG_LEVEL")
    assert log_level_setting() == "INFO"


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_bad_log_level_exits_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setenv("CONTRACTGQL_LOG_LEVEL", "LOUD")
    assert cli.main([command]) == 2
    assert capsys.readouterr().err == (
        "contractgql: CONTRACTGQL_LOG_LEVEL='LOUD' is not a log level: use one of "
        "DEBUG, INFO, WARNING, ERROR, CRITICAL.\n"
    )


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_http_redis_url_exits_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setenv("CONTRACTGQL_REDIS_URL", "http://user:secret@127.0.0.1:6379/0")
    assert cli.main([command]) == 2
    assert capsys.readouterr().err == (
        "contractgql: CONTRACTGQL_REDIS_URL='http://127.0.0.1:6379/0' is not a Redis "
        "URL: use redis://host:6379/0, rediss:// for TLS, or "
        "unix:///path/to/socket.\n"
    )


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://cache:6380/1", "unix:///run/r.sock"]
)
def test_redis_url_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CONTRACTGQL_REDIS_URL", url)
    assert load_settings().redis_url == url
