"""Writing parsed register rows into an organization's contracts.

An import runs in one database transaction: a file is imported whole or not at all,
and a dry run is the same import rolled back at the end, so its report is exact.
Rows the services reject are reported and skipped; the other rows are written.
A progress callback receives the counts every PROGRESS_EVERY rows and may stop the
import by raising, which rolls the whole transaction back.
Re-importing a file updates the contracts with the same number instead of adding
new ones. New contracts are validated row by row and inserted in batches (see
`contractgql.importexport.bulk`), and updates go through `update_contract`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from tortoise.models import Model
from tortoise.transactions import in_transaction

from contractgql.audit import current_request_id, record_change, snapshot
from contractgql.domain.dates import Period, PeriodUnit
from contractgql.domain.money import (
    MoneyError,
    PaymentFrequency,
    from_minor_units,
    to_minor_units,
)
from contractgql.errors import FieldError, PermissionDenied, ValidationError
from contractgql.importexport.bulk import YIELD_EVERY, ContractBatch, NewContract
from contractgql.importexport.columns import (
    MAP_COLUMN_HINT,
    TOTAL_VALUE_HEADERS,
    ColumnMapping,
    normalize_header,
    resolve_columns,
)
from contractgql.importexport.rows import ParsedRow, RowError, RowParser, RowWarning
from contractgql.importexport.tables import Table, read_table
from contractgql.importexport.truncate import (
    MAX_MESSAGE_CHARS,
    MAX_VALUE_CHARS,
    truncate_message,
    truncate_value,
)
from contractgql.importexport.value_mapping import ValueMappings, apply_value_mappings
from contractgql.models import (
    Client,
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractStage,
    ContractType,
    CustomFieldEntity,
    Organization,
    RequiredFieldRule,
    Tag,
    User,
)
from contractgql.quality.choices import check_vat_rate, vat_rates_of
from contractgql.quality.rules import enforce_rules, rules_for
from contractgql.security.policy import PERMISSIONS
from contractgql.security.viewer import Viewer, system_viewer
from contractgql.services.contracts import (
    check_new_contract,
    create_contract,
    update_contract,
)
from contractgql.services.custom_fields import validate_custom_fields
from contractgql.services.records import CLIENTS, update_record
from contractgql.services.validation import Validator

logger = logging.getLogger(__name__)

# Rows written between two calls of the progress callback.
PROGRESS_EVERY = 250
# Parsed rows held at a time, matched against stored contracts with one query.
CHUNK_ROWS = 1000

# Register status values and the stage each one records.
STAGE_WORDS = {
    ContractStage.SIGNED: {
        "current",
        "active",
        "signed",
        "live",
        "open",
        "lopend",
        "actief",
        "getekend",
        "ondertekend",
        "awarded",
    },
    ContractStage.DRAFT: {"draft", "concept", "pending", "planned", "in behandeling"},
    ContractStage.CANCELLED: {
        "cancelled",
        "canceled",
        "terminated",
        "withdrawn",
        "geannuleerd",
        "beeindigd",
        "beëindigd",
        "opgezegd",
    },
}

# Contract fields an import writes, to compare with the stored contract.
COMPARED_COLUMNS = (
    "name",
    "description",
    "client_id",
    "contract_type_id",
    "owner_id",
    "stage",
    "start_date",
    "end_date",
    "signed_date",
    "payment_frequency",
    "currency",
    "auto_renewal",
)


class _DryRun(Exception):
    """Raised at the end of a dry run so the transaction rolls back."""


@dataclass(slots=True)
class RowOutcome:
    row: int
    outcome: str  # created, updated, unchanged, duplicate or rejected
    number: str | None
    detail: str = ""


@dataclass
class ImportReport:
    path: Path
    dry_run: bool
    total_rows: int = 0
    outcomes: list[RowOutcome] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    # The audit request id that every event of this import carries.
    request_id: str = ""
    outcome_counts: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    mapped_columns: dict[str, str] = field(default_factory=dict)
    created_clients: int = 0
    unmapped_contract_types: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    # The last row that got a "rejected" outcome: a row's errors arrive together.
    last_rejected_row: int | None = None
    # Whether `outcomes` lists every row. Without, it lists only the duplicate and
    # rejected rows, and created, updated and unchanged rows are only counted, so
    # that a large import's memory does not grow with its file.
    record_outcomes: bool = True
    # How many row errors, and duplicate or rejected outcomes, the report keeps;
    # None keeps all. Later ones are only counted, in `errors_not_kept` and in
    # the outcome counts, so that a file of bad rows cannot fill the memory.
    max_kept: int | None = None
    errors_not_kept: int = 0
    # Whether --strict rolled the import back because a row was rejected.
    rolled_back: bool = False

    def __post_init__(self) -> None:
        self.warnings = [_truncated_warning(warning) for warning in self.warnings]

    def add(self, outcome: RowOutcome) -> None:
        if self.record_outcomes or (
            outcome.outcome in ("duplicate", "rejected")
            and (self.max_kept is None or len(self.outcomes) < self.max_kept)
        ):
            self.outcomes.append(outcome)
        self.outcome_counts[outcome.outcome] += 1

    def add_error(self, error: RowError) -> None:
        """Keep `error`, with a long value and reason truncated, or count it."""
        if self.max_kept is None or len(self.errors) < self.max_kept:
            self.errors.append(_truncated_error(error))
        else:
            self.errors_not_kept += 1

    def add_warning(self, warning: RowWarning) -> None:
        """Keep `warning`, with a long value and message truncated."""
        if self.max_kept is None or len(self.warnings) < self.max_kept:
            self.warnings.append(_truncated_warning(warning))

    def count(self, outcome: str) -> int:
        return self.outcome_counts[outcome]

    @property
    def accounted_for(self) -> int:
        return sum(self.outcome_counts.values())


def _truncated_error(error: RowError) -> RowError:
    if len(error.value) <= MAX_VALUE_CHARS and len(error.reason) <= MAX_MESSAGE_CHARS:
        return error
    return dataclasses.replace(
        error,
        value=truncate_value(error.value),
        reason=truncate_message(error.reason, error.value),
    )


def _truncated_warning(warning: RowWarning) -> RowWarning:
    if (
        len(warning.value) <= MAX_VALUE_CHARS
        and len(warning.message) <= MAX_MESSAGE_CHARS
    ):
        return warning
    return dataclasses.replace(
        warning,
        value=truncate_value(warning.value),
        message=truncate_message(warning.message, warning.value),
    )


@dataclass(frozen=True)
class ImportOptions:
    mapping: dict[str, str] | None = None
    sheet: str | None = None
    currency: str | None = None
    dry_run: bool = False
    create_types: bool = False
    strict: bool = False
    # Notice period for rows whose file gives none, as (count, unit).
    default_notice_period: tuple[int, str] | None = None
    # Explicit values of choice columns: field to normalized source to target.
    value_mappings: ValueMappings | None = None
    # "register" for CSV and XLSX files, "decp" for French procurement JSON.
    file_format: str = "register"
    # Whether the report lists the outcome of every row (see ImportReport).
    record_outcomes: bool = True
    # Row errors the report keeps (ImportReport.max_kept); None keeps all.
    max_kept_errors: int | None = None


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """Counts of an import in progress. Written rows include unchanged ones."""

    total_rows: int
    rows_read: int
    rows_written: int
    rows_rejected: int


ProgressCallback = Callable[[ImportProgress], Awaitable[None]]


@dataclass
class SourceTable:
    """A table to import, with the steps that file formats other than registers add.

    `history` maps a row number to the values its contract had first, followed by
    the changes of each amendment, oldest first. A contract that the import
    creates is written with those first values and then updated once per
    amendment, so its audit history shows each change.
    """

    table: Table
    warnings: list[RowWarning] = field(default_factory=list)
    history: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # Also match a 14-digit French SIRET on the 9-digit SIREN that starts it.
    match_siren: bool = False


async def import_file(
    path: Path,
    organization: Organization,
    options: ImportOptions,
    *,
    viewer: Viewer | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a register or DECP file into `organization` and report every row.

    `viewer` is the user the import acts as, checked and audited like an API
    request; the default is the command line's system viewer. An exception that
    `progress` raises stops the import and rolls everything back.
    """
    started = time.perf_counter()
    # Reading checks and counts every row, which takes seconds for a large file
    # (about 10 s per 100,000 XLSX rows), so a thread does it and the event loop
    # keeps serving requests and progress queries meanwhile.
    source = await asyncio.to_thread(_read_source, path, options)
    # Closing deletes the temporary copy of an XLSX worksheet, also when this fails.
    with contextlib.closing(source.table):
        return await _import_source(
            path, source, organization, options, viewer, progress, started
        )


