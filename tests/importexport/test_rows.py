from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest

from contractgql.importexport.columns import resolve_columns
from contractgql.importexport.rows import (
    ParsedRow,
    ParseResult,
    RowError,
    RowParser,
    RowWarning,
    parse_rows,
)
from contractgql.importexport.tables import read_table

ACT_REGISTER = (
    Path(__file__).resolve().parents[2]
    / "src/contractgql/demo/au_act_contracts_2025.csv"
)
DATA_DIR = Path(__file__).parent.parent / "data"

DUTCH_HEADERS = (
    "Contractnummer;Naam;Klant;KvK-nummer;BTW-nummer;Soort contract;Status;"
    "Begindatum;Einddatum;Ondertekend op;Bedrag;Valuta;BTW;Betaalfrequentie;"
    "Stilzwijgende verlenging;Opzegtermijn;Verlengingstermijn;Indexatie;"
    "Omschrijving;Eigenaar;Labels"
)


def parse_csv(tmp_path: Path, text: str, name: str = "register.csv") -> ParseResult:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    table = read_table(path)
    return parse_rows(table, resolve_columns(table.headers))


def only_row(result: ParseResult) -> ParsedRow:
    assert result.errors == []
    assert len(result.rows) == 1
    return result.rows[0]


def test_dutch_row_all_fields(tmp_path: Path) -> None:
    row = (
        # The entity &amp; contains a semicolon, so the cell must be quoted.
        'K-2027-01;"Onderhoud &amp; support";Acme B.V.;12345678;NL001234567B01;'
        "Onderhoud;Actief;01-01-2025;31-12-2027;15.12.2024;€ 1.234,56;eur;21%;"
        "maandelijks;ja;2 maanden;1 jaar;2,5%;"
        '"Regel een\r\nregel  twee";jan@example.com;"onderhoud, ICT; onderhoud"'
    )

    parsed = only_row(parse_csv(tmp_path, f"{DUTCH_HEADERS}\n{row}\n"))

    assert parsed == ParsedRow(
        row=2,
        line=2,
        number="K-2027-01",
        name="Onderhoud & support",
        client="Acme B.V.",
        client_coc_number="12345678",
        client_vat_number="NL001234567B01",
        contract_type="Onderhoud",
        status="Actief",
        start_date=date(2025, 1, 1),
        end_date=date(2027, 12, 31),
        signed_date=date(2024, 12, 15),
        amount=Decimal("1234.56"),
        currency="EUR",
        vat_rate=Decimal("21"),
        payment_frequency="monthly",
        auto_renewal=True,
        notice_period=(2, "months"),
        renewal_term=(12, "months"),
        indexation=Decimal("2.5"),
        description="Regel een\nregel twee",
        owner_email="jan@example.com",
        tags=["onderhoud", "ICT"],
        duplicate_of=None,
    )


def test_every_bad_cell_reported(tmp_path: Path) -> None:
    text = (
        "number;name;client;start_date;amount;auto_renewal;notice_period\n"
        "N-1;Alpha;Acme;2027-02-30;abc;misschien;soon\n"
    )

    result = parse_csv(tmp_path, text)

    assert result.rows == []
    assert [(e.row, e.column, e.value) for e in result.errors] == [
        (2, "start_date", "2027-02-30"),
        (2, "amount", "abc"),
        (2, "auto_renewal", "misschien"),
        (2, "notice_period", "soon"),
    ]
    assert "'abc'" in result.errors[1].reason


def test_name_falls_back_to_number(tmp_path: Path) -> None:
    parsed = only_row(parse_csv(tmp_path, "number,name,client\nPO_26725,,Acme\n"))

    assert parsed.number == "PO_26725"
    assert parsed.name == "PO_26725"


def test_name_and_number_missing(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, "number,name,client\n,,Acme\n")

    assert result.rows == []
    assert len(result.errors) == 1
    assert result.errors[0].column == "name"
    assert "name" in result.errors[0].reason


