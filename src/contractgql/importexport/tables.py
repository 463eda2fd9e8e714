"""Read a CSV or XLSX file into a table of strings with spreadsheet row numbers.

Row numbers count as a spreadsheet user would: the first row of the file is row 1,
blank rows count, and a CSV record whose quoted field spans several lines is still
one row. The header is the first row within the first 10 that names at least 2
known columns, and rows above it are skipped.

A CSV file is never held in memory whole: reading it checks its encoding and
quoting and counts its rows in one pass, and each later pass over `Table.rows`
reads the file from disk again. An XLSX worksheet is parsed once, and its data
rows are written to a temporary CSV file that later passes read (see TempCsvRows).
"""

from __future__ import annotations

import codecs
import csv
import itertools
import logging
import math
import re
import tempfile
import weakref
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TextIO

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from contractgql.importexport.columns import (
    MAP_COLUMN_HINT,
    match_header,
    normalize_header,
)
from contractgql.importexport.errors import ImportFileError, ValueParseError

logger = logging.getLogger(__name__)

# The header must be within this many rows from the top of the file.
HEADER_SEARCH_ROWS = 10
# A header row names at least this many known columns, so a title row never passes.
MIN_HEADER_FIELDS = 2

CSV_DELIMITERS = (",", ";", "\t", "|")
SNIFF_SAMPLE_CHARS = 64 * 1024
# Characters one CSV cell may have. A longer cell rejects the whole file, while a
# cell within it that its column cannot store rejects only its row. The csv
# module's own default of 131072 would reject whole files for one long description.
MAX_CELL_CHARS = 10_000_000
csv.field_size_limit(MAX_CELL_CHARS)

# Bytes read from the start of a file to tell XLSX, XLS and CSV apart.
_HEAD_BYTES = 8
# Bytes decoded at a time when a CSV file's encoding is checked.
_DECODE_CHUNK_BYTES = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"
# Legacy .xls files are OLE2 compound documents.
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Excel's 1900 date system counts 1900-01-01 as day 1 but also counts the
# non-existent 1900-02-29 (serial 60), copied from Lotus 1-2-3. From serial 61
# (1900-03-01) on, serial N is N days after 1899-12-30.
_EXCEL_EPOCH = date(1899, 12, 30)
_EXCEL_LEAP_BUG_SERIAL = 60
_EXCEL_MAX_SERIAL = (date(9999, 12, 31) - _EXCEL_EPOCH).days


# Not frozen, because a frozen dataclass takes twice as long to create, and an
# import creates one per row and pass.
@dataclass(slots=True)
class TableRow:
    """One data row: its cells as text and where it is in the file. Read-only."""

    # Spreadsheet row number; for CSV the 1-based record index.
    number: int
    # Physical line on which the row starts; equals `number` for XLSX.
    line: int
    cells: tuple[str, ...]


