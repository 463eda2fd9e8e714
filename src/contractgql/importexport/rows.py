"""Turn the rows of a Table into typed contract values, rejecting invalid rows.

A row with any invalid cell is rejected with one RowError per problem, so the user
can fix the file in one pass. Within the file, the first row with a contract number
wins: a later row with the same number and the same values is a duplicate, and a
later row with the same number but other values is rejected.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

from contractgql.importexport.columns import (
    CANONICAL_FIELDS,
    MAP_COLUMN_HINT,
    ColumnMapping,
)
from contractgql.importexport.errors import ValueParseError
from contractgql.importexport.tables import Table, TableRow, TableRows, column_cells
from contractgql.importexport.values import (
    QUOTED_FORMULA_PREFIXES,
    DateOrder,
    DateOrderCounter,
    clean_text,
    detect_decimal_separator,
    parse_amount_with_currency,
    parse_bool,
    parse_currency,
    parse_date,
    parse_payment_frequency,
    parse_percentage,
    parse_period,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TAG_SEPARATORS = re.compile(r"[,;|\n]")

# Registers repeat the same dates, periods and yes/no words on many rows, so the
# parsers of those cells keep their recent results. The values they return are
# immutable, and a parse error is raised again on every call.
_PARSE_CACHE_SIZE = 4096
_cached_date = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(parse_date)
_cached_percentage = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(parse_percentage)
_cached_frequency = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(
    parse_payment_frequency
)
_cached_bool = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(parse_bool)
_cached_period = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(parse_period)
_cached_currency = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(parse_currency)

DATE_FIELDS = ("start_date", "end_date", "signed_date")
_DEFAULT_DATE_PARSERS: dict[str, Callable[[str], date]] = dict.fromkeys(
    DATE_FIELDS, _cached_date
)


@dataclass(frozen=True, slots=True)
class RowError:
    """A problem that rejects one row, with the source column and value involved."""

    row: int
    # Source header of the column, or None when the problem concerns the whole row.
    column: str | None
    value: str
    reason: str
    # Physical line on which the row starts in a CSV file.
    line: int | None = None
    # The row's contract number, when it has one, to name the row in reports.
    number: str | None = None
    # Canonical import field whose cell `value` is, or None when the value may hold
    # any cell of the row. Field security decides from it who may see the value.
    field: str | None = None


# Not frozen: a frozen dataclass sets each of its many attributes through
# object.__setattr__, which took a large share of the time of parsing its row.
@dataclass(slots=True)
class ParsedRow:
    """The contract values of one valid row, one attribute per canonical field.

    Treat it as read-only: duplicates are detected from the values it was built with.
    """

    row: int
    line: int
    number: str | None
    # The contract number when the file has no name for the row.
    name: str
    client: str
    client_coc_number: str | None
    client_vat_number: str | None
    contract_type: str | None
    status: str | None
    start_date: date | None
    end_date: date | None
    signed_date: date | None
    amount: Decimal | None
    # From the currency column, else from a code or symbol in the amount cell.
    currency: str | None
    # Percentage, so 21 is 21%.
    vat_rate: Decimal | None
    # One of "monthly", "quarterly", "half_yearly", "yearly" and "one_off".
    payment_frequency: str | None
    auto_renewal: bool | None
    # (count, unit) with unit "days", "weeks" or "months".
    notice_period: tuple[int, str] | None
    renewal_term: tuple[int, str] | None
    # Percentage per year, so 2.5 is 2.5%.
    indexation: Decimal | None
    description: str | None
    owner_email: str | None
    tags: list[str]
    # Row number of the earlier row with the same number and values, if any.
    duplicate_of: int | None = None
    # The row's cells as the file has them, for messages that show a cell.
    cells: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def contract_values(self) -> tuple[object, ...]:
        """Return the canonical field values, which decide whether two rows agree."""
        return tuple(getattr(self, name) for name in CANONICAL_FIELDS)

    def cell_as_written(self, mapping: ColumnMapping, field_name: str) -> str:
        """Return the file's cell of `field_name`, or "" when the column is unmapped.

        The cell is the text that the parsed value came from, such as
        "€ 1.234,567" for the amount 1234.567, after any --map-value mapping.
        """
        index = mapping.index_of(field_name)
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]


@dataclass(slots=True)
class ParseResult:
    """Rows to import, duplicate rows to skip, rejected rows and ignored columns."""

    rows: list[ParsedRow] = field(default_factory=list)
    duplicates: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def parse_rows(table: Table, mapping: ColumnMapping) -> ParseResult:
    """Parse every data row of `table` with the columns of `mapping` into lists.

    Raises ValueError when `mapping` was resolved for other headers than the table's.
    """
    result = ParseResult(ignored_columns=mapping.ignored_columns)
    for item in RowParser(table, mapping).parse():
        if isinstance(item, list):
            result.errors.extend(item)
        elif item.duplicate_of is not None:
            result.duplicates.append(item)
        else:
            result.rows.append(item)
    logger.info(
        "Parsed %s: %d rows, %d duplicates, %d errors",
        table.path,
        len(result.rows),
        len(result.duplicates),
        len(result.errors),
    )
    return result


class RowParser:
    """Parses the rows of a table one at a time, in file order.

    Creating the parser reads the amount and date columns once, to find the
    decimal separator that the whole amount column uses and the order of day and
    month in each date column (see detect_date_order). Parsing then holds one row
    at a time, plus, per contract number seen, the row that first had it and a
    hash of its values, so that a later row with that number is a duplicate or
    rejected.
    That index is the part of an import's memory that grows with the file.
    """

    def __init__(self, table: Table, mapping: ColumnMapping) -> None:
        """Raise ValueError when `mapping` was resolved for other headers."""
        if list(mapping.headers) != table.headers:
            raise ValueError("The column mapping was resolved for different headers.")
        self.table = table
        self.mapping = mapping
        self.indices = _field_indices(mapping)
        self.decimal_separator, date_orders = _survey_columns(table.rows, self.indices)
        self.date_parsers = _date_parsers(date_orders)
        # Contract number to the row that first had it and a 64-bit hash of that
        # row's values, packed into one int: about 120 bytes per number.
        self.first_by_number: dict[str, int] = {}

    def parse(self) -> Iterator[ParsedRow | list[RowError]]:
        """Yield each row as a ParsedRow, or as the list of errors that reject it.

        A row that repeats an earlier row's number and values comes with
        `duplicate_of` set to that row.
        """
        for table_row in self.table.rows:
            parsed, row_errors = _parse_row(
                table_row,
                self.mapping,
                self.decimal_separator,
                self.indices,
                self.date_parsers,
            )
            if parsed is None:
                yield row_errors
            else:
                yield self._check_number(parsed)

    def _check_number(self, parsed: ParsedRow) -> ParsedRow | list[RowError]:
        """Return the row, as a duplicate when it repeats an earlier row, or the
        error when it repeats a number with other values."""
        # NOTE: only accepted rows claim a number, so when the first row with a
        # number is rejected, a later row with that number is imported.
        if not parsed.number:
            return parsed
        key = _values_key(parsed)
        first = self.first_by_number.get(parsed.number)
        if first is None:
            self.first_by_number[parsed.number] = (parsed.row << 64) | key
            return parsed
        first_row, first_key = first >> 64, first & _HASH_MASK
        # NOTE: rows whose values differ but hash alike, a chance of about 1 in
        # 2**61 per pair, count as duplicates.
        if key == first_key:
            return dataclasses.replace(parsed, duplicate_of=first_row)
        return [
            RowError(
                row=parsed.row,
                column=self.mapping.header_of("number"),
                field="number",
                value=parsed.number or "",
                reason=(
                    f"Contract number {parsed.number!r} already appears on row "
                    f"{first_row} with different values; give each contract its own "
                    "number or remove one of the rows."
                ),
                line=parsed.line,
                number=parsed.number,
            )
        ]


def _survey_columns(
    rows: TableRows, indices: dict[str, int]
) -> tuple[str | None, dict[str, DateOrder]]:
    """Return the amount column's decimal separator and each date column's order.

    Both come from one pass over the rows. A file without a date column reads
    only its amount column, which costs a CSV file less than reading its rows.
    """
    amount_index = indices.get("amount")
    date_indices = {name: indices[name] for name in DATE_FIELDS if name in indices}
    if not date_indices:
        if amount_index is None:
            return None, {}
        return detect_decimal_separator(column_cells(rows, amount_index)), {}

    counters = {name: DateOrderCounter() for name in date_indices}
    date_columns = [(index, counters[name].add) for name, index in date_indices.items()]

    def amount_cells() -> Iterator[str]:
        # Counts the date cells of each row as a side effect.
        for row in rows:
            cells = row.cells
            for index, add in date_columns:
                if index < len(cells):
                    add(cells[index])
            if amount_index is not None and amount_index < len(cells):
                yield cells[amount_index]

    pending = amount_cells()
    separator = detect_decimal_separator(pending)
    # detect_decimal_separator reads every cell, but the dates must be counted
    # in full whatever it does.
    for _cell in pending:
        pass
    return separator, {name: counter.order() for name, counter in counters.items()}


def _date_parsers(orders: dict[str, DateOrder]) -> dict[str, Callable[[str], date]]:
    """Return the date parser of each date field, in its column's order.

    A column without a date that is valid only month first keeps the shared
    parser, which reads the same dates in the same way.
    """
    parsers = dict(_DEFAULT_DATE_PARSERS)
    for name, order in orders.items():
        if order.month_first_votes:
            parsers[name] = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(
                functools.partial(parse_date, order=order)
            )
    return parsers


# The contract number and client of the import template's example row, which
# the parser rejects so that a template filled in below it imports no example.
TEMPLATE_EXAMPLE_NUMBER = "EX-0001"
TEMPLATE_EXAMPLE_CLIENT = "Example Client B.V."

_CONTRACT_VALUES = operator.attrgetter(*CANONICAL_FIELDS)
_TAGS_INDEX = CANONICAL_FIELDS.index("tags")


_HASH_MASK = (1 << 64) - 1


def _values_key(parsed: ParsedRow) -> int:
    """Return a 64-bit hash of the row's contract values; tags count as a tuple."""
    values = list(_CONTRACT_VALUES(parsed))
    values[_TAGS_INDEX] = tuple(values[_TAGS_INDEX])
    return hash(tuple(values)) & _HASH_MASK


