"""The create-token command, run as a subprocess on a new database."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKEND, MigratedTemplate

# Creates a service account "robot@example.com" and a person "ann@example.com" in
# the organization "Acme", in the database that the environment names.
SETUP = """
import asyncio
from contractgql import db
from contractgql.config import load_settings
from contractgql.models import Organization, User

async def main():
    settings = load_settings()
    await db.connect(settings)
    organization = await Organization.create(name="Acme")
    await User.create(organization=organization, email="robot@example.com",
                      name="Robot", roles=["integrator"], is_service_account=True)
    await User.create(organization=organization, email="ann@example.com",
                      name="Ann", roles=["admin"])
    await db.disconnect()

asyncio.run(main())
"""


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def env(
    tmp_path: Path, migrated_template: MigratedTemplate
) -> Iterator[dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTGQL_")}
    env = {
        **base,
        "CONTRACTGQL_DATA_DIR": str(tmp_path / "data"),
        "CONTRACTGQL_LOG_LEVEL": "WARNING",
    }
    with migrated_template.copy(tmp_path / "data") as database_url:
        if database_url is not None:
            env["CONTRACTGQL_DATABASE_URL"] = database_url
        setup = run(env, "-c", SETUP)
        assert setup.returncode == 0, setup.stderr
        yield env


def test_create_token_prints_secret_once(env: dict[str, str]) -> None:
    result = run(
        env,
        "-m",
        "contractgql",
        "create-token",
        "--email",
        " Robot@Example.com",
        "--name",
        "ERP export",
        "--scope",
        "read:financial",
        "--expires-in-days",
        "30",
    )

    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    assert re.fullmatch(r"cgql_[A-Za-z0-9_-]{43}", secret)
    assert "Created API token 'ERP export' for robot@example.com" in result.stderr
    assert "with scopes read:financial" in result.stderr
    assert secret not in result.stderr
    if BACKEND == "sqlite":
        database = Path(env["CONTRACTGQL_DATA_DIR"]) / "contractgql.sqlite3"
        with sqlite3.connect(database) as connection:
            rows = connection.execute(
                "SELECT token_hash, prefix, created_by_id FROM api_tokens"
            ).fetchall()
        assert rows == [
            (hashlib.sha256(secret.encode()).hexdigest(), secret[:12], None)
        ]


def test_create_token_for_person_rejected(env: dict[str, str]) -> None:
    result = run(
        env,
        "-m",
        "contractgql",
        "create-token",
        "--email",
        "ann@example.com",
        "--name",
        "Mine",
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert "(ann@example.com) is a person, not a service account" in result.stderr


def test_create_token_unknown_email(env: dict[str, str]) -> None:
    result = run(
        env,
        "-m",
        "contractgql",
        "create-token",
        "--email",
        "x@example.com",
        "--name",
        "X",
    )

    assert result.returncode == 1
    assert "no user has the e-mail address 'x@example.com'" in result.stderr


def test_create_token_too_long_rejected(env: dict[str, str]) -> None:
    result = run(
        env,
        "-m",
        "contractgql",
        "create-token",
        "--email",
        "robot@example.com",
        "--name",
        "X",
        "--expires-in-days",
        "400",
    )

    assert result.returncode == 1
    assert "is more than 365 days ahead" in result.stderr