class TableRows(Protocol):
    """Data rows that can be counted and read more than once, in file order."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[TableRow]: ...


@dataclass(frozen=True, slots=True)
class Table:
    """The header and the non-blank data rows of one CSV file or worksheet."""

    path: Path
    headers: list[str]
    header_row: int
    # A list, or a CsvRows or TempCsvRows that reads a file on each pass.
    rows: TableRows
    file_format: str
    # Text encoding of a CSV file ("utf-8", "utf-16", "cp1252" or "iso-8859-15"),
    # None for XLSX.
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

    def close(self) -> None:
        """Delete the temporary file behind the rows of an XLSX or DECP file, if any.

        Later passes over those rows raise RuntimeError. CSV and list rows stay
        readable.
        """
        if isinstance(self.rows, TempCsvRows):
            self.rows.close()


class _RawRow(NamedTuple):
    number: int
    line: int
    cells: list[str]


def read_table(
    path: Path,
    sheet: str | None = None,
    *,
    mapped_headers: Iterable[str] = (),
    count_rows: bool = True,
) -> Table:
    """Read a CSV or XLSX file into a Table, detecting the header row.

    `sheet` selects a worksheet by name in an XLSX file; the default is the first.
    `mapped_headers` are the source headers of an explicit column mapping, and they
    count as known columns when the header row is searched. Raises ImportFileError
    for an unreadable or empty file or one without a recognisable header row.

    A CSV file is read once more to count its rows, which also raises its quoting
    errors. With `count_rows` false, the first pass over the rows or `len()` of
    them counts instead, and raises those errors then.
    """
    head = _read_head(path)
    known = frozenset(normalize_header(header) for header in mapped_headers)

    if head.startswith(_ZIP_MAGIC):
        return _read_xlsx(path, sheet, known)
    if head.startswith(_OLE2_MAGIC):
        raise ImportFileError(
            f"{path.name} is a legacy Excel .xls file, which cannot be read. "
            "Save it as .xlsx or CSV and import that file."
        )
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise ImportFileError(
            f"{path.name} is named as an XLSX workbook but is not one: an XLSX file "
            "is a ZIP archive, and this file does not start like one. Open it in a "
            "spreadsheet program and save it again as .xlsx or CSV."
        )
    if sheet is not None:
        raise ImportFileError(
            f"{path.name} is a CSV file, so it has no sheet {sheet!r}. "
            "Leave out the sheet name or import an XLSX file."
        )
    return _read_csv(path, head, known, count_rows)


def excel_serial_to_date(serial: float | Decimal) -> date:
    """Convert an Excel serial day number (1900 date system) to a date.

    A fractional part is a time of day and is dropped. Raises ValueParseError for
    serial 60, which Excel shows as the non-existent 1900-02-29, and for serials
    outside 1 to 2958465 (9999-12-31).
    """
    day = math.floor(serial)
    if day == _EXCEL_LEAP_BUG_SERIAL:
        raise ValueParseError(
            f"Excel date number {serial} is 29 February 1900, a date that does not "
            "exist; enter the date as YYYY-MM-DD."
        )
    if not 1 <= day <= _EXCEL_MAX_SERIAL:
        raise ValueParseError(
            f"Excel date number {serial} is out of range; Excel dates run from 1 "
            f"(1900-01-01) to {_EXCEL_MAX_SERIAL} (9999-12-31)."
        )
    if day < _EXCEL_LEAP_BUG_SERIAL:
        # Before the phantom 1900-02-29, serial N is N days after 1899-12-31.
        return _EXCEL_EPOCH + timedelta(days=day + 1)
    return _EXCEL_EPOCH + timedelta(days=day)


def _read_head(path: Path) -> bytes:
    """Return the first bytes of the file, enough to recognise its format."""
    try:
        with path.open("rb") as file:
            return file.read(_HEAD_BYTES)
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: Path, exc: OSError) -> ImportFileError:
    return ImportFileError(
        f"Cannot read {path}: {exc.strerror}. Check the path and permissions."
    )


def _empty_file_error(path: Path) -> ImportFileError:
    return ImportFileError(
        f"{path.name} is empty. Export the register with its header row and "
        "at least one contract."
    )


# --- CSV -------------------------------------------------------------------------


class CsvRows:
    """The non-blank data rows of a CSV file below its header, read from disk.

    Each iteration opens the file and parses it again, so a pass over a large
    file holds one row at a time. The first complete pass counts the rows, and
    `len()` makes that pass when none was made yet. The file must not change
    between passes.
    """

    def __init__(
        self,
        path: Path,
        encoding: str,
        delimiter: str,
        header_record: int,
        count: int | None = None,
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = delimiter
        # Record number of the header row; data rows follow it.
        self.header_record = header_record
        self.count = count

    def __len__(self) -> int:
        if self.count is None:
            self.count = sum(1 for _ in self)
        return self.count

    def __iter__(self) -> Iterator[TableRow]:
        count = 0
        with _open_text(self.path, self.encoding) as text:
            for number, line, cells in _csv_rows(self.path, text, self.delimiter):
                # Joining first tests all cells for blanks in one call.
                if number > self.header_record and "".join(cells).strip():
                    count += 1
                    yield TableRow(number, line, _trim_trailing_blanks(cells))
        self.count = count

    def column(self, index: int) -> Iterator[str]:
        """Yield the cell in column `index` of each data row that has one.

        A complete pass counts the rows, as iterating over them does.
        """
        count = 0
        with _open_text(self.path, self.encoding) as text:
            for number, _, cells in _csv_rows(self.path, text, self.delimiter):
                if number > self.header_record and "".join(cells).strip():
                    count += 1
                    if index < len(cells):
                        yield cells[index]
        self.count = count


def column_cells(rows: TableRows, index: int) -> Iterator[str]:
    """Yield the cell in column `index` of each of `rows` that has one.

    A CSV file's column is read without building a row object per row, which
    takes about half the time of a pass over its rows.
    """
    if isinstance(rows, CsvRows):
        return rows.column(index)
    return (row.cells[index] for row in rows if index < len(row.cells))


def _read_csv(
    path: Path, head: bytes, known: frozenset[str], count_rows: bool = True
) -> Table:
    encoding = _detect_encoding(path, head)
    delimiter = _choose_delimiter(path, encoding, known)
    logger.info(
        "Reading %s as CSV: encoding %s, delimiter %r", path, encoding, delimiter
    )

    with _open_text(path, encoding) as text:
        records = list(
            itertools.islice(_csv_rows(path, text, delimiter), HEADER_SEARCH_ROWS)
        )
    header_index = _find_header_index(records, known)
    if header_index is None:
        raise _no_header_error(path)
    header = records[header_index]
    rows = CsvRows(path, encoding, delimiter, header.number)
    if count_rows:
        # This pass also raises any quoting error before the import starts.
        logger.info(
            "%s: header on row %d, %d data rows", path, header.number, len(rows)
        )
    return Table(
        path=path,
        headers=_clean_headers(header.cells),
        header_row=header.number,
        rows=rows,
        file_format="csv",
        encoding=encoding,
        delimiter=delimiter,
    )


def _open_text(path: Path, encoding: str) -> TextIO:
    # utf-8-sig drops the byte-order mark that Excel writes before the header.
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    try:
        return path.open(encoding=codec, newline="")
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _choose_delimiter(path: Path, encoding: str, known: frozenset[str]) -> str:
    """Return the first candidate delimiter with which the header row is found."""
    with _open_text(path, encoding) as text:
        sample = text.read(SNIFF_SAMPLE_CHARS)
    first_error: ImportFileError | None = None
    for delimiter in _candidate_delimiters(sample):
        try:
            with _open_text(path, encoding) as text:
                records = list(
                    itertools.islice(
                        _csv_rows(path, text, delimiter), HEADER_SEARCH_ROWS
                    )
                )
        except ImportFileError as exc:
            # A wrong delimiter can make valid quoting look invalid, so try the next.
            first_error = first_error or exc
            continue
        if _find_header_index(records, known) is not None:
            return delimiter

    # When no delimiter finds the header, invalid quoting is the likelier cause.
    raise first_error or _no_header_error(path)


def _detect_encoding(path: Path, head: bytes) -> str:
    """Return the encoding of a CSV file: "utf-16", "utf-8", "iso-8859-15" or "cp1252".

    A file with a UTF-16 byte-order mark is UTF-16, and a file that decodes as
    UTF-8 is UTF-8. Any other file is read with a legacy 8-bit encoding, chosen by
    `_choose_legacy_encoding`. The whole file is decoded in chunks to check it,
    without keeping the text. Raises ImportFileError for an empty file, for one
    that mixes UTF-8 text with other bytes, and for one that no encoding decodes.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _check_decodes(path, "utf-16")
        return "utf-16"
    try:
        _check_decodes(path, "utf-8-sig")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    return _choose_legacy_encoding(path)