def test_client_missing(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, "number,name,client\nN-1,Alpha,  \n")

    assert result.rows == []
    assert len(result.errors) == 1
    assert result.errors[0].row == 2
    assert result.errors[0].column == "client"
    assert "client is empty" in result.errors[0].reason


def test_value_only_in_ignored_column(tmp_path: Path) -> None:
    result = parse_csv(
        tmp_path, "number,name,client,Remarks\nN-1,Alpha,Acme,\n,,,see row 2\n"
    )

    assert [row.number for row in result.rows] == ["N-1"]
    assert [(e.row, e.column, e.value, e.number) for e in result.errors] == [
        (3, "Remarks", "see row 2", None)
    ]
    assert result.errors[0].reason == (
        "Only the ignored column 'Remarks' has a value on this row, so it holds no "
        "contract. Delete the row or, if the column holds a contract field, map it "
        "with --map HEADER=FIELD on the command line, or the mapping input of "
        "startImport."
    )


def test_ignored_value_beside_a_mapped_one(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, "number,name,client,Remarks\n,,Acme,note\n")

    assert [(e.column, e.value) for e in result.errors] == [("name", "")]


def test_client_column_absent(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, "number,name,start_date\nN-1,Alpha,2027-01-01\n")

    assert len(result.errors) == 1
    assert result.errors[0].column is None
    assert result.errors[0].reason == (
        "The client is empty; every contract needs a client. Fill it in, or map the "
        "column that names the client with --map HEADER=FIELD on the command line, "
        "or the mapping input of startImport."
    )


def test_end_date_before_start_date(tmp_path: Path) -> None:
    text = "number,client,start_date,end_date\nN-1,Acme,31-12-2027,01-01-2027\n"

    result = parse_csv(tmp_path, text)

    assert result.rows == []
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.column == "end_date"
    assert error.value == "01-01-2027"
    assert "'01-01-2027'" in error.reason
    assert "'31-12-2027'" in error.reason


def test_same_start_and_end_date(tmp_path: Path) -> None:
    text = "number,client,start_date,end_date\nN-1,Acme,2027-01-01,2027-01-01\n"

    parsed = only_row(parse_csv(tmp_path, text))

    assert parsed.start_date == parsed.end_date == date(2027, 1, 1)


def test_negative_amount_rejected(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, "number,client,amount\nN-1,Acme,-12.50\n")

    assert result.rows == []
    assert len(result.errors) == 1
    assert result.errors[0].column == "amount"
    assert result.errors[0].value == "-12.50"
    assert "negative" in result.errors[0].reason


def test_currency_from_amount_cell(tmp_path: Path) -> None:
    parsed = only_row(parse_csv(tmp_path, "number,client,amount\nN-1,Acme,£400\n"))

    assert parsed.amount == Decimal("400")
    assert parsed.currency == "GBP"


def test_currency_conflict_rejected(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, "number;client;amount;currency\nN-1;Acme;€ 5;GBP\n")

    assert result.rows == []
    assert len(result.errors) == 1
    assert result.errors[0].column == "amount"
    assert "EUR" in result.errors[0].reason
    assert "GBP" in result.errors[0].reason


def test_contract_numbers_stay_text(tmp_path: Path) -> None:
    text = (
        "number,client\n"
        "19009,Acme\n"
        "PO_26725,Acme\n"
        "PO 18994,Acme\n"
        "007,Acme\n"
        "  PO  1  ,Acme\n"
    )

    result = parse_csv(tmp_path, text)

    assert result.errors == []
    assert [row.number for row in result.rows] == [
        "19009",
        "PO_26725",
        "PO 18994",
        "007",
        "PO 1",
    ]


def test_identical_repeat_is_duplicate(tmp_path: Path) -> None:
    text = (
        "number,name,client,classification\n"
        "N-1,Alpha,Acme,90000000\n"
        "N-2,Beta,Acme,90000000\n"
        "N-1,Alpha,Acme,90500000\n"
    )

    result = parse_csv(tmp_path, text)

    assert result.errors == []
    assert [row.row for row in result.rows] == [2, 3]
    assert len(result.duplicates) == 1
    assert result.duplicates[0].row == 4
    assert result.duplicates[0].duplicate_of == 2
    assert result.ignored_columns == ["classification"]


