"""A scratch database for the job tests, shared with the processes they start.

Scans read every organization, so these tests run them on a database of their own
instead of the suite's, which other tests fill. The `scratch` fixture points the ORM
at it for one test through a Tortoise context, and `scratch_env` gives subprocesses
such as `contractgql worker` the same database.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from tortoise.context import TortoiseContext

from contractgql import db
from contractgql.config import Settings
from tests.conftest import MigratedTemplate, drop_postgres_database

CONTRACTGQL = [sys.executable, "-m", "contractgql"]


@pytest_asyncio.fixture(scope="session")
async def scratch_settings(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: MigratedTemplate
) -> AsyncIterator[Settings]:
    """Create a migrated database of the backend under test, with no rows."""
    data_dir = tmp_path_factory.mktemp("jobs")
    database_url = await migrated_template.create_copy(data_dir)
    try:
        yield Settings(data_dir=data_dir, database_url=database_url)
    finally:
        if database_url is not None:
            await drop_postgres_database(database_url.rsplit("/", 1)[1])


def process_env(settings: Settings, **changes: str) -> dict[str, str]:
    """Return the environment of a contractgql process on the scratch database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CONTRACTGQL_")
    }
    env["CONTRACTGQL_DATA_DIR"] = str(settings.data_dir)
    env["CONTRACTGQL_SECRET_KEY"] = "jobs-test-secret-" + "k" * 32
    env["CONTRACTGQL_LOG_LEVEL"] = "INFO"
    env["PYTHONUNBUFFERED"] = "1"
    if settings.database_url:
        env["CONTRACTGQL_DATABASE_URL"] = settings.database_url
    env.update(changes)
    return env


@pytest_asyncio.fixture
async def scratch(scratch_settings: Settings) -> AsyncIterator[Settings]:
    """Send this test's ORM statements to the scratch database."""
    async with TortoiseContext() as context:
        await context.init(config=db.tortoise_config(scratch_settings))
        yield scratch_settings


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