# Characters that mark a line as UTF-8 text when the file also has bytes that are
# not UTF-8. They are the 2-byte UTF-8 sequences for Latin-1 Supplement, Latin
# Extended-A, Greek and Cyrillic letters, and every 3- or 4-byte sequence, such as
# E2 82 AC for the euro sign. In Windows-1252 those 2-byte sequences read as one of
# Â Ã Ä Å Í Î Ï Ð Ñ Ò Ó followed by a byte 0x80-0xBF, mostly punctuation or a
# symbol, such as "Ã©", which real text rarely has. Other 2-byte sequences are left
# out because Windows-1252 text makes them: "ß" before a closing quote is DF 93,
# the UTF-8 sequence for U+07D3.
# NOTE: a Windows-1252 file with such a pair, such as "Ñ’" (D1 92, which UTF-8
# reads as U+0452), is still rejected as mixing encodings.
_UTF8_TEXT = re.compile(r"[\u00a0-\u017f\u0370-\u04ff\u0800-\ud7ff\ue000-\U0010ffff]")
# The utf-8 codec's surrogateescape handler decodes each byte that is not UTF-8
# to one of these code points.
_NOT_UTF8 = re.compile(r"[\udc80-\udcff]")
# Bytes that are control characters in ISO-8859-15 but letters and symbols in
# Windows-1252, such as 0x80 for the euro sign.
_C1_BYTES = re.compile(rb"[\x80-\x9f]")
# Byte 0xA4, the euro sign in ISO-8859-15 and "¤" in Windows-1252, before or after
# a digit, with at most a space or no-break space between.
_A4_BESIDE_DIGIT = re.compile(rb"\xa4[ \xa0]?[0-9]|[0-9][ \xa0]?\xa4")


