"""Truncating the values and messages that import reports keep."""

from contractgql.importexport.truncate import truncate_message, truncate_value


def test_value_up_to_max_kept() -> None:
    assert truncate_value("a" * 240) == "a" * 240


def test_long_value_truncated_once() -> None:
    shortened = truncate_value("a" * 241)

    assert shortened == "a" * 200 + "… (241 characters in all)"
    assert truncate_value(shortened) == shortened


def test_message_quoting_stripped_value() -> None:
    value = "  " + "b" * 300 + "  "
    message = f"Invalid date {value.strip()!r}: expected YYYY-MM-DD."

    shortened = truncate_message(message, value)

    assert shortened == (
        f"Invalid date '{'b' * 200}… (300 characters in all)': expected YYYY-MM-DD."
    )
    assert truncate_message(shortened, truncate_value(value)) == shortened


def test_long_message_keeps_start_and_end() -> None:
    message = "s" * 600 + "m" * 1000 + "e" * 400

    shortened = truncate_message(message)

    assert shortened == ("s" * 500 + " … [1200 characters left out] … " + "e" * 300)
    assert truncate_message(shortened) == shortened