async def _import_source(
    path: Path,
    source: SourceTable,
    organization: Organization,
    options: ImportOptions,
    viewer: Viewer | None,
    progress: ProgressCallback | None,
    started: float,
) -> ImportReport:
    explicit = options.mapping or {}
    mapping = resolve_columns(source.table.headers, explicit)
    source.table = apply_value_mappings(source.table, mapping, options.value_mappings)
    # The parser's first pass reads every row, for the amount column's decimal
    # separator, and that pass counts the rows of a CSV file and checks its quoting.
    parser = await asyncio.to_thread(
        RowParser,
        source.table,
        mapping,
        options.currency or organization.default_currency,
    )
    total_rows = await asyncio.to_thread(len, source.table.rows)

    report = ImportReport(
        path=path,
        dry_run=options.dry_run,
        total_rows=total_rows,
        ignored_columns=mapping.ignored_columns,
        mapped_columns=mapping.mapped_fields,
        warnings=list(source.warnings),
        record_outcomes=options.record_outcomes,
        max_kept=options.max_kept_errors,
    )

    if viewer is None:
        viewer = system_viewer(organization, PERMISSIONS)
    # Every audit event of one import carries the same id, as those of one request do.
    report.request_id = f"import-{uuid.uuid4().hex[:16]}"
    request = current_request_id.set(report.request_id)
    try:
        async with in_transaction() as connection:
            if connection.capabilities.dialect == "postgres":
                # The import's own rows change the tables' sizes a lot, so each
                # statement gets a plan for the current sizes. A generic plan made
                # while the table was small scanned every stored contract to
                # match each chunk's numbers, which took minutes for 100,000 rows.
                await connection.execute_query(
                    "SET LOCAL plan_cache_mode = force_custom_plan"
                )
            writer = _Writer(viewer, organization, options, mapping, report)
            writer.match_siren = source.match_siren
            await writer.prepare()
            await _write_rows(writer, parser, source, progress)
            if options.dry_run or (options.strict and report.errors):
                report.rolled_back = not options.dry_run
                raise _DryRun
    except _DryRun:
        pass
    finally:
        current_request_id.reset(request)

    report.outcomes.sort(key=lambda o: o.row)
    report.errors.sort(key=lambda e: (e.row, e.column or ""))
    report.seconds = time.perf_counter() - started
    logger.info(
        "Imported %s in %.1f s: %d created, %d updated, %d unchanged, %d duplicates, "
        "%d rejected%s",
        path,
        report.seconds,
        report.count("created"),
        report.count("updated"),
        report.count("unchanged"),
        report.count("duplicate"),
        report.count("rejected"),
        " (dry run, rolled back)" if options.dry_run else "",
    )
    return report


def _read_source(path: Path, options: ImportOptions) -> SourceTable:
    if options.file_format == "decp":
        # Imported here because the DECP reader builds on this module's types.
        from contractgql.importexport.decp import read_decp

        return read_decp(path)
    explicit = options.mapping or {}
    # The parser's first pass counts the rows of a CSV file, which saves a pass.
    return SourceTable(
        read_table(
            path, options.sheet, mapped_headers=explicit.keys(), count_rows=False
        )
    )


async def _write_rows(
    writer: _Writer,
    parser: RowParser,
    source: SourceTable,
    progress: ProgressCallback | None,
) -> None:
    """Write every row in chunks, apply amendment history, and report progress.

    Each chunk of parsed rows is matched against the stored contracts in one
    query, and only the current chunk is held in memory.
    """
    report = writer.report
    total = report.total_rows
    index = 0
    rows = parser.parse()
    try:
        while chunk := await _next_chunk(rows):
            await writer.load_existing(chunk)
            for item in chunk:
                index += 1
                await _write_item(writer, item, source)
                if index % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                if progress is not None and (
                    index % PROGRESS_EVERY == 0 or index == total
                ):
                    # Queued rows count as written: nothing of the import is
                    # visible before its commit, and a failure rolls all back.
                    queued = len(writer.batch.pending)
                    await progress(_progress_of(report, queued))
        await writer.settle()
        await writer.store_filled_numbers()
    finally:
        # An import that stops early still waits for its last insert, so the
        # rollback does not overlap it; the error that stopped it wins.
        with contextlib.suppress(Exception):
            await writer.batch.wait()
    if progress is not None and not total:
        await progress(_progress_of(report))


async def _next_chunk(
    rows: Iterator[ParsedRow | list[RowError]],
) -> list[ParsedRow | list[RowError]]:
    """Parse up to CHUNK_ROWS rows, giving the event loop a turn now and then."""
    chunk: list[ParsedRow | list[RowError]] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) == CHUNK_ROWS:
            break
        if len(chunk) % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return chunk


