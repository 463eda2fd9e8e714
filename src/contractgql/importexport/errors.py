"""Exceptions raised while reading and parsing an import file."""


class ImportFileError(Exception):
    """A file that cannot be imported at all, with a message that states the fix.

    Raised for unreadable or empty files, files without a recognisable header row and
    invalid column mappings. Problems with single cells are reported per row instead.
    """


class ValueParseError(ValueError):
    """A cell value that does not match the format its column expects."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
