"""Turn the rows of a Table into typed contract values, rejecting invalid rows.

A row with any invalid cell is rejected with one RowError per problem, so the user
can fix the file in one pass. Within the file, the first row with a contract number
wins: a later row with the same number and the same values is a duplicate, and a
later row with the same number but other values is rejected. Rows without a number
follow the same rule on their client, name and start date, which the import
matches them on.
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
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from contractgql.domain.money import MoneyError, minor_unit_exponent
from contractgql.importexport.columns import (
    CANONICAL_FIELDS,
    MAP_COLUMN_HINT,
    ColumnMapping,
)
from contractgql.importexport.errors import ValueParseError
from contractgql.importexport.tables import Table, TableRow, TableRows, column_cells
from contractgql.importexport.values import (
    QUOTED_FORMULA_PREFIXES,
    AmountColumnSurvey,
    DateOrder,
    DateOrderCounter,
    ambiguous_amount_parts,
    clean_text,
    is_slash_date,
    number_in_words,
    parse_amount_with_currency,
    parse_bool,
    parse_currency,
    parse_date,
    parse_payment_frequency,
    parse_percentage,
    parse_period,
    survey_amount_column,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TAG_SEPARATORS = re.compile(r"[,;|\n]")

# Registers repeat the same dates, periods and yes/no words on many rows, so the
# parsers of those cells keep their recent results. The values they return are
# immutable, and a parse error is raised again on every call.
_PARSE_CACHE_SIZE = 4096
# A column without a date valid only month first reads every date day first.
_cached_date = functools.lru_cache(maxsize=_PARSE_CACHE_SIZE)(
    functools.partial(parse_date, order=DateOrder(month_first=False))
)
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


@dataclass(frozen=True, slots=True)
class RowWarning:
    """A value that was imported with a doubt, or left out, and why."""

    row: int
    column: str | None
    value: str
    message: str
    # Canonical import field whose value `value` is, or None when unknown.
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
    # For a row without a number, the same client, name, start date and values.
    duplicate_of: int | None = None
    # Doubts about values that the row imports as read, for the import's report.
    warnings: tuple[RowWarning, ...] = ()
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
    month of the dates written with "/" in each date column (see
    detect_date_order). Parsing then holds one row
    at a time, plus, per contract number seen, the row that first had it and a
    hash of its values, so that a later row with that number is a duplicate or
    rejected. Rows without a number get the same index, keyed on a hash of their
    client, name and start date.
    That index is the part of an import's memory that grows with the file.
    """

    def __init__(
        self,
        table: Table,
        mapping: ColumnMapping,
        default_currency: str | None = None,
    ) -> None:
        """Raise ValueError when `mapping` was resolved for other headers.

        `default_currency` is the currency of rows that name none, which decides
        how many decimal places their amounts may have. Without it, such rows
        are checked against the 2 places of most currencies.
        """
        if list(mapping.headers) != table.headers:
            raise ValueError("The column mapping was resolved for different headers.")
        self.table = table
        self.mapping = mapping
        self.indices = _field_indices(mapping)
        survey, date_orders = _survey_columns(table.rows, self.indices)
        self.amount_column = _AmountColumn(survey, default_currency)
        self.date_orders = date_orders
        self.date_parsers = _date_parsers(date_orders)
        # Date fields whose column is read month first and whose first accepted
        # row with a date written with "/" has not yet had the warning about it.
        self.month_first_warnings_due = [
            name for name, order in date_orders.items() if order.month_first
        ]
        # Contract number to the row that first had it and a 64-bit hash of that
        # row's values, packed into one int: about 120 bytes per number.
        self.first_by_number: dict[str, int] = {}
        # The same for rows without a number, keyed on a 64-bit hash of their
        # client, name and start date (see _unnumbered_key).
        self.first_by_unnumbered_key: dict[int, int] = {}
        # Whether the next accepted row with an ambiguous amount gets the warning
        # that explains how the column's ambiguous amounts were read.
        self.ambiguous_warning_due = (
            survey.separator is None and survey.ambiguous_count > 0
        )

    def parse(self) -> Iterator[ParsedRow | list[RowError]]:
        """Yield each row as a ParsedRow, or as the list of errors that reject it.

        A row that repeats an earlier row's number and values, or, without a
        number, its client, name, start date and values, comes with
        `duplicate_of` set to that row.
        """
        for table_row in self.table.rows:
            parsed, row_errors = _parse_row(
                table_row,
                self.mapping,
                self.amount_column,
                self.indices,
                self.date_parsers,
            )
            if parsed is None:
                yield row_errors
                continue
            checked = self._check_number(parsed)
            if (
                self.month_first_warnings_due
                and isinstance(checked, ParsedRow)
                and checked.duplicate_of is None
            ):
                self._warn_month_first(checked)
            if (
                self.ambiguous_warning_due
                and isinstance(checked, ParsedRow)
                and checked.duplicate_of is None
            ):
                self._warn_ambiguous_amount(checked)
            yield checked

    def _check_number(self, parsed: ParsedRow) -> ParsedRow | list[RowError]:
        """Return the row, as a duplicate when it repeats an earlier row, or the
        error when it repeats a number with other values."""
        # NOTE: only accepted rows claim a number, so when the first row with a
        # number is rejected, a later row with that number is imported.
        if not parsed.number:
            return self._check_unnumbered(parsed)
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

    def _check_unnumbered(self, parsed: ParsedRow) -> ParsedRow | list[RowError]:
        """Apply _check_number's rule to a row without a number, on its client,
        name and start date, because the import matches such a row on those."""
        # NOTE: as with numbers, only accepted rows claim a key.
        key = _unnumbered_key(parsed)
        values_key = _values_key(parsed)
        first = self.first_by_unnumbered_key.get(key)
        if first is None:
            self.first_by_unnumbered_key[key] = (parsed.row << 64) | values_key
            return parsed

        first_row, first_values_key = first >> 64, first & _HASH_MASK
        # NOTE: two rows whose client, name and start date differ but hash alike,
        # a chance of about 1 in 2**64 per pair, count as one contract.
        if values_key == first_values_key:
            return dataclasses.replace(parsed, duplicate_of=first_row)

        start_cell = parsed.cell_as_written(self.mapping, "start_date").strip()
        start = f"start date {start_cell!r}"
        if parsed.start_date is None:
            start = "no start date"
        # NOTE: the reason also shows the name and start date, but field security
        # decides only from the client field whether a viewer may read it.
        return [
            RowError(
                row=parsed.row,
                column=self.mapping.header_of("client"),
                field="client",
                value=parsed.cell_as_written(self.mapping, "client"),
                reason=(
                    f"Row {first_row} has the same client {parsed.client!r}, name "
                    f"{parsed.name!r} and {start} but different values. Rows "
                    "without a contract number are matched on client, name and "
                    "start date, so this row would overwrite that contract. Give "
                    "each contract its own number, or remove one of the rows."
                ),
                line=parsed.line,
                number=None,
            )
        ]

    def _warn_month_first(self, parsed: ParsedRow) -> None:
        """Add the warning that a date column is read month first to the row, for
        each such column whose first date written with "/" the row has."""
        for name in list(self.month_first_warnings_due):
            cell = parsed.cell_as_written(self.mapping, name)
            value = getattr(parsed, name)
            if value is None or not is_slash_date(cell):
                continue
            self.month_first_warnings_due.remove(name)
            order = self.date_orders[name]
            header = self.mapping.header_of(name)
            votes = order.month_first_votes
            message = (
                f"Column {header!r} is read month first because {votes} dates "
                f"such as {order.month_first_example!r} are valid only month "
                f"first, against {order.day_first_votes} valid only day first, so "
                f"{cell.strip()!r} was read as {value.isoformat()}. Dates written "
                "with '-' or '.' are still read day first. If the column is day "
                f"first, correct the {votes} dates valid only month first."
            )
            parsed.warnings = (
                *parsed.warnings,
                RowWarning(
                    row=parsed.row,
                    column=header,
                    value=cell,
                    message=message,
                    field=name,
                ),
            )

    def _warn_ambiguous_amount(self, parsed: ParsedRow) -> None:
        """Add the column's warning about ambiguous amounts to the row if its
        amount is the first of them."""
        cell = parsed.cell_as_written(self.mapping, "amount")
        parts = ambiguous_amount_parts(cell)
        if parts is None:
            return
        self.ambiguous_warning_due = False
        parsed.warnings = (
            *parsed.warnings,
            RowWarning(
                row=parsed.row,
                column=self.mapping.header_of("amount"),
                value=cell,
                message=self.amount_column.ambiguous_warning(
                    cell, parts, parsed.currency
                ),
                field="amount",
            ),
        )