async def _write_item(
    writer: _Writer, item: ParsedRow | list[RowError], source: SourceTable
) -> None:
    """Report a rejected or duplicate row, or write the row."""
    report = writer.report
    if isinstance(item, list):
        for error in item:
            _reject(report, error.row, error.number, error)
        return
    for warning in item.warnings:
        report.add_warning(warning)
    if item.duplicate_of is not None:
        report.add(
            RowOutcome(
                item.row,
                "duplicate",
                item.number,
                f"same contract as row {item.duplicate_of}",
            )
        )
        return
    steps = source.history.get(item.row)
    if steps and writer.is_new(item):
        await writer.write_with_history(item, steps)
    else:
        await writer.write(item)


def _progress_of(report: ImportReport, queued: int = 0) -> ImportProgress:
    """Return the progress of an import with `queued` new rows not yet flushed."""
    rejected = report.count("rejected")
    read = report.accounted_for + queued
    return ImportProgress(
        total_rows=report.total_rows,
        rows_read=read,
        rows_written=read - rejected - report.count("duplicate"),
        rows_rejected=rejected,
    )


def _reject(
    report: ImportReport, row: int, number: str | None, error: RowError
) -> None:
    report.add_error(error)
    if row != report.last_rejected_row:
        report.last_rejected_row = row
        report.add(RowOutcome(row, "rejected", number, error.reason))


