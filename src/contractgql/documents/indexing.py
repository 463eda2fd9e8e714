"""Text extraction jobs: fill DocumentText for the search in documents.

Every new version starts with the text status PENDING. After a request that
created versions, the API enqueues one arq job per version for the workers, or,
without Redis, extracts the text in its own process once the response is sent.
A periodic sweep, in the workers and in `contractgql serve`, extracts every
version that is still pending, such as those of a request whose job was lost.

A version's result is written only while its status is PENDING, so two jobs for
the same version store one text. A version whose extraction started
MAX_ATTEMPTS times without finishing, because its process crashed or was
stopped each time, is marked FAILED.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import tempfile
from datetime import UTC, datetime
from typing import BinaryIO

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from contractgql.audit.enqueue import ENQUEUE_TIMEOUT, forget_worker_pool, worker_pool
from contractgql.config import Settings
from contractgql.documents.sniffing import DOCX, PDF
from contractgql.documents.storage import StoredFileMissing, storage_for
from contractgql.documents.text import (
    EXTRACTION_SECONDS,
    MAX_ERROR_CHARS,
    Extraction,
    extract_text,
)
from contractgql.models import DocumentText, DocumentVersion, TextStatus

logger = logging.getLogger(__name__)

# Name of the worker function that extracts the text of one version.
EXTRACT_TEXT_JOB = "extract_document_text"
# Types whose text is extracted. Versions of other types get UNSUPPORTED.
EXTRACTED_TYPES = frozenset({PDF.content_type, DOCX.content_type})
# Starts of one version's extraction before it is marked FAILED.
MAX_ATTEMPTS = 3
# Versions that one sweep extracts. The next sweep continues with the rest.
SWEEP_BATCH = 100
# Seconds that the caller waits for one extraction. The extraction checks its
# own time between pages, so this only catches a single page that hangs.
WAIT_SECONDS = EXTRACTION_SECONDS * 2
# Bytes of a file that are kept in memory while it is extracted. Larger files
# go to a temporary file.
SPOOL_BYTES = 8 * 1024 * 1024

# The ids of the versions that the current request created, when the request
# collects them (GraphQLApp sets it for every HTTP request).
pending_versions: contextvars.ContextVar[set[int] | None] = contextvars.ContextVar(
    "pending_versions", default=None
)


def initial_status(content_type: str) -> TextStatus:
    """Return the text status of a new version of `content_type`."""
    if content_type in EXTRACTED_TYPES:
        return TextStatus.PENDING
    return TextStatus.UNSUPPORTED


def note_new_version(version: DocumentVersion) -> None:
    """Remember a new pending version for extraction after the request."""
    versions = pending_versions.get()
    if versions is not None and version.text_status is TextStatus.PENDING:
        versions.add(version.id)


async def extract_version(settings: Settings, version_id: int) -> TextStatus | None:
    """Extract and store the text of one pending version and return its status.

    Returns None when the version does not exist or is not pending any more.
    """
    version = await DocumentVersion.filter(
        id=version_id, text_status=TextStatus.PENDING
    ).first()
    if version is None:
        return None
    if version.content_type not in EXTRACTED_TYPES:
        return await _finish(version, Extraction(TextStatus.UNSUPPORTED))
    if version.text_attempts >= MAX_ATTEMPTS:
        return await _finish(
            version,
            Extraction(
                TextStatus.FAILED,
                error=f"The extraction started {version.text_attempts} times "
                "without finishing, so it was given up.",
            ),
        )
    started = await DocumentVersion.filter(
        id=version.id, text_status=TextStatus.PENDING
    ).update(text_attempts=F("text_attempts") + 1)
    if not started:
        return None
    try:
        extraction = await asyncio.wait_for(
            _extract_stored(settings, version), WAIT_SECONDS
        )
    except StoredFileMissing:
        extraction = Extraction(
            TextStatus.FAILED,
            error=f"The file {version.sha256} is missing from the document storage.",
        )
    except TimeoutError:
        # NOTE: the thread of the extraction cannot be stopped and runs on.
        extraction = Extraction(
            TextStatus.FAILED,
            error=f"The extraction took longer than {WAIT_SECONDS:.0f} s.",
        )
    return await _finish(version, extraction)


async def _extract_stored(settings: Settings, version: DocumentVersion) -> Extraction:
    storage = storage_for(settings.resolved_document_dir)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        async for chunk in storage.read(version.sha256):
            await asyncio.to_thread(spool.write, chunk)
        spool.seek(0)
        handle: BinaryIO = spool  # type: ignore[assignment]
        return await asyncio.to_thread(extract_text, version.content_type, handle)


async def _finish(
    version: DocumentVersion, extraction: Extraction
) -> TextStatus | None:
    """Store the outcome, unless another job stored one first."""
    error = None
    if extraction.error:
        error = extraction.error[:MAX_ERROR_CHARS]
    async with in_transaction():
        updated = await DocumentVersion.filter(
            id=version.id, text_status=TextStatus.PENDING
        ).update(
            text_status=extraction.status,
            text_error=error,
            text_extracted_at=datetime.now(UTC),
        )
        if not updated:
            return None
        if extraction.status is TextStatus.DONE:
            await DocumentText.create(
                organization_id=version.organization_id,
                document_id=version.document_id,
                version_id=version.id,
                version_number=version.number,
                text=extraction.text,
                truncated=extraction.truncated,
            )
    if extraction.status is TextStatus.FAILED:
        logger.warning(
            "Text extraction of document version %d failed: %s",
            version.id,
            extraction.error,
        )
    else:
        logger.info(
            "Text extraction of document version %d: %s%s",
            version.id,
            extraction.status.value,
            ", cut to the maximum length" if extraction.truncated else "",
        )
    return extraction.status


async def extract_pending(settings: Settings, limit: int = SWEEP_BATCH) -> int:
    """Extract up to `limit` pending versions, oldest first, and return the count."""
    ids: list[int] = await (
        DocumentVersion.filter(text_status=TextStatus.PENDING)
        .order_by("id")
        .limit(limit)
        .values_list("id", flat=True)
    )  # type: ignore[assignment]
    done = 0
    for version_id in ids:
        try:
            if await extract_version(settings, version_id) is not None:
                done += 1
        except Exception:
            logger.exception(
                "Text extraction of document version %s failed; the next sweep retries",
                version_id,
            )
    return done


async def start_extraction(settings: Settings, version_ids: set[int]) -> None:
    """Enqueue an extraction job per version, or extract them in this process.

    A failure is logged and never fails the request: the versions stay pending
    until the next sweep.
    """
    for version_id in sorted(version_ids):
        if settings.redis_url is None:
            try:
                await extract_version(settings, version_id)
            except Exception:
                logger.exception(
                    "Text extraction of document version %d failed; the next "
                    "sweep retries",
                    version_id,
                )
            continue
        try:
            pool = await asyncio.wait_for(worker_pool(settings), ENQUEUE_TIMEOUT)
            await asyncio.wait_for(
                pool.enqueue_job(
                    EXTRACT_TEXT_JOB,
                    version_id,
                    _job_id=f"{EXTRACT_TEXT_JOB}:{settings.worker_queue}:{version_id}",
                    _queue_name=settings.worker_queue,
                ),
                ENQUEUE_TIMEOUT,
            )
        except Exception as error:  # noqa: BLE001 - the sweep extracts it later
            forget_worker_pool(settings)
            logger.warning(
                "Enqueueing the text extraction of document version %d failed: "
                "%r. It waits for the next sweep.",
                version_id,
                error,
            )
