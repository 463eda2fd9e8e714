"""Strict parsers for the cell values of an import file.

Each parser accepts the formats that English and Dutch registers and spreadsheet
exports use, and raises ValueParseError with a sentence that names the value and
the expected format. The parsers reject empty text, so callers skip empty cells.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from contractgql.domain.money import MAX_MINOR_UNITS
from contractgql.importexport.errors import ValueParseError
from contractgql.importexport.tables import excel_serial_to_date

# Bare numbers in a date column are read as Excel serial dates only in this range
# (1954-10-03 to 2119-01-10), so an amount or an id in the wrong column is rejected.
EXCEL_SERIAL_MIN = 20000
EXCEL_SERIAL_MAX = 80000

_DATE_FORMATS_HINT = (
    "expected a date such as 2027-12-31, 31-12-2027 or 31/12/2027 (day first), "
    "or an Excel date number"
)

# An optional time of day and UTC offset after a date. Both are dropped, because
# the value is a calendar date.
_TIME = (
    r"(?:[T ](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?)?"
)
_OFFSET = r"(?:\s*(?:Z|[+-]\d{2}(?::?\d{2})?))?"

_ISO_DATE = re.compile(
    r"(?P<year>\d{4})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})"
    + _TIME
    + _OFFSET
)
_ISO_BASIC_DATE = re.compile(r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})")
_NUMERIC_DATE = re.compile(
    r"(?P<first_number>\d{1,2})(?P<sep>[-/.])(?P<second_number>\d{1,2})(?P=sep)"
    r"(?P<year>\d{4})" + _TIME
)
_MONTH_NAME_DATE = re.compile(
    r"(?P<day>\d{1,2})[\s.-]*(?P<month>[^\W\d_]+)\.?[\s.,-]*(?P<year>\d{4})"
)
_EXCEL_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")

_MONTH_NAMES = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan", "januari"),
            ("february", "feb", "februari"),
            ("march", "mar", "maart", "mrt"),
            ("april", "apr"),
            ("may", "mei"),
            ("june", "jun", "juni"),
            ("july", "jul", "juli"),
            ("august", "aug", "augustus"),
            ("september", "sep", "sept"),
            ("october", "oct", "oktober", "okt"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}

_CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP", "$": "USD"}
_CURRENCY_NAMES = {"euro": "EUR", "euros": "EUR", "pound": "GBP", "pounds": "GBP"}

_AMOUNT = re.compile(
    r"(?P<sign1>[-+])?\s*"
    r"(?:(?P<currency1>[€£$]|[A-Za-z]{3})\s*)?"
    r"(?P<sign2>[-+])?\s*"
    r"(?P<number>\d(?:[\d.,' ]*\d)?)"
    # Dutch notation for whole amounts: "€ 1.234,-".
    r"(?P<no_cents>,-{1,2})?"
    r"\s*(?P<currency2>[€£$]|[A-Za-z]{3})?"
)
# The common forms of an amount in a column whose decimal separator is known: an
# optional currency before it, no sign, digits grouped by threes or not at all,
# and decimals: "€ 1.234,56", "EUR 45.000", "1234,5". They read as the general
# parse below reads them, in a fifth of the time; every other form takes that parse.
_PLAIN_AMOUNT = {
    separator: re.compile(
        rf"(?:(?P<currency>[€£$]|[A-Z]{{3}}) ?)?"
        rf"(?P<integer>\d{{1,3}}(?:{re.escape(group)}\d{{3}})+|\d+)"
        rf"(?:{re.escape(separator)}(?P<fraction>\d+))?",
        re.ASCII,
    )
    for separator, group in ((",", "."), (".", ","))
}
# The maximum number of digits before the decimal separator of an amount that any
# currency can store: those of the largest minor-unit count, 9223372036854775807.
MAX_WHOLE_DIGITS = len(str(MAX_MINOR_UNITS))
# The maximum number of digits after it that the parsers read. No currency in use
# has more than 3 decimal places, and 19 + 9 digits fit the 28 significant digits
# of Decimal's default context, whose arithmetic rounds longer numbers silently.
MAX_FRACTION_DIGITS = 9
_SCIENTIFIC = re.compile(r"\d[eE][-+]?\d")
_GROUP_SEPARATORS = frozenset(".,' ")
_AMOUNT_HINT = "expected a number such as 45000, 45,000, 1234.56 or € 1.234,56"

_TRUE_WORDS = frozenset({"yes", "y", "true", "1", "ja", "j", "waar"})
_FALSE_WORDS = frozenset({"no", "n", "false", "0", "nee", "onwaar"})

_PERIOD = re.compile(r"(?P<count>\d+)\s*(?P<unit>[^\W\d_]+)\.?")
# Period unit words (English and Dutch) to (canonical unit, multiplier).
_PERIOD_UNITS: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("d", "day", "days", "dag", "dagen", "dg"), ("days", 1)),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks", "weken", "wkn"), ("weeks", 1)),
    **dict.fromkeys(
        ("m", "mo", "mon", "mth", "mths", "month", "months", "mnd", "maand", "maanden"),
        ("months", 1),
    ),
    **dict.fromkeys(
        ("y", "yr", "yrs", "year", "years", "j", "jr", "jaar", "jaren"), ("months", 12)
    ),
}

# Keys are lowercase letters and digits only. The values are those of the domain's
# PaymentFrequency.
_PAYMENT_FREQUENCIES: dict[str, str] = {
    **dict.fromkeys(
        ("monthly", "month", "permonth", "maandelijks", "maand", "permaand"), "monthly"
    ),
    **dict.fromkeys(
        (
            "quarterly",
            "quarter",
            "perquarter",
            "kwartaal",
            "perkwartaal",
            "driemaandelijks",
        ),
        "quarterly",
    ),
    **dict.fromkeys(
        (
            "halfyearly",
            "semiannually",
            "semiannual",
            "sixmonthly",
            "6monthly",
            "halfjaarlijks",
            "halfjaar",
            "perhalfjaar",
        ),
        "half_yearly",
    ),
    **dict.fromkeys(
        ("yearly", "annually", "annual", "peryear", "jaarlijks", "jaar", "perjaar"),
        "yearly",
    ),
    **dict.fromkeys(
        ("oneoff", "once", "onetime", "single", "eenmalig", "eenmaal"), "one_off"
    ),
}

_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")

# First characters that make a spreadsheet read a cell as a formula: the list on
# OWASP's CSV Injection page (=, +, -, @, tab, carriage return, and line feed since
# August 2025), plus the null character of OWASP ASVS requirement 1.2.10. The
# exports put a single quote before a cell that starts with one of them, and the
# import removes that quote again.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
QUOTED_FORMULA_PREFIXES = tuple("'" + prefix for prefix in FORMULA_PREFIXES)


def parse_date(text: str, order: DateOrder | None = None) -> date:
    """Parse a calendar date in ISO, day-first or Excel serial form.

    Accepted forms:
    - 2027-12-31 and 20271231, with an optional time and UTC offset, both dropped;
    - 31-12-2027 and 31.12.2027, always day first;
    - 31/12/2027, day first, and 12/31/2027, month first only when the second
      number cannot be a month;
    - 31 december 2027, with English or Dutch month names;
    - Excel serial numbers from 20000 to 80000.

    `order`, from detect_date_order() over the date's column, replaces the rule
    for dates with "/": it reads every one of them in the column's order, and
    rejects one that can only be read in the other order.
    """
    value = text.strip()
    if match := _ISO_DATE.fullmatch(value) or _ISO_BASIC_DATE.fullmatch(value):
        _check_time(text, match)
        return _make_date(text, match["year"], match["month"], match["day"])
    if match := _NUMERIC_DATE.fullmatch(value):
        _check_time(text, match)
        return _numeric_date(text, match, order)
    if match := _MONTH_NAME_DATE.fullmatch(value):
        month_number = _MONTH_NAMES.get(match["month"].casefold())
        if month_number is not None:
            return _make_date(text, match["year"], month_number, match["day"])
    if _EXCEL_SERIAL.fullmatch(value):
        return _excel_serial_date(text, Decimal(value))
    raise ValueParseError(f"Invalid date {text!r}: {_DATE_FORMATS_HINT}.")


def _numeric_date(text: str, match: re.Match[str], order: DateOrder | None) -> date:
    """Return the date of a _NUMERIC_DATE match, read day first unless a "/"
    date is month first in `order` or, without an order, only month first."""
    year, first, second = (
        int(match["year"]),
        int(match["first_number"]),
        int(match["second_number"]),
    )
    if match["sep"] != "/":
        if not _is_date(year, second, first) and _is_date(year, first, second):
            raise ValueParseError(_european_month_first_error(text, match, order))
        month_first = False
    elif order is None:
        month_first = first <= 12 < second
    else:
        month_first = order.month_first
        if _is_date(year, *_month_day(first, second, not month_first)) and (
            not _is_date(year, *_month_day(first, second, month_first))
        ):
            raise ValueParseError(
                _minority_order_error(text, year, first, second, order)
            )
    month, day = _month_day(first, second, month_first)
    try:
        return date(year, month, day)
    except ValueError as exc:
        used = "month" if month_first else "day"
        raise ValueParseError(
            f"Invalid date {text!r}: read {used} first, as day {day} of month "
            f"{month}, that day does not exist ({exc}). Write an existing date "
            f"{used} first, or as yyyy-mm-dd such as {year}-12-31."
        ) from exc


def _month_day(first: int, second: int, month_first: bool) -> tuple[int, int]:
    return (first, second) if month_first else (second, first)


def _european_month_first_error(
    text: str, match: re.Match[str], order: DateOrder | None
) -> str:
    sep = match["sep"]
    where = "this column reads" if order is not None else "the import reads"
    day_first = f"{match['second_number']}{sep}{match['first_number']}{sep}"
    month, day = int(match["first_number"]), int(match["second_number"])
    iso = date(int(match["year"]), month, day).isoformat()
    return (
        f"Invalid date {text!r}: it is valid only month first, but {where} every "
        "date written with '-' or '.' day first. Write it day first, as "
        f"{day_first}{match['year']}, or as {iso}."
    )


@dataclass(frozen=True, slots=True)
class DateOrder:
    """The order of day and month in a column's dates written with "/", and the
    votes for it.

    Only a date with "/" that is valid in one order alone votes: 31/12/2027 for
    day first, 12/31/2027 for month first. 03/04/2027 fits both and does not
    vote, and dates with "-" or "." are always day first, so they do not vote.
    """

    month_first: bool
    day_first_votes: int = 0
    month_first_votes: int = 0
    # A voting date of each order, to show in messages.
    day_first_example: str | None = None
    month_first_example: str | None = None


# A column is read month first only from this many month-first votes on, so
# that one typo such as 01/13/2026 cannot flip a column of ambiguous dates.
MIN_MONTH_FIRST_VOTES = 2


class DateOrderCounter:
    """Counts the votes of a date column's cells, one cell at a time."""

    __slots__ = ("day_first", "month_first", "day_first_example", "month_first_example")

    def __init__(self) -> None:
        self.day_first = 0
        self.month_first = 0
        self.day_first_example: str | None = None
        self.month_first_example: str | None = None

    def add(self, cell: str) -> None:
        only = _only_order(cell)
        if only is None:
            return
        if only == "day":
            self.day_first += 1
            if self.day_first_example is None:
                self.day_first_example = cell.strip()
        else:
            self.month_first += 1
            if self.month_first_example is None:
                self.month_first_example = cell.strip()

    def order(self) -> DateOrder:
        """Return month first when its votes outnumber day first's and number at
        least MIN_MONTH_FIRST_VOTES, else day first."""
        return DateOrder(
            month_first=(
                self.month_first > self.day_first
                and self.month_first >= MIN_MONTH_FIRST_VOTES
            ),
            day_first_votes=self.day_first,
            month_first_votes=self.month_first,
            day_first_example=self.day_first_example,
            month_first_example=self.month_first_example,
        )