class _Writer:
    """Resolves clients, types, tags and owners once, then writes the rows.

    New contracts are validated row by row and inserted in batches. Rows that
    change a stored contract, and amendment history, go through the services.
    """

    def __init__(
        self,
        viewer: Viewer,
        organization: Organization,
        options: ImportOptions,
        mapping: ColumnMapping,
        report: ImportReport,
    ) -> None:
        self.viewer = viewer
        self.organization = organization
        self.options = options
        self.mapping = mapping
        self.report = report
        self.clients: dict[str, int] = {}
        self.clients_by_registration: dict[str, int] = {}
        self.client_names: dict[int, str] = {}
        # The chamber of commerce and VAT numbers of the clients that have one,
        # stored or filled in by this import.
        self.stored_numbers: dict[int, tuple[str | None, str | None]] = {}
        # Numbers that accepted rows gave for clients without one, stored on the
        # clients when the rows are written (see _fill_registrations).
        self.filled_numbers: dict[int, dict[str, str]] = {}
        # Client names that match no client and joined one on its registration
        # number, to that client and the row, so that later rows with the name
        # and no number join it too.
        self.client_aliases: dict[str, tuple[int, int]] = {}
        # Rows are written in file order, so one number suffices to warn once.
        self.last_warned_row = 0
        self.types: dict[str, int] = {}
        self.tags: dict[str, int] = {}
        self.owners: dict[str, int] = {}
        self.existing: dict[str, Contract] = {}
        self.created_in_row: list[tuple[dict[str, int], str]] = []
        self.unnumbered: dict[tuple[int, str, date | None], Contract] = {}
        self.match_siren = False
        self.total_value_header = _total_value_header(mapping, options)
        self.ignored_total_value = _ignored_total_value(mapping)
        self.unnumbered_loaded = False
        self.batch = ContractBatch(viewer)
        # Unnumbered keys of the queued contracts, to detect a row that repeats one.
        self.queued_unnumbered: set[tuple[int, str, date | None]] = set()
        # The row that wrote each unnumbered contract in this import, so that a
        # later row cannot overwrite it. The parser catches most such rows, but
        # not two client names or numbers that match one client.
        self.unnumbered_rows: dict[tuple[int, str, date | None], int] = {}
        # Errors that custom field definitions give every new contract of this
        # organization, such as a required field that an import cannot fill.
        self.custom_field_errors: list[Any] = []
        # Required-field rules and VAT rates, read once: the import's transaction
        # checks every new row against the rules and rates as they were at its start.
        self.rules: list[RequiredFieldRule] = []
        self.vat_rates: list[int] = []
        # Whether the organization had any contract when the import started. A
        # first import skips the lookup of stored contracts per chunk.
        self.had_contracts = True

    async def prepare(self) -> None:
        """Load the organization's clients, types, tags, users, rules and rates."""
        org = self.organization.id
        for client in await Client.filter(organization_id=org, archived_at=None):
            self.clients.setdefault(_key(client.name), client.id)
            self.client_names[client.id] = client.name
            for number in (client.coc_number, client.vat_number):
                if number:
                    self.clients_by_registration.setdefault(
                        _registration_key(number), client.id
                    )
            if client.coc_number or client.vat_number:
                self.stored_numbers[client.id] = (client.coc_number, client.vat_number)
        for contract_type in await ContractType.filter(
            organization_id=org, archived_at=None
        ):
            self.types[_key(contract_type.name)] = contract_type.id
        for tag in await Tag.filter(organization_id=org, archived_at=None):
            self.tags[_key(tag.name)] = tag.id
        for user in await User.filter(organization_id=org, is_active=True):
            self.owners[user.email.lower()] = user.id
        validator = Validator()
        await validate_custom_fields(
            validator, org, CustomFieldEntity.CONTRACT, {}, creating=True
        )
        self.custom_field_errors = validator.errors
        self.rules = await rules_for(org)
        self.vat_rates = await vat_rates_of(org)
        self.had_contracts = await Contract.filter(organization_id=org).exists()

    async def load_existing(self, chunk: list[ParsedRow | list[RowError]]) -> None:
        """Load the stored contracts that the rows of the next chunk may update.

        Contracts of earlier chunks are dropped: a later row never repeats their
        numbers, because the parser reports such rows as duplicates or rejects
        them. Unnumbered contracts are loaded once, at the first row without a
        number, and kept.
        """
        await self.flush()
        org = self.organization.id
        self.existing = {}
        if not self.had_contracts:
            # Every contract of the organization comes from this file, whose
            # repeated numbers the parser finds. A concurrent writer's number
            # makes the insert fail, which rolls the import back.
            return
        rows = [item for item in chunk if isinstance(item, ParsedRow)]
        numbers = [row.number for row in rows if row.number]
        if numbers:
            for contract in await Contract.filter(
                organization_id=org, number__in=numbers
            ):
                self.existing[contract.number or ""] = contract
        if not self.unnumbered_loaded and any(not row.number for row in rows):
            self.unnumbered_loaded = True
            for contract in await Contract.filter(organization_id=org, number=None):
                self.unnumbered[_unnumbered_key(contract)] = contract

    async def write(self, row: ParsedRow) -> None:
        """Queue a new contract for the next batch, or write the row at once."""
        if self._is_new_contract(row):
            await self._queue_new(row)
            return
        # The services read stored contracts, so queued ones are inserted first.
        await self.settle()
        await self._write_one(row)

    async def flush(self) -> None:
        """Insert the queued new contracts and report them as created."""
        flushed = await self.batch.flush()
        if any(not item.number for item in flushed):
            # A later row of the file may describe one of them again.
            await self.batch.wait()
            unnumbered = [item.id for item in flushed if not item.number]
            for contract in await Contract.filter(id__in=unnumbered):
                self.unnumbered[_unnumbered_key(contract)] = contract
        if self.report.record_outcomes:
            for item in flushed:
                self.report.add(RowOutcome(item.row, "created", item.number))
        else:
            self.report.outcome_counts["created"] += len(flushed)
        self.queued_unnumbered.clear()

    async def settle(self) -> None:
        """Insert the queued contracts and wait until every insert has finished."""
        await self.flush()
        await self.batch.wait()

    def _is_new_contract(self, row: ParsedRow) -> bool:
        """Return whether the row matches no stored or queued contract."""
        if row.number:
            return row.number not in self.existing
        client_id = self._find_client(row)
        if client_id is None:
            return True
        key = (client_id, _key(row.name), row.start_date)
        return key not in self.unnumbered and key not in self.queued_unnumbered

    async def _queue_new(self, row: ParsedRow) -> None:
        """Validate a new contract as `create_contract` does and queue it.

        Clients, types and tags the row needs are created only once the row is
        valid, so a rejected row leaves no record behind.
        """
        self.created_in_row = []
        try:
            values = self._new_values(row)
        except _RowRejected as rejected:
            _reject(self.report, row.row, row.number, rejected.error)
            return
        validator = Validator()
        columns = check_new_contract(validator, self.viewer, values)
        # Both checks have nothing to do for most rows of a large file.
        if columns.get("vat_rate_bp") is not None:
            await check_vat_rate(
                validator, self.viewer.organization_id, columns, self.vat_rates
            )
        if self.rules:
            await enforce_rules(
                validator, self.viewer, columns, current=None, rules=self.rules
            )
        validator.errors.extend(self.custom_field_errors)
        if validator.errors:
            self._reject_fields(row, validator.errors)
            return

        client_id = values["client_id"]
        if client_id == _NOT_CREATED:
            client_id = await self._new_client(row)
        elif row.client_coc_number or row.client_vat_number:
            self._fill_registrations(row, client_id)
        values["client_id"] = columns["client_id"] = client_id
        if values.get("contract_type_id") == _NOT_CREATED:
            type_id = await self._contract_type(row.contract_type or "")
            values["contract_type_id"] = columns["contract_type_id"] = type_id
        if row.tags:
            values["tag_ids"] = [await self._tag(name) for name in row.tags]
        self.batch.add(NewContract(row.row, row.number, columns, values))
        if not row.number:
            key = (client_id, _key(row.name), row.start_date)
            self.queued_unnumbered.add(key)
            self.unnumbered_rows[key] = row.row
        if self.batch.full:
            await self.flush()

    async def _write_one(self, row: ParsedRow) -> None:
        """Write one row in its own savepoint, so a rejected row leaves no trace."""
        self.created_in_row = []
        try:
            async with in_transaction():
                values = await self._values(row)
                current = self._current(row, values)
                if current is not None:
                    values = self._from_file(values, row, current)
                    if current.client_id != values["client_id"]:
                        raise _RowRejected(
                            await self._other_client_error(row, current, values)
                        )
                    await self._keep_renewed_term(row, current, values)
                    if not row.number:
                        first = self._check_unnumbered_repeat(row, current, values)
                        if first is not None:
                            self.report.add(
                                RowOutcome(
                                    row.row,
                                    "duplicate",
                                    None,
                                    f"same contract as row {first}",
                                )
                            )
                            return
                if current is None:
                    contract = await create_contract(self.viewer, values)
                    outcome = "created"
                elif _unchanged(current, values):
                    contract = current
                    outcome = "unchanged"
                else:
                    values = _without_cleared_empties(values, current)
                    contract = await update_contract(self.viewer, current.id, values)
                    outcome = "updated"
        except _RowRejected as rejected:
            self._forget_created()
            _reject(self.report, row.row, row.number, rejected.error)
            return
        except ValidationError as error:
            self._forget_created()
            self._reject_fields(row, error.errors)
            return

        if contract.number:
            self.existing[contract.number] = contract
        else:
            self.unnumbered[_unnumbered_key(contract)] = contract
        if row.client_coc_number or row.client_vat_number:
            self._fill_registrations(row, contract.client_id)
        self.report.add(RowOutcome(row.row, outcome, row.number))

    def _reject_fields(self, row: ParsedRow, errors: list[FieldError]) -> None:
        for field_error in errors:
            column = self.mapping.header_of(_canonical(field_error.field))
            # The cell as written, or the value that a default or mapping gave.
            cell = row.cell_as_written(
                self.mapping, _canonical(field_error.field)
            ) or _cell(row, field_error.field)
            _reject(
                self.report,
                row.row,
                row.number,
                RowError(
                    row.row,
                    column,
                    cell,
                    field_error.message,
                    row.line,
                    field=_canonical(field_error.field),
                ),
            )

    def is_new(self, row: ParsedRow) -> bool:
        """Return whether no stored contract has the row's contract number."""
        return row.number is not None and row.number not in self.existing

    async def write_with_history(
        self, row: ParsedRow, steps: list[dict[str, Any]]
    ) -> None:
        """Create the row's contract with its first values, then apply each change.

        Every change is a separate update, so the audit log records one
        `contract.update` per amendment. `steps[0]` replaces fields of `row`, and
        each later step contains service values such as amount and end_date.
        """
        await self.settle()
        await self._write_one(dataclasses.replace(row, **steps[0]))
        contract = self.existing.get(row.number or "")
        if contract is None:
            return
        for changes in steps[1:]:
            contract = await update_contract(self.viewer, contract.id, dict(changes))
        self.existing[row.number or ""] = contract

    def _from_file(
        self, values: dict[str, Any], row: ParsedRow, current: Contract
    ) -> dict[str, Any]:
        """Leave out the values that an update would take from an empty cell, a
        missing column or a default.

        An empty cell keeps the stored value, as a missing column does. A
        spreadsheet leaves cells empty for values it does not know, so clearing
        a field takes an edit through the API. The default notice period of the
        options fills only a contract that has none.
        """
        return {
            key: value
            for key, value in values.items()
            if key not in UPDATE_SOURCES
            or self._row_gives(key, row)
            or (key == "notice_period" and current.notice_count is None)
        }

    def _check_unnumbered_repeat(
        self, row: ParsedRow, current: Contract, values: dict[str, Any]
    ) -> int | None:
        """Check a row without a number whose contract an earlier row of this
        import wrote: return that row when this one repeats its values, and
        reject it when it would change them. Returns None for the first row that
        writes the contract, and remembers it."""
        key = _unnumbered_key(current)
        first = self.unnumbered_rows.setdefault(key, row.row)
        if first == row.row:
            return None
        if _unchanged(current, values):
            return first
        raise _RowRejected(
            RowError(
                row.row,
                self.mapping.header_of("client"),
                row.client,
                f"Row {first} already wrote the contract {current.name!r} of this "
                f"client starting {current.start_date}, and rows without a contract "
                "number are matched on client, name and start date, so this row "
                "would overwrite it. Give each contract its own number, or remove "
                "one of the rows.",
                row.line,
                row.number,
                field="client",
            )
        )

    async def _keep_renewed_term(
        self, row: ParsedRow, current: Contract, values: dict[str, Any]
    ) -> None:
        """Leave out the end date and amount of a term that the scans renewed.

        A file exported before a renewal still has the old term's end date and
        amount. Importing it again would set the contract back to that term,
        which the next scan could not renew again. The row's amount is left out
        only when it is an amount from before an indexation at renewal, and the
        row's end date, if any, is a renewed term's.
        """
        end_date = values.get("end_date")
        rewinds_end = (
            end_date is not None
            and current.end_date is not None
            and end_date < current.end_date
        )
        amount = values.get("amount")
        if not rewinds_end and ("end_date" in values or amount is None):
            return
        renewals = await ContractEvent.filter(
            contract_id=current.id, kind=ContractEventKind.RENEWED
        ).order_by("term_end")
        if rewinds_end:
            renewals = [r for r in renewals if r.term_end == end_date]
        if not renewals:
            return
        kept = []
        if rewinds_end:
            del values["end_date"]
            kept.append(f"its current end date {current.end_date}")
        if amount is not None:
            currency = values.get("currency") or current.currency
            try:
                minor = to_minor_units(amount, currency)
            except MoneyError:
                # The service rejects the amount with its own message.
                minor = None
            if minor != current.amount_minor and any(
                minor == renewal.old_amount_minor for renewal in renewals
            ):
                del values["amount"]
                kept.append("its indexed amount")
        if not kept:
            return
        term = renewals[0].term_end
        self.report.add_warning(
            RowWarning(
                row.row,
                self.mapping.header_of("end_date" if rewinds_end else "amount"),
                row.cell_as_written(
                    self.mapping, "end_date" if rewinds_end else "amount"
                ),
                f"Contract {current.number!r} was renewed after the term that "
                f"ended on {term}, and this row has that term's "
                + ("end date" if rewinds_end else "amount")
                + f", so the contract keeps {' and '.join(kept)}. Put the current "
                "term in the file to change it.",
                field="end_date" if rewinds_end else "amount",
            )
        )

    async def _other_client_error(
        self, row: ParsedRow, current: Contract, values: dict[str, Any]
    ) -> RowError:
        """Return the error of a row that would move a stored contract to another
        client. Two clients' numbering schemes often collide, so the import never
        moves a contract."""
        stored = await Client.get(id=current.client_id)
        matched = await Client.get(id=values["client_id"])
        named = repr(row.client)
        if _key(matched.name) != _key(row.client):
            named += f" (client {matched.name!r}, found on its registration number)"
        return RowError(
            row.row,
            self.mapping.header_of("client"),
            row.client,
            f"Contract {current.number!r} belongs to client {stored.name!r}, but "
            f"this row's client is {named}. Give the row its own contract number "
            "if it is another contract; to move the contract, change its client "
            "through the API first.",
            row.line,
            row.number,
            field="client",
        )

    def _row_gives(self, key: str, row: ParsedRow) -> bool:
        """Return whether the row's own cells set the service value `key`."""
        if key == "name":
            # The parser names a row with an empty name cell after its number.
            return "name" in self.mapping.mapped_fields and row.name != row.number
        if key == "currency" and self.options.currency:
            return True
        return getattr(row, UPDATE_SOURCES[key]) is not None

    def _current(self, row: ParsedRow, values: dict[str, Any]) -> Contract | None:
        """Return the stored contract this row describes, if any.

        Rows without a contract number match a contract without one that has the
        same client, name and start date, so that importing a file twice adds
        nothing.
        """
        if row.number:
            return self.existing.get(row.number)
        key = (values["client_id"], _key(values["name"]), values["start_date"])
        return self.unnumbered.get(key)

    def _forget_created(self) -> None:
        """Drop cache entries for records that the rolled-back savepoint removed."""
        for cache, key in self.created_in_row:
            cache.pop(key, None)
            if cache is self.clients:
                self.report.created_clients -= 1

    async def _values(self, row: ParsedRow) -> dict[str, Any]:
        """Return the service input of a row, creating the records it names."""
        values = self._new_values(row)
        if values["client_id"] == _NOT_CREATED:
            values["client_id"] = await self._client(row)
        if values.get("contract_type_id") == _NOT_CREATED:
            type_id = await self._contract_type(row.contract_type or "")
            values["contract_type_id"] = type_id
        if row.tags:
            values["tag_ids"] = [await self._tag(name) for name in row.tags]
        return values

    def _new_values(self, row: ParsedRow) -> dict[str, Any]:
        """Return the service input of a row without creating anything.

        A client, contract type or tag that does not exist yet gets the id
        _NOT_CREATED, which the caller replaces once the row is valid.
        """
        currency = (
            row.currency or self.options.currency or self.organization.default_currency
        )
        self._check_lengths(row)
        if self.total_value_header and row.payment_frequency not in (None, "one_off"):
            self._reject_total_value(row)
        if self.ignored_total_value is not None and row.amount is None:
            self._warn_ignored_total(row, self.ignored_total_value)
        client_id = self._checked_client(row)
        values: dict[str, Any] = {
            "name": row.name,
            "number": row.number,
            "client_id": _NOT_CREATED if client_id is None else client_id,
            "start_date": row.start_date,
            "end_date": row.end_date,
            "signed_date": row.signed_date,
            "currency": currency,
            "amount": row.amount,
            "stage": self._stage(row),
            "payment_frequency": PaymentFrequency(row.payment_frequency or "one_off"),
            "auto_renewal": bool(row.auto_renewal),
        }
        optional = {
            "description": row.description,
            "vat_rate": row.vat_rate,
            "indexation": row.indexation,
            "notice_period": _period(
                row.notice_period or self.options.default_notice_period
            ),
            "renewal_term": _period(row.renewal_term),
        }
        values.update({k: v for k, v in optional.items() if v is not None})
        if row.contract_type:
            type_id = self._find_contract_type(row.contract_type)
            if type_id is not None:
                values["contract_type_id"] = type_id
        if row.owner_email:
            values["owner_id"] = self._owner(row)
        if row.tags:
            values["tag_ids"] = [
                self.tags.get(_key(name), _NOT_CREATED) for name in row.tags
            ]
        return values

    def _find_client(self, row: ParsedRow) -> int | None:
        """Match the client on registration numbers, then on name, then on a
        name that an earlier row joined to a client on its number."""
        return self._match_client(row)[0]

    def _match_client(self, row: ParsedRow) -> tuple[int | None, str, str]:
        """Return the client's id, how it matched ("number", "name" or "alias")
        and the registration key that matched, or (None, "", "")."""
        for key in self._registration_keys(row):
            client_id = self.clients_by_registration.get(key)
            if client_id is not None:
                return client_id, "number", key
        name_key = _key(row.client)
        client_id = self.clients.get(name_key)
        if client_id is not None:
            return client_id, "name", ""
        alias = self.client_aliases.get(name_key)
        if alias is not None:
            return alias[0], "alias", ""
        return None, "", ""

    def _checked_client(self, row: ParsedRow) -> int | None:
        """Return the row's client, rejecting a row whose name and registration
        numbers point at different clients, or None when the import creates it.

        Clients match on registration numbers before names. A row whose number
        is another client's than the one its name matches, or whose number
        differs from the one its client has, would otherwise link a contract to
        a client that the file contradicts.
        """
        client_id, via, key = self._match_client(row)
        if client_id is None:
            return None
        name_key = _key(row.client)
        if via == "number":
            named = self.clients.get(name_key)
            if named is None and name_key in self.client_aliases:
                named = self.client_aliases[name_key][0]
            if named is not None and named != client_id:
                raise _RowRejected(self._name_and_number_error(row, client_id, key))
            if named is None:
                self.client_aliases.setdefault(name_key, (client_id, row.row))
                self._warn_joined(row, client_id, key)
            return client_id
        conflict = self._other_number(row, client_id)
        if conflict is not None:
            raise _RowRejected(self._other_number_error(row, client_id, *conflict))
        if via == "alias":
            self._warn_alias(row, client_id, self.client_aliases[name_key][1])
        return client_id

    def _other_number(
        self, row: ParsedRow, client_id: int
    ) -> tuple[str, str, str] | None:
        """Return (field, given, stored) of a registration number that the row
        gives and that differs from the client's, or None."""
        stored_coc, stored_vat = self.stored_numbers.get(client_id, (None, None))
        for field_name, given, stored in (
            ("client_coc_number", row.client_coc_number, stored_coc),
            ("client_vat_number", row.client_vat_number, stored_vat),
        ):
            if (
                given
                and stored
                and _registration_key(given) != _registration_key(stored)
            ):
                return field_name, given, stored
        return None

    def _name_and_number_error(
        self, row: ParsedRow, client_id: int, key: str
    ) -> RowError:
        field_name, number = self._matched_number(row, key)
        label = _NUMBER_LABELS[field_name]
        alias = self.client_aliases.get(_key(row.client))
        named = (
            f"names client {row.client!r}, which is another client"
            if alias is None
            else f"names {row.client!r}, which row {alias[1]} joined to client "
            f"{self.client_names.get(alias[0], '')!r}"
        )
        return RowError(
            row.row,
            self.mapping.header_of(field_name),
            number,
            f"The {label} number {number!r} belongs to client "
            f"{self.client_names.get(client_id, '')!r}, but this row {named}. "
            "Correct the number or the client name.",
            row.line,
            row.number,
            field=field_name,
        )

    def _other_number_error(
        self, row: ParsedRow, client_id: int, field_name: str, given: str, stored: str
    ) -> RowError:
        label = _NUMBER_LABELS[field_name]
        name = self.client_names.get(client_id, "")
        alias = self.client_aliases.get(_key(row.client))
        found = (
            f"Row {alias[1]} joined the client name {row.client!r} to client "
            f"{name!r}, which has"
            if alias is not None
            and alias[0] == client_id
            and _key(name) != _key(row.client)
            else f"Client {name!r} has"
        )
        return RowError(
            row.row,
            self.mapping.header_of(field_name),
            given,
            f"{found} the {label} number {stored!r}, but this row gives "
            f"{given!r}. Correct the number in the file, or the client's number "
            "through the API if the file is right.",
            row.line,
            row.number,
            field=field_name,
        )

    def _matched_number(self, row: ParsedRow, key: str) -> tuple[str, str]:
        """Return the field and the row's number that registration `key` came from."""
        coc = row.client_coc_number
        if coc and key in (_registration_key(coc), _registration_key(coc[:9])):
            return "client_coc_number", coc
        return "client_vat_number", row.client_vat_number or ""

    def _warn_joined(self, row: ParsedRow, client_id: int, key: str) -> None:
        """Say that a row whose client name matches no client joined a client on
        its registration number."""
        field_name, number = self._matched_number(row, key)
        name = self.client_names.get(client_id, "")
        stored_coc, stored_vat = self.stored_numbers.get(client_id, (None, None))
        number = (
            stored_coc if field_name == "client_coc_number" else stored_vat
        ) or number
        self._warn_once(
            row,
            RowWarning(
                row.row,
                self.mapping.header_of("client"),
                row.client,
                f"No client is called {row.client!r}, so the contract joins client "
                f"{name!r}, which has the {_NUMBER_LABELS[field_name]} number "
                f"{number!r}. Later rows with this client name join it too. "
                "Correct the number if these are different companies.",
                field="client",
            ),
        )

    def _warn_alias(self, row: ParsedRow, client_id: int, first_row: int) -> None:
        """Say that a row's client name joined a client on an earlier row."""
        name = self.client_names.get(client_id, "")
        self._warn_once(
            row,
            RowWarning(
                row.row,
                self.mapping.header_of("client"),
                row.client,
                f"No client is called {row.client!r}, and row {first_row} joined "
                f"that name to client {name!r} on its registration number, so this "
                f"contract joins {name!r} too.",
                field="client",
            ),
        )

    def _warn_once(self, row: ParsedRow, warning: RowWarning) -> None:
        """Add `warning` unless the row has one already: the matching of a row
        may run more than once."""
        if row.row == self.last_warned_row:
            return
        self.last_warned_row = row.row
        self.report.add_warning(warning)

    async def _client(self, row: ParsedRow) -> int:
        """Match the client on registration numbers, then on name, else create it."""
        client_id = self._find_client(row)
        if client_id is not None:
            return client_id

        client = await Client.create(**self._client_columns(row))
        await self._audit_creation("client.create", client)
        self._remember_client(row, client.id)
        return int(client.id)

    async def _new_client(self, row: ParsedRow) -> int:
        """Create the client of a valid new contract, which no client matches.

        On PostgreSQL the client joins the contract's batch, which saves the two
        statements per client that creating it at once takes.
        """
        if not self.batch.queues_clients:
            return await self._client(row)
        client_id = await self.batch.add_client(self._client_columns(row))
        self._remember_client(row, client_id)
        return client_id

    def _client_columns(self, row: ParsedRow) -> dict[str, Any]:
        return {
            "organization_id": self.organization.id,
            "name": row.client,
            "coc_number": row.client_coc_number,
            "vat_number": row.client_vat_number,
        }

    def _remember_client(self, row: ParsedRow, client_id: int) -> None:
        """Count a new client and match later rows to it."""
        self.report.created_clients += 1
        self._remember(self.clients, _key(row.client), client_id)
        self.client_names[client_id] = row.client
        for number in (row.client_coc_number, row.client_vat_number):
            if number:
                self._remember(
                    self.clients_by_registration, _registration_key(number), client_id
                )
        if row.client_coc_number or row.client_vat_number:
            self.stored_numbers[client_id] = (
                row.client_coc_number,
                row.client_vat_number,
            )

    def _fill_registrations(self, row: ParsedRow, client_id: int) -> None:
        """Fill in the registration numbers that an accepted row gives for a client
        without a number of that kind.

        Later rows then match the client on the number, in this import and in
        the next ones. The numbers are stored when the rows are written
        (store_filled_numbers), with an audited client update.
        """
        stored_coc, stored_vat = self.stored_numbers.get(client_id, (None, None))
        filled = False
        if row.client_coc_number and not stored_coc:
            stored_coc = row.client_coc_number
            filled = True
        if row.client_vat_number and not stored_vat:
            stored_vat = row.client_vat_number
            filled = True
        if not filled:
            return
        self.stored_numbers[client_id] = (stored_coc, stored_vat)
        numbers = self.filled_numbers.setdefault(client_id, {})
        for column, number in (("coc_number", stored_coc), ("vat_number", stored_vat)):
            if number:
                numbers.setdefault(column, number)
                self.clients_by_registration.setdefault(
                    _registration_key(number), client_id
                )

    async def store_filled_numbers(self) -> None:
        """Store the registration numbers that rows filled in, one audited update
        per client. A number the client service rejects stays unstored, with a
        warning."""
        if not self.filled_numbers:
            return
        await self.batch.wait()
        for client_id, numbers in self.filled_numbers.items():
            try:
                async with in_transaction():
                    await update_record(self.viewer, CLIENTS, client_id, numbers)
            except (ValidationError, PermissionDenied) as error:
                logger.info(
                    "Registration numbers of client %d not stored: %s", client_id, error
                )
                self.report.add_warning(
                    RowWarning(
                        0,
                        None,
                        ", ".join(numbers.values()),
                        f"The registration numbers were not stored on client "
                        f"{self.client_names.get(client_id, '')!r}: {error}",
                        field="client_coc_number",
                    )
                )

    def _warn_ignored_total(self, row: ParsedRow, index: int) -> None:
        """Warn that a row without an amount has a value in the ignored
        total-value column."""
        cell = row.cells[index] if index < len(row.cells) else ""
        if not cell.strip():
            return
        header = self.mapping.headers[index]
        amount_header = self.mapping.header_of("amount")
        self._warn_once(
            row,
            RowWarning(
                row.row,
                header,
                cell,
                f"The amount cell ({amount_header!r}) is empty, so the contract has "
                f"no amount. The total value {cell.strip()!r} in the column "
                f"{header!r} was not used, because the amount is the amount per "
                "payment: fill in the amount cell.",
                field="amount",
            ),
        )

    def _reject_total_value(self, row: ParsedRow) -> None:
        """Reject a recurring row whose amount comes from a total-value column."""
        header = self.total_value_header or ""
        raise _RowRejected(
            RowError(
                row.row,
                header,
                "" if row.amount is None else str(row.amount),
                f"The column {header!r} reads as the total value of a contract, but "
                f"the row is paid {row.payment_frequency}, and a contract's amount "
                "is the amount per payment, which gives its MRR. Give the amount "
                "per payment in a column such as 'Amount', or map this column to "
                f"amount explicitly ({header}=amount {MAP_COLUMN_HINT}) if it holds "
                "that amount.",
                row.line,
                row.number,
                field="amount",
            )
        )

    def _check_lengths(self, row: ParsedRow) -> None:
        """Reject the row when a client value, a tag or a contract type that the
        import may create is longer than its column can store.

        The client's values are checked whether or not a client matches, so that
        importing the file again rejects the same rows.
        """
        for field_name, label, limit in _text_limits():
            if field_name == "tags":
                values = row.tags
            elif field_name == "contract_type" and not self.options.create_types:
                # Types are only matched then, and a name too long matches none.
                continue
            else:
                values = [getattr(row, field_name) or ""]
            for value in values:
                if len(value) > limit:
                    raise _RowRejected(
                        RowError(
                            row.row,
                            self.mapping.header_of(field_name),
                            value,
                            f"The {label} has {len(value)} characters, more than "
                            f"the {limit} it can have: shorten it.",
                            row.line,
                            row.number,
                            field=field_name,
                        )
                    )

    def _registration_keys(self, row: ParsedRow) -> list[str]:
        """Return the keys to match the client on, chamber of commerce number first."""
        keys = [
            _registration_key(number)
            for number in (row.client_coc_number, row.client_vat_number)
            if number
        ]
        coc = row.client_coc_number
        if self.match_siren and coc and len(coc) == 14 and coc.isdigit():
            keys.insert(1, _registration_key(coc[:9]))
        return keys

    async def _audit_creation(self, action: str, record: Any) -> None:
        """Record the creation in the audit outbox, as the API's mutations do.

        The event shares the row's savepoint, so a rejected row leaves none.
        """
        await record_change(self.viewer, action, record, None, snapshot(record))

    def _remember(self, cache: dict[str, int], key: str, record_id: int) -> None:
        cache[key] = record_id
        self.created_in_row.append((cache, key))

    def _find_contract_type(self, name: str) -> int | None:
        """Return the type's id, _NOT_CREATED when the import will create it, or
        None when the type is left empty."""
        key = _key(name)
        if key in self.types:
            return self.types[key]
        if not self.options.create_types:
            self.report.unmapped_contract_types[name] += 1
            return None
        return _NOT_CREATED

    async def _contract_type(self, name: str) -> int | None:
        found = self._find_contract_type(name)
        if found != _NOT_CREATED:
            return found
        contract_type = await ContractType.create(
            organization_id=self.organization.id, name=name
        )
        await self._audit_creation("contract_type.create", contract_type)
        self._remember(self.types, _key(name), contract_type.id)
        return int(contract_type.id)

    async def _tag(self, name: str) -> int:
        key = _key(name)
        if key not in self.tags:
            tag = await Tag.create(organization_id=self.organization.id, name=name)
            await self._audit_creation("tag.create", tag)
            self._remember(self.tags, key, tag.id)
        return self.tags[key]

    def _owner(self, row: ParsedRow) -> int:
        email = (row.owner_email or "").lower()
        if email not in self.owners:
            raise _RowRejected(
                RowError(
                    row.row,
                    self.mapping.header_of("owner_email"),
                    email,
                    f"No active user has e-mail address {email!r}: create the user "
                    "first "
                    "or correct the address.",
                    row.line,
                    field="owner_email",
                )
            )
        return self.owners[email]

    def _stage(self, row: ParsedRow) -> ContractStage:
        if not row.status:
            return ContractStage.SIGNED
        word = row.status.strip().lower()
        for stage, words in STAGE_WORDS.items():
            if word in words:
                return stage
        known = ", ".join(sorted(set().union(*STAGE_WORDS.values())))
        raise _RowRejected(
            RowError(
                row.row,
                self.mapping.header_of("status"),
                row.status,
                f"Status {row.status!r} is not recognised: use one of {known}.",
                row.line,
                field="status",
            )
        )


