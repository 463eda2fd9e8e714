from datetime import date
from decimal import Decimal

import pytest

from contractgql.importexport.errors import ValueParseError
from contractgql.importexport.tables import excel_serial_to_date
from contractgql.importexport.values import (
    AmountColumnSurvey,
    DateOrder,
    ambiguous_amount_parts,
    clean_text,
    detect_date_order,
    format_period,
    number_in_words,
    parse_amount,
    parse_amount_with_currency,
    parse_bool,
    parse_currency,
    parse_date,
    parse_payment_frequency,
    parse_percentage,
    parse_period,
    survey_amount_column,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-12-31", date(2027, 12, 31)),
        ("2021-04-14 00:00:00", date(2021, 4, 14)),
        ("2022-04-13T00:00:00Z", date(2022, 4, 13)),
        ("2022-04-13T23:30:00.123+02:00", date(2022, 4, 13)),
        ("2018-11-27+01:00", date(2018, 11, 27)),
        ("2027/12/31", date(2027, 12, 31)),
        ("20271231", date(2027, 12, 31)),
        ("31-12-2027", date(2027, 12, 31)),
        ("31/12/2027", date(2027, 12, 31)),
        ("31.12.2027", date(2027, 12, 31)),
        ("1-2-2027", date(2027, 2, 1)),
        ("01/02/2027", date(2027, 2, 1)),
        ("31-12-2027 00:00", date(2027, 12, 31)),
        ("12/31/2027", date(2027, 12, 31)),
        ("31 december 2027", date(2027, 12, 31)),
        ("1 mrt 2027", date(2027, 3, 1)),
        ("14 Apr 2021", date(2021, 4, 14)),
        ("31-dec-2027", date(2027, 12, 31)),
        ("46022", date(2025, 12, 31)),
        ("46022.0", date(2025, 12, 31)),
        ("46022.75", date(2025, 12, 31)),
        ("  2027-12-31 ", date(2027, 12, 31)),
    ],
)
def test_parse_date_accepts(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "2027-02-30",
        "31-02-2027",
        "13/13/2027",
        "2027-12-31 25:00:00",
        "31-12-27",
        "31-12/2027",
        "12345",
        "99999",
        "45000.5.5",
        "31 smarch 2027",
        "2027-12",
    ],
)
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(ValueParseError):
        parse_date(text)


def test_parse_date_error_names_value_and_format() -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_date("tomorrow")

    assert "'tomorrow'" in caught.value.reason
    assert "2027-12-31" in caught.value.reason


def test_parse_date_impossible_day_message() -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_date("2027-02-30")

    assert "'2027-02-30'" in caught.value.reason
    assert "does not exist" in caught.value.reason


def test_detect_date_order_counts_votes() -> None:
    cells = [
        "03/04/2026",
        "31/12/2026",
        "12/31/2026",
        "25-06-2026",
        "01-13-2026",
        "",
        "2026-12-31",
    ]

    # Dates written with "-" or "." are always day first, so they do not vote.
    assert detect_date_order(cells) == DateOrder(
        month_first=False,
        day_first_votes=1,
        month_first_votes=1,
        day_first_example="31/12/2026",
        month_first_example="12/31/2026",
    )


@pytest.mark.parametrize(
    ("cells", "month_first"),
    [
        ([], False),
        (["03/04/2026", "04/03/2026"], False),
        # One date valid only month first is too little to flip a column.
        (["12/31/2026", "03/04/2026"], False),
        (["12/31/2026", "11/30/2026", "03/04/2026"], True),
        (["12/31/2026", "31/12/2026"], False),
        (["12/31/2026", "11/30/2026", "31/12/2026"], True),
        (["12/31/2026", "11/30/2026", "31/12/2026", "25/12/2026"], False),
        # 31/02 and 02/31 are not dates in either order, so neither votes.
        (["02/31/2026", "12/31/2026", "11/30/2026"], True),
        (["12-31-2026", "11-30-2026", "03/04/2026"], False),
        (["12.31.2026", "11.30.2026"], False),
    ],
)
def test_detect_date_order_majority(cells: list[str], month_first: bool) -> None:
    assert detect_date_order(cells).month_first is month_first


