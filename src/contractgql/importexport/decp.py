"""Read French public procurement award data (DECP) as a table of contracts.

A DECP file is JSON with a `marches` list: contracts (`_type` "Marché") and
concessions ("Contrat de concession"). Each record becomes one row, numbered from
1 in the order of the list, so "row 5" in a report is the fifth record.

Who is the client: an organization that imports DECP data is a supplier, and the
public buyer (`acheteur`, or `autoriteConcedante` of a concession) pays it, so the
buyer becomes the client. Its SIRET (14 digits) or SIREN (9 digits) is the
chamber of commerce number the client is matched on before its name. The
suppliers (`titulaires`) are listed in the description.

The end date is the notification date (the start of a concession) plus
`dureeMois` calendar months, inclusive: 2018-01-20 and 48 months end on
2022-01-19. An amendment (`modifications`) that sets `montant` or `dureeMois`
changes the amount or the end date. A contract that the import creates gets its
original values first and one update per amendment, so its history shows each.

Placeholder amounts are not imported: 0, 1 and numbers made of six or more
nines, such as 999999999, which buyers enter when the real value is unknown.
The contract is imported without an amount and the job lists a warning.

The file is parsed with ijson one record at a time, and each record's cells go to
a temporary CSV file (TempCsvRows), so memory holds only the warnings and the
amendment steps of amended records, not the file or its rows.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import ijson  # type: ignore[import-untyped]

from contractgql.domain.dates import Period, PeriodUnit, term_end
from contractgql.importexport.errors import ImportFileError, ValueParseError
from contractgql.importexport.importer import SourceTable
from contractgql.importexport.rows import RowWarning
from contractgql.importexport.tables import Table, TableRow, write_temp_rows
from contractgql.importexport.values import parse_date

logger = logging.getLogger(__name__)

HEADERS = [
    "number",
    "name",
    "client",
    "client_coc_number",
    "client_vat_number",
    "contract_type",
    "start_date",
    "end_date",
    "signed_date",
    "amount",
    "currency",
    "payment_frequency",
    "description",
]
# Maximum length of Contract.name, in characters.
MAX_NAME_LENGTH = 300
CONCESSION = "Contrat de concession"
# Bytes that ijson reads and parses at a time. A JSON error is reported with the
# byte range of its chunk.
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Terms:
    """Amount and end date at one point of a contract's history."""

    amount: Decimal | None
    end_date: date | None


def is_placeholder_amount(amount: Decimal) -> bool:
    """Return whether `amount` is a stand-in for an unknown value, not a price."""
    if amount in (0, 1):
        return True
    digits = str(amount.normalize()) if amount == amount.to_integral() else ""
    return len(digits) >= 6 and set(digits) == {"9"}


def read_decp(path: Path) -> SourceTable:
    """Read a DECP JSON file into a SourceTable with warnings and amendment steps.

    The rows go to a temporary CSV file, which `Table.close()` deletes. Raises
    ImportFileError for an unreadable file, invalid JSON or a file without a
    non-empty `marches` list, before any row can be imported.
    """
    prefix = _records_prefix(path)
    warnings: list[RowWarning] = []
    history: dict[int, list[dict[str, Any]]] = {}

    def table_rows() -> Iterator[TableRow]:
        for number, value in enumerate(_records(path, prefix), start=1):
            record = value if isinstance(value, dict) else {}
            cells, steps = _RecordReader(number, record, warnings).read()
            if steps:
                history[number] = steps
            yield TableRow(number=number, line=number, cells=tuple(cells))

    rows = write_temp_rows(path, table_rows(), prefix="decp")
    if not len(rows):
        rows.close()
        raise _not_decp_error(path)

    logger.info(
        "Read %s as DECP: %d records, %d with amendments, %d warnings",
        path,
        len(rows),
        len(history),
        len(warnings),
    )
    table = Table(
        path=path,
        headers=list(HEADERS),
        header_row=0,
        rows=rows,
        file_format="decp",
    )
    return SourceTable(table, warnings=warnings, history=history, match_siren=True)


def _records_prefix(path: Path) -> str:
    """Return the ijson prefix of the records: `marches.item` or the wrapped form.

    Parsing stops at the start of the top-level `marches` value. Without one,
    the rest of the file is parsed too, so that invalid JSON is reported before
    the missing list, as for a file that is read whole.
    """
    with _open_json(path) as source:
        events = _checked(
            path, source, ijson.parse(source, buf_size=CHUNK_BYTES, use_float=False)
        )
        kind = _marches_kind(events)
        if kind == "start_array":
            return "marches.item"
        if kind == "start_map":
            # Some DECP exports wrap the list as {"marches": {"marche": [...]}}.
            return "marches.marche.item"
        for _ in events:
            pass
    raise _not_decp_error(path)


def _marches_kind(events: Iterator[tuple[str, str, Any]]) -> str | None:
    """Return the event that starts the top-level `marches` value, if there is one."""
    first = next(events, None)
    if first is None or first[1] != "start_map":
        return None
    for prefix, event, value in events:
        if prefix == "" and event == "map_key" and value == "marches":
            return next(events)[1]
    return None