def detect_date_order(cells: Iterable[str]) -> DateOrder:
    """Return the order of day and month of a column's dates written with "/"."""
    counter = DateOrderCounter()
    for cell in cells:
        counter.add(cell)
    return counter.order()


def is_slash_date(cell: str) -> bool:
    """Return whether `cell` is a numeric date written with "/", such as 03/04/2026,
    which a column's DateOrder decides how to read."""
    match = _NUMERIC_DATE.fullmatch(cell.strip())
    return match is not None and match["sep"] == "/"


# Registers repeat their dates, so the votes of recent cells are kept.
@functools.lru_cache(maxsize=4096)
def _only_order(cell: str) -> str | None:
    """Return "day" or "month" when `cell` is a numeric date with "/" valid in
    that order alone, else None."""
    match = _NUMERIC_DATE.fullmatch(cell.strip())
    if match is None or match["sep"] != "/":
        return None
    year, first, second = (
        int(match["year"]),
        int(match["first_number"]),
        int(match["second_number"]),
    )
    day_first = _is_date(year, second, first)
    month_first = _is_date(year, first, second)
    if day_first == month_first:
        return None
    return "day" if day_first else "month"


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _minority_order_error(
    text: str, year: int, first: int, second: int, order: DateOrder
) -> str:
    """Return the error for a date with "/" that is valid only in the order the
    column is not read in."""
    used, other = ("month", "day") if order.month_first else ("day", "month")
    month, day = _month_day(first, second, not order.month_first)
    meant = date(year, month, day).isoformat()
    day_votes, month_votes = order.day_first_votes, order.month_first_votes
    if order.month_first:
        because = (
            f"it has {_dates(month_votes)} valid only month first (such as "
            f"{order.month_first_example!r}) against {_dates(day_votes)} valid "
            "only day first"
        )
    elif month_votes > day_votes:
        because = (
            f"it has only {_dates(month_votes)} valid only month first, and a "
            f"column is read month first from {MIN_MONTH_FIRST_VOTES} such dates on"
        )
    else:
        such_as = (
            f" (such as {order.day_first_example!r})" if order.day_first_example else ""
        )
        tie = ", and a tie is read day first" if day_votes == month_votes else ""
        because = (
            f"it has {_dates(day_votes)} valid only day first{such_as} against "
            f"{_dates(month_votes)} valid only month first{tie}"
        )
    return (
        f"Invalid date {text!r}: it is valid only {other} first, but this column "
        f"reads dates written with '/' {used} first, because {because}. Write the "
        f"date {used} first, or as {meant} if that is the date meant."
    )