# Values that a new contract takes from defaults when the file has no column for
# them, with the columns that give them. An update sets them only from a column.
# The service values that an update takes only from a non-empty cell, and the
# parsed row's field that contains that cell. The other values are left out of the
# service input when their cell is empty.
UPDATE_SOURCES: dict[str, str] = {
    "name": "name",
    "start_date": "start_date",
    "end_date": "end_date",
    "signed_date": "signed_date",
    "amount": "amount",
    # From the currency column or the amount cell's symbol.
    "currency": "currency",
    "stage": "status",
    "payment_frequency": "payment_frequency",
    "auto_renewal": "auto_renewal",
    # Also filled from the default notice period of the import options.
    "notice_period": "notice_period",
}


# Id of a client, contract type or tag that a valid row will create. Ids start at 1.
_NOT_CREATED = 0

# Text from the row that the import may store in a record of its own: the row's
# field, the record's model and column, and what a message calls it.
_LIMITED_TEXT: tuple[tuple[str, type[Model], str, str], ...] = (
    ("client", Client, "name", "client's name"),
    ("client_coc_number", Client, "coc_number", "client's chamber of commerce number"),
    ("client_vat_number", Client, "vat_number", "client's VAT number"),
    ("contract_type", ContractType, "name", "contract type"),
    ("tags", Tag, "name", "tag"),
)


