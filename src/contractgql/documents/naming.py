"""File names: sanitising uploaded names and generating download names."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from contractgql.models import DocumentKind

# Limit of most file systems for one name, counted in UTF-8 bytes.
MAX_FILE_NAME_BYTES = 255
# Limit of the client name inside a generated name, in characters.
MAX_NAME_PART_LENGTH = 60
# Characters that Windows forbids in file names, and path separators.
_RESERVED_CHARACTERS = re.compile(r'[<>:"/\\|?*]')
# Device names that Windows reserves with any extension (CON.pdf is reserved too).
_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{digit}" for digit in "0123456789¹²³"}
    | {f"LPT{digit}" for digit in "0123456789¹²³"}
)
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9]+")

KIND_PREFIXES = {
    DocumentKind.SIGNED_CONTRACT: "Contract",
    DocumentKind.QUOTE: "Quote",
    DocumentKind.ADDENDUM: "Addendum",
    DocumentKind.GENERAL_TERMS: "General-terms",
    DocumentKind.CORRESPONDENCE: "Correspondence",
    DocumentKind.OTHER: "Document",
}


def sanitize_file_name(raw: str | None) -> str:
    """Return a file name that is safe to store and to show.

    Directories are dropped (both / and \\ count), control and format characters
    removed, reserved characters replaced with "_", leading and trailing dots and
    spaces removed and Windows device names prefixed with "_". The name is cut to
    MAX_FILE_NAME_BYTES bytes, keeping its extension. An empty result becomes
    "document".
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        character
        for character in name
        if unicodedata.category(character) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    name = _RESERVED_CHARACTERS.sub("_", name).strip(" .")
    if not name:
        return "document"
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if stem.split(".")[0].strip().upper() in _RESERVED_NAMES:
        stem = "_" + stem
    return _truncate(stem, extension)


def _truncate(stem: str, extension: str) -> str:
    suffix = f".{extension}" if extension else ""
    if len(suffix.encode()) > 16:
        # An extension this long is no extension, so it is cut with the stem.
        stem, suffix = stem + suffix, ""
    budget = MAX_FILE_NAME_BYTES - len(suffix.encode())
    encoded = stem.encode()
    if len(encoded) > budget:
        stem = encoded[:budget].decode(errors="ignore").rstrip(" .") or "document"
    return stem + suffix


def file_extension(name: str) -> str | None:
    """Return the lower-case extension of a sanitised name, or None without one."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return None
    return extension.lower()


def safe_name_part(text: str) -> str:
    """Return `text` as ASCII letters, digits and hyphens, such as Muller-BV.

    Accents are removed, and every other run of characters becomes one hyphen.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = decomposed.encode("ascii", "ignore").decode()
    part = _UNSAFE_RUN.sub("-", ascii_text).strip("-")
    return part[:MAX_NAME_PART_LENGTH].rstrip("-") or "unnamed"


def generated_name(
    kind: DocumentKind, client_name: str, number: int, day: date, extension: str
) -> str:
    """Return a version's download name, such as Contract_Acme-BV_v2_2026-05-01.pdf."""
    prefix = KIND_PREFIXES[kind]
    return (
        f"{prefix}_{safe_name_part(client_name)}_v{number}_{day.isoformat()}"
        f".{extension}"
    )