def _dates(count: int) -> str:
    return f"{count} date" if count == 1 else f"{count} dates"


def _check_time(text: str, match: re.Match[str]) -> None:
    if match.groupdict().get("hour") is None:
        return
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueParseError(
            f"Invalid date {text!r}: the time of day is out of range; "
            f"{_DATE_FORMATS_HINT}."
        )


def _make_date(text: str, year: str | int, month: str | int, day: str | int) -> date:
    try:
        return date(int(year), int(month), int(day))
    except ValueError as exc:
        raise ValueParseError(
            f"Invalid date {text!r}: that day does not exist ({exc}); "
            f"{_DATE_FORMATS_HINT}."
        ) from exc


def _excel_serial_date(text: str, serial: Decimal) -> date:
    if not EXCEL_SERIAL_MIN <= serial <= EXCEL_SERIAL_MAX:
        raise ValueParseError(
            f"Invalid date {text!r}: as an Excel date number it must be between "
            f"{EXCEL_SERIAL_MIN} and {EXCEL_SERIAL_MAX}; {_DATE_FORMATS_HINT}."
        )
    return excel_serial_to_date(serial)


def parse_amount(text: str) -> Decimal:
    """Parse a money amount into an exact Decimal, ignoring a currency sign or code.

    See parse_amount_with_currency for the accepted formats.
    """
    return parse_amount_with_currency(text)[0]