@dataclass(frozen=True, slots=True)
class _AmountColumn:
    """The survey of the amount column and the currency of rows that name none."""

    survey: AmountColumnSurvey
    default_currency: str | None

    def check_ambiguous(
        self, cells: _CellReader, text: str, currency: str | None
    ) -> None:
        """Reject an amount such as 1,234 that the column's decimal separator
        reads with more decimal places than its currency has.

        Such an amount was more likely meant as a whole number, so the error
        gives both ways to write it.
        """
        separator = self.survey.separator
        parts = ambiguous_amount_parts(text)
        if separator is None or parts is None or parts[1] != separator:
            return
        currency = currency or self.default_currency
        places = _decimal_places(currency)
        if places >= 3:
            return
        whole, _, fraction = parts
        grouping = "." if separator == "," else ","
        written = text.strip()
        has = f"the {places} of {currency}" if currency else "the 2 of most currencies"
        cells.add_error(
            "amount",
            text,
            f"Amount {written!r} is ambiguous: this column uses {separator!r} as "
            f"decimal separator, as in {self.survey.example_of(separator)!r}, so "
            f"{written!r} reads with 3 decimal places, more than {has}. Write "
            f"{whole}{grouping}{fraction} or {whole}{fraction} for "
            f"{number_in_words(int(whole + fraction))}. "
            f"{_decimal_reading(whole, fraction, places, separator)}",
        )

    def ambiguous_warning(
        self, text: str, parts: tuple[str, str, str], currency: str | None
    ) -> str:
        """Return the warning for the first ambiguous amount of a column whose
        amounts show no single decimal separator, which reads them as whole."""
        whole, separator, fraction = parts
        survey = self.survey
        if survey.comma_example is None:
            because = "no amount in this column shows which decimal separator it uses"
        else:
            because = (
                f"the amounts of this column use both ',' (as in "
                f"{survey.comma_example!r}) and '.' (as in {survey.dot_example!r}) "
                "as decimal separator"
            )
        others = survey.ambiguous_count - 1
        also = ""
        if others == 1:
            also = (
                " 1 other amount of the column can be read both ways and was read "
                "as a whole number too."
            )
        elif others:
            also = (
                f" {others} other amounts of the column can be read both ways and "
                "were read as whole numbers too."
            )
        places = _decimal_places(currency or self.default_currency)
        return (
            f"Amount {text.strip()!r} can have {separator!r} as thousands or as "
            f"decimal separator, and {because}, so it was read as {whole}{fraction} "
            f"({number_in_words(int(whole + fraction))}). Write {whole}{fraction} "
            "to keep that reading. "
            f"{_decimal_reading(whole, fraction, places, separator)}{also}"
        )