class _CellReader:
    """Reads the mapped cells of one row and collects a RowError per invalid cell."""

    def __init__(
        self, table_row: TableRow, mapping: ColumnMapping, indices: dict[str, int]
    ) -> None:
        self.table_row = table_row
        self.mapping = mapping
        # Column index of each mapped field, from _field_indices().
        self.indices = indices
        self.errors: list[RowError] = []

    def raw(self, field_name: str) -> str:
        """Return the cell text for `field_name`, or "" when unmapped or missing."""
        index = self.indices.get(field_name)
        cells = self.table_row.cells
        return cells[index] if index is not None and index < len(cells) else ""

    def text(self, field_name: str, *, keep_newlines: bool = False) -> str | None:
        # raw() inlined: most fields of a file are unmapped or short.
        index = self.indices.get(field_name)
        cells = self.table_row.cells
        if index is None or index >= len(cells) or not cells[index]:
            return None
        value = cells[index]
        # Comparing one character first costs less than a call per cell.
        if value[0] == "'":
            value = unquote_formula(value)
        cleaned = clean_text(value, keep_newlines=keep_newlines)
        return cleaned or None

    def parse(self, field_name: str, parser: Callable[[str], T]) -> T | None:
        """Parse a non-blank cell with `parser`; record an error and return None."""
        index = self.indices.get(field_name)
        cells = self.table_row.cells
        if index is None or index >= len(cells):
            return None
        value = cells[index]
        if not value.strip():
            return None
        if value.startswith("="):
            self.add_error(
                field_name,
                value,
                f"The cell holds the formula {value} without a computed value: open "
                "the file in a spreadsheet program, save it and import it again.",
            )
            return None
        try:
            return parser(value)
        except ValueParseError as exc:
            self.add_error(field_name, value, exc.reason)
            return None

    def sorted_errors(self) -> list[RowError]:
        """Return the errors in column order, row-wide problems last."""
        positions = {header: i for i, header in enumerate(self.mapping.headers)}
        last = len(positions)
        return sorted(
            self.errors,
            key=lambda error: last if error.column is None else positions[error.column],
        )

    def add_error(self, field_name: str | None, value: str, reason: str) -> None:
        column = None if field_name is None else self.mapping.header_of(field_name)
        self.errors.append(
            RowError(
                row=self.table_row.number,
                column=column,
                value=value,
                reason=reason,
                line=self.table_row.line,
                number=self.raw("number").strip() or None,
                field=field_name,
            )
        )