@dataclass(slots=True)
class _LegacyByteScan:
    """Findings of one pass over the bytes of a file that is not UTF-8."""

    # First physical line with a byte that is not UTF-8.
    first_not_utf8_line: int | None = None
    # First physical line with a character in _UTF8_TEXT.
    first_utf8_text_line: int | None = None
    c1_bytes: bool = False
    a4_beside_digit: bool = False


def _choose_legacy_encoding(path: Path) -> str:
    """Return "iso-8859-15" or "cp1252" for a CSV file that is not UTF-8.

    ISO-8859-15 is chosen when byte 0xA4 is next to a digit, as its euro sign is
    in an amount, and no byte in 0x80-0x9F occurs, which ISO-8859-15 uses
    only for control characters. Otherwise the file is Windows-1252, whose euro
    sign is 0x80. Raises ImportFileError when lines in UTF-8 stand next to bytes
    that are not UTF-8, because each encoding would garble some of the text.
    """
    scan = _scan_legacy_bytes(path)
    if scan.first_utf8_text_line is not None:
        raise _mixed_encoding_error(path, scan)
    if scan.a4_beside_digit and not scan.c1_bytes:
        logger.info(
            "%s is not valid UTF-8; decoded it as ISO-8859-15 because byte 0xA4 "
            "(the euro sign) is next to a digit and no byte 0x80-0x9F occurs",
            path,
        )
        return "iso-8859-15"
    try:
        _check_decodes(path, "cp1252")
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, exc) from exc
    logger.info("%s is not valid UTF-8; decoded it as Windows-1252 (cp1252)", path)
    return "cp1252"


def _scan_legacy_bytes(path: Path) -> _LegacyByteScan:
    """Read the file in chunks and record what `_LegacyByteScan` lists.

    Line numbers count physical lines as the csv module does: CR LF, a lone CR
    and a lone LF each end a line.
    """
    scan = _LegacyByteScan()
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    line_breaks = 0
    previous_tail = b""
    ends_with_cr = False
    try:
        with path.open("rb") as file:
            while chunk := file.read(_DECODE_CHUNK_BYTES):
                scan.c1_bytes = scan.c1_bytes or bool(_C1_BYTES.search(chunk))
                # The tail of the previous chunk catches a match across the border.
                scan.a4_beside_digit = scan.a4_beside_digit or bool(
                    _A4_BESIDE_DIGIT.search(previous_tail + chunk)
                )
                previous_tail = chunk[-2:]

                text = decoder.decode(chunk)
                if ends_with_cr and text.startswith("\n"):
                    # A CR LF split across chunks was counted once already.
                    line_breaks -= 1
                if scan.first_not_utf8_line is None:
                    scan.first_not_utf8_line = _first_match_line(
                        _NOT_UTF8, text, line_breaks
                    )
                if scan.first_utf8_text_line is None:
                    scan.first_utf8_text_line = _first_match_line(
                        _UTF8_TEXT, text, line_breaks
                    )
                line_breaks += _count_line_breaks(text)
                ends_with_cr = text.endswith("\r")
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    return scan


def _first_match_line(
    pattern: re.Pattern[str], text: str, line_breaks_before: int
) -> int | None:
    """Return the 1-based line of the first match of `pattern` in `text`, if any."""
    match = pattern.search(text)
    if match is None:
        return None
    return line_breaks_before + _count_line_breaks(text[: match.start()]) + 1


