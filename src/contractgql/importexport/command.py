"""The `contractgql import` command and the import job commands next to it.

`contractgql import` records an import job and runs it in this process with a
progress bar. Ctrl-C cancels it, and then nothing is written. `--enqueue` hands
the job to `contractgql worker` instead. A dry run or `--strict` import runs
without a job record.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from contractgql.config import Settings
from contractgql.importexport.errors import ImportFileError, ValueParseError
from contractgql.importexport.importer import (
    ImportOptions,
    ImportProgress,
    ImportReport,
    import_file,
)
from contractgql.importexport.truncate import truncate_message, truncate_value
from contractgql.importexport.value_mapping import CHOICE_FIELDS, value_mappings
from contractgql.importexport.values import parse_period

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from contractgql.models import ImportJob, Organization
    from contractgql.security.policy import Policy

# Exit status of an import that Ctrl-C cancelled, as shells report SIGINT.
EXIT_CANCELLED = 130


def add_import_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = commands.add_parser(
        "import",
        help="Import contracts from a CSV or XLSX register.",
        description="Import contracts from a CSV (any delimiter) or XLSX file. Headers "
        "in English or Dutch are recognised; --map names the others. Rows with the "
        "number of an existing contract update it. Invalid rows are reported with "
        "row, column, value and reason, and skipped; the rest is written in one "
        "transaction. Exits 1 when any row was rejected.",
    )
    parser.add_argument("file", type=Path, help="The CSV or XLSX file.")
    parser.add_argument(
        "--organization", required=True, help="Name of the organization to import into."
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="HEADER=FIELD",
        help="Map a column to a field, e.g. 'Vendor=client'; 'HEADER=-' ignores the "
        "column. Repeat for several columns.",
    )
    parser.add_argument(
        "--map-value",
        action="append",
        default=[],
        metavar="FIELD=SOURCE=TARGET",
        help="Map a value of a choice column onto a list value, e.g. "
        "'contract_type=Onderhoud=Maintenance contract'; the source is compared "
        "without case. Fields: " + ", ".join(CHOICE_FIELDS) + ". Repeatable.",
    )
    parser.add_argument(
        "--preview-values",
        action="store_true",
        help="List each distinct value of each choice column and the list value "
        "it maps to, then stop without importing.",
    )
    parser.add_argument(
        "--sheet", help="Worksheet of an XLSX file (default: the first)."
    )
    parser.add_argument(
        "--currency",
        help="ISO 4217 currency for rows without one (default: the organization's).",
    )
    parser.add_argument(
        "--create-types",
        action="store_true",
        help="Create contract types that do not exist yet, instead of leaving the "
        "type empty and listing the value.",
    )
    parser.add_argument(
        "--default-notice-period",
        metavar="PERIOD",
        help="Notice period for rows without one, such as '3 months' or '30 days'.",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="Write nothing when any row is rejected.",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Check every row and print what would happen to it; write nothing.",
    )
    parser.add_argument(
        "--format",
        choices=("register", "decp"),
        default="register",
        help="register: a CSV or XLSX file (default). decp: French public "
        "procurement JSON, whose buyers become the clients.",
    )
    parser.add_argument(
        "--enqueue",
        action="store_true",
        help="Queue the import for `contractgql worker`, print the job id and "
        "return. Needs CONTRACTGQL_REDIS_URL, and the worker must read the file at "
        "the same path.",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="Hide the progress bar, which shows only on a terminal anyway.",
    )
    parser.set_defaults(handler=run_import)

    status = commands.add_parser(
        "import-status",
        help="Print the status and counts of an import job.",
        description="Print the status, row counts and rejected rows of an import "
        "job, given its number or global id.",
    )
    status.add_argument("job", help="The job number, or its global id.")
    status.set_defaults(handler=run_import_status)

    cancel = commands.add_parser(
        "import-cancel",
        help="Cancel a queued or running import job; it writes nothing.",
        description="Request that an import job stop. The import rolls back and "
        "writes nothing. A job that `contractgql import` runs on SQLite without "
        "Redis can only be cancelled with Ctrl-C in its terminal.",
    )
    cancel.add_argument("job", help="The job number, or its global id.")
    cancel.set_defaults(handler=run_import_cancel)

    template = commands.add_parser(
        "import-template",
        help="Write the XLSX import template of an organization.",
        description="Write the XLSX import template: the headers the importer "
        "reads, drop-down lists with the organization's contract types and the "
        "choices of status, payment frequency, currency and auto-renewal, and an "
        "example row.",
    )
    template.add_argument("output", type=Path, help="The .xlsx file to write.")
    template.add_argument(
        "--organization", required=True, help="Name of the organization."
    )
    template.set_defaults(handler=run_import_template)


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        mapping = _parse_mapping(args.map)
        mapped_values = value_mappings(args.map_value)
        notice = (
            parse_period(args.default_notice_period)
            if args.default_notice_period
            else None
        )
    except (ValueError, ValueParseError) as error:
        print(f"contractgql import: {error}", file=sys.stderr)
        return 2
    options = ImportOptions(
        mapping=mapping or None,
        sheet=args.sheet,
        currency=args.currency.upper() if args.currency else None,
        dry_run=args.dry_run,
        create_types=args.create_types,
        strict=args.strict,
        default_notice_period=notice,
        file_format=args.format,
        value_mappings=mapped_values or None,
        # Only a dry run prints the outcome of every row.
        record_outcomes=args.dry_run,
    )
    if args.preview_values:
        return asyncio.run(
            _run_preview(args.file, args.organization, options, settings)
        )
    run = _Run(args, options, settings)
    return asyncio.run(run.main())


class _Run:
    """One `contractgql import`: the database connection, the job and the bar."""

    def __init__(
        self, args: argparse.Namespace, options: ImportOptions, settings: Settings
    ) -> None:
        self.args = args
        self.options = options
        self.settings = settings
        self.bar = _ProgressBar(enabled=not args.no_progress and sys.stderr.isatty())

    async def main(self) -> int:
        from contractgql import db

        if self.settings.is_sqlite:
            await db.migrate(self.settings)
        await db.connect(self.settings)
        try:
            organization = await _organization(self.args.organization, "import")
            if organization is None:
                return 2
            if self.options.dry_run or self.options.strict:
                report = await import_file(
                    self.args.file,
                    organization,
                    self.options,
                    progress=self.bar.update,
                )
            else:
                return await self._run_job(organization.id)
        except ImportFileError as error:
            print(f"contractgql import: {error}", file=sys.stderr)
            return 2
        finally:
            self.bar.close()
            await db.disconnect()

        print_report(report, verbose=self.options.dry_run)
        return 1 if report.errors else 0

    async def _run_job(self, organization_id: int) -> int:
        from contractgql.errors import ValidationError
        from contractgql.importexport import jobs
        from contractgql.importexport import progress as board
        from contractgql.models import ImportFormat, ImportStatus
        from contractgql.security.policy import Policy

        args = self.args
        path = args.file.resolve()
        if not path.is_file():
            raise ImportFileError(f"Cannot read {path}: no such file. Check the path.")
        try:
            stored = jobs.options_json(
                mapping=self.options.mapping,
                currency=self.options.currency,
                create_types=self.options.create_types,
                default_notice_period=args.default_notice_period,
                sheet=self.options.sheet,
                value_mappings=self.options.value_mappings,
            )
        except ValidationError as error:
            print(f"contractgql import: {error.message}", file=sys.stderr)
            return 2
        job = await jobs.create_job(
            None, organization_id, path.name, path, ImportFormat(args.format), stored
        )
        policy = Policy.load(self.settings.policy_dir)
        if args.enqueue:
            return await self._enqueue(job, policy)

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, board.request_cancel_here, job.id)
        print(f"Import job {job.id} started; Ctrl-C cancels it.", file=sys.stderr)
        reports: list[ImportReport] = []
        try:
            finished = await jobs.run_job(
                self.settings,
                policy,
                job.id,
                observer=self.bar.update,
                reports=reports,
            )
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            self.bar.close()

        assert finished is not None, "a job this command created is never finished"
        if finished.status is ImportStatus.CANCELLED:
            print(
                f"Import job {job.id} cancelled: nothing was imported.", file=sys.stderr
            )
            return EXIT_CANCELLED
        if finished.status is ImportStatus.FAILED:
            print(f"contractgql import: {finished.failure}", file=sys.stderr)
            return 2
        [report] = reports
        print_report(report, verbose=False)
        print(f"Import job {job.id} succeeded.")
        return 1 if report.errors else 0

    async def _enqueue(self, job: ImportJob, policy: Policy) -> int:
        from contractgql.importexport import jobs
        from contractgql.models import ImportStatus

        if self.settings.redis_url is None:
            await job.delete()
            print(
                "contractgql import: --enqueue needs CONTRACTGQL_REDIS_URL, the "
                "Redis of the workers. Leave out --enqueue to import here.",
                file=sys.stderr,
            )
            return 2
        await jobs.start_job(self.settings, lambda: policy, job)
        await job.refresh_from_db()
        if job.status is ImportStatus.FAILED:
            print(f"contractgql import: {job.failure}", file=sys.stderr)
            return 2
        print(
            f"Import job {job.id} queued; follow it with: contractgql import-status "
            f"{job.id}"
        )
        return 0


class _ProgressBar:
    """A rich progress bar on standard error, updated from import progress."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    async def update(self, current: ImportProgress) -> None:
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import Progress

        if self._progress is None or self._task is None:
            self._progress = Progress(console=Console(stderr=True))
            self._progress.start()
            self._task = self._progress.add_task("Importing", total=current.total_rows)
        self._progress.update(
            self._task,
            completed=current.rows_read,
            description=f"Importing: {current.rows_written} written, "
            f"{current.rows_rejected} rejected",
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


async def _organization(name: str, command: str) -> Organization | None:
    """Return the organization named `name`, or print the names there are."""
    from contractgql.models import Organization

    name = " ".join(name.split())
    organization = await Organization.filter(name=name).first()
    if organization is None:
        names = await Organization.all().order_by("name").values_list("name", flat=True)
        choices = ", ".join(repr(name) for name in names)
        hint = f"use one of {choices}" if choices else "create one with create-user"
        print(
            f"contractgql {command}: organization {name!r} does not exist: {hint}.",
            file=sys.stderr,
        )
    return organization


def _parse_mapping(items: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        header, sep, target = item.partition("=")
        if not sep or not header.strip():
            raise ValueError(
                f"--map {item!r} is not HEADER=FIELD: write it as 'Vendor=client'."
            )
        mapping[header.strip()] = target.strip()
    return mapping


def print_report(
    report: ImportReport, *, verbose: bool, out: TextIO | None = None
) -> None:
    stream = out if out is not None else sys.stdout

    def write(line: str) -> None:
        print(line, file=stream)

    title = "Dry run of" if report.dry_run else "Imported"
    rows = _plural(report.total_rows, "row")
    write(f"{title} {report.path} ({rows}, {report.seconds:.1f} s)")
    write(
        "Columns: " + ", ".join(f"{h} -> {f}" for f, h in report.mapped_columns.items())
    )
    if report.ignored_columns:
        write("Ignored columns: " + ", ".join(report.ignored_columns))
    if verbose:
        for outcome in report.outcomes:
            detail = f" ({outcome.detail})" if outcome.detail else ""
            number = outcome.number or "(no number)"
            write(f"  row {outcome.row}: {outcome.outcome} {number}{detail}")
    for error in report.errors:
        column = error.column or "-"
        write(
            f"  row {error.row}, column {column}, value {error.value!r}: {error.reason}"
        )
    if report.errors_not_kept:
        write(
            f"  {_plural_is(report.errors_not_kept, 'more error')} not listed; fix "
            "the rows above and import the file again to see them"
        )
    _print_warnings(report, write)
    if report.unmapped_contract_types:
        common = report.unmapped_contract_types.most_common()
        listed = ", ".join(
            f"{truncate_value(name)!r} ({count})" for name, count in common[:10]
        )
        more = f" and {len(common) - 10} more" if len(common) > 10 else ""
        write(
            "Contract types not found, left empty (pass --create-types to create "
            f"them): {listed}{more}"
        )
    would = "would be " if report.dry_run or report.rolled_back else ""
    if report.rolled_back:
        write(
            "Nothing was written: --strict rolls the whole import back when a row "
            "is rejected. Fix the rejected rows and import the file again."
        )
    write(
        f"{report.count('created')} {would}created, {report.count('updated')} {would}"
        f"updated, {report.count('unchanged')} unchanged, "
        f"{_plural(report.count('duplicate'), 'duplicate')}, "
        f"{report.count('rejected')} rejected; "
        f"{_plural(report.created_clients, 'new client')}; {report.accounted_for} "
        f"of {rows} accounted for."
    )


def _plural(count: int, noun: str) -> str:
    """Return `count` and `noun`, with an "s" unless the count is 1."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _plural_is(count: int, noun: str) -> str:
    """Return `count` and `noun` with the verb "is" or "are" to agree."""
    return f"{count} {noun} is" if count == 1 else f"{count} {noun}s are"


def _print_warnings(report: ImportReport, write: Callable[[str], None]) -> None:
    """Write the report's warnings, at most as many as an import job stores."""
    from contractgql.importexport.jobs import MAX_STORED_ERRORS

    for warning in report.warnings[:MAX_STORED_ERRORS]:
        column = warning.column or "-"
        write(
            f"  warning row {warning.row}, column {column}, value "
            f"{warning.value!r}: {warning.message}"
        )
    if len(report.warnings) > MAX_STORED_ERRORS:
        write(
            f"  {_plural_is(len(report.warnings) - MAX_STORED_ERRORS, 'more warning')} "
            "not listed"
        )


def run_import_status(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_import_status(args.job, settings))


def run_import_cancel(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_import_cancel(args.job, settings))


def run_import_template(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_import_template(args.output, args.organization, settings))


async def _connect(settings: Settings) -> None:
    """Connect the ORM, creating or upgrading an embedded SQLite database first."""
    from contractgql import db

    if settings.is_sqlite:
        await db.migrate(settings)
    await db.connect(settings)


async def _job(text: str, command: str) -> ImportJob | None:
    """Return the job that `text` names by number or global id, or print why not."""
    from contractgql.errors import InvalidArgument
    from contractgql.ids import decode_id
    from contractgql.models import ImportJob

    job_id: int | None = None
    if text.isdigit():
        job_id = int(text)
    else:
        try:
            type_name, pk = decode_id(text)
        except InvalidArgument:
            type_name, pk = "", 0
        job_id = pk if type_name == "ImportJob" else None
    job = None if job_id is None else await ImportJob.filter(id=job_id).first()
    if job is None:
        print(
            f"contractgql {command}: import job {text!r} does not exist. Give the "
            "number that `contractgql import` printed, or the job's global id.",
            file=sys.stderr,
        )
    return job


async def _import_status(text: str, settings: Settings) -> int:
    from contractgql import db
    from contractgql.importexport import jobs

    await _connect(settings)
    try:
        job = await _job(text, "import-status")
        if job is None:
            return 2
        live = await jobs.live_progress(settings, job)
    finally:
        await db.disconnect()

    print(f"Import job {job.id}: {job.status.value}, file {job.file_name}")
    if live is None and _progress_out_of_reach(settings, job):
        print(
            "Progress is unknown here: without CONTRACTGQL_REDIS_URL only the process "
            "that runs the job knows it. Query importJob in the API that runs it."
        )
    elif live is not None:
        print(
            f"{live.rows_read} of {live.total_rows} rows read, {live.rows_written} "
            f"written, {live.rows_rejected} rejected"
        )
    else:
        print(stored_counts(job))
    if job.failure:
        print(f"Failure: {job.failure}")
    # Jobs stored before values were truncated can hold whole cells.
    for error in job.errors:
        print(
            f"  row {error['row']}, column {error['column'] or '-'}, value "
            f"{truncate_value(error['value'])!r}: "
            f"{truncate_message(error['reason'], error['value'])}"
        )
    if len(job.errors) >= jobs.MAX_STORED_ERRORS:
        print(
            f"  only the first {jobs.MAX_STORED_ERRORS} errors are kept; fix them and "
            "import the file again to see the next ones"
        )
    for warning in job.warnings:
        print(
            f"  warning row {warning['row']}, column {warning['column'] or '-'}, "
            f"value {truncate_value(warning['value'])!r}: "
            f"{truncate_message(warning['message'], warning['value'])}"
        )
    return 0


def stored_counts(job: ImportJob) -> str:
    """Return the row counts of a job that is not running, as import-status prints
    them."""
    from contractgql.models import ImportStatus

    read = f"{job.rows_read} of {job.total_rows or 0} rows read"
    if job.status not in (ImportStatus.CANCELLED, ImportStatus.FAILED):
        return (
            f"{read}: {job.rows_created} created, {job.rows_updated} updated, "
            f"{job.rows_unchanged} unchanged, {job.rows_duplicate} duplicates, "
            f"{job.rows_rejected} rejected"
        )
    # The import was rolled back, so the rows it wrote are gone. It stores the
    # rejected rows themselves only when it runs to the end.
    stopped = "was cancelled" if job.status is ImportStatus.CANCELLED else "failed"
    line = (
        f"{read}, {job.rows_rejected} rejected, before the import {stopped}. It was "
        "rolled back, so no row was imported"
    )
    if job.rows_rejected and not job.errors:
        line += ", and rejected rows are listed only when an import runs to the end"
    return line + "."


def _progress_out_of_reach(settings: Settings, job: ImportJob) -> bool:
    """Tell whether a job's progress and cancel requests live in another process.

    Without Redis they live in the memory of the process that runs the job. On
    PostgreSQL a cancel request also goes into the job's row, which the running
    import reads, but the open import transaction locks a SQLite file.
    """
    from contractgql.models import ImportStatus

    unfinished = job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
    return unfinished and settings.redis_url is None and settings.is_sqlite


async def _import_cancel(text: str, settings: Settings) -> int:
    from contractgql import db
    from contractgql.importexport import jobs
    from contractgql.models import Organization
    from contractgql.security.policy import PERMISSIONS
    from contractgql.security.viewer import system_viewer

    await _connect(settings)
    try:
        job = await _job(text, "import-cancel")
        if job is None:
            return 2
        if _progress_out_of_reach(settings, job):
            print(
                f"contractgql import-cancel: import job {job.id} runs in another "
                "process, which this command cannot reach on SQLite without "
                "CONTRACTGQL_REDIS_URL. Cancel it with the cancelImport mutation of "
                "the API that runs it, or with Ctrl-C in the `contractgql import` "
                "that runs it.",
                file=sys.stderr,
            )
            return 1
        organization = await Organization.get(id=job.organization_id)
        viewer = system_viewer(organization, PERMISSIONS)
        job = await jobs.cancel_job(settings, viewer, job.id)
    except jobs.JobAlreadyFinished as error:
        print(f"contractgql import-cancel: {error}", file=sys.stderr)
        return 1
    finally:
        await db.disconnect()
    print(f"Cancel of import job {job.id} requested; it writes nothing.")
    return 0


async def _import_template(output: Path, name: str, settings: Settings) -> int:
    from contractgql import db
    from contractgql.importexport.template import build_template

    await _connect(settings)
    try:
        organization = await _organization(name, "import-template")
        if organization is None:
            return 2
        content = await build_template(organization)
    finally:
        await db.disconnect()
    try:
        output.write_bytes(content)
    except OSError as error:
        print(
            f"contractgql import-template: cannot write {output}: {error.strerror}.",
            file=sys.stderr,
        )
        return 2
    print(f"Wrote the import template to {output}")
    return 0


async def _run_preview(
    path: Path, organization_name: str, options: ImportOptions, settings: Settings
) -> int:
    """Print the value mapping preview of a register; exits 1 when a value does
    not map."""
    from contractgql import db
    from contractgql.importexport.columns import resolve_columns
    from contractgql.importexport.tables import read_table
    from contractgql.importexport.value_mapping import preview_values
    from contractgql.models import Organization

    if settings.is_sqlite:
        await db.migrate(settings)
    await db.connect(settings)
    try:
        name = " ".join(organization_name.split())
        organization = await Organization.filter(name=name).first()
        if organization is None:
            print(
                f"contractgql import: organization {name!r} does not exist: check "
                "the name.",
                file=sys.stderr,
            )
            return 2
        explicit = options.mapping or {}
        table = read_table(path, options.sheet, mapped_headers=explicit.keys())
        columns = resolve_columns(table.headers, explicit)
        lines = await preview_values(
            table, columns, organization, options.value_mappings, options.create_types
        )
    except ImportFileError as error:
        print(f"contractgql import: {error}", file=sys.stderr)
        return 2
    finally:
        await db.disconnect()

    unmapped = 0
    for line in lines:
        target = repr(line.target) if line.target is not None else "(not mapped)"
        rows = f"{line.rows} row{'s' if line.rows != 1 else ''}"
        print(f"{line.field}: {line.source!r} ({rows}) -> {target} [{line.status}]")
        unmapped += line.target is None
    print(f"{len(lines)} distinct values, {unmapped} not mapped.")
    return 1 if unmapped else 0