def _field_indices(mapping: ColumnMapping) -> dict[str, int]:
    """Return the column index of every mapped field, the first when repeated."""
    indices: dict[str, int] = {}
    for index, field_name in enumerate(mapping.fields):
        if field_name is not None:
            indices.setdefault(field_name, index)
    return indices


def _parse_row(
    table_row: TableRow,
    mapping: ColumnMapping,
    decimal_separator: str | None = None,
    indices: dict[str, int] | None = None,
    date_parsers: dict[str, Callable[[str], date]] | None = None,
) -> tuple[ParsedRow | None, list[RowError]]:
    """Return the parsed row, or None and every problem found in the row.

    `indices` are _field_indices() of `mapping`, computed once per table, and
    `date_parsers` the parser of each date field from _date_parsers().
    """
    if indices is None:
        indices = _field_indices(mapping)
    if date_parsers is None:
        date_parsers = _DEFAULT_DATE_PARSERS
    cells = _CellReader(table_row, mapping, indices)
    misaligned = _check_extra_cells(cells, len(mapping.headers))
    if "\x00" in "".join(table_row.cells) and _reject_nul_cells(cells):
        return None, _row_errors(cells, misaligned)

    # Files map a few of the fields, and testing for a field costs less than the
    # call that finds it unmapped, so the unmapped ones are skipped here.
    mapped = indices.__contains__
    text, parse = cells.text, cells.parse
    number = text("number") if mapped("number") else None
    name = (text("name") if mapped("name") else None) or number
    client = text("client") if mapped("client") else None
    amount, currency = _read_amount(cells, decimal_separator)
    # Empty name and client only stand in until the row is rejected below.
    parsed = ParsedRow(
        row=table_row.number,
        line=table_row.line,
        number=number,
        name=name or "",
        client=client or "",
        client_coc_number=(
            text("client_coc_number") if mapped("client_coc_number") else None
        ),
        client_vat_number=(
            text("client_vat_number") if mapped("client_vat_number") else None
        ),
        contract_type=text("contract_type") if mapped("contract_type") else None,
        status=text("status") if mapped("status") else None,
        start_date=(
            parse("start_date", date_parsers["start_date"])
            if mapped("start_date")
            else None
        ),
        end_date=(
            parse("end_date", date_parsers["end_date"]) if mapped("end_date") else None
        ),
        signed_date=(
            parse("signed_date", date_parsers["signed_date"])
            if mapped("signed_date")
            else None
        ),
        amount=amount,
        currency=currency,
        vat_rate=(
            parse("vat_rate", _cached_percentage) if mapped("vat_rate") else None
        ),
        payment_frequency=(
            parse("payment_frequency", _cached_frequency)
            if mapped("payment_frequency")
            else None
        ),
        auto_renewal=(
            parse("auto_renewal", _cached_bool) if mapped("auto_renewal") else None
        ),
        notice_period=(
            parse("notice_period", _cached_period) if mapped("notice_period") else None
        ),
        renewal_term=(
            parse("renewal_term", _cached_period) if mapped("renewal_term") else None
        ),
        indexation=(
            parse("indexation", _cached_percentage) if mapped("indexation") else None
        ),
        description=(
            text("description", keep_newlines=True) if mapped("description") else None
        ),
        owner_email=text("owner_email") if mapped("owner_email") else None,
        tags=_split_tags(unquote_formula(cells.raw("tags"))) if mapped("tags") else [],
        cells=table_row.cells,
    )

    _check_required(cells, name, client)
    _check_template_example(cells, number, client)
    _check_date_order(cells, parsed.start_date, parsed.end_date)
    if cells.errors:
        return None, _row_errors(cells, misaligned)
    return parsed, []