def test_conflicting_repeat_rejected(tmp_path: Path) -> None:
    text = "number,name,client\nN-1,Alpha,Acme\nN-1,Alpha,Other client\n"

    result = parse_csv(tmp_path, text)

    assert [row.row for row in result.rows] == [2]
    assert result.duplicates == []
    assert result.errors == [
        RowError(
            row=3,
            column="number",
            value="N-1",
            reason=(
                "Contract number 'N-1' already appears on row 2 with different "
                "values; give each contract its own number or remove one of the rows."
            ),
            line=3,
            number="N-1",
            field="number",
        )
    ]


def test_unnumbered_identical_repeat_is_duplicate(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, "number,name,client\n,Alpha,Acme\n,Alpha,Acme\n")

    assert result.errors == []
    assert [row.row for row in result.rows] == [2]
    assert [row.row for row in result.duplicates] == [3]
    assert result.duplicates[0].duplicate_of == 2


def test_unnumbered_conflicting_repeat_rejected(tmp_path: Path) -> None:
    text = (
        "client,name,start date,amount\n"
        'Acme,Support,01-01-2027,"1,00"\n'
        'Acme,Support,01-01-2027,"2,00"\n'
    )

    result = parse_csv(tmp_path, text)

    assert [(row.row, row.amount) for row in result.rows] == [(2, Decimal("1"))]
    assert result.duplicates == []
    assert result.errors == [
        RowError(
            row=3,
            column="client",
            value="Acme",
            reason=(
                "Row 2 has the same client 'Acme', name 'Support' and start date "
                "'01-01-2027' but different values. Rows without a contract number "
                "are matched on client, name and start date, so this row would "
                "overwrite that contract. Give each contract its own number, or "
                "remove one of the rows."
            ),
            line=3,
            number=None,
            field="client",
        )
    ]


def test_unnumbered_repeat_without_start_date(tmp_path: Path) -> None:
    text = "client,name,amount\nAcme,Support,10\nAcme,Support,20\n"

    result = parse_csv(tmp_path, text)

    assert [row.row for row in result.rows] == [2]
    assert [error.row for error in result.errors] == [3]
    assert result.errors[0].reason.startswith(
        "Row 2 has the same client 'Acme', name 'Support' and no start date but "
        "different values."
    )


def test_unnumbered_key_ignores_case_and_spaces(tmp_path: Path) -> None:
    text = "client,name,amount\nAcme  BV,Support,10\n acme bv ,SUPPORT,20\n"

    result = parse_csv(tmp_path, text)

    assert [row.row for row in result.rows] == [2]
    assert [error.row for error in result.errors] == [3]
    assert result.errors[0].value == " acme bv "


def test_unnumbered_rows_kept_apart(tmp_path: Path) -> None:
    text = (
        "number,client,client coc number,name,start date,amount\n"
        ",Acme,11111111,Support,2027-01-01,10\n"
        ",Acme,22222222,Support,2027-01-01,20\n"
        ",Acme,11111111,Support,2027-02-01,30\n"
        ",Acme,11111111,Hosting,2027-01-01,40\n"
        ",Beta,11111111,Support,2027-01-01,50\n"
        "N-1,Acme,11111111,Support,2027-01-01,60\n"
    )

    result = parse_csv(tmp_path, text)

    assert result.errors == []
    assert result.duplicates == []
    assert [row.row for row in result.rows] == [2, 3, 4, 5, 6, 7]


def test_unnumbered_coc_leading_zeros_match(tmp_path: Path) -> None:
    """The import matches 01234567 and 1234567 as one client, so the rows are one
    contract, whose values differ in the CoC number as written."""
    text = (
        "client,client coc number,name,amount\n"
        "Acme,01234567,Support,10\n"
        "Acme,1234567,Support,10\n"
    )

    result = parse_csv(tmp_path, text)

    assert [row.row for row in result.rows] == [2]
    assert [(error.row, error.column) for error in result.errors] == [(3, "client")]