def _decimal_reading(whole: str, fraction: str, places: int, separator: str) -> str:
    """Return the sentence on how to write whole.fraction, an amount with 3
    decimal places, when `separator` was meant as decimal separator.

    With fewer than 3 places the amount cannot be stored as written, so the
    sentence offers it rounded, named as rounded.
    """
    meant = f"If you meant {number_in_words(int(whole))} and {fraction} thousandths"
    if places >= 3:
        # A fourth decimal shows the separator, as no thousands group has 4 digits.
        return f"{meant}, write {whole}{separator}{fraction}0."
    rounded = _rounded(whole, fraction, places, separator)
    return f"{meant}, write it {_rounded_to(places)}: {rounded}."


def _decimal_places(currency: str | None) -> int:
    """Return the decimal places of `currency`, or 2 when it is unknown or None."""
    if currency is None:
        return 2
    try:
        return minor_unit_exponent(currency)
    except MoneyError:
        # The import rejects the currency itself.
        return 2


def _rounded(whole: str, fraction: str, places: int, separator: str) -> str:
    """Return whole.fraction rounded half up to `places`, with `separator`."""
    amount = Decimal(f"{whole}.{fraction}").quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP
    )
    return str(amount).replace(".", separator)


def _rounded_to(places: int) -> str:
    if places == 0:
        return "rounded to a whole number"
    return f"rounded to {places} decimal {'place' if places == 1 else 'places'}"


