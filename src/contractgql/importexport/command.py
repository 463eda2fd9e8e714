"""The `contractgql import` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

from contractgql.config import Settings
from contractgql.importexport.errors import ImportFileError, ValueParseError
from contractgql.importexport.importer import ImportOptions, ImportReport, import_file
from contractgql.importexport.value_mapping import CHOICE_FIELDS, value_mappings
from contractgql.importexport.values import parse_period


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
    parser.set_defaults(handler=run_import)


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
        value_mappings=mapped_values or None,
    )
    if args.preview_values:
        return asyncio.run(
            _run_preview(args.file, args.organization, options, settings)
        )
    return asyncio.run(_run(args.file, args.organization, options, settings))


async def _run(
    path: Path, organization_name: str, options: ImportOptions, settings: Settings
) -> int:
    from contractgql import db
    from contractgql.models import Organization

    if settings.is_sqlite:
        await db.migrate(settings)
    await db.connect(settings)
    try:
        organization_name = " ".join(organization_name.split())
        organization = await Organization.filter(name=organization_name).first()
        if organization is None:
            names = (
                await Organization.all().order_by("name").values_list("name", flat=True)
            )
            choices = ", ".join(repr(name) for name in names)
            hint = f"use one of {choices}" if choices else "create one with create-user"
            print(
                f"contractgql import: organization {organization_name!r} does not "
                f"exist: {hint}.",
                file=sys.stderr,
            )
            return 2
        report = await import_file(path, organization, options)
    except ImportFileError as error:
        print(f"contractgql import: {error}", file=sys.stderr)
        return 2
    finally:
        await db.disconnect()

    print_report(report, verbose=options.dry_run)
    return 1 if report.errors else 0


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
    write(f"{title} {report.path} ({report.total_rows} rows, {report.seconds:.1f} s)")
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
    if report.unmapped_contract_types:
        common = report.unmapped_contract_types.most_common()
        listed = ", ".join(f"{name!r} ({count})" for name, count in common[:10])
        more = f" and {len(common) - 10} more" if len(common) > 10 else ""
        write(
            "Contract types not found, left empty (pass --create-types to create "
            f"them): {listed}{more}"
        )
    would = "would be " if report.dry_run else ""
    write(
        f"{report.count('created')} {would}created, {report.count('updated')} {would}"
        f"updated, {report.count('unchanged')} unchanged, {report.count('duplicate')} "
        f"duplicates, {report.count('rejected')} rejected; {report.created_clients} "
        f"new clients; {report.accounted_for} of {report.total_rows} rows accounted "
        "for."
    )


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