def parse_amount_with_currency(
    text: str, decimal_separator: str | None = None
) -> tuple[Decimal, str | None]:
    """Parse a money amount and the currency written next to it, if any.

    Accepts a sign, a currency symbol or 3-letter code before or after the number,
    accounting brackets for negative amounts, and both dot and comma decimals:
    `€ 1.234,56`, `1,234.56`, `1 234,56`, `EUR 1234`, `(12.50)`, `€ 1.234,-`.
    A negative amount is returned as such; the caller decides whether it is valid.
    `decimal_separator`, when the rest of the column shows it, settles amounts such
    as `1,234` that could be read either way.
    """
    plain = (
        _PLAIN_AMOUNT[decimal_separator].fullmatch(text) if decimal_separator else None
    )
    if plain is not None:
        integer, fraction = plain["integer"], (plain["fraction"] or "").rstrip("0")
        integer = integer.replace("." if decimal_separator == "," else ",", "")
        try:
            amount = _to_decimal(integer, fraction)
        except _TooManyDigits as exc:
            raise ValueParseError(_amount_size_error(text, exc)) from None
        code = plain["currency"]
        return amount, None if code is None else parse_currency(code)

    value = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    value = value.replace("\u2212", "-")
    bracketed = value.startswith("(") and value.endswith(")")
    if bracketed:
        value = value[1:-1].strip()

    match = _AMOUNT.fullmatch(value)
    if match is None:
        raise ValueParseError(_amount_error(text))
    signs = [sign for sign in (match["sign1"], match["sign2"]) if sign]
    currencies = [code for code in (match["currency1"], match["currency2"]) if code]
    try:
        number = _parse_grouped_number(match["number"], decimal_separator)
    except _TooManyDigits as exc:
        raise ValueParseError(_amount_size_error(text, exc)) from None
    # Brackets already mark a negative amount, so they allow no sign.
    max_signs = 0 if bracketed else 1
    if number is None or len(currencies) > 1 or len(signs) > max_signs:
        raise ValueParseError(_amount_error(text))

    if bracketed or signs == ["-"]:
        number = -number
    currency = parse_currency(currencies[0]) if currencies else None
    return number, currency


