"""The notification delivery settings read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from contractgql.config import ConfigError, load_settings

DELIVERY_VARIABLES = (
    "CONTRACTGQL_SMTP_HOST",
    "CONTRACTGQL_SMTP_PORT",
    "CONTRACTGQL_SMTP_TLS",
    "CONTRACTGQL_SMTP_USERNAME",
    "CONTRACTGQL_SMTP_PASSWORD",
    "CONTRACTGQL_SMTP_FROM",
    "CONTRACTGQL_SMTP_CA_FILE",
    "CONTRACTGQL_PUBLIC_URL",
    "CONTRACTGQL_CONTRACT_URL",
    "CONTRACTGQL_DIGEST_HOUR",
    "CONTRACTGQL_NOTIFICATION_POLL_INTERVAL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in DELIVERY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_turn_email_off() -> None:
    settings = load_settings()

    assert settings.smtp_host is None
    assert settings.smtp_port == 587
    assert settings.smtp_tls == "starttls"
    assert settings.public_url is None
    assert settings.contract_url is None
    assert settings.digest_hour == 7
    assert settings.notification_poll_interval == 5.0


def test_full_configuration_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    values = {
        "CONTRACTGQL_SMTP_HOST": "mail.example.com",
        "CONTRACTGQL_SMTP_PORT": "465",
        "CONTRACTGQL_SMTP_TLS": "IMPLICIT",
        "CONTRACTGQL_SMTP_USERNAME": "robot",
        "CONTRACTGQL_SMTP_PASSWORD": "secret",
        "CONTRACTGQL_SMTP_FROM": "Contracts <contracts@example.com>",
        "CONTRACTGQL_SMTP_CA_FILE": str(ca_file),
        "CONTRACTGQL_PUBLIC_URL": "https://contracts.example.com/",
        "CONTRACTGQL_CONTRACT_URL": "https://crm.example.com/contracts/{id}",
        "CONTRACTGQL_DIGEST_HOUR": "6",
        "CONTRACTGQL_NOTIFICATION_POLL_INTERVAL": "2.5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()

    assert settings.smtp_host == "mail.example.com"
    assert settings.smtp_port == 465
    assert settings.smtp_tls == "implicit"
    assert settings.smtp_username == "robot"
    assert settings.smtp_password == "secret"
    assert settings.smtp_from == "Contracts <contracts@example.com>"
    assert settings.smtp_ca_file == str(ca_file)
    assert settings.public_url == "https://contracts.example.com"
    assert settings.contract_url == "https://crm.example.com/contracts/{id}"
    assert settings.digest_hour == 6
    assert settings.notification_poll_interval == 2.5


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"CONTRACTGQL_SMTP_TLS": "ssl"},
            "CONTRACTGQL_SMTP_TLS='ssl' is not supported: use starttls, implicit or "
            "none.",
        ),
        (
            {"CONTRACTGQL_SMTP_HOST": "mail.example.com"},
            "CONTRACTGQL_SMTP_HOST is set but CONTRACTGQL_SMTP_FROM is missing: set "
            "the sender address, such as 'Contracts <contracts@example.com>'.",
        ),
        (
            {
                "CONTRACTGQL_SMTP_HOST": "mail.example.com",
                "CONTRACTGQL_SMTP_FROM": "a@example.com",
                "CONTRACTGQL_SMTP_PORT": "70000",
            },
            "CONTRACTGQL_SMTP_PORT=70000 is out of range: use a TCP port from 1 to "
            "65535, such as 587 for STARTTLS or 465 for implicit TLS.",
        ),
        (
            {"CONTRACTGQL_SMTP_USERNAME": "robot"},
            "Only one of CONTRACTGQL_SMTP_USERNAME and CONTRACTGQL_SMTP_PASSWORD is "
            "set: set both to log in to the SMTP server, or neither.",
        ),
        (
            {
                "CONTRACTGQL_SMTP_TLS": "none",
                "CONTRACTGQL_SMTP_USERNAME": "robot",
                "CONTRACTGQL_SMTP_PASSWORD": "secret",
            },
            "CONTRACTGQL_SMTP_TLS=none would send the SMTP password unencrypted: use "
            "starttls or implicit, or leave out the username and password.",
        ),
        (
            {"CONTRACTGQL_SMTP_CA_FILE": "/nonexistent/ca.pem"},
            "CONTRACTGQL_SMTP_CA_FILE='/nonexistent/ca.pem' is not a file: give the "
            "path of a PEM file with the certificate authorities to trust.",
        ),
        (
            {"CONTRACTGQL_PUBLIC_URL": "contracts.example.com"},
            "CONTRACTGQL_PUBLIC_URL='contracts.example.com' is not an http(s) URL: "
            "use the address users reach the server at, such as "
            "'https://contracts.example.com'.",
        ),
        (
            {"CONTRACTGQL_CONTRACT_URL": "https://crm.example.com/contracts"},
            "CONTRACTGQL_CONTRACT_URL='https://crm.example.com/contracts' has no "
            "'{id}': write a link template such as "
            "'https://crm.example.com/contracts/{id}'.",
        ),
        (
            {"CONTRACTGQL_DIGEST_HOUR": "24"},
            "CONTRACTGQL_DIGEST_HOUR=24 is out of range: use an hour from 0 to 23.",
        ),
        (
            {"CONTRACTGQL_NOTIFICATION_POLL_INTERVAL": "0"},
            "CONTRACTGQL_NOTIFICATION_POLL_INTERVAL=0.0 is out of range: use from "
            "0.05 to 3600 seconds.",
        ),
        (
            {"CONTRACTGQL_NOTIFICATION_POLL_INTERVAL": "nan"},
            "CONTRACTGQL_NOTIFICATION_POLL_INTERVAL=nan is out of range: use from "
            "0.05 to 3600 seconds.",
        ),
        (
            {"CONTRACTGQL_NOTIFICATION_POLL_INTERVAL": "often"},
            "CONTRACTGQL_NOTIFICATION_POLL_INTERVAL='often' is not a number.",
        ),
    ],
    ids=[
        "tls-mode",
        "no-sender",
        "port",
        "username-only",
        "password-in-clear",
        "ca-file",
        "public-url",
        "contract-url",
        "digest-hour",
        "poll-zero",
        "poll-nan",
        "poll-text",
    ],
)
def test_invalid_setting_rejected(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], message: str
) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as raised:
        load_settings()

    assert str(raised.value) == message
