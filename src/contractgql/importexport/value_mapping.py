"""Mapping the free text of a register's choice columns onto the fixed lists.

An import maps each cell of a choice column as written, compared without case
and runs of spaces, onto an explicit value the user gave with
`--map-value FIELD="SOURCE=TARGET"`. Cells without an explicit mapping go to the
field's own parser, as before. `preview_values` lists every distinct value of
every choice column with what it maps to, so a user can review the mapping
before importing.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from contractgql.domain.money import MoneyError, validate_currency
from contractgql.importexport.columns import ColumnMapping
from contractgql.importexport.errors import ValueParseError
from contractgql.importexport.tables import Table, TableRow, TableRows
from contractgql.importexport.values import (
    format_period,
    parse_bool,
    parse_currency,
    parse_payment_frequency,
    parse_percentage,
    parse_period,
)
from contractgql.models import ContractType, Organization
from contractgql.quality.choices import BASIS_POINTS, format_rate

# Import fields whose values come from a fixed set, and can be mapped.
CHOICE_FIELDS = (
    "contract_type",
    "status",
    "payment_frequency",
    "currency",
    "vat_rate",
    "notice_period",
    "renewal_term",
    "auto_renewal",
)
# Contract types that score at least this (rapidfuzz WRatio, 0 to 100) against an
# unmapped value are suggested in the preview.
SUGGESTION_CUTOFF = 80

ValueMappings = dict[str, dict[str, str]]


def normalize(text: str) -> str:
    return " ".join(text.split()).casefold()


def parse_value_mapping(item: str) -> tuple[str, str, str]:
    """Parse 'FIELD=SOURCE=TARGET' into its three parts, or raise ValueError."""
    field, _, rest = item.partition("=")
    source, sep, target = rest.partition("=")
    field = field.strip()
    if not sep or not source.strip() or not target.strip():
        raise ValueError(
            f"--map-value {item!r} is not FIELD=SOURCE=TARGET: write it as "
            "'contract_type=Onderhoud=Maintenance contract'."
        )
    if field not in CHOICE_FIELDS:
        raise ValueError(
            f"--map-value {item!r} names field {field!r}, which has no fixed set "
            f"of values: use one of {', '.join(CHOICE_FIELDS)}."
        )
    return field, source.strip(), target.strip()


def value_mappings(items: list[str]) -> ValueMappings:
    mappings: ValueMappings = {}
    for item in items:
        field, source, target = parse_value_mapping(item)
        mappings.setdefault(field, {})[normalize(source)] = target
    return mappings


def apply_value_mappings(
    table: Table, mapping: ColumnMapping, mappings: ValueMappings | None
) -> Table:
    """Return `table` with the explicitly mapped cells replaced by their targets."""
    explicit_mappings = mappings or {}
    indexes = {
        index: explicit_mappings[field]
        for field in explicit_mappings
        if (index := mapping.index_of(field)) is not None
    }
    if not indexes:
        return table
    return dataclasses.replace(table, rows=_MappedRows(table.rows, indexes))


class _MappedRows:
    """The rows of a table with explicitly mapped cells replaced, mapped per pass.

    Mapping each row as it is read keeps a large CSV file out of memory.
    """

    def __init__(self, rows: TableRows, indexes: dict[int, dict[str, str]]) -> None:
        self.rows = rows
        # Column index to normalized source value to target value.
        self.indexes = indexes

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[TableRow]:
        for row in self.rows:
            cells = list(row.cells)
            for index, targets in self.indexes.items():
                if index < len(cells):
                    cells[index] = targets.get(normalize(cells[index]), cells[index])
            yield TableRow(row.number, row.line, tuple(cells))


@dataclass(frozen=True)
class PreviewLine:
    """One distinct value of a choice column and what an import makes of it."""

    field: str
    source: str
    rows: int
    # The list value, or None when the value does not map.
    target: str | None
    # "explicit", "recognised", or why the value does not map.
    status: str


async def preview_values(
    table: Table,
    mapping: ColumnMapping,
    organization: Organization,
    mappings: ValueMappings | None,
    create_types: bool = False,
) -> list[PreviewLine]:
    """List each distinct value of each choice column and the value it maps to."""
    names: list[str] = await ContractType.filter(  # type: ignore[assignment]
        organization_id=organization.id, archived_at=None
    ).values_list("name", flat=True)
    types = {normalize(name): name for name in names}
    lines = []
    for field in CHOICE_FIELDS:
        index = mapping.index_of(field)
        if index is None:
            continue
        counts: Counter[str] = Counter()
        first_spelling: dict[str, str] = {}
        for row in table.rows:
            cell = row.cells[index].strip() if index < len(row.cells) else ""
            if cell:
                counts[normalize(cell)] += 1
                first_spelling.setdefault(normalize(cell), cell)
        explicit = (mappings or {}).get(field, {})
        for key, count in sorted(counts.items()):
            source = first_spelling[key]
            if key in explicit:
                target, status = _recognise(
                    field, explicit[key], organization, types, create_types
                )
                status = "explicit" if target is not None else status
            else:
                target, status = _recognise(
                    field, source, organization, types, create_types
                )
            lines.append(PreviewLine(field, source, count, target, status))
    return lines


def _recognise(
    field: str,
    text: str,
    organization: Organization,
    types: dict[str, str],
    create_types: bool,
) -> tuple[str | None, str]:
    if field == "contract_type":
        return _recognise_type(text, types, create_types)
    if field == "status":
        from contractgql.importexport.importer import STAGE_WORDS

        for stage, words in STAGE_WORDS.items():
            if normalize(text) in words:
                return stage.value, "recognised"
        return None, "not a known status"
    if field == "vat_rate":
        try:
            rate = int(parse_percentage(text) * BASIS_POINTS)
        except ValueParseError:
            return None, "not a percentage"
        if rate not in organization.vat_rates:
            return None, "not one of the organization's VAT rates"
        return f"{format_rate(rate)}%", "recognised"
    if field == "currency":
        try:
            return validate_currency(parse_currency(text)), "recognised"
        except (ValueParseError, MoneyError):
            return None, "not an ISO 4217 currency"
    parsers: dict[str, Callable[[str], Any]] = {
        "payment_frequency": parse_payment_frequency,
        "notice_period": parse_period,
        "renewal_term": parse_period,
        "auto_renewal": parse_bool,
    }
    try:
        value = parsers[field](text)
    except ValueParseError:
        return None, "not recognised"
    if isinstance(value, tuple):
        return format_period(*value), "recognised"
    return str(value).lower(), "recognised"


def _recognise_type(
    text: str, types: dict[str, str], create_types: bool
) -> tuple[str | None, str]:
    key = normalize(text)
    if key in types:
        return types[key], "recognised"
    if create_types:
        return text, "new contract type (--create-types)"
    match = process.extractOne(
        text, list(types.values()), scorer=fuzz.WRatio, score_cutoff=SUGGESTION_CUTOFF
    )
    if match is not None:
        return None, f"no such contract type; closest is {match[0]!r}"
    return None, "no such contract type; left empty"