# A separator followed by one, two or more than three digits at the end can only be
# a decimal separator, and so can a comma after a dot group (1.234,56) or the reverse.
_COMMA_DECIMAL = re.compile(r"\d,(\d{1,2}|\d{4,})\D*$|\.\d{3},\d")
_DOT_DECIMAL = re.compile(r"\d\.(\d{1,2}|\d{4,})\D*$|,\d{3}\.\d")


# An amount whose only separator has exactly 3 digits after it and 1 to 3 digits
# before it, not starting with 0. So 1,234 and € 12.500 read as whole numbers
# grouped in thousands or as amounts with 3 decimals.
_AMBIGUOUS_AMOUNT = re.compile(
    r"(?<![\d.,'])(?<!\d[ '])[1-9]\d{0,2}(?P<separator>[.,])\d{3}(?![\d.,])"
)
# The end of _AMBIGUOUS_AMOUNT, which rules out most amounts in half its time.
_AMBIGUOUS_END = re.compile(r"[.,]\d{3}(?![\d.,])")


@dataclass(frozen=True, slots=True)
class AmountColumnSurvey:
    """The decimal separator of an amount column, and the amounts that decide it.

    An amount shows its decimal separator when it reads only one way, as 2,50 and
    1.234,56 show ',' and 2.50 and 1,234.56 show '.'. An ambiguous amount such as
    1,234 shows none (see ambiguous_amount_parts).
    """

    # "," or "." when the amounts show only that one, else None.
    separator: str | None
    # The first amount that shows ',' and the first that shows '.', as written.
    comma_example: str | None = None
    dot_example: str | None = None
    # How many amounts of the column are ambiguous.
    ambiguous_count: int = 0

    def example_of(self, separator: str) -> str | None:
        """Return the first amount that shows `separator` as decimal separator."""
        return self.comma_example if separator == "," else self.dot_example


