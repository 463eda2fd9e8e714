"""Import jobs: start, run, cancel and read imports that run in the background.

A job stores its file under data_dir/imports and runs `import_file` in one
database transaction, so a cancelled, failed or interrupted import writes no
contract, client, tag or audit event. With CONTRACTGQL_REDIS_URL set, a
`contractgql worker` runs the job. arq runs it again when a worker stops
mid-import (SIGTERM, or a crash once arq's job timeout has passed), and the
database has rolled the half import back. Without Redis the API process runs
jobs one at a time in the background and, after a restart, runs again the jobs
that were queued or running. A job that has started MAX_ATTEMPTS times is
marked failed.

Only roles with 'contract:write' may start, cancel and read import jobs: a
rejected row quotes its cells, amounts included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from tortoise.context import TortoiseContext
from tortoise.exceptions import OperationalError
from tortoise.expressions import F

from contractgql import db
from contractgql.audit.enqueue import ENQUEUE_TIMEOUT, forget_worker_pool, worker_pool
from contractgql.config import Settings
from contractgql.errors import FieldError, NotFound, PermissionDenied, ValidationError
from contractgql.ids import encode_id
from contractgql.importexport import progress as board
from contractgql.importexport.columns import MAP_COLUMN_HINT, mapping_errors
from contractgql.importexport.errors import ImportFileError, ValueParseError
from contractgql.importexport.importer import (
    ImportOptions,
    ImportProgress,
    ImportReport,
    ProgressCallback,
    import_file,
)
from contractgql.importexport.truncate import truncate_message, truncate_value
from contractgql.importexport.value_mapping import ValueMappings
from contractgql.importexport.values import parse_currency, parse_period
from contractgql.models import ImportFormat, ImportJob, ImportStatus, Organization, User
from contractgql.models.imports import FINISHED_STATUSES
from contractgql.security.fields import FieldWriteDenied
from contractgql.security.policy import PERMISSIONS, Policy
from contractgql.security.viewer import Viewer, system_viewer, viewer_for

logger = logging.getLogger(__name__)

# Name of the worker function that runs one import job.
IMPORT_JOB = "run_import"
# Starts of one job, the first included, before it is marked failed.
MAX_ATTEMPTS = 3
# Seconds one import may run in a worker before arq stops it and runs it again.
IMPORT_TIMEOUT = 3600
# Rejected rows and warnings stored on the job. The counts stay exact.
MAX_STORED_ERRORS = 1000
IMPORT_PERMISSION = "contract:write"
# Characters of an uploaded file's name that are kept, counted from the end.
MAX_FILE_NAME = 120
FILE_SUFFIXES = {
    ImportFormat.REGISTER: (".csv", ".xlsx", ".txt", ".tsv"),
    ImportFormat.DECP: (".json",),
}


class ImportCancelled(Exception):
    """Raised from the progress callback to stop an import and roll it back."""


class JobAlreadyFinished(ValidationError):
    """Raised on a cancel of a job that has already finished, which stays as it is."""

    def __init__(self, job: ImportJob) -> None:
        super().__init__(
            [FieldError("id", "already_finished", finished_job_message(job))]
        )
        self.job = job


def import_dir(settings: Settings) -> Path:
    return settings.data_dir / "imports"


def require_import_permission(viewer: Viewer) -> None:
    viewer.require(IMPORT_PERMISSION, "import contracts or read import jobs")


# --- Starting ---------------------------------------------------------------------


def options_json(
    *,
    mapping: dict[str, str] | None = None,
    currency: str | None = None,
    create_types: bool = False,
    default_notice_period: str | None = None,
    sheet: str | None = None,
    value_mappings: ValueMappings | None = None,
) -> dict[str, Any]:
    """Check the options of a new job and return them as the job stores them.

    Raises ValidationError naming the invalid option.
    """
    errors: list[FieldError] = []
    stored: dict[str, Any] = {"create_types": create_types}
    if mapping:
        errors.extend(
            FieldError("mapping", "invalid", message)
            for message in mapping_errors(mapping)
        )
        stored["mapping"] = dict(mapping)
    if sheet:
        stored["sheet"] = sheet
    if value_mappings:
        stored["value_mappings"] = {
            field: dict(targets) for field, targets in value_mappings.items()
        }
    if currency:
        try:
            stored["currency"] = parse_currency(currency)
        except ValueParseError as error:
            errors.append(FieldError("currency", "invalid", error.reason))
    if default_notice_period:
        try:
            stored["default_notice_period"] = list(parse_period(default_notice_period))
        except ValueParseError as error:
            errors.append(FieldError("defaultNoticePeriod", "invalid", error.reason))
    if errors:
        raise ValidationError(errors)
    return stored


def _options(job: ImportJob) -> ImportOptions:
    stored = job.options
    notice = stored.get("default_notice_period")
    return ImportOptions(
        mapping=stored.get("mapping"),
        sheet=stored.get("sheet"),
        currency=stored.get("currency"),
        create_types=bool(stored.get("create_types")),
        default_notice_period=(int(notice[0]), str(notice[1])) if notice else None,
        file_format=job.file_format.value,
        value_mappings=stored.get("value_mappings"),
        # A job stores counts and the first errors only, so its memory need not
        # grow per row, also when most rows are rejected.
        record_outcomes=False,
        max_kept_errors=MAX_STORED_ERRORS,
    )


async def store_upload(
    settings: Settings,
    file_name: str,
    file_format: ImportFormat,
    chunks: AsyncIterator[bytes],
) -> Path:
    """Write an uploaded file under data_dir/imports and return its path.

    Raises ValidationError for a wrong suffix, an empty file, or one larger than
    CONTRACTGQL_MAX_DOCUMENT_BYTES, and then deletes what it wrote.
    """
    suffix = Path(file_name).suffix.lower()
    if suffix not in FILE_SUFFIXES[file_format]:
        allowed = ", ".join(FILE_SUFFIXES[file_format])
        raise ValidationError(
            [
                FieldError(
                    "file",
                    "invalid_file_type",
                    f"{file_name!r} does not end in {allowed}: a {file_format.value} "
                    "import reads only those files.",
                )
            ]
        )
    # A folder per upload keeps the file's own name, which error messages quote.
    directory = import_dir(settings) / uuid.uuid4().hex
    directory.mkdir(parents=True)
    path = directory / _safe_name(file_name)
    size = 0
    try:
        with path.open("xb") as output:
            async for chunk in chunks:
                size += len(chunk)
                if size > settings.max_document_bytes:
                    raise ValidationError(
                        [
                            FieldError(
                                "file",
                                "too_large",
                                f"The file is larger than {settings.max_document_bytes}"
                                " bytes (CONTRACTGQL_MAX_DOCUMENT_BYTES). Split it "
                                "into several imports.",
                            )
                        ]
                    )
                output.write(chunk)
        if size == 0:
            raise ValidationError(
                [FieldError("file", "empty", "The file is empty: upload the register.")]
            )
    except BaseException:
        path.unlink(missing_ok=True)
        directory.rmdir()
        raise
    return path


def _safe_name(file_name: str) -> str:
    """Return the base name of an uploaded file with only portable characters."""
    name = Path(file_name.replace("\\", "/")).name
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in name)
    cleaned = cleaned.strip(" .")[-MAX_FILE_NAME:]
    return cleaned if Path(cleaned).suffix else f"import{Path(name).suffix.lower()}"


async def create_job(
    viewer: Viewer | None,
    organization_id: int,
    file_name: str,
    stored_path: Path,
    file_format: ImportFormat,
    options: dict[str, Any],
) -> ImportJob:
    """Insert a queued job. `viewer` None means the command line started it."""
    if viewer is not None:
        require_import_permission(viewer)
    job = await ImportJob.create(
        organization_id=organization_id,
        created_by_id=None if viewer is None else viewer.user_id,
        file_name=file_name[:255],
        stored_path=str(stored_path),
        file_format=file_format,
        options=options,
        status=ImportStatus.QUEUED,
    )
    logger.info(
        "Import job %d queued for organization %d: %s (%s)",
        job.id,
        organization_id,
        file_name,
        file_format.value,
    )
    return job


async def start_job(
    settings: Settings, policy: Callable[[], Policy], job: ImportJob
) -> None:
    """Hand a queued job to the workers, or run it in this process without Redis."""
    if settings.redis_url is None:
        start_local(settings, policy, job.id)
        return
    try:
        pool = await asyncio.wait_for(worker_pool(settings), ENQUEUE_TIMEOUT)
        await asyncio.wait_for(
            pool.enqueue_job(
                IMPORT_JOB,
                job.id,
                _job_id=f"{IMPORT_JOB}:{settings.worker_queue}:{job.id}",
                _queue_name=settings.worker_queue,
            ),
            ENQUEUE_TIMEOUT,
        )
    except Exception as error:  # noqa: BLE001 - reported on the job
        forget_worker_pool(settings)
        logger.error("Enqueueing import job %d failed: %r", job.id, error)
        await _finish(
            settings,
            job,
            ImportStatus.FAILED,
            failure="The import could not be handed to a worker because Redis "
            f"failed ({error!r}). Start the import again.",
        )


# --- Running ----------------------------------------------------------------------

_local_tasks: set[asyncio.Task[None]] = set()
_local_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


def start_local(settings: Settings, policy: Callable[[], Policy], job_id: int) -> None:
    """Run a job in a background task of this process, after the jobs before it."""
    task = asyncio.create_task(
        _run_local(settings, policy, job_id), name=f"import-job-{job_id}"
    )
    _local_tasks.add(task)
    task.add_done_callback(_local_tasks.discard)


async def _run_local(
    settings: Settings, policy: Callable[[], Policy], job_id: int
) -> None:
    loop = asyncio.get_running_loop()
    lock = _local_locks.setdefault(loop, asyncio.Lock())
    async with lock:
        try:
            if settings.is_sqlite:
                # Its own connection, so that the import's transaction does not
                # hold the connection that serves the API's requests.
                async with TortoiseContext() as context:
                    await context.init(config=db.tortoise_config(settings))
                    await db.prepare_sqlite_connection()
                    await run_job(settings, policy(), job_id)
            else:
                await run_job(settings, policy(), job_id)
        except Exception:
            logger.exception("Import job %d stopped with an error", job_id)


async def stop_local_jobs() -> None:
    """Cancel this process's running imports, which roll back and run at restart."""
    tasks = list(_local_tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def resume_local_jobs(settings: Settings, policy: Callable[[], Policy]) -> int:
    """Run again the jobs that were queued or running when the API last stopped.

    NOTE: every API process without Redis resumes every such job, so with several
    API processes on one PostgreSQL database a job can run twice at once. Run one
    API process, or set CONTRACTGQL_REDIS_URL, when imports are used.
    """
    ids = (
        await ImportJob.filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING])
        .order_by("id")
        .values_list("id", flat=True)
    )
    for job_id in ids:
        start_local(settings, policy, cast(int, job_id))
    if ids:
        logger.info("Resuming %d import jobs that a restart interrupted", len(ids))
    return len(ids)


@contextlib.asynccontextmanager
async def background_imports(
    settings: Settings, policy: Callable[[], Policy]
) -> AsyncIterator[None]:
    """Run this process's import jobs while the API serves, without Redis."""
    if settings.redis_url is None:
        await resume_local_jobs(settings, policy)
    try:
        yield
    finally:
        await stop_local_jobs()


async def run_job(
    settings: Settings,
    policy: Policy,
    job_id: int,
    *,
    observer: ProgressCallback | None = None,
    reports: list[ImportReport] | None = None,
) -> ImportJob | None:
    """Run a queued or interrupted job and store its outcome.

    Returns the finished job, or None when it had already finished or does not
    exist. asyncio cancellation (a worker's SIGTERM) propagates after the
    transaction rolled back and leaves the job running, to be run again.
    `observer` receives every progress update, and `reports` receives the report of
    a job that succeeded, for the command line.
    """
    job = await _claim(job_id)
    if job is None:
        return None
    if job.cancel_requested or await board.cancel_requested(settings, job.id):
        return await _finish(settings, job, ImportStatus.CANCELLED)
    if job.attempts > MAX_ATTEMPTS:
        return await _finish(
            settings,
            job,
            ImportStatus.FAILED,
            failure=f"The import was interrupted {MAX_ATTEMPTS} times before it "
            "finished, so it was not started again. Nothing was imported. Split the "
            "file or start it again.",
        )

    organization = await Organization.get(id=job.organization_id)
    try:
        viewer = await _viewer(job, organization, policy)
    except PermissionDenied as error:
        return await _finish(settings, job, ImportStatus.FAILED, failure=str(error))

    last = ImportProgress(job.total_rows or 0, 0, 0, 0)

    async def on_progress(current: ImportProgress) -> None:
        nonlocal last
        last = current
        await board.publish(settings, job.id, current)
        if observer is not None:
            await observer(current)
        if await _cancel_requested(settings, job.id):
            raise ImportCancelled

    logger.info("Import job %d started, attempt %d", job.id, job.attempts)
    try:
        report = await import_file(
            Path(job.stored_path),
            organization,
            _options(job),
            viewer=viewer,
            progress=on_progress,
        )
    except ImportCancelled:
        return await _finish(settings, job, ImportStatus.CANCELLED, progress=last)
    except ImportFileError as error:
        return await _finish(settings, job, ImportStatus.FAILED, failure=str(error))
    except FieldWriteDenied as error:
        failure = _field_write_denied_message(job, error)
        return await _finish(settings, job, ImportStatus.FAILED, failure=failure)
    except (PermissionDenied, ValidationError) as error:
        return await _finish(settings, job, ImportStatus.FAILED, failure=str(error))
    except Exception as error:
        if _is_sqlite_lock(error):
            logger.warning("Import job %d found the SQLite database locked", job.id)
            failure = (
                "The SQLite database stayed locked by another writer, such as "
                "another import or the API server recording audit events, so "
                "nothing was imported. Run the import again when that write is "
                "done, or use PostgreSQL when imports run next to other work."
            )
        else:
            logger.exception("Import job %d failed", job.id)
            failure = f"The import failed and nothing was imported: {error!r}."
        return await _finish(
            settings, job, ImportStatus.FAILED, progress=last, failure=failure
        )
    if reports is not None:
        reports.append(report)
    return await _finish(settings, job, ImportStatus.SUCCEEDED, report=report)


def _field_write_denied_message(job: ImportJob, error: FieldWriteDenied) -> str:
    """Return the failure of an import that sets fields its creator may not set,
    with how to leave their columns out of a register import."""
    if job.file_format is not ImportFormat.REGISTER:
        return str(error)
    return (
        f"{error} To import the other columns, ignore the columns of "
        f"{', '.join(error.fields)}: map each to '-', with --map \"HEADER=-\" on the "
        "command line, or with the field '-' in the mapping input of startImport."
    )


def _is_sqlite_lock(error: Exception) -> bool:
    """Return whether SQLite gave up waiting for another writer's lock."""
    return isinstance(error, OperationalError) and "database is locked" in str(error)


async def _claim(job_id: int) -> ImportJob | None:
    claimed = await ImportJob.filter(
        id=job_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
    ).update(
        status=ImportStatus.RUNNING,
        attempts=F("attempts") + 1,
        started_at=datetime.now(UTC),
    )
    if not claimed:
        return None
    return await ImportJob.get(id=job_id)


async def _cancel_requested(settings: Settings, job_id: int) -> bool:
    if await board.cancel_requested(settings, job_id):
        return True
    if settings.is_sqlite:
        # The import's transaction locks the SQLite file, so the cancel mutation
        # cannot write the row. It uses the board only.
        return False
    return await ImportJob.filter(id=job_id, cancel_requested=True).exists()


async def _viewer(job: ImportJob, organization: Organization, policy: Policy) -> Viewer:
    """Return the viewer the import acts as: its creator, checked again now."""
    if job.created_by_id is None:
        return system_viewer(organization, PERMISSIONS)
    user = (
        await User.filter(id=job.created_by_id, organization_id=job.organization_id)
        .select_related("organization")
        .first()
    )
    if user is None or not user.is_active:
        raise PermissionDenied(
            "The user who started the import was deactivated or deleted before it "
            "ran, so nothing was imported."
        )
    viewer = viewer_for(user, policy)
    require_import_permission(viewer)
    return viewer


async def _finish(
    settings: Settings,
    job: ImportJob,
    status: ImportStatus,
    *,
    report: ImportReport | None = None,
    progress: ImportProgress | None = None,
    failure: str | None = None,
) -> ImportJob:
    job.status = status
    job.finished_at = datetime.now(UTC)
    job.failure = _storable(failure)
    job.cancel_requested = status is ImportStatus.CANCELLED or job.cancel_requested
    if report is not None:
        _store_report(job, report)
    elif progress is not None:
        # The rows written so far were rolled back, so the created, updated and
        # unchanged counts stay 0. The rows rejected before the stop stay counted.
        job.total_rows = progress.total_rows
        job.rows_read = progress.rows_read
        job.rows_rejected = progress.rows_rejected
    try:
        await job.save()
    except Exception as error:
        # The import itself is over, committed or rolled back, and a job left
        # running would never finish, so the outcome is stored on a second try.
        if _is_sqlite_lock(error):
            # Another writer still holds SQLite's lock: wait for it once more.
            logger.warning("Import job %d: database locked, storing again", job.id)
        else:
            logger.exception("Import job %d: its report could not be stored", job.id)
            job.errors = []
            job.warnings = []
            job.failure = _storable(
                f"{failure + ' ' if failure else ''}The import finished, but its "
                "list of errors and warnings could not be stored "
                f"({type(error).__name__})."
            )
        await job.save()
    board.forget(job.id)
    _delete_stored_file(settings, job)
    logger.info(
        "Import job %d %s: %d read, %d created, %d updated, %d rejected%s",
        job.id,
        status.value,
        job.rows_read,
        job.rows_created,
        job.rows_updated,
        job.rows_rejected,
        f". {failure}" if failure else "",
    )
    return job


def _store_report(job: ImportJob, report: ImportReport) -> None:
    job.total_rows = report.total_rows
    job.rows_read = report.accounted_for
    job.rows_created = report.count("created")
    job.rows_updated = report.count("updated")
    job.rows_unchanged = report.count("unchanged")
    job.rows_duplicate = report.count("duplicate")
    job.rows_rejected = report.count("rejected")
    # The report has truncated its values already, and truncating again changes
    # nothing. Doing it here bounds the stored job on its own.
    job.errors = [
        {
            "row": error.row,
            "column": _storable(error.column),
            "value": _storable(truncate_value(error.value)),
            "reason": _storable(truncate_message(error.reason, error.value)),
            "field": error.field,
        }
        for error in report.errors[:MAX_STORED_ERRORS]
    ]
    job.warnings = [
        {
            "row": warning.row,
            "column": _storable(warning.column),
            "value": _storable(truncate_value(warning.value)),
            "message": _storable(truncate_message(warning.message, warning.value)),
            "field": warning.field,
        }
        for warning in report.warnings[:MAX_STORED_ERRORS]
    ]
    if report.unmapped_contract_types:
        listed = _storable(
            ", ".join(
                f"{truncate_value(name)!r} ({count})"
                for name, count in report.unmapped_contract_types.most_common(20)
            )
        )
        job.warnings.append(
            {
                "row": 0,
                "column": "contract_type",
                "value": listed,
                "message": "Contract types that do not exist were left empty. Create "
                "them, or import with createTypes, to set them.",
                "field": "contract_type",
            }
        )
    if report.ignored_columns:
        # The CLI prints the columns; a job has no other place to show them.
        job.warnings.append(
            {
                "row": 0,
                "column": None,
                "value": _storable(truncate_value(", ".join(report.ignored_columns))),
                "message": "These columns were not imported. Map one to a field "
                f"{MAP_COLUMN_HINT} if it holds contract data.",
                "field": None,
            }
        )


def _storable(value: Any) -> Any:
    """Return a text with each NUL character written as \\x00, which jsonb rejects.

    Rejected cells can contain one, and a job whose errors cannot be stored would
    stay running for good.
    """
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\\x00")
    return value


def _delete_stored_file(settings: Settings, job: ImportJob) -> None:
    """Delete the job's copy of an uploaded file, never a file the CLI imported."""
    path = Path(job.stored_path)
    stored_here = path.parent.parent.resolve() == import_dir(settings).resolve()
    if job.status in FINISHED_STATUSES and stored_here:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
            path.parent.rmdir()


# --- Reading and cancelling -------------------------------------------------------


async def get_job(viewer: Viewer, job_id: int) -> ImportJob:
    """Return a job of the viewer's organization, or raise NotFound."""
    require_import_permission(viewer)
    job = await ImportJob.filter(
        id=job_id, organization_id=viewer.organization_id
    ).first()
    if job is None:
        raise NotFound(
            f"Import job {encode_id('ImportJob', job_id)!r} does not exist in your "
            "organization."
        )
    return job


async def cancel_job(settings: Settings, viewer: Viewer, job_id: int) -> ImportJob:
    """Request that a queued or running job stop and write nothing.

    The job's status turns to cancelled when the import notices the request,
    within PROGRESS_EVERY rows. Raises JobAlreadyFinished, a ValidationError on the
    field `id`, and changes nothing, when the job has already finished.
    """
    job = await get_job(viewer, job_id)
    if job.status in FINISHED_STATUSES:
        raise JobAlreadyFinished(job)
    await board.request_cancel(settings, job.id)
    if not settings.is_sqlite:
        await ImportJob.filter(id=job.id).update(cancel_requested=True)
    job.cancel_requested = True
    logger.info("Cancel of import job %d requested by user %s", job.id, viewer.user_id)
    return job


_FINISHED_VERBS = {
    ImportStatus.SUCCEEDED: "already succeeded",
    ImportStatus.FAILED: "already failed",
    ImportStatus.CANCELLED: "was already cancelled",
}


def finished_job_message(job: ImportJob) -> str:
    """Return why a finished job cannot be cancelled, naming it by number and id."""
    when = ""
    if job.finished_at is not None:
        when = f" on {job.finished_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return (
        f"Import job {job.id} ({encode_id('ImportJob', job.id)}) "
        f"{_FINISHED_VERBS[job.status]}{when}; only a queued or running job can be "
        "cancelled."
    )


async def live_progress(settings: Settings, job: ImportJob) -> ImportProgress | None:
    """Return the progress of a running job, or None for jobs not running."""
    if job.status is not ImportStatus.RUNNING:
        return None
    return await board.read(settings, job.id)


async def is_cancel_requested(settings: Settings, job: ImportJob) -> bool:
    if job.cancel_requested:
        return True
    if job.status in FINISHED_STATUSES:
        return False
    try:
        return await board.cancel_requested(settings, job.id)
    except Exception as error:  # noqa: BLE001 - informative only
        logger.warning("Reading the cancel request of job %d failed: %r", job.id, error)
        return False