def _records(path: Path, prefix: str) -> Iterator[Any]:
    """Yield the JSON values under `prefix` one at a time, non-integers as Decimal.

    NOTE: ijson matches dotted prefixes, so a second top-level `marches` key adds
    its records too, where json.load kept only the last one.
    """
    with _open_json(path) as source:
        values = ijson.items(source, prefix, buf_size=CHUNK_BYTES, use_float=False)
        yield from _checked(path, source, values)


def _checked(path: Path, source: _Utf8Source, values: Iterator[Any]) -> Iterator[Any]:
    """Yield from `values`, raising ImportFileError for invalid JSON or a read error."""
    try:
        yield from values
    except OSError as exc:
        raise _unreadable_error(path, exc) from exc
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise ImportFileError(
            f"{path.name} is not valid JSON ({_json_error_text(exc, source)}). "
            "A DECP file is the JSON that data.gouv.fr publishes, with a 'marches' "
            "list."
        ) from exc


def _json_error_text(exc: Exception, source: _Utf8Source) -> str:
    """Describe a parse error by its reason, byte range in the file and context.

    ijson's yajl backend reports a reason, the text around the error and a caret
    line, but no offset, so the range is that of the chunk being parsed. A UTF-16
    or UTF-32 file gets no range, because ijson parses its UTF-8 conversion.
    """
    if isinstance(exc, UnicodeDecodeError):
        return f"{exc.reason} in {exc.encoding} text"
    message = exc.args[0] if exc.args else str(exc)
    # ijson 3.6's C backend gives the message of invalid UTF-8 as bytes.
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    lines = str(message).splitlines()
    parts = [lines[0].rstrip(".") if lines else "invalid JSON"]
    if source.transcoded is None:
        parts.append(f"in bytes {source.chunk_start:,} to {source.chunk_end:,}")
    context = lines[1].strip() if len(lines) > 2 else ""
    if context:
        parts.append(f"near: {context}")
    return ", ".join(parts)