def _count_line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _mixed_encoding_error(path: Path, scan: _LegacyByteScan) -> ImportFileError:
    bad = scan.first_not_utf8_line
    good = scan.first_utf8_text_line
    if bad == good:
        where = f"line {bad} contains UTF-8 text next to bytes that are not UTF-8"
    else:
        where = f"line {bad} is not valid UTF-8, but line {good} contains UTF-8 text"
    return ImportFileError(
        f"{path.name} mixes text encodings: {where}. Read in any one encoding, "
        "some of its text would be garbled, so it was not imported. Save the whole "
        "file as UTF-8 (in Excel: 'CSV UTF-8'), or in one encoding, and import it "
        "again."
    )


def _check_decodes(path: Path, encoding: str) -> None:
    """Decode the file in chunks, raising UnicodeDecodeError at its file offset.

    Raises ImportFileError when the file holds only whitespace. For UTF-16 a
    decoding error becomes ImportFileError at once, as no fallback applies.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    blank = True
    try:
        with path.open("rb") as file:
            while chunk := file.read(_DECODE_CHUNK_BYTES):
                blank = blank and not chunk.strip()
                _decode_at(decoder, chunk, offset, final=False)
                offset += len(chunk)
            _decode_at(decoder, b"", offset, final=True)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    except UnicodeDecodeError as exc:
        if encoding == "utf-16":
            raise _encoding_error(path, exc) from exc
        raise
    if blank:
        raise _empty_file_error(path)


def _decode_at(
    decoder: codecs.IncrementalDecoder, chunk: bytes, offset: int, *, final: bool
) -> None:
    """Decode `chunk`, which starts at file offset `offset`.

    A UnicodeDecodeError gets its position in the file. The decoder reports it
    within the bytes it kept from earlier chunks followed by `chunk`.
    """
    kept = len(decoder.getstate()[0])
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError as exc:
        start = offset - kept
        raise UnicodeDecodeError(
            exc.encoding, exc.object, start + exc.start, start + exc.end, exc.reason
        ) from exc


def _encoding_error(path: Path, exc: UnicodeDecodeError) -> ImportFileError:
    return ImportFileError(
        f"{path.name} is neither UTF-8 nor Windows-1252 text (invalid byte at "
        f"offset {exc.start}). Save it as 'CSV UTF-8' and import it again."
    )


def _candidate_delimiters(text: str) -> list[str]:
    """Order the delimiters to try: the sniffed one, then by count in the first line.

    csv.Sniffer only guesses, and it fails on some samples, such as a semicolon file
    with a comma in a title row above the header. So every candidate is checked
    with the header search, and the first one that finds the header is used.
    """
    candidates: list[str] = []
    try:
        dialect = csv.Sniffer().sniff(
            text[:SNIFF_SAMPLE_CHARS], delimiters="".join(CSV_DELIMITERS)
        )
        candidates.append(dialect.delimiter)
    except csv.Error:
        logger.debug("csv.Sniffer found no delimiter; counting them in the first line")

    first_line = next((line for line in text.splitlines() if line.strip()), "")
    by_count = sorted(CSV_DELIMITERS, key=first_line.count, reverse=True)
    candidates.extend(d for d in by_count if d not in candidates)
    return candidates


def _csv_rows(path: Path, text: TextIO, delimiter: str) -> Iterator[_RawRow]:
    """Yield CSV records with their record index and the line on which they start."""
    # strict mode raises on an unterminated quote instead of reading the rest of the
    # file into one cell.
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    next_line = 1
    number = 0
    try:
        for cells in reader:
            number += 1
            yield _RawRow(number, next_line, cells)
            next_line = reader.line_num + 1
    except csv.Error as exc:
        if str(exc).startswith("field larger than field limit"):
            raise _cell_too_long_error(path, next_line, reader.line_num) from exc
        raise ImportFileError(
            f"{path.name} line {reader.line_num}: invalid CSV ({exc}). Check the "
            "quotes around that line, or export the file again as CSV."
        ) from exc


def _cell_too_long_error(path: Path, start_line: int, end_line: int) -> ImportFileError:
    """Return the error for a cell longer than MAX_CELL_CHARS.

    The row starts on `start_line`, and the csv reader stopped on `end_line`.
    """
    message = (
        f"{path.name} line {start_line}: a cell of this row has more than "
        f"{MAX_CELL_CHARS} characters, the maximum a cell can have. Shorten that "
        "cell, or leave its column out of the file."
    )
    if end_line > start_line:
        message += (
            f" The cell runs on to line {end_line}: if it should end sooner, close "
            "the quote that opens it."
        )
    return ImportFileError(message)


# --- XLSX ------------------------------------------------------------------------


class TempCsvRows:
    """Data rows kept in a temporary CSV file, which each pass reads again.

    `write_temp_rows` writes each row to a CSV file in the system temp directory,
    with the row's number as the first field; the row's line is its number. Each
    iteration reads that file again, so a pass keeps one row in memory at a time.
    The file is deleted by `close()`, or else when this object is garbage
    collected or the interpreter exits. Iterating after that raises RuntimeError.
    """

    def __init__(self, path: Path, count: int) -> None:
        self.path = path
        self.count = count
        self._finalizer = weakref.finalize(self, _remove_file, path)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[TableRow]:
        if not self._finalizer.alive:
            raise RuntimeError(
                f"{self.path} was deleted by close(), so these rows cannot be read "
                "again. Read the source file again."
            )
        with self.path.open(encoding="utf-8", newline="") as text:
            for record in csv.reader(text):
                number = int(record[0])
                yield TableRow(number=number, line=number, cells=tuple(record[1:]))

    def close(self) -> None:
        """Delete the temporary file. Calling it again does nothing."""
        self._finalizer()


def _remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)


def _read_xlsx(path: Path, sheet: str | None, known: frozenset[str]) -> Table:
    values = _open_workbook(path, data_only=True)
    try:
        worksheet = _select_sheet(path, values, sheet)
        title = str(worksheet.title)
        formulas = _open_workbook(path, data_only=False)
        try:
            raw_rows = _xlsx_rows(worksheet, formulas[title])
            logger.info("Reading %s as XLSX: sheet %r", path, title)
            head = list(itertools.islice(raw_rows, HEADER_SEARCH_ROWS))
            header_index = _find_header_index(head, known)
            if header_index is None:
                raise _no_header_error(path)
            header = head[header_index]
            below = itertools.chain(head[header_index + 1 :], raw_rows)
            rows = write_temp_rows(path, _non_blank_rows(below), prefix="xlsx")
        finally:
            formulas.close()
    finally:
        values.close()

    logger.info("%s: header on row %d, %d data rows", path, header.number, len(rows))
    return Table(
        path=path,
        headers=_clean_headers(header.cells),
        header_row=header.number,
        rows=rows,
        file_format="xlsx",
        sheet=title,
    )


def _open_workbook(path: Path, *, data_only: bool) -> Any:
    """Open a workbook in openpyxl's read-only mode, which parses rows on demand."""
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ImportFileError(
            f"{path.name} is not a readable XLSX workbook ({exc}). Open it in a "
            "spreadsheet program and save it again as .xlsx or CSV."
        ) from exc