def _ignored_total_value(mapping: ColumnMapping) -> int | None:
    """Return the index of an ignored total-value column when another column is
    the amount, else None."""
    if mapping.index_of("amount") is None:
        return None
    for index, (header, field_name) in enumerate(
        zip(mapping.headers, mapping.fields, strict=True)
    ):
        if field_name is None and normalize_header(header) in TOTAL_VALUE_HEADERS:
            return index
    return None


def _total_value_header(mapping: ColumnMapping, options: ImportOptions) -> str | None:
    """Return the amount column's header when it names a total value and no
    explicit mapping chose it, else None."""
    header = mapping.header_of("amount")
    if header is None or normalize_header(header) not in TOTAL_VALUE_HEADERS:
        return None
    chosen = {normalize_header(source) for source in (options.mapping or {})}
    return None if normalize_header(header) in chosen else header


# The names that messages give the registration number fields.
_NUMBER_LABELS = {"client_coc_number": "CoC", "client_vat_number": "VAT"}


class _RowRejected(Exception):
    def __init__(self, error: RowError) -> None:
        super().__init__(error.reason)
        self.error = error


def _unnumbered_key(contract: Contract) -> tuple[int, str, date | None]:
    return (contract.client_id, _key(contract.name), contract.start_date)


@functools.cache
def _text_limits() -> tuple[tuple[str, str, int], ...]:
    """Return (row field, label, longest length) per entry of _LIMITED_TEXT."""
    return tuple(
        (field_name, label, getattr(model._meta.fields_map[column], "max_length", 0))
        for field_name, model, column, label in _LIMITED_TEXT
    )