def _row_errors(cells: _CellReader, misaligned: bool) -> list[RowError]:
    """Return the row's errors in column order.

    A row with values beyond the last header has its cells shifted, so a column
    may hold another column's value, such as an amount in the currency column.
    Its errors then name no field, and field security treats each value as
    possibly any field's.
    """
    errors = cells.sorted_errors()
    if misaligned:
        return [dataclasses.replace(error, field=None) for error in errors]
    return errors


def _reject_nul_cells(cells: _CellReader) -> bool:
    """Add an error per mapped cell containing a NUL character, returning if any did.

    No text column of PostgreSQL can store one, and a text file rarely contains
    one unless it was saved in another encoding or is not text at all.
    """
    found = False
    for field_name in cells.indices:
        value = cells.raw(field_name)
        if "\x00" in value:
            found = True
            cells.add_error(
                field_name,
                value.replace("\x00", "\\x00"),
                "The cell contains a NUL character (byte 0), which no text field "
                "can store. Remove it, or check that the file was saved as text "
                "(CSV UTF-8).",
            )
    return found


def _check_extra_cells(cells: _CellReader, header_count: int) -> bool:
    """Reject values beyond the last header, returning whether the row has any."""
    if len(cells.table_row.cells) <= header_count:
        return False
    extra = [cell for cell in cells.table_row.cells[header_count:] if cell.strip()]
    if extra:
        cells.add_error(
            None,
            " | ".join(extra),
            f"The row has values beyond the last of the {header_count} header "
            "columns; a value probably contains an unquoted delimiter, so quote it "
            "or export the file again.",
        )
    return bool(extra)