def _xlsx_rows(values: Any, formulas: Any) -> Iterator[_RawRow]:
    """Yield a worksheet's rows as text, numbered from 1, blank rows included.

    `values` and `formulas` are the same worksheet opened with stored results and
    with formulas, read in step. A cell whose formula has no stored result reads
    as empty, which would import a missing amount without a word. Such a cell
    gets its formula text, so that the value parsers reject the row instead.
    """
    # Some generators write a wrong sheet size, so drop it and read every row.
    values.reset_dimensions()
    formulas.reset_dimensions()
    # NOTE: openpyxl 3.1's reader clears each parsed row element but keeps it, about
    # 80 bytes a row per workbook, until the workbook is closed.
    both = itertools.zip_longest(values.iter_rows(), formulas.iter_rows(), fillvalue=())
    for number, (value_row, formula_row) in enumerate(both, start=1):
        cells = [_cell_text(cell) for cell in value_row]
        for index, cell in enumerate(formula_row):
            formula = getattr(cell, "value", None)
            if (
                isinstance(formula, str)
                and formula.startswith("=")
                and index < len(cells)
                and not cells[index]
            ):
                cells[index] = formula
        yield _RawRow(number=number, line=number, cells=cells)


def _non_blank_rows(raw_rows: Iterable[_RawRow]) -> Iterator[TableRow]:
    """Yield the rows with a non-blank cell, without their trailing blank cells."""
    for raw in raw_rows:
        if any(cell.strip() for cell in raw.cells):
            yield TableRow(raw.number, raw.number, _trim_trailing_blanks(raw.cells))