def survey_amount_column(cells: Iterable[str]) -> AmountColumnSurvey:
    """Return the decimal separator that the amounts of a column show, with examples.

    The separator is None when no amount shows one, or when the column mixes both.
    """
    comma_example: str | None = None
    dot_example: str | None = None
    ambiguous_count = 0
    search_end, search_ambiguous = _AMBIGUOUS_END.search, _AMBIGUOUS_AMOUNT.search
    for cell in cells:
        if comma_example is None and _COMMA_DECIMAL.search(cell) is not None:
            comma_example = cell.strip()
        if dot_example is None and _DOT_DECIMAL.search(cell) is not None:
            dot_example = cell.strip()
        if search_end(cell) is not None and search_ambiguous(cell) is not None:
            ambiguous_count += 1
    separator = None
    if (comma_example is None) != (dot_example is None):
        separator = "," if comma_example is not None else "."
    return AmountColumnSurvey(separator, comma_example, dot_example, ambiguous_count)


def detect_decimal_separator(cells: Iterable[str]) -> str | None:
    """Return "," or "." when the amounts of a column use only that decimal separator.

    Returns None when no amount shows its separator, or when the column mixes both.
    """
    return survey_amount_column(cells).separator


def ambiguous_amount_parts(text: str) -> tuple[str, str, str] | None:
    """Return the whole part, separator and 3 decimals of an ambiguous amount,
    such as ("1", ",", "234") for "€ 1,234", or None when the amount is not one.

    Without a decimal separator from the rest of its column, such an amount reads
    as a whole number: 1,234 is 1234.
    """
    match = _AMBIGUOUS_AMOUNT.search(text)
    if match is None:
        return None
    whole, fraction = match[0].split(match["separator"])
    return whole, match["separator"], fraction


_ONES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
# Indexed by the tens digit, from 2.
_TENS = (
    "",
    "",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
)


def number_in_words(number: int) -> str:
    """Return a whole number from 0 to 999,999 in English words, such as
    "one thousand two hundred thirty-four".

    Raises ValueError for other numbers.
    """
    if not 0 <= number < 1_000_000:
        raise ValueError(f"{number} is not between 0 and 999,999.")
    if number == 0:
        return _ONES[0]
    thousands, rest = divmod(number, 1000)
    words = []
    if thousands:
        words.append(f"{_below_thousand_in_words(thousands)} thousand")
    if rest:
        words.append(_below_thousand_in_words(rest))
    return " ".join(words)