def test_parse_date_in_month_first_column() -> None:
    order = detect_date_order(["12/31/2026", "11/30/2026", "03/04/2026"])

    assert parse_date("03/04/2026", order) == date(2026, 3, 4)
    assert parse_date("12/31/2026 10:00", order) == date(2026, 12, 31)
    assert parse_date("2026-04-03", order) == date(2026, 4, 3)
    # Only dates written with "/" follow the column's order.
    assert parse_date("03-04-2026", order) == date(2026, 4, 3)
    assert parse_date("03.04.2026", order) == date(2026, 4, 3)


def test_parse_date_rejects_minority_order() -> None:
    order = detect_date_order(["31/12/2026", "25/06/2026", "12/31/2026"])

    with pytest.raises(ValueParseError) as caught:
        parse_date("12/31/2026", order)

    assert caught.value.reason == (
        "Invalid date '12/31/2026': it is valid only month first, but this column "
        "reads dates written with '/' day first, because it has 2 dates valid only "
        "day first (such as '31/12/2026') against 1 date valid only month first. "
        "Write the date day first, or as 2026-12-31 if that is the date meant."
    )


def test_parse_date_rejects_day_first_in_month_column() -> None:
    order = detect_date_order(["12/31/2026", "11/30/2026", "25/06/2026"])

    with pytest.raises(ValueParseError) as caught:
        parse_date("25/06/2026", order)

    assert caught.value.reason == (
        "Invalid date '25/06/2026': it is valid only day first, but this column "
        "reads dates written with '/' month first, because it has 2 dates valid "
        "only month first (such as '12/31/2026') against 1 date valid only day "
        "first. Write the date month first, or as 2026-06-25 if that is the date "
        "meant."
    )


def test_parse_date_tie_reads_day_first() -> None:
    order = detect_date_order(["31/12/2026", "25/12/2026", "12/31/2026", "11/30/2026"])

    with pytest.raises(ValueParseError) as caught:
        parse_date("12/31/2026", order)

    assert caught.value.reason == (
        "Invalid date '12/31/2026': it is valid only month first, but this column "
        "reads dates written with '/' day first, because it has 2 dates valid only "
        "day first (such as '31/12/2026') against 2 dates valid only month first, "
        "and a tie is read day first. Write the date day first, or as 2026-12-31 "
        "if that is the date meant."
    )


def test_parse_date_single_month_first_vote() -> None:
    order = detect_date_order(["03/04/2026", "01/13/2026"])

    with pytest.raises(ValueParseError) as caught:
        parse_date("01/13/2026", order)

    assert caught.value.reason == (
        "Invalid date '01/13/2026': it is valid only month first, but this column "
        "reads dates written with '/' day first, because it has only 1 date valid "
        "only month first, and a column is read month first from 2 such dates on. "
        "Write the date day first, or as 2026-01-13 if that is the date meant."
    )
    assert parse_date("03/04/2026", order) == date(2026, 4, 3)


@pytest.mark.parametrize("order", [None, DateOrder(month_first=True)])
def test_parse_date_dash_is_day_first(order: DateOrder | None) -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_date("01-13-2026", order)

    where = "the import reads" if order is None else "this column reads"
    assert caught.value.reason == (
        f"Invalid date '01-13-2026': it is valid only month first, but {where} "
        "every date written with '-' or '.' day first. Write it day first, as "
        "13-01-2026, or as 2026-01-13."
    )


@pytest.mark.parametrize(
    ("text", "month_first", "reason"),
    [
        (
            "31/02/2026",
            False,
            "Invalid date '31/02/2026': read day first, as day 31 of month 2, that "
            "day does not exist (day is out of range for month). Write an existing "
            "date day first, or as yyyy-mm-dd such as 2026-12-31.",
        ),
        (
            "31-02-2026",
            True,
            "Invalid date '31-02-2026': read day first, as day 31 of month 2, that "
            "day does not exist (day is out of range for month). Write an existing "
            "date day first, or as yyyy-mm-dd such as 2026-12-31.",
        ),
        (
            "02/31/2026",
            True,
            "Invalid date '02/31/2026': read month first, as day 31 of month 2, "
            "that day does not exist (day is out of range for month). Write an "
            "existing date month first, or as yyyy-mm-dd such as 2026-12-31.",
        ),
    ],
)
def test_parse_date_no_such_day_names_order(
    text: str, month_first: bool, reason: str
) -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_date(text, DateOrder(month_first=month_first))

    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("count", "unit", "text"),
    [
        (1, "months", "1 month"),
        (3, "months", "3 months"),
        (1, "days", "1 day"),
        (0, "days", "0 days"),
        (1, "weeks", "1 week"),
    ],
)
def test_format_period(count: int, unit: str, text: str) -> None:
    assert format_period(count, unit) == text
    assert parse_period(text) == (count, unit)


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, date(1900, 1, 1)),
        (59, date(1900, 2, 28)),
        (61, date(1900, 3, 1)),
        (45658, date(2025, 1, 1)),
        (46022, date(2025, 12, 31)),
        (46022.99, date(2025, 12, 31)),
        (Decimal("2958465"), date(9999, 12, 31)),
    ],
)
def test_excel_serial_to_date(serial: float | Decimal, expected: date) -> None:
    assert excel_serial_to_date(serial) == expected