def write_temp_rows(source: Path, rows: Iterable[TableRow], prefix: str) -> TempCsvRows:
    """Write `rows`, read from `source`, to a temporary CSV file as they come.

    The file is named contractgql-PREFIX-*.csv. It is deleted when writing fails
    or is interrupted, also by an exception that iterating `rows` raises. Raises
    ImportFileError when the temp directory does not accept a new file.
    """
    try:
        descriptor, name = tempfile.mkstemp(
            prefix=f"contractgql-{prefix}-", suffix=".csv"
        )
    except OSError as exc:
        raise ImportFileError(
            f"Cannot create a temporary file for the rows of {source.name} in "
            f"{tempfile.gettempdir()}: {exc.strerror}. Make that directory writable, "
            "or set TMPDIR to a writable directory."
        ) from exc
    path = Path(name)
    count = 0
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as text:
            writer = csv.writer(text)
            for row in rows:
                writer.writerow((row.number, *row.cells))
                count += 1
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return TempCsvRows(path, count)


def _select_sheet(path: Path, workbook: Any, sheet: str | None) -> Any:
    if sheet is None:
        return workbook.worksheets[0]
    if sheet in workbook.sheetnames:
        return workbook[sheet]

    names = ", ".join(repr(name) for name in workbook.sheetnames)
    raise ImportFileError(
        f"{path.name} has no sheet {sheet!r}. Sheets in the workbook: {names}."
    )


def _cell_text(cell: object) -> str:
    """Return a cell's value as the text Excel displays, but dates as YYYY-MM-DD."""
    value = getattr(cell, "value", None)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        # Excel has no date-only type; contract dates carry a midnight time.
        return value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, int | float):
        number_format = str(getattr(cell, "number_format", ""))
        if _is_zero_padded(number_format, value):
            # A format of zeros only, such as 00000000, shows the leading zeros
            # of a registration or postal code that Excel stores as a number.
            return str(int(value)).zfill(len(number_format))
        return _number_text(value, percent="%" in number_format)
    return str(value)


def _is_zero_padded(number_format: str, value: int | float) -> bool:
    return (
        number_format.count("0") == len(number_format) > 1
        and value >= 0
        and value == int(value)
    )


def _number_text(value: int | float, *, percent: bool) -> str:
    """Format a number without float noise or exponent: 58665.0 becomes "58665".

    repr() is the shortest text that reads back as the same float, so Decimal(repr())
    keeps exactly the digits that Excel stored. A cell formatted as a percentage stores
    a fraction (0.21), which becomes "21%" as shown in Excel.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)

    number = Decimal(repr(value))
    if percent:
        number *= 100
    text = "0" if number == 0 else format(number.normalize(), "f")
    return f"{text}%" if percent else text


# --- Header detection ------------------------------------------------------------


def _find_header_index(rows: list[_RawRow], known: frozenset[str]) -> int | None:
    for index, row in enumerate(rows):
        if _count_known_columns(row.cells, known) >= MIN_HEADER_FIELDS:
            return index
    return None


def _count_known_columns(cells: list[str], known: frozenset[str]) -> int:
    """Count the distinct fields named by `cells`, plus explicitly mapped headers."""
    names = set()
    for cell in cells:
        match = match_header(cell)
        normalized = normalize_header(cell)
        if match is not None:
            names.add(match[0])
        elif normalized and normalized in known:
            names.add(f"mapped:{normalized}")
    return len(names)


def _clean_headers(cells: list[str]) -> list[str]:
    """Collapse whitespace in header cells and name the blank ones by position."""
    headers = [" ".join(cell.split()) for cell in _trim_trailing_blanks(cells)]
    return [header or f"Column {i}" for i, header in enumerate(headers, start=1)]


def _trim_trailing_blanks(cells: list[str]) -> tuple[str, ...]:
    if cells and cells[-1] and not cells[-1].isspace():
        return tuple(cells)
    end = len(cells)
    while end > 0 and not cells[end - 1].strip():
        end -= 1
    return tuple(cells[:end])


def _no_header_error(path: Path) -> ImportFileError:
    return ImportFileError(
        f"No header row found in {path.name}: none of the first {HEADER_SEARCH_ROWS} "
        f"rows names at least {MIN_HEADER_FIELDS} known columns such as 'number', "
        "'name', 'client' or 'start_date'. Rename the header cells, or map the "
        f"file's headers to fields {MAP_COLUMN_HINT}."
    )
