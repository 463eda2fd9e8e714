"""Extract the plain text of PDF and DOCX files, for the search in documents.

Extraction is bounded: at most MAX_TEXT_CHARS characters are kept, at most
MAX_PDF_PAGES pages of a PDF are read, and a PDF stops between two pages when
EXTRACTION_SECONDS have passed. A DOCX is read as a ZIP archive with a streaming
XML parser that stops after MAX_DOCX_XML_BYTES of uncompressed XML, so a
compressed bomb cannot fill the memory.
"""

from __future__ import annotations

import logging
import time
import zipfile
from dataclasses import dataclass
from typing import BinaryIO
from xml.etree import ElementTree

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PyPdfError

from contractgql.documents.sniffing import DOCX, PDF
from contractgql.models import TextStatus

logger = logging.getLogger(__name__)

# Characters of text stored per version, about 1 MB of mostly ASCII text.
MAX_TEXT_CHARS = 1_000_000
# Pages of a PDF that are read; later pages are not searchable.
MAX_PDF_PAGES = 2000
# Seconds after which a PDF's extraction stops before its next page. One page
# can take longer than this, because pypdf cannot be interrupted inside a page.
EXTRACTION_SECONDS = 60.0
# Uncompressed bytes of word/document.xml that are parsed.
MAX_DOCX_XML_BYTES = 64 * 1024 * 1024
# Characters of an error message that are stored.
MAX_ERROR_CHARS = 1000

_WORD_NAMESPACE = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCX_BODY = "word/document.xml"


@dataclass(frozen=True)
class Extraction:
    """The outcome of one extraction: a status, and text or an error."""

    status: TextStatus
    text: str = ""
    truncated: bool = False
    error: str | None = None


class ExtractionError(Exception):
    """The file could not be read. The message gives the reason."""


def extract_text(content_type: str, handle: BinaryIO) -> Extraction:
    """Extract the text of a file of `content_type`, read from `handle`.

    Returns UNSUPPORTED for types other than PDF and DOCX, NO_TEXT when the file
    has no text (such as a scanned PDF without a text layer), and FAILED with the
    error when the file cannot be read.
    """
    if content_type == PDF.content_type:
        extract = _pdf_text
    elif content_type == DOCX.content_type:
        extract = _docx_text
    else:
        return Extraction(TextStatus.UNSUPPORTED)
    try:
        text = extract(handle)
    except ExtractionError as error:
        return Extraction(TextStatus.FAILED, error=_short(str(error)))
    except (PyPdfError, zipfile.BadZipFile, ElementTree.ParseError, OSError) as error:
        return Extraction(
            TextStatus.FAILED, error=_short(f"{type(error).__name__}: {error}")
        )
    return finish(text)


def finish(text: str) -> Extraction:
    """Clean `text`, cut it to MAX_TEXT_CHARS and choose DONE or NO_TEXT."""
    # PostgreSQL text cannot contain NUL, and lone surrogates cannot be encoded.
    cleaned = text.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
    truncated = len(cleaned) > MAX_TEXT_CHARS
    cleaned = cleaned[:MAX_TEXT_CHARS]
    if not cleaned.strip():
        return Extraction(TextStatus.NO_TEXT)
    return Extraction(TextStatus.DONE, cleaned, truncated)


def _pdf_text(handle: BinaryIO) -> str:
    reader = PdfReader(handle)
    if reader.is_encrypted:
        # Many PDFs are encrypted with an empty user password, only to restrict
        # printing or copying. Their text can be read.
        try:
            reader.decrypt("")
        except (FileNotDecryptedError, NotImplementedError) as error:
            raise ExtractionError(
                f"The PDF is encrypted and needs a password: {error}"
            ) from None
    deadline = time.monotonic() + EXTRACTION_SECONDS
    parts: list[str] = []
    length = 0
    try:
        pages = reader.pages
        count = len(pages)
    except FileNotDecryptedError as error:
        raise ExtractionError(
            f"The PDF is encrypted and needs a password: {error}"
        ) from None
    for index in range(min(count, MAX_PDF_PAGES)):
        if time.monotonic() > deadline:
            logger.warning(
                "Text extraction stopped after %d of %d pages: it took longer than "
                "%.0f s",
                index,
                count,
                EXTRACTION_SECONDS,
            )
            break
        page_text = pages[index].extract_text() or ""
        parts.append(page_text)
        length += len(page_text) + 1
        if length > MAX_TEXT_CHARS:
            break
    return "\n".join(parts)


class _LimitedReader:
    """A file-like reader that raises ExtractionError after `limit` bytes."""

    def __init__(self, handle: BinaryIO, limit: int) -> None:
        self.handle = handle
        self.remaining = limit

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size if size >= 0 else 64 * 1024)
        self.remaining -= len(chunk)
        if self.remaining < 0:
            raise ExtractionError(
                f"The DOCX body is larger than {MAX_DOCX_XML_BYTES} bytes when "
                "uncompressed, so its text was not extracted."
            )
        return chunk


def _docx_text(handle: BinaryIO) -> str:
    """Return the text of word/document.xml: paragraphs on lines, tabs as tabs."""
    with zipfile.ZipFile(handle) as archive:
        try:
            entry = archive.open(_DOCX_BODY)
        except KeyError:
            raise ExtractionError(
                f"The DOCX file has no {_DOCX_BODY} part, so it has no body text."
            ) from None
        with entry:
            reader = _LimitedReader(entry, MAX_DOCX_XML_BYTES)  # type: ignore[arg-type]
            return _word_body_text(reader)


def _word_body_text(reader: _LimitedReader) -> str:
    parts: list[str] = []
    length = 0
    text_tag = _WORD_NAMESPACE + "t"
    breaks = {_WORD_NAMESPACE + "br", _WORD_NAMESPACE + "cr", _WORD_NAMESPACE + "p"}
    tab = _WORD_NAMESPACE + "tab"
    for _, element in ElementTree.iterparse(reader, events=("end",)):
        if element.tag == text_tag and element.text:
            parts.append(element.text)
            length += len(element.text)
        elif element.tag in breaks:
            parts.append("\n")
            length += 1
        elif element.tag == tab:
            parts.append("\t")
            length += 1
        # Paragraphs are read once, so their elements can go.
        if element.tag == _WORD_NAMESPACE + "p":
            element.clear()
        if length > MAX_TEXT_CHARS:
            break
    return "".join(parts)


def _short(message: str) -> str:
    return message[:MAX_ERROR_CHARS]