def test_ambiguous_amounts_warned_once(tmp_path: Path) -> None:
    text = (
        "client,name,amount\n"
        "Acme,Support,100\n"
        'Acme,Hosting,"1,234"\n'
        'Acme,Licence,"2,500"\n'
        "Acme,Training,€ 12.500\n"
    )

    result = parse_csv(tmp_path, text)

    assert result.errors == []
    assert [row.amount for row in result.rows] == [
        Decimal("100"),
        Decimal("1234"),
        Decimal("2500"),
        Decimal("12500"),
    ]
    assert [len(row.warnings) for row in result.rows] == [0, 1, 0, 0]
    assert result.rows[1].warnings[0] == RowWarning(
        row=3,
        column="amount",
        value="1,234",
        message=(
            "Amount '1,234' can have ',' as thousands or as decimal separator, and "
            "no amount in this column shows which decimal separator it uses, so it "
            "was read as 1234 (one thousand two hundred thirty-four). Write 1234 to "
            "keep that reading. If you meant one and 234 thousandths, write it "
            "rounded to 2 decimal places: 1,23. 2 other amounts of the column can "
            "be read both ways and were read as whole numbers too."
        ),
        field="amount",
    )


def test_ambiguous_amount_warning_in_mixed_column(tmp_path: Path) -> None:
    text = 'client,name,amount\nA,X,"2,50"\nB,Y,3.75\nC,Z,1.234\n'

    result = parse_csv(tmp_path, text)

    assert result.errors == []
    assert [row.amount for row in result.rows] == [
        Decimal("2.5"),
        Decimal("3.75"),
        Decimal("1234"),
    ]
    assert [warning.message for warning in result.rows[2].warnings] == [
        "Amount '1.234' can have '.' as thousands or as decimal separator, and the "
        "amounts of this column use both ',' (as in '2,50') and '.' (as in '3.75') "
        "as decimal separator, so it was read as 1234 (one thousand two hundred "
        "thirty-four). Write 1234 to keep that reading. If you meant one and 234 "
        "thousandths, write it rounded to 2 decimal places: 1.23."
    ]


def test_ambiguous_warning_skips_rejected_row(tmp_path: Path) -> None:
    text = 'client,name,amount\n,X,"1,234"\nB,Y,"5,678"\n'

    result = parse_csv(tmp_path, text)

    assert [error.row for error in result.errors] == [2]
    assert [row.row for row in result.rows] == [3]
    assert [warning.value for warning in result.rows[0].warnings] == ["5,678"]
    assert (
        result.rows[0]
        .warnings[0]
        .message.endswith(
            "1 other amount of the column can be read both ways and was read as a "
            "whole number too."
        )
    )


def test_settled_column_has_no_warning(tmp_path: Path) -> None:
    text = 'client,name,amount\nA,X,"1,234.50"\nB,Y,"1,234"\n'

    result = parse_csv(tmp_path, text)

    assert result.errors == []
    assert [row.amount for row in result.rows] == [Decimal("1234.5"), Decimal("1234")]
    assert [row.warnings for row in result.rows] == [(), ()]


def test_comma_column_rejects_1_234(tmp_path: Path) -> None:
    text = 'client,name,amount\nA,X,"2,50"\nB,Y,"1,234"\nC,Z,1.234\n'

    result = parse_csv(tmp_path, text)

    assert [(row.row, row.amount) for row in result.rows] == [
        (2, Decimal("2.5")),
        (4, Decimal("1234")),
    ]
    assert result.errors == [
        RowError(
            row=3,
            column="amount",
            value="1,234",
            reason=(
                "Amount '1,234' is ambiguous: this column uses ',' as decimal "
                "separator, as in '2,50', so '1,234' reads with 3 decimal places, "
                "more than the 2 of most currencies. Write 1.234 or 1234 for one "
                "thousand two hundred thirty-four. If you meant one and 234 "
                "thousandths, write it rounded to 2 decimal places: 1,23."
            ),
            line=3,
            number=None,
            field="amount",
        )
    ]