@pytest.mark.parametrize("serial", [0, -1, 60, 60.5, 2958466])
def test_excel_serial_to_date_rejects(serial: float) -> None:
    with pytest.raises(ValueParseError):
        excel_serial_to_date(serial)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45000", Decimal("45000")),
        ("45,000", Decimal("45000")),
        ("1,000,000", Decimal("1000000")),
        ("58665.0", Decimal("58665")),
        ("1234.56", Decimal("1234.56")),
        ("€ 1.234,56", Decimal("1234.56")),
        ("€1.234,56", Decimal("1234.56")),
        ("1.234.567,89", Decimal("1234567.89")),
        ("1 234,56", Decimal("1234.56")),
        ("1\u00a0234,56", Decimal("1234.56")),
        ("EUR 1234", Decimal("1234")),
        ("1234 EUR", Decimal("1234")),
        ("$12.50", Decimal("12.50")),
        ("£400,000", Decimal("400000")),
        ("-12.50", Decimal("-12.50")),
        ("€ -12,50", Decimal("-12.50")),
        ("(1,234.56)", Decimal("-1234.56")),
        ("12,5", Decimal("12.5")),
        ("0,125", Decimal("0.125")),
        ("1234.567", Decimal("1234.567")),
        ("1.234", Decimal("1234")),
        ("1,234.5", Decimal("1234.5")),
        ("1'234.50", Decimal("1234.50")),
        ("€ 1.234,-", Decimal("1234")),
        ("0", Decimal("0")),
        ("0.01", Decimal("0.01")),
        ("30485.4", Decimal("30485.4")),
    ],
)
def test_parse_amount_accepts(text: str, expected: Decimal) -> None:
    amount = parse_amount(text)

    assert isinstance(amount, Decimal)
    assert amount == expected


def test_parse_amount_drops_trailing_zeros() -> None:
    assert str(parse_amount("58665.0")) == "58665"
    assert str(parse_amount("12.50")) == "12.5"
    assert str(parse_amount("45000")) == "45000"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "1,2,3.4.5",
        "12,34,567",
        "1.23.4",
        "1,234,56",
        "1 2 3",
        ",5",
        "12.",
        "--12",
        "+-12",
        "(-12)",
        "€ 12 EUR",
        "12 34 56,7",
        "1.2,3.4",
    ],
)
def test_parse_amount_rejects(text: str) -> None:
    with pytest.raises(ValueParseError):
        parse_amount(text)


def test_parse_amount_scientific_notation_message() -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_amount("1.23457E+11")

    assert "scientific notation" in caught.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€ 1.234,56", (Decimal("1234.56"), "EUR")),
        ("£400,000", (Decimal("400000"), "GBP")),
        ("1234 usd", (Decimal("1234"), "USD")),
        ("45000", (Decimal("45000"), None)),
    ],
)
def test_parse_amount_with_currency(
    text: str, expected: tuple[Decimal, str | None]
) -> None:
    assert parse_amount_with_currency(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("YES", True),
        ("y", True),
        ("true", True),
        ("1", True),
        ("ja", True),
        ("J", True),
        ("waar", True),
        ("no", False),
        ("n", False),
        ("False", False),
        ("0", False),
        ("nee", False),
        ("onwaar", False),
        (" Nee ", False),
    ],
)
def test_parse_bool_accepts(text: str, expected: bool) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize("text", ["", "maybe", "2", "jawel"])
def test_parse_bool_rejects(text: str) -> None:
    with pytest.raises(ValueParseError):
        parse_bool(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30 days", (30, "days")),
        ("1 day", (1, "days")),
        ("30 dagen", (30, "days")),
        ("6 weken", (6, "weeks")),
        ("2 weeks", (2, "weeks")),
        ("1 month", (1, "months")),
        ("2 months", (2, "months")),
        ("3 mnd", (3, "months")),
        ("3 mnd.", (3, "months")),
        ("2 maanden", (2, "months")),
        ("3m", (3, "months")),
        ("3M", (3, "months")),
        ("1 jaar", (12, "months")),
        ("1 year", (12, "months")),
        ("2 years", (24, "months")),
        ("0 days", (0, "days")),
    ],
)
def test_parse_period_accepts(text: str, expected: tuple[int, str]) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    "text", ["", "30", "days", "1.5 months", "-3 months", "3 fortnights"]
)
def test_parse_period_rejects(text: str) -> None:
    with pytest.raises(ValueParseError):
        parse_period(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EUR", "EUR"),
        ("eur", "EUR"),
        (" gbp ", "GBP"),
        ("€", "EUR"),
        ("£", "GBP"),
        ("$", "USD"),
        ("Euro", "EUR"),
    ],
)
def test_parse_currency_accepts(text: str, expected: str) -> None:
    assert parse_currency(text) == expected


@pytest.mark.parametrize("text", ["", "EU", "EURO1", "12€", "€€", "ÉUR"])
def test_parse_currency_rejects(text: str) -> None:
    with pytest.raises(ValueParseError):
        parse_currency(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21%", Decimal("21")),
        ("21 %", Decimal("21")),
        ("21", Decimal("21")),
        ("2,5%", Decimal("2.5")),
        ("0.5", Decimal("0.5")),
        ("0", Decimal("0")),
        ("100", Decimal("100")),
    ],
)
def test_parse_percentage_accepts(text: str, expected: Decimal) -> None:
    assert parse_percentage(text) == expected


@pytest.mark.parametrize("text", ["", "%", "abc", "-2%", "101", "21%%"])
def test_parse_percentage_rejects(text: str) -> None:
    with pytest.raises(ValueParseError):
        parse_percentage(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("monthly", "monthly"),
        ("Maandelijks", "monthly"),
        ("per maand", "monthly"),
        ("quarterly", "quarterly"),
        ("per kwartaal", "quarterly"),
        ("half-yearly", "half_yearly"),
        ("half_yearly", "half_yearly"),
        ("halfjaarlijks", "half_yearly"),
        ("6-monthly", "half_yearly"),
        ("annually", "yearly"),
        ("jaarlijks", "yearly"),
        ("one-off", "one_off"),
        ("eenmalig", "one_off"),
    ],
)
def test_parse_payment_frequency_accepts(text: str, expected: str) -> None:
    assert parse_payment_frequency(text) == expected


@pytest.mark.parametrize("text", ["", "weekly", "12x per jaar", "sometimes"])
def test_parse_payment_frequency_rejects(text: str) -> None:
    with pytest.raises(ValueParseError):
        parse_payment_frequency(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Tree Surgery Plant &amp; Equipment  ", "Tree Surgery Plant & Equipment"),
        ("Council&#039;s waste", "Council's waste"),
        ("caf&#xE9; &pound;5", "café £5"),
        ("Household  Waste \t Centre", "Household Waste Centre"),
        ("Panel Contract\n(CLR-N2300-PANEL)", "Panel Contract (CLR-N2300-PANEL)"),
        ("a&nbsp;b", "a b"),
        ("", ""),
    ],
)
def test_clean_text_single_line(text: str, expected: str) -> None:
    assert clean_text(text) == expected


def test_clean_text_keeps_newlines() -> None:
    text = "  First  line \r\n\r\nSecond\tline &amp; more\rThird  "

    cleaned = clean_text(text, keep_newlines=True)

    assert cleaned == "First line\n\nSecond line & more\nThird"


@pytest.mark.parametrize(
    ("text", "separator", "expected"),
    [
        # The common forms, which a known decimal separator lets skip the
        # general parse, and forms next to them that the general parse reads.
        ("€ 1.234,56", ",", (Decimal("1234.56"), "EUR")),
        ("€1.234,50", ",", (Decimal("1234.5"), "EUR")),
        ("EUR 45.000", ",", (Decimal("45000"), "EUR")),
        ("1,234", ",", (Decimal("1.234"), None)),
        ("1,234", ".", (Decimal("1234"), None)),
        ("1.234.567,8", ",", (Decimal("1234567.8"), None)),
        ("1,234,567.80", ".", (Decimal("1234567.8"), None)),
        ("0,00", ",", (Decimal("0"), None)),
        ("0123", ",", (Decimal("123"), None)),
        ("1.234,56 €", ",", (Decimal("1234.56"), "EUR")),
        ("eur 12,5", ",", (Decimal("12.5"), "EUR")),
        ("-12,50", ",", (Decimal("-12.5"), None)),
        (" 1.234,56 ", ",", (Decimal("1234.56"), None)),
    ],
)
def test_amount_with_known_separator(
    text: str, separator: str, expected: tuple[Decimal, str | None]
) -> None:
    amount, currency = parse_amount_with_currency(text, decimal_separator=separator)

    assert (amount, currency) == expected
    assert str(amount) == str(expected[0])


@pytest.mark.parametrize(
    ("text", "separator"),
    [("12.34", ","), ("12,34", "."), ("1.2345,6", ","), ("€ 1.234,56 USD", ",")],
)
def test_amount_with_known_separator_rejected(text: str, separator: str) -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_amount_with_currency(text, decimal_separator=separator)

    assert repr(text) in caught.value.reason


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([], AmountColumnSurvey(None)),
        (["1,234", "€ 2.500", "100"], AmountColumnSurvey(None, ambiguous_count=2)),
        (
            ["1,234", " 2,50 ", "1.234,56"],
            AmountColumnSurvey(",", comma_example="2,50", ambiguous_count=1),
        ),
        (["1,234.56", "7.5"], AmountColumnSurvey(".", dot_example="1,234.56")),
        (
            ["2,50", "3.75", "12.500"],
            AmountColumnSurvey(
                None, comma_example="2,50", dot_example="3.75", ambiguous_count=1
            ),
        ),
    ],
)
def test_survey_amount_column(cells: list[str], expected: AmountColumnSurvey) -> None:
    assert survey_amount_column(cells) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234", ("1", ",", "234")),
        ("€ 12.500", ("12", ".", "500")),
        ("EUR 999,999", ("999", ",", "999")),
        ("-1,234 €", ("1", ",", "234")),
        ("(1.234)", ("1", ".", "234")),
        ("1,23", None),
        ("1,2345", None),
        ("0,234", None),
        ("1234,567", None),
        ("1.234,56", None),
        ("1,234.56", None),
        ("1.234.567", None),
        ("1 234,567", None),
        ("1'234.567", None),
        ("1.234,-", None),
        ("1234", None),
    ],
)
def test_ambiguous_amount_parts(
    text: str, expected: tuple[str, str, str] | None
) -> None:
    assert ambiguous_amount_parts(text) == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, "zero"),
        (7, "seven"),
        (19, "nineteen"),
        (20, "twenty"),
        (45, "forty-five"),
        (100, "one hundred"),
        (1000, "one thousand"),
        (1234, "one thousand two hundred thirty-four"),
        (12500, "twelve thousand five hundred"),
        (999999, "nine hundred ninety-nine thousand nine hundred ninety-nine"),
    ],
)
def test_number_in_words(number: int, expected: str) -> None:
    assert number_in_words(number) == expected


@pytest.mark.parametrize("number", [-1, 1_000_000])
def test_number_in_words_out_of_range(number: int) -> None:
    with pytest.raises(ValueError):
        number_in_words(number)


@pytest.mark.parametrize(
    ("text", "separator", "expected"),
    [
        ("9223372036854775807", None, Decimal("9223372036854775807")),
        ("0000000000000000000000001", None, Decimal("1")),
        ("0000000000000000000000001", ",", Decimal("1")),
        ("1.123456789", None, Decimal("1.123456789")),
        ("1,123456789000000000000", ",", Decimal("1.123456789")),
    ],
)
def test_parse_amount_digit_bounds(
    text: str, separator: str | None, expected: Decimal
) -> None:
    assert parse_amount_with_currency(text, separator) == (expected, None)


@pytest.mark.parametrize("separator", [None, ","])
def test_parse_amount_too_many_digits(separator: str | None) -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_amount_with_currency("€ " + "1" * 20, separator)

    assert caught.value.reason == (
        f"Amount '€ {'1' * 20}' is too large to store: it has 20 digits before the "
        "decimal separator, and the maximum is 9223372036854775807 in a currency "
        "without decimal places, or 92233720368547758.07 in one with 2, such as "
        "EUR. Correct the amount."
    )


def test_parse_amount_too_many_decimals() -> None:
    with pytest.raises(ValueParseError) as caught:
        parse_amount("0.0000000001")

    assert caught.value.reason == (
        "Amount '0.0000000001' has 10 decimal places, more than any currency has: "
        "round it to the decimal places of its currency, such as 2 for EUR."
    )
