"""Imports that read a CSV file from disk in chunks, on every backend.

The importer holds CHUNK_ROWS parsed rows at a time, so these files are longer
than one chunk and put the interesting rows in different chunks.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import BACKEND

from contractgql.accounts import get_or_create_organization
from contractgql.audit.recorder import record_audit
from contractgql.importexport import importer, rows
from contractgql.importexport.errors import ImportFileError
from contractgql.importexport.importer import (
    CHUNK_ROWS,
    ImportOptions,
    ImportProgress,
    import_file,
)
from contractgql.importexport.tables import CsvRows, read_table
from contractgql.models import AuditLog, AuditOutbox, Client, Contract, Organization

HEADER = "Number;Name;Client;Start date;End date;Amount;Notice period\n"
ROWS = CHUNK_ROWS * 2 + 500


def register_line(index: int, amount: str = "1.250,00") -> str:
    return (
        f"S-{index:05d};Service {index};Client {index % 7};01-01-2027;31-12-2027;"
        f"€ {amount};3 mnd\n"
    )


def write_register(path: Path, lines: list[str]) -> Path:
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


async def new_organization() -> Organization:
    return await get_or_create_organization(f"Stream {uuid.uuid4().hex[:10]}")


def test_csv_rows_read_again_per_pass(tmp_path: Path) -> None:
    path = write_register(
        tmp_path / "register.csv", [register_line(i) for i in range(1, 4)]
    )

    table = read_table(path)

    assert isinstance(table.rows, CsvRows)
    assert len(table.rows) == 3
    first = [row.cells[0] for row in table.rows]
    second = [row.cells[0] for row in table.rows]
    assert first == ["S-00001", "S-00002", "S-00003"]
    assert second == first


def test_cp1252_byte_after_first_chunk(tmp_path: Path) -> None:
    """The encoding check reads the whole file, not only its start."""
    path = tmp_path / "windows.csv"
    filler = "".join(register_line(i) for i in range(1, 20_000))
    assert len(filler) > 1 << 20
    path.write_bytes(
        (HEADER + filler + "S-99999;Café;Zoë;01-01-2027;;1;\n").encode("cp1252")
    )

    table = read_table(path)

    assert table.encoding == "cp1252"
    assert list(table.rows)[-1].cells[1:3] == ("Café", "Zoë")


def test_invalid_utf16_names_file_offset(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    text = (HEADER + register_line(1)).encode("utf-16")
    # A lone high surrogate cannot be decoded.
    path.write_bytes(text + b"\x00\xd8")

    with pytest.raises(ImportFileError) as raised:
        read_table(path)

    assert str(raised.value) == (
        f"broken.csv is neither UTF-8 nor Windows-1252 text (invalid byte at offset "
        f"{len(text)}). Save it as 'CSV UTF-8' and import it again."
    )


def test_blank_csv_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_bytes(b" \r\n\t\n")

    with pytest.raises(ImportFileError, match="blank.csv is empty"):
        read_table(path)


async def test_repeats_across_chunks(settings, tmp_path: Path) -> None:
    lines = [register_line(i) for i in range(1, ROWS + 1)]
    # The last chunk repeats row 2 exactly, and gives row 3's number other values.
    lines.append(register_line(1))
    lines.append(register_line(2, amount="9,99"))
    path = write_register(tmp_path / "register.csv", lines)
    organization = await new_organization()

    report = await import_file(path, organization, ImportOptions())

    assert report.total_rows == ROWS + 2
    assert report.count("created") == ROWS
    assert report.count("duplicate") == 1
    assert report.count("rejected") == 1
    duplicate = [o for o in report.outcomes if o.outcome == "duplicate"]
    assert [(o.row, o.number, o.detail) for o in duplicate] == [
        (ROWS + 2, "S-00001", "same contract as row 2")
    ]
    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (ROWS + 3, "Number", "S-00002")
    ]
    stored = await Contract.get(organization_id=organization.id, number="S-00002")
    assert stored.amount_minor == 125000
    assert stored.notice_deadline == date(2027, 9, 30)
    assert await Contract.filter(organization_id=organization.id).count() == ROWS
    # One outbox event per batch, recorded as one audit entry per contract.
    await record_audit(organization.id)
    entries = AuditLog.filter(organization_id=organization.id, action="contract.create")
    contracts = Contract.filter(organization_id=organization.id)
    assert sorted(await entries.values_list("entity_id", flat=True)) == sorted(
        await contracts.values_list("id", flat=True)
    )


async def test_reimport_updates_every_chunk(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    first = write_register(
        tmp_path / "first.csv", [register_line(i) for i in range(1, ROWS + 1)]
    )
    await import_file(first, organization, ImportOptions())
    # The second file changes one contract in each chunk and adds one at the end.
    changed = {1, CHUNK_ROWS + 1, ROWS}
    lines = [
        register_line(i, amount="2.000,00" if i in changed else "1.250,00")
        for i in range(1, ROWS + 2)
    ]
    second = write_register(tmp_path / "second.csv", lines)

    report = await import_file(
        second, organization, ImportOptions(record_outcomes=False)
    )

    assert report.count("updated") == 3
    assert report.count("unchanged") == ROWS - 3
    assert report.count("created") == 1
    assert report.accounted_for == ROWS + 1
    # Without recorded outcomes the report lists only duplicates and rejections.
    assert report.outcomes == []
    amounts = await Contract.filter(
        organization_id=organization.id, amount_minor=200000
    ).values_list("number", flat=True)
    assert sorted(amounts) == ["S-00001", f"S-{CHUNK_ROWS + 1:05d}", f"S-{ROWS:05d}"]
    assert await Contract.filter(organization_id=organization.id).count() == ROWS + 1


async def test_report_keeps_first_errors_only(settings, tmp_path: Path) -> None:
    # Rows 2 to 4 are valid; each of the 30 rows after them has two bad cells.
    lines = [register_line(i) for i in range(1, 4)]
    lines += [
        f"S-{i:05d};Service {i};Client 1;someday;31-12-2027;€ twelve;3 mnd\n"
        for i in range(4, 34)
    ]
    path = write_register(tmp_path / "bad.csv", lines)
    organization = await new_organization()

    report = await import_file(
        path,
        organization,
        ImportOptions(record_outcomes=False, max_kept_errors=5),
    )

    assert report.count("created") == 3
    assert report.count("rejected") == 30
    # The first five errors in file order, then sorted by row and column name.
    assert [(e.row, e.column) for e in report.errors] == [
        (5, "Amount"),
        (5, "Start date"),
        (6, "Amount"),
        (6, "Start date"),
        (7, "Start date"),
    ]
    assert report.errors_not_kept == 55
    assert [(o.row, o.outcome) for o in report.outcomes] == [
        (row, "rejected") for row in range(5, 10)
    ]
    assert await Contract.filter(organization_id=organization.id).count() == 3


@pytest.mark.skipif(
    BACKEND != "postgres", reason="SQLite has one writer, so no number can race"
)
async def test_number_taken_during_first_import(settings, tmp_path: Path) -> None:
    """A first import skips looking up stored numbers; a racing writer stops it."""
    organization = await new_organization()
    client = await Client.create(organization_id=organization.id, name="Racer")
    lines = [register_line(i) for i in range(1, 601)]
    path = write_register(tmp_path / "race.csv", lines)

    async def store_racing_contract() -> None:
        await Contract.create(
            organization_id=organization.id,
            client_id=client.id,
            name="Racing",
            number="S-00500",
            start_date=date(2027, 1, 1),
            currency="EUR",
        )

    raced: list[ImportProgress] = []

    async def progress(current: ImportProgress) -> None:
        if not raced:
            raced.append(current)
            # An empty context runs the task outside the import's transaction,
            # so its contract commits at once, as another user's would.
            await asyncio.create_task(
                store_racing_contract(), context=contextvars.Context()
            )

    with pytest.raises(ImportFileError) as raised:
        await import_file(path, organization, ImportOptions(), progress=progress)

    assert str(raised.value) == (
        "Contract number 'S-00500' of the file was stored by another user or "
        "process while the import ran, so nothing was imported. Import the file "
        "again: its row will then update that contract."
    )
    assert raced[0].rows_written == 250
    stored = Contract.filter(organization_id=organization.id)
    assert await stored.values_list("number", flat=True) == ["S-00500"]


async def test_file_read_outside_event_loop(
    settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a large file must not stop the API process from serving requests."""
    path = write_register(tmp_path / "register.csv", [register_line(1)])
    organization = await new_organization()
    threads: list[int] = []

    def recording(read: Any) -> Any:
        def read_and_record(*args: Any, **kwargs: Any) -> Any:
            threads.append(threading.get_ident())
            return read(*args, **kwargs)

        return read_and_record

    monkeypatch.setattr(importer, "read_table", recording(importer.read_table))
    monkeypatch.setattr(
        rows, "survey_amount_column", recording(rows.survey_amount_column)
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 1
    assert len(threads) == 2
    assert threading.get_ident() not in threads


async def test_progress_leaves_batches_whole(settings, tmp_path: Path) -> None:
    """Progress every 250 rows counts queued rows and does not cut a batch short."""
    organization = await new_organization()
    path = write_register(
        tmp_path / "progress.csv", [register_line(i) for i in range(1, 601)]
    )
    seen: list[ImportProgress] = []

    async def progress(current: ImportProgress) -> None:
        seen.append(current)

    report = await import_file(path, organization, ImportOptions(), progress=progress)

    assert report.count("created") == 600
    assert [(p.rows_read, p.rows_written) for p in seen] == [
        (250, 250),
        (500, 500),
        (600, 600),
    ]
    outbox = AuditOutbox.filter(
        organization_id=organization.id, action="contract.create"
    )
    assert await outbox.count() == 1


def test_mixed_encoding_line_after_first_chunk(tmp_path: Path) -> None:
    """Line numbers stay right when a CR LF is split between two chunks."""
    path = tmp_path / "mixed.csv"
    line = "S-00001;Service;Client;01-01-2027;31-12-2027;€ 1,00;3 mnd\r\n"
    head = HEADER.replace("\n", "\r\n")
    # The first 1 MiB chunk ends between the CR and the LF of the last filler line.
    pad = ((1 << 20) - 1 - len(head.encode())) % len(line.encode())
    lines = (1 << 20) // len(line.encode())
    data = (
        head.encode()
        + b"#" * pad
        + b"\r\n"
        + line.encode() * lines
        + "S-99999;Bäckerei;Zoë;01-01-2027;;1;\r\n".encode("cp1252")
    )
    path.write_bytes(data)
    assert data[(1 << 20) - 1 : (1 << 20) + 1] == b"\r\n"

    with pytest.raises(ImportFileError) as raised:
        read_table(path)

    assert str(raised.value).startswith(
        f"mixed.csv mixes text encodings: line {lines + 3} is not valid UTF-8, but "
        "line 3 contains UTF-8 text."
    )