# Rows name the same clients, types and tags many times.
@functools.lru_cache(maxsize=8192)
def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


@functools.lru_cache(maxsize=4096)
def _registration_key(number: str) -> str:
    """Return the key that registration numbers match on.

    A number of digits only loses its leading zeros, because a spreadsheet that
    stores it as a number drops them: 04567890 and 4567890 match.
    """
    key = _key(number)
    return (key.lstrip("0") or "0") if key.isdigit() else key


# Rows repeat a few notice periods and terms, and a Period is immutable.
@functools.lru_cache(maxsize=1024)
def _period(value: tuple[int, str] | None) -> Period | None:
    return None if value is None else Period(value[0], PeriodUnit(value[1]))


def _canonical(service_field: str) -> str:
    return {
        "client_id": "client",
        "owner_id": "owner_email",
        "contract_type_id": "contract_type",
        "stage": "status",
    }.get(service_field, service_field)


def _cell(row: ParsedRow, service_field: str) -> str:
    value = getattr(row, _canonical(service_field), None)
    if isinstance(value, tuple):
        # A period, stored as (count, unit).
        return " ".join(str(part) for part in value)
    return "" if value is None else str(value)


# Stored column of each import value whose name differs from its column.
_STORED_COLUMNS = {
    "amount": "amount_minor",
    "vat_rate": "vat_rate_bp",
    "indexation": "indexation_bp",
    "notice_period": "notice_count",
    "renewal_term": "renewal_term_count",
}


