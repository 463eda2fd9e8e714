"""XLSX export of the contracts a caller may see, with the CSV export's columns.

`GET /export/contracts.xlsx` takes the query parameters of `/export/contracts.csv`
and writes the same columns, so field security, filters and tenancy are those of
the CSV export. openpyxl's write-only mode appends each batch of rows to a
temporary file, so memory stays flat however many contracts there are. The
finished workbook is then streamed from a temporary file.

Cell types:

- Dates are date cells (`yyyy-mm-dd`), and `archived_at` is a date-time cell in UTC.
- Amounts, rates and recurring revenue are number cells with the format `0.00`
  when their exact decimal has at most 15 significant digits, because Excel keeps
  15. Larger values are text cells with the exact decimal, so no cell shows a
  value that differs from the API by a cent.
- Booleans are boolean cells. Text is always a text cell and never a formula:
  text that starts with `=`, `+`, `-`, `@` or a control character gets a leading
  single quote, as in the CSV export.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from contractgql.importexport.export import (
    ContractExport,
    download_headers,
    format_cell,
    head_response,
    prepare_export,
)

logger = logging.getLogger(__name__)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Excel stores numbers as IEEE 754 doubles and shows 15 significant digits.
MAX_EXACT_DIGITS = 15
AMOUNT_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# Size of the pieces in which the finished file is sent.
CHUNK_BYTES = 64 * 1024
# Characters that XML 1.0 does not allow, which openpyxl rejects in a cell.
REPLACEMENT_CHARACTER = "\ufffd"


def is_exact_number(value: Decimal) -> bool:
    """Return whether a spreadsheet shows `value` exactly when stored as a number.

    openpyxl 3.1 writes a number as `"%.16g" % value`, which converts a Decimal to
    a float, so the value must also come back unchanged from that text.
    """
    if not value.is_finite():
        return False
    digits = len(value.normalize().as_tuple().digits)
    return digits <= MAX_EXACT_DIGITS and Decimal(format(float(value), ".16g")) == value


def xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """Return the cell value of one export value, typed as the module docstring lists.

    Plain values cost openpyxl less than cell objects, so only values that need a
    number format or a forced text type become WriteOnlyCell objects.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value.astimezone(UTC).replace(tzinfo=None))
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, date):
        # openpyxl gives date cells the format yyyy-mm-dd.
        return value
    if isinstance(value, Decimal) and is_exact_number(value):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = AMOUNT_FORMAT
        return cell
    # Enums, periods, tag lists and larger decimals are written as the CSV writes
    # them, quoted against formula injection.
    text = ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT_CHARACTER, format_cell(value))
    if text in ERROR_CODES or text.startswith("="):
        return text_cell(sheet, text)
    return text


def text_cell(sheet: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    """Return a text cell, which a spreadsheet never runs as a formula."""
    cell = WriteOnlyCell(
        sheet, value=ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT_CHARACTER, text)
    )
    # openpyxl types text that starts with "=" as a formula and "#N/A" as an error.
    cell.data_type = "s"
    return cell


async def write_workbook(export: ContractExport, file: IO[bytes]) -> None:
    """Write the export's header and rows as an XLSX workbook into `file`."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Contracts")
    header = []
    for column in export.columns:
        cell = text_cell(sheet, column.header)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    async for rows in export.value_batches():
        for values in rows:
            sheet.append([xlsx_cell(sheet, value) for value in values])
    # Saving zips the rows that openpyxl spooled to disk, which blocks for a while.
    await asyncio.to_thread(workbook.save, file)


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    file.seek(0)
    while chunk := file.read(CHUNK_BYTES):
        yield chunk


async def _send(file: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        for chunk in _chunks(file):
            yield chunk
    finally:
        file.close()


async def export_contracts_xlsx(request: Request) -> Response:
    """Serve `GET /export/contracts.xlsx`: the caller's contracts as a workbook.

    The workbook is complete before the response starts, so a failure while
    reading contracts gets status 500 instead of a cut-off file.
    """
    started = time.perf_counter()
    prepared = await prepare_export(request)
    if isinstance(prepared, Response):
        return prepared
    viewer, query = prepared
    headers = download_headers(f"contracts-{viewer.today.isoformat()}.xlsx")
    if request.method == "HEAD":
        return head_response(XLSX_MEDIA_TYPE, headers)

    export = ContractExport(viewer, query)
    # The response closes the file once it is sent.
    file = tempfile.TemporaryFile()  # noqa: SIM115
    outcome = "failed"
    try:
        await write_workbook(export, file)
        outcome = "finished"
    except BaseException:
        file.close()
        raise
    finally:
        logger.info(
            "Contract XLSX export %s: organization %d, user %s, %d rows in %.3f s",
            outcome,
            viewer.organization_id,
            viewer.user_id,
            export.row_count,
            time.perf_counter() - started,
        )
    headers["Content-Length"] = str(file.seek(0, 2))
    return StreamingResponse(_send(file), media_type=XLSX_MEDIA_TYPE, headers=headers)