def _survey_columns(
    rows: TableRows, indices: dict[str, int]
) -> tuple[AmountColumnSurvey, dict[str, DateOrder]]:
    """Return the survey of the amount column and each date column's order.

    Both come from one pass over the rows. A file without a date column reads
    only its amount column, which costs a CSV file less than reading its rows.
    """
    amount_index = indices.get("amount")
    date_indices = {name: indices[name] for name in DATE_FIELDS if name in indices}
    if not date_indices:
        if amount_index is None:
            return AmountColumnSurvey(None), {}
        return survey_amount_column(column_cells(rows, amount_index)), {}

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
    survey = survey_amount_column(pending)
    # survey_amount_column reads every cell, but the dates must be counted in
    # full whatever it does.
    for _cell in pending:
        pass
    return survey, {name: counter.order() for name, counter in counters.items()}


def _date_parsers(orders: dict[str, DateOrder]) -> dict[str, Callable[[str], date]]:
    """Return the date parser of each date field, in its column's order.

    A column without a date that is valid only month first keeps the shared
    day-first parser, which reads the same dates in the same way.
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
_CLIENT_INDEX = CANONICAL_FIELDS.index("client")


_HASH_MASK = (1 << 64) - 1


def _values_key(parsed: ParsedRow) -> int:
    """Return a 64-bit hash of the row's contract values; tags count as a tuple."""
    values = list(_CONTRACT_VALUES(parsed))
    values[_TAGS_INDEX] = tuple(values[_TAGS_INDEX])
    # The import matches clients without case or runs of whitespace, so a row that
    # writes the client's name otherwise still repeats the same contract.
    values[_CLIENT_INDEX] = _text_key(values[_CLIENT_INDEX])
    return hash(tuple(values)) & _HASH_MASK


def _unnumbered_key(parsed: ParsedRow) -> int:
    """Return a 64-bit hash of what the import matches a row without a number on.

    That is the client name and the name, compared with runs of whitespace
    collapsed and case folded, and the start date. The client's registration
    numbers count too, so that two companies with one name stay apart.
    """
    # The import joins a client by name when its registration number matches no
    # client, so two such rows can still reach one contract. The importer rejects
    # the later row then.
    return (
        hash(
            (
                _text_key(parsed.client),
                _registration_key(parsed.client_coc_number),
                _registration_key(parsed.client_vat_number),
                _text_key(parsed.name),
                parsed.start_date,
            )
        )
        & _HASH_MASK
    )


def _text_key(text: str) -> str:
    """Return `text` as the import compares client and contract names."""
    return " ".join(text.split()).casefold()


def _registration_key(number: str | None) -> str | None:
    """Return a registration number as the import compares it: digits lose their
    leading zeros, which a spreadsheet that stores the number as a number drops."""
    if number is None:
        return None
    key = _text_key(number)
    return (key.lstrip("0") or "0") if key.isdigit() else key


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
    amount_column: _AmountColumn | None = None,
    indices: dict[str, int] | None = None,
    date_parsers: dict[str, Callable[[str], date]] | None = None,
) -> tuple[ParsedRow | None, list[RowError]]:
    """Return the parsed row, or None and every problem found in the row.

    `amount_column` gives the amount column's decimal separator, `indices` are
    _field_indices() of `mapping`, computed once per table, and `date_parsers`
    the parser of each date field from _date_parsers().
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
    amount, currency = _read_amount(cells, amount_column)
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
    cells: _CellReader, amount_column: _AmountColumn | None
) -> tuple[Decimal | None, str | None]:
    """Return the amount and the currency from the currency column or amount cell."""
    separator = None if amount_column is None else amount_column.survey.separator
    amount_and_currency = cells.parse("amount", _amount_parser(separator))
    amount, amount_currency = amount_and_currency or (None, None)
    currency = cells.parse("currency", _cached_currency)
    # Only a column with a decimal separator and an ambiguous amount needs this.
    if (
        amount is not None
        and separator is not None
        and amount_column is not None
        and amount_column.survey.ambiguous_count
    ):
        amount_column.check_ambiguous(
            cells, cells.raw("amount"), currency or amount_currency
        )

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