def test_dot_column_rejects_12_345(tmp_path: Path) -> None:
    text = "client,name,amount,currency\nA,X,2.50,EUR\nB,Y,12.345,GBP\n"

    result = parse_csv(tmp_path, text)

    assert [error.reason for error in result.errors] == [
        "Amount '12.345' is ambiguous: this column uses '.' as decimal separator, "
        "as in '2.50', so '12.345' reads with 3 decimal places, more than the 2 of "
        "GBP. Write 12,345 or 12345 for twelve thousand three hundred forty-five. "
        "If you meant twelve and 345 thousandths, write it rounded to 2 decimal "
        "places: 12.35."
    ]


def test_three_decimal_currency_keeps_1_234(tmp_path: Path) -> None:
    text = 'client,name,amount,currency\nA,X,"2,50",KWD\nB,Y,"1,234",KWD\n'

    result = parse_csv(tmp_path, text)

    assert result.errors == []
    assert [row.amount for row in result.rows] == [Decimal("2.5"), Decimal("1.234")]


def test_default_currency_decides_places(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text('client,name,amount\nA,X,"2,50"\nB,Y,"1,234"\n')
    table = read_table(path)
    mapping = resolve_columns(table.headers)

    in_dinar = list(RowParser(table, mapping, default_currency="TND").parse())
    in_yen = list(RowParser(table, mapping, default_currency="JPY").parse())

    assert isinstance(in_dinar[1], ParsedRow)
    assert in_dinar[1].amount == Decimal("1.234")
    assert isinstance(in_yen[1], list)
    assert [error.reason for error in in_yen[1]] == [
        "Amount '1,234' is ambiguous: this column uses ',' as decimal separator, "
        "as in '2,50', so '1,234' reads with 3 decimal places, more than the 0 of "
        "JPY. Write 1.234 or 1234 for one thousand two hundred thirty-four. If you "
        "meant one and 234 thousandths, write it rounded to a whole number: 1."
    ]


def test_extra_cells_rejected(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, "number,name,client\nN-1,Alpha,Acme,Ltd\n")

    assert result.rows == []
    assert len(result.errors) == 1
    assert result.errors[0].column is None
    assert result.errors[0].value == "Ltd"


def test_short_row_reads_blank(tmp_path: Path) -> None:
    parsed = only_row(parse_csv(tmp_path, "number,client,amount\nN-1,Acme\n"))

    assert parsed.amount is None


def test_mapping_for_other_headers(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text("number,client\nN-1,Acme\n", encoding="utf-8")
    table = read_table(path)

    with pytest.raises(ValueError):
        parse_rows(table, resolve_columns(["number", "name", "client"]))


def test_xlsx_numbers_and_serial_dates(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Contract number", "Client", "Start date", "End date", "Value"])
    # The end date is a bare serial number in a general-format cell.
    sheet.append([19009, "Acme", "2025-09-15", 46022, 58665.0])
    path = tmp_path / "register.xlsx"
    workbook.save(path)
    table = read_table(path)

    parsed = only_row(parse_rows(table, resolve_columns(table.headers)))

    assert parsed.number == "19009"
    assert parsed.start_date == date(2025, 9, 15)
    assert parsed.end_date == date(2025, 12, 31)
    assert parsed.amount == Decimal("58665")


def test_au_register_parse() -> None:
    table = read_table(ACT_REGISTER)

    result = parse_rows(table, resolve_columns(table.headers))

    assert len(table.rows) == 1296
    assert len(result.rows) == 1294
    assert result.duplicates == []
    assert [(e.row, e.line, e.value) for e in result.errors] == [
        (77, 80, "H2625763"),
        (381, 404, "PIEP0010135"),
    ]
    assert "already appears on row 76" in result.errors[0].reason
    assert "already appears on row 376" in result.errors[1].reason
    assert result.ignored_columns == [
        "procurement_unique_id",
        "slj_initiative",
        "suppliers",
        "details_url",
        "has_attachments",
    ]


def test_au_register_row_values() -> None:
    table = read_table(ACT_REGISTER)

    result = parse_rows(table, resolve_columns(table.headers))

    first = result.rows[0]
    assert first.row == 2
    assert first.number == "19009"
    assert first.name == "Belconnen High School Year 9 Camp 2026 Jindabyne"
    assert first.client == "Education Directorate"
    assert first.contract_type == "Contract"
    assert first.status == "Current"
    assert first.start_date == date(2025, 9, 15)
    assert first.end_date == date(2026, 10, 23)
    assert first.amount == Decimal("58665")
    assert first.currency is None
    assert first.description is None


def test_au_register_multiline_contract_type() -> None:
    table = read_table(ACT_REGISTER)

    result = parse_rows(table, resolve_columns(table.headers))

    types = {row.contract_type for row in result.rows}
    assert "Panel Contract (CLR-N2300-PANEL)" in types
    assert not any("\n" in (value or "") for value in types)
    zero_amounts = [row for row in result.rows if row.amount == 0]
    assert len(zero_amounts) == 133


def test_uk_register_parse() -> None:
    table = read_table(DATA_DIR / "uk_contracts_finder_council_contracts.csv")

    result = parse_rows(table, resolve_columns(table.headers))

    assert len(table.rows) == 683
    assert len(result.rows) == 557
    assert len(result.duplicates) == 126
    assert result.errors == []
    assert len({row.number for row in result.rows}) == 557


def test_uk_register_release_454733() -> None:
    table = read_table(DATA_DIR / "uk_contracts_finder_council_contracts.csv")

    result = parse_rows(table, resolve_columns(table.headers))

    release = next(row for row in result.rows if row.number == "454733")
    assert release.row == 2
    assert release.name == (
        "Invitation to Tender for the Collection and Disposal of Landfill Leachate "
        "at an Appropriate Treatment Works"
    )
    assert release.client == "Herefordshire Council"
    assert release.amount == Decimal("45000")
    assert release.currency == "GBP"
    assert release.start_date == date(2021, 4, 14)
    assert release.end_date == date(2022, 4, 13)
    assert release.description is not None
    assert release.description.startswith("Herefordshire Council requires")
    assert "treatment works.\n\nThe collection of leachate" in release.description


def test_uk_register_cpv_duplicates() -> None:
    table = read_table(DATA_DIR / "uk_contracts_finder_council_contracts.csv")

    result = parse_rows(table, resolve_columns(table.headers))

    repeats = [row for row in result.duplicates if row.number == "333392"]
    assert [row.row for row in repeats] == [477, 478, 479, 480, 481, 482]
    assert {row.duplicate_of for row in repeats} == {476}


def test_uk_register_html_entities() -> None:
    table = read_table(DATA_DIR / "uk_contracts_finder_council_contracts.csv")

    result = parse_rows(table, resolve_columns(table.headers))

    rows = {row.number: row for row in result.rows}
    assert rows["553469"].name == (
        "Supply of Aviation Fuel, Fuel Tanks & Bowsers to Newquay Airport Cornwall"
    )
    assert not any("&amp;" in row.name for row in result.rows)
    assert not any("&#039;" in (row.description or "") for row in result.rows)


def test_date_column_minority_order_rejected(tmp_path: Path) -> None:
    result = parse_csv(
        tmp_path,
        "number,client,start date\n"
        "N-1,Acme,03/04/2026\n"
        "N-2,Acme,31/12/2026\n"
        "N-3,Acme,12/31/2026\n"
        "N-4,Acme,25/06/2026\n",
    )

    assert [(row.number, row.start_date) for row in result.rows] == [
        ("N-1", date(2026, 4, 3)),
        ("N-2", date(2026, 12, 31)),
        ("N-4", date(2026, 6, 25)),
    ]
    assert [(e.row, e.column, e.value) for e in result.errors] == [
        (4, "start date", "12/31/2026")
    ]
    assert result.errors[0].reason == (
        "Invalid date '12/31/2026': it is valid only month first, but this column "
        "reads dates written with '/' day first, because it has 2 dates valid only "
        "day first (such as '31/12/2026') against 1 date valid only month first. "
        "Write the date day first, or as 2026-12-31 if that is the date meant."
    )


def test_date_columns_decide_separately(tmp_path: Path) -> None:
    result = parse_csv(
        tmp_path,
        "number,client,start date,end date\n"
        "N-1,Acme,03/04/2026,12/31/2026\n"
        "N-2,Acme,31/01/2026,11/30/2027\n"
        "N-3,Acme,05/06/2026,04/03/2027\n",
    )

    assert result.errors == []
    assert [(row.start_date, row.end_date) for row in result.rows] == [
        (date(2026, 4, 3), date(2026, 12, 31)),
        (date(2026, 1, 31), date(2027, 11, 30)),
        (date(2026, 6, 5), date(2027, 4, 3)),
    ]
    assert [[w.column for w in row.warnings] for row in result.rows] == [
        ["end date"],
        [],
        [],
    ]


def test_export_formula_quote_removed(tmp_path: Path) -> None:
    result = parse_csv(
        tmp_path,
        "number,name,client,tags,description\n"
        "'-42,'=1+1,'-Dash BV,'@tag; '-x,'+note\n"
        "N-2,'quoted,'Acme,,'\n",
    )

    first, second = result.rows
    assert result.errors == []
    assert (first.number, first.name, first.client) == ("-42", "=1+1", "-Dash BV")
    assert first.tags == ["@tag", "'-x"]
    assert first.description == "+note"
    assert (second.name, second.client, second.description) == (
        "'quoted",
        "'Acme",
        "'",
    )


def test_cell_as_written(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text(
        "number;client;amount;vat rate\nN-1;Acme;€ 1.234,567;0,21\n", encoding="utf-8"
    )
    table = read_table(path)
    mapping = resolve_columns(table.headers)

    row = only_row(parse_rows(table, mapping))

    assert row.amount == Decimal("1234.567")
    assert row.cell_as_written(mapping, "amount") == "€ 1.234,567"
    assert row.cell_as_written(mapping, "vat_rate") == "0,21"
    assert row.cell_as_written(mapping, "end_date") == ""


def test_euro_12_345_warning_wording(tmp_path: Path) -> None:
    result = parse_csv(tmp_path, 'client,name,amount\nAcme,Support,"€ 12,345"\n')

    assert result.errors == []
    assert [row.amount for row in result.rows] == [Decimal("12345")]
    assert [w.message for w in result.rows[0].warnings] == [
        "Amount '€ 12,345' can have ',' as thousands or as decimal separator, and "
        "no amount in this column shows which decimal separator it uses, so it was "
        "read as 12345 (twelve thousand three hundred forty-five). Write 12345 to "
        "keep that reading. If you meant twelve and 345 thousandths, write it "
        "rounded to 2 decimal places: 12,35."
    ]


def test_euro_12_345_rejection_wording(tmp_path: Path) -> None:
    text = 'client,name,amount\nAcme,Support,"€ 2,50"\nAcme,Hosting,"€ 12,345"\n'

    result = parse_csv(tmp_path, text)

    assert [error.reason for error in result.errors] == [
        "Amount '€ 12,345' is ambiguous: this column uses ',' as decimal separator, "
        "as in '€ 2,50', so '€ 12,345' reads with 3 decimal places, more than the 2 "
        "of EUR. Write 12.345 or 12345 for twelve thousand three hundred "
        "forty-five. If you meant twelve and 345 thousandths, write it rounded to "
        "2 decimal places: 12,35."
    ]


def test_three_place_currency_warning_wording(tmp_path: Path) -> None:
    text = 'client,name,amount,currency\nAcme,Support,"1,234",KWD\n'

    result = parse_csv(tmp_path, text)

    assert [w.message for w in result.rows[0].warnings] == [
        "Amount '1,234' can have ',' as thousands or as decimal separator, and no "
        "amount in this column shows which decimal separator it uses, so it was "
        "read as 1234 (one thousand two hundred thirty-four). Write 1234 to keep "
        "that reading. If you meant one and 234 thousandths, write 1,2340."
    ]
    reread = parse_csv(tmp_path, 'client,name,amount,currency\nA,S,"1,2340",KWD\n')
    assert [row.amount for row in reread.rows] == [Decimal("1.234")]
