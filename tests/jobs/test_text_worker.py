"""Text extraction in a real `contractgql worker`, with a Redis server of its own."""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest

from contractgql.config import Settings
from contractgql.documents.indexing import EXTRACT_TEXT_JOB, start_extraction
from contractgql.documents.storage import storage_for
from contractgql.models import (
    Document,
    DocumentKind,
    DocumentText,
    DocumentVersion,
    TextStatus,
)
from tests.documents.helpers import pdf_bytes
from tests.jobs.conftest import process_env
from tests.jobs.factory import make_contracts, make_world
from tests.jobs.processes import RedisServer, Worker, wait_for, wait_until

# Loopback ports that the Redis server of this test may take, the first free one.
PORT_RANGE = range(18900, 19000)


def free_port_in_range() -> int:
    for port in PORT_RANGE:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"No free loopback port from {PORT_RANGE.start}")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, port=free_port_in_range())
    server.start()
    yield server
    server.stop()


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    yield content


async def pending_pdf_version(settings: Settings, word: str) -> int:
    """Store a PDF with `word` as a pending version of a contract's document."""
    world = await make_world()
    [contract_id] = await make_contracts(
        world, 1, start_date=date(2026, 1, 1), end_date=date(2027, 12, 31)
    )
    content = pdf_bytes(f"Annex {word}")
    stored = await storage_for(settings.resolved_document_dir).put(
        _chunks(content), max_bytes=len(content)
    )
    document = await Document.create(
        organization_id=world.organization.id,
        contract_id=contract_id,
        kind=DocumentKind.ADDENDUM,
        name="annex.pdf",
        last_version_number=1,
    )
    version = await DocumentVersion.create(
        organization_id=world.organization.id,
        document_id=document.id,
        number=1,
        file_name="annex.pdf",
        generated_name="Addendum_Acme_v1_2026-01-01.pdf",
        content_type="application/pdf",
        size=stored.size,
        sha256=stored.sha256,
    )
    return version.id


async def test_worker_extracts_enqueued_version(
    scratch: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    document_dir = tmp_path / "documents"
    queue = f"test:{uuid.uuid4().hex[:8]}"
    env = process_env(
        scratch,
        CONTRACTGQL_REDIS_URL=redis_server.url,
        CONTRACTGQL_WORKER_QUEUE=queue,
        CONTRACTGQL_DOCUMENT_DIR=str(document_dir),
    )
    settings = dataclasses.replace(
        scratch,
        redis_url=redis_server.url,
        worker_queue=queue,
        document_dir=document_dir,
    )
    worker = Worker.start(env, tmp_path / "worker.log")
    try:
        # The start-up sweep finishes before the version exists, so only the
        # enqueued job can extract it.
        wait_until(
            lambda: any(
                "←" in line and "extract_pending_texts" in line
                for line in worker.text().splitlines()
            ),
            60,
            "the worker's start-up text sweep",
        )
        word = "zq" + uuid.uuid4().hex[:12]
        version_id = await pending_pdf_version(settings, word)

        await start_extraction(settings, {version_id})

        async def extracted() -> bool:
            return await DocumentVersion.filter(
                id=version_id, text_status=TextStatus.DONE
            ).exists()

        await wait_for(extracted, 60, "the worker to extract the text")
        assert worker.stop() == 0, worker.text()
    finally:
        if worker.process.poll() is None:
            worker.kill()

    text = await DocumentText.get(version_id=version_id)
    assert word in text.text
    assert f"{EXTRACT_TEXT_JOB}({version_id})" in worker.text()


async def test_worker_sweep_extracts_pending_version(
    scratch: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    document_dir = tmp_path / "documents"
    settings = dataclasses.replace(scratch, document_dir=document_dir)
    word = "zq" + uuid.uuid4().hex[:12]
    version_id = await pending_pdf_version(settings, word)
    env = process_env(
        scratch,
        CONTRACTGQL_REDIS_URL=redis_server.url,
        CONTRACTGQL_WORKER_QUEUE=f"test:{uuid.uuid4().hex[:8]}",
        CONTRACTGQL_DOCUMENT_DIR=str(document_dir),
    )

    worker = Worker.start(env, tmp_path / "worker.log")
    try:

        async def extracted() -> bool:
            return await DocumentVersion.filter(
                id=version_id, text_status=TextStatus.DONE
            ).exists()

        await wait_for(extracted, 60, "the start-up sweep to extract the text")
        assert worker.stop() == 0, worker.text()
    finally:
        if worker.process.poll() is None:
            worker.kill()

    text = await DocumentText.get(version_id=version_id)
    assert word in text.text