def _below_thousand_in_words(number: int) -> str:
    hundreds, rest = divmod(number, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(f"{_TENS[tens]}-{_ONES[ones]}" if ones else _TENS[tens])
    elif rest:
        words.append(_ONES[rest])
    return " ".join(words)


def _amount_error(text: str) -> str:
    if _SCIENTIFIC.search(text):
        return (
            f"Invalid amount {text!r}: scientific notation loses digits, which Excel "
            "uses when a column is too narrow; format the column as a number and "
            "export the file again."
        )
    return f"Invalid amount {text!r}: {_AMOUNT_HINT}."


def _parse_grouped_number(
    number: str, decimal_separator: str | None = None
) -> Decimal | None:
    """Parse digits with thousands separators and a decimal separator, or return None.

    The decimal separator is the last dot or comma when it occurs once, unless it
    is followed by exactly 3 digits after a group of 1 to 3 digits with no other
    separator: then it groups thousands, so 45,000 and 1.234 are whole numbers.
    Currency amounts rarely have 3 decimals, so this reads 1.234 as 1234.
    """
    separators = [char for char in number if char in _GROUP_SEPARATORS]
    if not separators:
        return _to_decimal(number, "")

    last = separators[-1]
    if last in ".," and separators.count(last) == 1:
        integer_part, fraction = number.rsplit(last, 1)
        if decimal_separator is not None and len(separators) == 1:
            if last == decimal_separator:
                return _join_number(integer_part, fraction)
            return _join_number(number, "")
        if not (len(separators) == 1 and _is_thousands_group(integer_part, fraction)):
            return _join_number(integer_part, fraction)
    return _join_number(number, "")


def _is_thousands_group(integer_part: str, fraction: str) -> bool:
    return len(fraction) == 3 and len(integer_part) <= 3 and integer_part[0] != "0"


def _join_number(integer_part: str, fraction: str) -> Decimal | None:
    """Check the digit grouping of `integer_part` and build the Decimal."""
    group_chars = {char for char in integer_part if char in _GROUP_SEPARATORS}
    if len(group_chars) > 1:
        return None
    if group_chars:
        groups = integer_part.split(group_chars.pop())
        if not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:]):
            return None
        integer_part = "".join(groups)
    if not integer_part.isdigit() or (fraction and not fraction.isdigit()):
        return None

    # Trailing zeros add nothing to an amount: 58665.0 from a float column is 58665.
    return _to_decimal(integer_part, fraction.rstrip("0"))


class _TooManyDigits(ValueError):
    """A number with more digits than MAX_WHOLE_DIGITS or MAX_FRACTION_DIGITS."""

    def __init__(self, whole_digits: int, fraction_digits: int) -> None:
        super().__init__(whole_digits, fraction_digits)
        self.whole_digits = whole_digits
        self.fraction_digits = fraction_digits


def _to_decimal(integer: str, fraction: str) -> Decimal:
    """Build the Decimal of ASCII digit strings, `fraction` without trailing zeros.

    Raises _TooManyDigits before the conversion, because arithmetic on a cell of
    a million digits raises decimal.Overflow and a long fraction gets rounded.
    """
    if len(integer) > MAX_WHOLE_DIGITS or len(fraction) > MAX_FRACTION_DIGITS:
        whole_digits = len(integer.lstrip("0"))
        if whole_digits > MAX_WHOLE_DIGITS or len(fraction) > MAX_FRACTION_DIGITS:
            raise _TooManyDigits(whole_digits, len(fraction))
    return Decimal(f"{integer}.{fraction}" if fraction else integer)


def _amount_size_error(text: str, exc: _TooManyDigits) -> str:
    if exc.whole_digits > MAX_WHOLE_DIGITS:
        return (
            f"Amount {text!r} is too large to store: it has {exc.whole_digits:,} "
            "digits before the decimal separator, and the maximum is "
            f"{MAX_MINOR_UNITS} in a currency without decimal places, or "
            f"{Decimal(MAX_MINOR_UNITS).scaleb(-2)} in one with 2, such as EUR. "
            "Correct the amount."
        )
    return (
        f"Amount {text!r} has {exc.fraction_digits:,} decimal places, more than "
        "any currency has: round it to the decimal places of its currency, such "
        "as 2 for EUR."
    )


def parse_bool(text: str) -> bool:
    """Parse yes/no in English or Dutch: yes, no, true, false, 1, 0, y, n, ja, nee..."""
    word = text.strip().casefold()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueParseError(
        f"Invalid yes/no value {text!r}: expected yes, no, true, false, 1, 0, ja, nee, "
        "waar or onwaar."
    )