def _read_amount(
    cells: _CellReader, decimal_separator: str | None
) -> tuple[Decimal | None, str | None]:
    """Return the amount and the currency from the currency column or amount cell."""
    amount_and_currency = cells.parse("amount", _amount_parser(decimal_separator))
    amount, amount_currency = amount_and_currency or (None, None)
    currency = cells.parse("currency", _cached_currency)

    if amount is not None and amount < 0:
        cells.add_error(
            "amount",
            cells.raw("amount"),
            f"Amount {cells.raw('amount').strip()!r} is negative; a contract amount "
            "must be 0 or more.",
        )
    if amount_currency and currency and amount_currency != currency:
        cells.add_error(
            "amount",
            cells.raw("amount"),
            f"The amount is in {amount_currency} but the currency column says "
            f"{currency}; make them agree.",
        )
    return amount, currency or amount_currency


@functools.cache
def _amount_parser(
    decimal_separator: str | None,
) -> Callable[[str], tuple[Decimal, str | None]]:
    return functools.partial(
        parse_amount_with_currency, decimal_separator=decimal_separator
    )


def _check_required(cells: _CellReader, name: str | None, client: str | None) -> None:
    if name is None and client is None and _reject_ignored_only(cells):
        return
    if name is None:
        cells.add_error(
            "name",
            "",
            "The name and the contract number are both empty; fill in at least one.",
        )
    if client is None:
        cells.add_error(
            "client",
            cells.raw("client"),
            "The client is empty; every contract needs a client. Fill it in, or map "
            f"the column that names the client {MAP_COLUMN_HINT}.",
        )


def _reject_ignored_only(cells: _CellReader) -> bool:
    """Reject a row whose values all sit in ignored columns, with one error.

    Such a row is blank to the import, and a list of every required field it
    lacks would hide the likely cause: a note or a total typed in a column that
    the import leaves out. Returns False when a mapped cell has a value.
    """
    row_cells = cells.table_row.cells
    if any(
        row_cells[index].strip()
        for index in cells.indices.values()
        if index < len(row_cells)
    ):
        return False
    fields = cells.mapping.fields
    headers = cells.mapping.headers
    for index, value in enumerate(row_cells):
        if index < len(fields) and fields[index] is None and value.strip():
            cells.errors.append(
                RowError(
                    row=cells.table_row.number,
                    column=headers[index],
                    value=value,
                    reason=(
                        f"Only the ignored column {headers[index]!r} has a value "
                        "on this row, so it holds no contract. Delete the row or, "
                        "if the column holds a contract field, map it "
                        f"{MAP_COLUMN_HINT}."
                    ),
                    line=cells.table_row.line,
                    number=None,
                )
            )
            return True
    return False


def _check_template_example(
    cells: _CellReader, number: str | None, client: str | None
) -> None:
    """Reject the example row of the import template, left in by mistake."""
    if number == TEMPLATE_EXAMPLE_NUMBER and client == TEMPLATE_EXAMPLE_CLIENT:
        cells.add_error(
            "number",
            number,
            f"This is the import template's example row (contract "
            f"{TEMPLATE_EXAMPLE_NUMBER} of {TEMPLATE_EXAMPLE_CLIENT!r}): overwrite "
            "it with a real contract or delete it.",
        )


def _check_date_order(
    cells: _CellReader, start_date: date | None, end_date: date | None
) -> None:
    if start_date is None or end_date is None or end_date >= start_date:
        return
    cells.add_error(
        "end_date",
        cells.raw("end_date"),
        f"The end date {cells.raw('end_date').strip()!r} is before the start date "
        f"{cells.raw('start_date').strip()!r}; check the dates, or whether the two "
        "columns are swapped.",
    )


def unquote_formula(text: str) -> str:
    """Remove the single quote that the exports put before a cell that a
    spreadsheet would run as a formula, such as "'=HYPERLINK(...)"."""
    return text[1:] if text.startswith(QUOTED_FORMULA_PREFIXES) else text


def _split_tags(text: str) -> list[str]:
    """Split a tags cell on commas, semicolons, pipes and newlines, dropping repeats."""
    tags: list[str] = []
    seen: set[str] = set()
    for part in _TAG_SEPARATORS.split(text):
        tag = clean_text(part)
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags
