"""File names, type recognition and the file storage, without the API."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import BinaryIO

import pytest

from contractgql.documents.naming import generated_name, sanitize_file_name
from contractgql.documents.sniffing import (
    DOCX,
    EML,
    JPEG,
    ODT,
    PDF,
    PNG,
    XLSX,
    UnknownContent,
    sniff,
)
from contractgql.documents.storage import (
    DocumentTooLarge,
    FileSystemStorage,
    StoredFileMissing,
)
from contractgql.models import DocumentKind
from tests.documents.helpers import (
    docx_bytes,
    eml_bytes,
    odt_bytes,
    pdf_bytes,
    png_bytes,
    stored_files,
)


def _xlsx_bytes() -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
    return output.getvalue()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (pdf_bytes(), PDF),
        (docx_bytes(), DOCX),
        (_xlsx_bytes(), XLSX),
        (odt_bytes(), ODT),
        (png_bytes(), PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", JPEG),
        (eml_bytes(), EML),
    ],
)
def test_sniff_recognises_type(content: bytes, expected: object) -> None:
    assert sniff(io.BytesIO(content)) == expected


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"plain text\n\nwith a blank line",
        b"Subject: no sender\r\n\r\nbody",
        b"PK\x03\x04 damaged",
        b"MZ\x90\x00",
    ],
)
def test_sniff_rejects_unknown_content(content: bytes) -> None:
    with pytest.raises(UnknownContent):
        sniff(io.BytesIO(content))


def test_sniff_rejects_plain_zip() -> None:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("readme.txt", "hello")

    with pytest.raises(UnknownContent, match="not a DOCX, XLSX or ODT"):
        sniff(output)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("contract.pdf", "contract.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\offer.docx", "offer.docx"),
        ("bad\x00\x07\u202ename.pdf", "badname.pdf"),
        ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("lpt1.tar.pdf", "_lpt1.tar.pdf"),
        ("  .hidden.pdf. ", "hidden.pdf"),
        ("", "document"),
        ("...", "document"),
    ],
)
def test_sanitize_file_name(raw: str, expected: str) -> None:
    assert sanitize_file_name(raw) == expected


def test_sanitize_file_name_limits_length() -> None:
    name = sanitize_file_name("é" * 300 + ".pdf")

    assert len(name.encode()) <= 255
    assert name.endswith(".pdf")


def test_generated_name() -> None:
    name = generated_name(
        DocumentKind.SIGNED_CONTRACT,
        "Müller & Söhne / B.V.",
        2,
        date(2026, 5, 1),
        "pdf",
    )

    assert name == "Contract_Muller-Sohne-B-V_v2_2026-05-01.pdf"


def test_generated_name_without_safe_characters() -> None:
    name = generated_name(DocumentKind.QUOTE, "株式会社", 1, date(2026, 5, 1), "png")

    assert name == "Quote_unnamed_v1_2026-05-01.png"


async def _chunks(*parts: bytes, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for index, part in enumerate(parts):
        if fail_after is not None and index == fail_after:
            raise ConnectionError("client disconnected")
        yield part


async def test_storage_round_trip(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path)

    stored = await storage.put(_chunks(b"abc", b"def"), max_bytes=10)
    read = b"".join([chunk async for chunk in storage.read(stored.sha256)])

    assert stored.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    assert stored.size == 6
    assert read == b"abcdef"
    assert stored_files(tmp_path) == [tmp_path / stored.sha256[:2] / stored.sha256]


async def test_storage_cut_off_leaves_nothing(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path)

    with pytest.raises(ConnectionError):
        await storage.put(
            _chunks(b"a" * 1000, b"b" * 1000, fail_after=1), max_bytes=10**6
        )

    assert stored_files(tmp_path) == []


async def test_storage_too_large_leaves_nothing(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path)

    with pytest.raises(DocumentTooLarge):
        await storage.put(_chunks(b"a" * 6, b"b" * 6), max_bytes=10)

    assert stored_files(tmp_path) == []


async def test_storage_rejected_check_leaves_nothing(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path)

    def reject(handle: BinaryIO) -> None:
        assert handle.read() == b"content"
        raise ValueError("rejected")

    with pytest.raises(ValueError, match="rejected"):
        await storage.put(_chunks(b"content"), max_bytes=100, check=reject)

    assert stored_files(tmp_path) == []


async def test_storage_missing_file(tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path)

    with pytest.raises(StoredFileMissing):
        async for _ in storage.read("0" * 64):
            pass
    assert not await storage.exists("0" * 64)