def _without_cleared_empties(
    values: dict[str, Any], current: Contract
) -> dict[str, Any]:
    """Leave out empty cells whose stored value is empty too.

    An update that sets a field counts as touching it for required-field rules,
    so clearing an already empty field would fail a rule that the row does not
    change, where the same edit through the API passes.
    """
    return {
        key: value
        for key, value in values.items()
        if value is not None
        or getattr(current, _STORED_COLUMNS.get(key, key), None) is not None
    }


def _unchanged(current: Contract, values: dict[str, Any]) -> bool:
    for name in COMPARED_COLUMNS:
        if name in values and getattr(current, name) != values[name]:
            return False
    for name, stored_bp in (
        ("vat_rate", current.vat_rate_bp),
        ("indexation", current.indexation_bp),
    ):
        # Rates are stored in basis points: 21% is 2100.
        if name in values and Decimal(values[name]) * 100 != stored_bp:
            return False
    for name, count, unit in (
        ("notice_period", current.notice_count, current.notice_unit),
        ("renewal_term", current.renewal_term_count, current.renewal_term_unit),
    ):
        period = values.get(name)
        if period is not None and (period.count, period.unit) != (count, unit):
            return False
    if "amount" not in values:
        # A file without an amount column leaves the stored amount as it is.
        return values.get("number") == current.number
    amount = values["amount"]
    stored = (
        None
        if current.amount_minor is None
        else from_minor_units(current.amount_minor, current.currency)
    )
    if (amount is None) != (stored is None) or (
        amount is not None and stored is not None and Decimal(amount) != stored
    ):
        return False
    return values.get("number") == current.number
