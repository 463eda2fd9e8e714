"""Recognise the type of an uploaded file from its content.

The file name's extension and the Content-Type that a client sends are both
chosen by the client, so the stored type comes from the first bytes of the
content. DOCX, XLSX and ODT files are ZIP archives, recognised by the parts that
the Office Open XML and OpenDocument standards require: `[Content_Types].xml`
with the main part's content type, and `mimetype` as the first entry.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class FileType:
    label: str
    extension: str
    content_type: str
    # Other extensions that name the same type, such as jpeg for jpg.
    aliases: tuple[str, ...] = ()


PDF = FileType("PDF document", "pdf", "application/pdf")
DOCX = FileType(
    "Word document (DOCX)",
    "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)
XLSX = FileType(
    "Excel workbook (XLSX)",
    "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
ODT = FileType(
    "OpenDocument text (ODT)", "odt", "application/vnd.oasis.opendocument.text"
)
PNG = FileType("PNG image", "png", "image/png")
JPEG = FileType("JPEG image", "jpg", "image/jpeg", aliases=("jpeg",))
EML = FileType("e-mail message (EML)", "eml", "message/rfc822")

FILE_TYPES = (PDF, DOCX, XLSX, ODT, PNG, JPEG, EML)
SUPPORTED_LABEL = "PDF, DOCX, XLSX, ODT, PNG, JPEG or EML"

_BY_EXTENSION = {
    extension: file_type
    for file_type in FILE_TYPES
    for extension in (file_type.extension, *file_type.aliases)
}

# Content types of the main part in [Content_Types].xml, from ECMA-376 part 1.
_OOXML_PREFIX = "application/vnd.openxmlformats-officedocument."
_OOXML_MAIN_PARTS = {
    _OOXML_PREFIX + "wordprocessingml.document.main+xml": DOCX,
    _OOXML_PREFIX + "spreadsheetml.sheet.main+xml": XLSX,
}
_ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
# The largest [Content_Types].xml or mimetype entry that is read. Real ones are a
# few kilobytes, and the limit keeps a compressed bomb from filling memory.
_MAX_MANIFEST_BYTES = 1024 * 1024
_CONTENT_TYPE_ATTRIBUTE = re.compile(rb'ContentType\s*=\s*"([^"]*)"')

# Bytes that `sniff` reads for the signatures and the e-mail headers.
_HEAD_BYTES = 64 * 1024
# Header field names (RFC 5322 section 2.2): printable ASCII except the colon.
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
_CONTINUATION_LINE = re.compile(rb"[ \t]")
# An e-mail message needs a From field and usually has some of these others.
_MESSAGE_FIELDS = {b"date", b"subject", b"to", b"message-id", b"mime-version"}


class UnknownContent(Exception):
    """The content matches no supported type."""


def type_for_extension(extension: str) -> FileType | None:
    """Return the type that a file name extension (without the dot) stands for."""
    return _BY_EXTENSION.get(extension.lower())


def sniff(handle: BinaryIO) -> FileType:
    """Return the type of the content in `handle`, read from its start.

    Raises UnknownContent when the content matches no supported type.
    """
    handle.seek(0)
    head = handle.read(_HEAD_BYTES)
    handle.seek(0)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(handle)
    if _is_message(head):
        return EML
    raise UnknownContent("The content matches no supported file type.")


def _sniff_zip(handle: BinaryIO) -> FileType:
    try:
        with zipfile.ZipFile(handle) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = _read_entry(archive, "mimetype").strip()
                if mimetype == _ODT_MIMETYPE:
                    return ODT
                raise UnknownContent(
                    f"The archive is an OpenDocument file of type "
                    f"{mimetype.decode(errors='replace')!r}, which is not supported."
                )
            if "[Content_Types].xml" in names:
                manifest = _read_entry(archive, "[Content_Types].xml")
                for match in _CONTENT_TYPE_ATTRIBUTE.finditer(manifest):
                    found = _OOXML_MAIN_PARTS.get(
                        match.group(1).decode("ascii", "replace")
                    )
                    if found is not None:
                        return found
                raise UnknownContent(
                    "The archive is an Office Open XML file, but neither a Word "
                    "document nor an Excel workbook (macro-enabled files are not "
                    "supported)."
                )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
        raise UnknownContent(
            f"The content is a damaged ZIP archive: {error}."
        ) from None
    finally:
        handle.seek(0)
    raise UnknownContent(
        "The content is a ZIP archive, but not a DOCX, XLSX or ODT file."
    )


def _read_entry(archive: zipfile.ZipFile, name: str) -> bytes:
    with archive.open(name) as entry:
        data = entry.read(_MAX_MANIFEST_BYTES + 1)
    if len(data) > _MAX_MANIFEST_BYTES:
        raise UnknownContent(
            f"The archive entry {name!r} is larger than {_MAX_MANIFEST_BYTES} bytes."
        )
    return data


def _is_message(head: bytes) -> bool:
    """Return whether `head` starts with an RFC 5322 header block with a From field.

    Every line up to the first empty line must be a header field or the
    continuation of one.
    """
    header, separator, _ = head.replace(b"\r\n", b"\n").partition(b"\n\n")
    if not separator or not header:
        return False
    names: set[bytes] = set()
    for index, line in enumerate(header.split(b"\n")):
        if _CONTINUATION_LINE.match(line) and index > 0:
            continue
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(b":", 1)[0].lower())
    return b"from" in names and bool(names & _MESSAGE_FIELDS)
