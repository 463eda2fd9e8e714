"""Shorten the cell values and messages that import reports and jobs keep.

A rejected row quotes its cell, and a cell can have millions of characters. The
report, the stored job and the command-line output keep a bounded excerpt, so
a file of long cells cannot fill the memory, the database or a GraphQL response.
Each function returns text it has already shortened unchanged.
"""

from __future__ import annotations

# A value up to this many characters is kept whole.
MAX_VALUE_CHARS = 240
# Characters kept from the start of a longer value. The gap to MAX_VALUE_CHARS
# leaves room for the length note, so that a shortened value is never shortened
# again.
VALUE_HEAD_CHARS = 200
# A message up to this many characters is kept whole. A longer one keeps its
# start and its end, which states the fix.
MAX_MESSAGE_CHARS = 1000
MESSAGE_HEAD_CHARS = 500
MESSAGE_TAIL_CHARS = 300


def truncate_value(text: str) -> str:
    """Return `text`, or its first 200 characters, "…" and its length in characters.

    Only a text longer than MAX_VALUE_CHARS is shortened.
    """
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return f"{text[:VALUE_HEAD_CHARS]}… ({len(text)} characters in all)"


def truncate_message(message: str, value: str = "") -> str:
    """Return `message` with a long quoted `value` in it, or its middle, cut out.

    A parse error quotes the cell it rejects, so each quoted form of a long
    `value` (as written, stripped, or with its whitespace collapsed) is replaced
    by its truncated form. A message still longer than MAX_MESSAGE_CHARS keeps
    its start and its end, with the number of characters left out between them.
    """
    if len(value) > MAX_VALUE_CHARS:
        for form in dict.fromkeys((value, value.strip(), " ".join(value.split()))):
            if len(form) > MAX_VALUE_CHARS:
                message = message.replace(repr(form), repr(truncate_value(form)))
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    left_out = len(message) - MESSAGE_HEAD_CHARS - MESSAGE_TAIL_CHARS
    return (
        f"{message[:MESSAGE_HEAD_CHARS]} … [{left_out} characters left out] … "
        f"{message[-MESSAGE_TAIL_CHARS:]}"
    )