def parse_period(text: str) -> tuple[int, str]:
    """Parse a period such as "30 days" or "2 maanden" into (count, unit).

    The unit is "days", "weeks" or "months"; years become 12 months each.
    """
    match = _PERIOD.fullmatch(text.strip().casefold())
    unit = None if match is None else _PERIOD_UNITS.get(match["unit"])
    if match is None or unit is None:
        raise ValueParseError(
            f"Invalid period {text!r}: expected a whole number and a unit, such as "
            "'30 days', '6 weeks', '3 months', '2 maanden' or '1 year'."
        )
    name, multiplier = unit
    return int(match["count"]) * multiplier, name


def format_period(count: int, unit: str) -> str:
    """Return a period as parse_period reads it, such as "3 months" or "1 month".

    `unit` is "days", "weeks" or "months".
    """
    if count == 1:
        unit = unit.removesuffix("s")
    return f"{count} {unit}"


def parse_currency(text: str) -> str:
    """Parse a currency symbol (€ £ $), name or 3-letter code into an uppercase code.

    Only the form is checked here; whether the code exists is checked on import.
    """
    value = text.strip()
    # NOTE: "$" is read as USD, although Australian and other dollar registers also
    # use it; such files need a currency column with the code.
    code = _CURRENCY_SYMBOLS.get(value) or _CURRENCY_NAMES.get(value.casefold())
    if code is not None:
        return code
    if len(value) == 3 and value.isascii() and value.isalpha():
        return value.upper()
    raise ValueParseError(
        f"Invalid currency {text!r}: expected a 3-letter ISO 4217 code such as EUR, "
        "GBP or USD, or one of the symbols €, £ and $."
    )


def parse_percentage(text: str) -> Decimal:
    """Parse a percentage from 0 to 100 such as "21%", "21", "2,5 %" or "0.5".

    A number without a percent sign is already a percentage, so "0.5" is 0.5%.
    """
    value = text.strip().removesuffix("%").strip()
    try:
        number = (
            _parse_grouped_number(value) if re.fullmatch(r"\d[\d.,]*", value) else None
        )
    except _TooManyDigits as exc:
        size = (
            "is too large"
            if exc.whole_digits > MAX_WHOLE_DIGITS
            else f"has {exc.fraction_digits:,} decimal places"
        )
        raise ValueParseError(
            f"Invalid percentage {text!r}: it {size}; expected a number from 0 to "
            "100 with at most 2 decimal places, such as 21, 21% or 2,5%."
        ) from None
    if number is None or number > 100:
        raise ValueParseError(
            f"Invalid percentage {text!r}: expected a number from 0 to 100, such as "
            "21, 21% or 2,5%."
        )
    return number


def parse_payment_frequency(text: str) -> str:
    """Parse a payment frequency in English or Dutch into its canonical value.

    Returns one of "monthly", "quarterly", "half_yearly", "yearly" and "one_off".
    """
    key = "".join(char for char in text.casefold() if char.isalnum())
    frequency = _PAYMENT_FREQUENCIES.get(key)
    if frequency is None:
        raise ValueParseError(
            f"Invalid payment frequency {text!r}: expected monthly, quarterly, "
            "half-yearly, yearly or one-off (Dutch: maandelijks, per kwartaal, "
            "halfjaarlijks, jaarlijks, eenmalig)."
        )
    return frequency


def clean_text(text: str, *, keep_newlines: bool = False) -> str:
    """Unescape HTML entities, normalise line breaks and collapse runs of spaces.

    With `keep_newlines` (for descriptions) line breaks stay, as \\n only, and each
    line is stripped; otherwise every run of whitespace becomes one space.
    """
    unescaped = html.unescape(text)
    if not keep_newlines:
        return " ".join(unescaped.split())

    lines = unescaped.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    collapsed = (_HORIZONTAL_SPACE.sub(" ", line).strip() for line in lines)
    return "\n".join(collapsed).strip()
