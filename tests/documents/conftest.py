"""An app with its own document folder, so each test finds only its own files."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contractgql.app import create_app
from contractgql.config import Settings
from tests.conftest import Api, Tenant

# Small limits, so that the size tests send little data.
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024


@pytest.fixture
def document_dir(tmp_path: Path) -> Path:
    return tmp_path / "documents"


@pytest.fixture
def document_settings(settings: Settings, document_dir: Path) -> Settings:
    return dataclasses.replace(
        settings,
        document_dir=document_dir,
        max_document_bytes=MAX_DOCUMENT_BYTES,
        max_body_bytes=MAX_BODY_BYTES,
    )


@pytest_asyncio.fixture
async def document_app(document_settings: Settings) -> Any:
    return create_app(document_settings, manage_database=False)


@pytest_asyncio.fixture
async def document_client(document_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=document_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest_asyncio.fixture
async def docs(document_client: httpx.AsyncClient, tenant: Tenant) -> Api:
    """The tenant's API on the app with its own document folder."""
    return Api(document_client, tenant)