class _Utf8Source:
    """A JSON file read as UTF-8 bytes, with the byte range of the last chunk read.

    ijson's C backend reads UTF-8 only. A UTF-8 byte-order mark is skipped, and a
    UTF-16 or UTF-32 file (which json.load also accepts) is converted to UTF-8.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        # json.detect_encoding reads the byte-order mark or the zero bytes of
        # the first 4 bytes, as json.loads does.
        encoding = json.detect_encoding(file.read(4))
        file.seek(len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0)
        self.transcoded: codecs.StreamReader | None = None
        if encoding not in ("utf-8", "utf-8-sig"):
            self.transcoded = codecs.getreader(encoding)(file)
        self.chunk_start = self.chunk_end = file.tell()

    def read(self, size: int = -1) -> bytes:
        if self.transcoded is not None:
            return self.transcoded.read(size).encode("utf-8")
        chunk = self.file.read(size)
        if chunk:
            self.chunk_start = self.chunk_end
            self.chunk_end += len(chunk)
        return chunk

    def close(self) -> None:
        self.file.close()


def _open_json(path: Path) -> contextlib.closing[_Utf8Source]:
    try:
        file = path.open("rb")
    except OSError as exc:
        raise _unreadable_error(path, exc) from exc
    try:
        return contextlib.closing(_Utf8Source(file))
    except OSError as exc:
        file.close()
        raise _unreadable_error(path, exc) from exc


def _unreadable_error(path: Path, exc: OSError) -> ImportFileError:
    return ImportFileError(
        f"Cannot read {path}: {exc.strerror}. Check the path and permissions."
    )


def _not_decp_error(path: Path) -> ImportFileError:
    return ImportFileError(
        f"{path.name} has no 'marches' list of contracts, so it is not a DECP "
        "file. Import a CSV or XLSX register with the register format instead."
    )


class _RecordReader:
    """Turns one DECP record into register cells and amendment steps."""

    def __init__(
        self, row: int, record: dict[str, Any], warnings: list[RowWarning]
    ) -> None:
        self.row = row
        self.record = record
        self.warnings = warnings
        self.is_concession = record.get("_type") == CONCESSION

    def read(self) -> tuple[list[str], list[dict[str, Any]]]:
        record = self.record
        buyer = record.get("autoriteConcedante" if self.is_concession else "acheteur")
        buyer = buyer if isinstance(buyer, dict) else {}
        buyer_id = _text(buyer.get("id"))
        start = self._date(
            "dateDebutExecution" if self.is_concession else "dateNotification",
            "start_date",
        )
        months = record.get("dureeMois")
        first = _Terms(self._amount(self._amount_key(), record), _end(start, months))
        final, steps = self._amendments(start, first)

        cells = {
            "number": self._number(buyer_id),
            "name": self._name(),
            "client": _text(buyer.get("nom")),
            "client_coc_number": buyer_id if _is_siret_or_siren(buyer_id) else "",
            "client_vat_number": "",
            "contract_type": _text(record.get("nature")),
            "start_date": _iso(start),
            "end_date": _iso(final.end_date),
            "signed_date": _iso(self._date("dateSignature", "signed_date"))
            if self.is_concession
            else "",
            "amount": _amount_cell(final.amount),
            "currency": "EUR",
            "payment_frequency": "one_off",
            "description": self._description(),
        }
        return [cells[header] for header in HEADERS], steps

    def _amount_key(self) -> str:
        return "valeurGlobale" if self.is_concession else "montant"

    def _number(self, buyer_id: str) -> str:
        """Return DECP's unique key: `uid`, else the buyer's id and the contract id."""
        uid = _text(self.record.get("uid"))
        return uid or f"{buyer_id}{_text(self.record.get('id'))}"

    def _name(self) -> str:
        name = " ".join(_text(self.record.get("objet")).split())
        if len(name) > MAX_NAME_LENGTH:
            self.warn(
                "objet", name, f"Shortened to {MAX_NAME_LENGTH} characters.", "name"
            )
            name = name[: MAX_NAME_LENGTH - 1] + "…"
        return name

    def _date(self, key: str, field: str) -> date | None:
        value = _text(self.record.get(key))
        if not value:
            return None
        try:
            return parse_date(value)
        except ValueParseError as error:
            self.warn(key, value, f"{error.reason} The date was left out.", field)
            return None

    def _amount(self, key: str, source: dict[str, Any]) -> Decimal | None:
        """Return the amount under `key`, or None with a warning when untrusted."""
        value = source.get(key)
        if value is None or value == "":
            return None
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            self.warn(
                key, str(value), "Not a number, so the amount was left out.", "amount"
            )
            return None
        if is_placeholder_amount(amount):
            self.warn(
                key,
                str(value),
                "Placeholder amount (0, 1 or a run of nines) that buyers enter when "
                "the value is unknown, so the contract was imported without an "
                "amount. Fill it in by hand.",
                "amount",
            )
            return None
        if amount < 0 or amount != amount.quantize(Decimal("0.01")):
            self.warn(
                key,
                str(value),
                "Negative or finer than a cent, so the amount was left out.",
                "amount",
            )
            return None
        return amount

    def _amendments(
        self, start: date | None, first: _Terms
    ) -> tuple[_Terms, list[dict[str, Any]]]:
        """Return the terms after every amendment and the history steps to write."""
        amendments = self.record.get("modifications")
        if not isinstance(amendments, list) or not amendments:
            return first, []

        current = first
        changes: list[dict[str, Any]] = []
        for amendment in amendments:
            if not isinstance(amendment, dict):
                continue
            step: dict[str, Any] = {}
            if amendment.get("montant") is not None:
                amount = self._amount("montant", amendment)
                if amount is not None and amount != current.amount:
                    step["amount"] = amount
                    current = _Terms(amount, current.end_date)
            if amendment.get("dureeMois") is not None:
                end_date = _end(start, amendment["dureeMois"])
                if end_date is not None and end_date != current.end_date:
                    step["end_date"] = end_date
                    current = _Terms(current.amount, end_date)
            if step:
                changes.append(step)

        if not changes:
            return current, []
        initial = {"amount": first.amount, "end_date": first.end_date}
        return current, [initial, *changes]

    def _description(self) -> str:
        record = self.record
        suppliers = record.get(
            "concessionnaires" if self.is_concession else "titulaires"
        )
        lines = []
        names = [
            _supplier(supplier)
            for supplier in suppliers or []
            if isinstance(supplier, dict)
        ]
        if names:
            lines.append("Suppliers: " + "; ".join(names))
        for label, key in (("Procedure", "procedure"), ("CPV", "codeCPV")):
            if value := _text(record.get(key)):
                lines.append(f"{label}: {value}")
        return "\n".join(lines)

    def warn(self, column: str, value: str, message: str, field: str) -> None:
        """Record a warning about the DECP key `column`, which fills import `field`."""
        self.warnings.append(RowWarning(self.row, column, value, message, field))


def _end(start: date | None, months: Any) -> date | None:
    """Return the inclusive end of `months` calendar months from `start`."""
    if start is None or not isinstance(months, int | Decimal) or months <= 0:
        return None
    if months != int(months):
        return None
    return term_end(start, Period(int(months), PeriodUnit.MONTHS))


def _supplier(supplier: dict[str, Any]) -> str:
    name = _text(supplier.get("denominationSociale")) or "(no name)"
    identifier = _text(supplier.get("id"))
    kind = _text(supplier.get("typeIdentifiant")) or "id"
    return f"{name} ({kind} {identifier})" if identifier else name


def _is_siret_or_siren(value: str) -> bool:
    return value.isdigit() and len(value) in (9, 14)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _iso(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def _amount_cell(amount: Decimal | None) -> str:
    # Two decimals keep "1.234" from being read as one thousand two hundred.
    return "" if amount is None else f"{amount:.2f}"
