from datetime import date, datetime
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest

from contractgql.importexport.errors import ImportFileError
from contractgql.importexport.tables import (
    MAX_CELL_CHARS,
    TableRow,
    column_cells,
    read_table,
)

ACT_REGISTER = (
    Path(__file__).resolve().parents[2]
    / "src/contractgql/demo/au_act_contracts_2025.csv"
)
DATA_DIR = Path(__file__).parent.parent / "data"


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_csv_semicolon_bom_multiline(tmp_path: Path) -> None:
    text = (
        "\ufeffContractnummer;Naam;Klant;Omschrijving;Bedrag\r\n"
        'A-1;Eerste;Klant BV;"Regel een\r\nregel twee";€ 1.234,56\r\n'
        "\r\n"
        "A-2;Tweede;Klant BV;Kort;12,5\r\n"
    )
    path = write_bytes(tmp_path, "dutch.csv", text.encode("utf-8"))

    table = read_table(path)

    assert table.file_format == "csv"
    assert table.encoding == "utf-8"
    assert table.delimiter == ";"
    assert table.header_row == 1
    assert table.headers == [
        "Contractnummer",
        "Naam",
        "Klant",
        "Omschrijving",
        "Bedrag",
    ]
    assert list(table.rows) == [
        TableRow(
            number=2,
            line=2,
            cells=(
                "A-1",
                "Eerste",
                "Klant BV",
                "Regel een\r\nregel twee",
                "€ 1.234,56",
            ),
        ),
        TableRow(number=4, line=5, cells=("A-2", "Tweede", "Klant BV", "Kort", "12,5")),
    ]


def test_csv_cp1252_fallback(tmp_path: Path) -> None:
    text = "Nummer;Naam;Klant;Bedrag\nC-1;Café onderhoud;Brasserie Zoë;€ 99,95\n"
    path = write_bytes(tmp_path, "windows.csv", text.encode("cp1252"))

    table = read_table(path)

    assert table.encoding == "cp1252"
    assert list(table.rows)[0].cells == (
        "C-1",
        "Café onderhoud",
        "Brasserie Zoë",
        "€ 99,95",
    )


def test_csv_utf16_tab_delimited(tmp_path: Path) -> None:
    text = "number\tname\tclient\nU-1\tÜbersicht\tKlant\n"
    path = write_bytes(tmp_path, "unicode.txt", text.encode("utf-16"))

    table = read_table(path)

    assert table.encoding == "utf-16"
    assert table.delimiter == "\t"
    assert list(table.rows)[0].cells == ("U-1", "Übersicht", "Klant")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_detects_delimiter(tmp_path: Path, delimiter: str) -> None:
    lines = [
        ["number", "name", "client"],
        ["1", "Alpha", "Acme"],
        ["2", "Beta", "Acme"],
    ]
    text = "\n".join(delimiter.join(line) for line in lines) + "\n"
    path = write_bytes(tmp_path, "plain.csv", text.encode())

    table = read_table(path)

    assert table.delimiter == delimiter
    assert table.headers == ["number", "name", "client"]
    assert [row.cells for row in table.rows] == [
        ("1", "Alpha", "Acme"),
        ("2", "Beta", "Acme"),
    ]


def test_csv_delimiter_inside_quoted_text(tmp_path: Path) -> None:
    # Semicolons inside a quoted cell must not be taken for the delimiter.
    text = (
        "number,name,description\n"
        '1,Alpha,"a; b; c; d; e; f; g; h"\n'
        '2,Beta,"i; j; k; l; m; n; o; p"\n'
    )
    path = write_bytes(tmp_path, "quoted.csv", text.encode())

    table = read_table(path)

    assert table.delimiter == ","
    assert list(table.rows)[0].cells == ("1", "Alpha", "a; b; c; d; e; f; g; h")


def test_csv_sniffer_failure_falls_back(tmp_path: Path) -> None:
    # csv.Sniffer finds no delimiter in this sample because of the title row.
    text = "Export, 2025, all\nnumber;name;client\n1;Alpha;Acme\n2;Beta;Acme\n"
    path = write_bytes(tmp_path, "titled.csv", text.encode())

    table = read_table(path)

    assert table.delimiter == ";"
    assert table.header_row == 2
    assert list(table.rows)[0].cells == ("1", "Alpha", "Acme")


def test_csv_title_rows_and_blank_rows(tmp_path: Path) -> None:
    text = (
        "Contract register 2025\n"
        "Exported 2025-12-01,,\n"
        "\n"
        "Contract number,Client,End date\n"
        ",,\n"
        "K-7,Acme,2027-12-31\n"
    )
    path = write_bytes(tmp_path, "titled.csv", text.encode())

    table = read_table(path)

    assert table.header_row == 4
    assert table.headers == ["Contract number", "Client", "End date"]
    assert list(table.rows) == [
        TableRow(number=6, line=6, cells=("K-7", "Acme", "2027-12-31"))
    ]


def test_csv_header_beyond_ten_rows(tmp_path: Path) -> None:
    text = "note\n" * 10 + "number,name,client\n1,Alpha,Acme\n"
    path = write_bytes(tmp_path, "late.csv", text.encode())

    with pytest.raises(ImportFileError):
        read_table(path)


def test_csv_header_cells_cleaned(tmp_path: Path) -> None:
    text = 'number,"Start\ndate",,client,,\n1,2027-01-01,x,Acme,,\n'
    path = write_bytes(tmp_path, "headers.csv", text.encode())

    table = read_table(path)

    assert table.headers == ["number", "Start date", "Column 3", "client"]
    assert list(table.rows)[0].cells == ("1", "2027-01-01", "x", "Acme")


def test_empty_file_rejected(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "empty.csv", b"")

    with pytest.raises(ImportFileError) as caught:
        read_table(path)

    assert "empty.csv is empty" in str(caught.value)


def test_blank_file_rejected(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "blank.csv", b"\r\n  \n")

    with pytest.raises(ImportFileError) as caught:
        read_table(path)

    assert "blank.csv is empty" in str(caught.value)


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError) as caught:
        read_table(tmp_path / "missing.csv")

    assert "missing.csv" in str(caught.value)


def test_no_header_rejected(tmp_path: Path) -> None:
    text = "Wie,Wat,Wanneer\nAcme,Onderhoud,2027-12-31\n"
    path = write_bytes(tmp_path, "unknown.csv", text.encode())

    with pytest.raises(ImportFileError) as caught:
        read_table(path)

    message = str(caught.value)
    assert "unknown.csv" in message
    assert "--map" in message


def test_mapped_headers_make_header_known(tmp_path: Path) -> None:
    text = "Wie,Wat,Wanneer\nAcme,Onderhoud,2027-12-31\n"
    path = write_bytes(tmp_path, "unknown.csv", text.encode())

    table = read_table(path, mapped_headers=["Wie", "Wanneer"])

    assert table.headers == ["Wie", "Wat", "Wanneer"]
    assert list(table.rows)[0].cells == ("Acme", "Onderhoud", "2027-12-31")


def test_unterminated_quote_rejected(tmp_path: Path) -> None:
    text = 'number,name,client\n1,"Alpha,Acme\n2,Beta,Acme\n'
    path = write_bytes(tmp_path, "broken.csv", text.encode())

    with pytest.raises(ImportFileError) as caught:
        read_table(path)

    assert "broken.csv line" in str(caught.value)


def test_csv_sheet_name_rejected(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "plain.csv", b"number,name\n1,x\n")

    with pytest.raises(ImportFileError) as caught:
        read_table(path, sheet="Contracts")

    assert "'Contracts'" in str(caught.value)


def test_legacy_xls_rejected(tmp_path: Path) -> None:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
    path = write_bytes(tmp_path, "old.xls", data)

    with pytest.raises(ImportFileError) as caught:
        read_table(path)

    assert ".xlsx" in str(caught.value)


def test_corrupt_xlsx_rejected(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "broken.xlsx", b"PK\x03\x04" + b"\x00" * 100)

    with pytest.raises(ImportFileError) as caught:
        read_table(path)

    assert "broken.xlsx" in str(caught.value)


def write_workbook(path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Contracts"
    sheet.append(["Contract register"])
    sheet.append([])
    sheet.append(["Contractnummer", "Naam", "Begindatum", "Einddatum", "Bedrag", "BTW"])
    sheet.append([19009, "Kamp", datetime(2025, 9, 15), None, 58665.0, 0.21])
    sheet.append([])
    sheet.append(["PO 18994", "Trip", None, 46022, 1234.5, 0.09])
    sheet.append(["X-1", "Flag", date(2027, 1, 31), None, 1e-05, True])
    # A bare serial number in a date-formatted cell reads back as a datetime.
    sheet["D6"].number_format = "dd-mm-yyyy"
    sheet["F4"].number_format = "0%"
    sheet["F6"].number_format = "0.0%"

    other = workbook.create_sheet("Second")
    other.append(["number", "client"])
    other.append(["S-1", "Other client"])
    workbook.save(path)


def test_xlsx_values_as_text(tmp_path: Path) -> None:
    path = tmp_path / "register.xlsx"
    write_workbook(path)

    table = read_table(path)

    assert table.file_format == "xlsx"
    assert table.sheet == "Contracts"
    assert table.encoding is None
    assert table.header_row == 3
    assert table.headers == [
        "Contractnummer",
        "Naam",
        "Begindatum",
        "Einddatum",
        "Bedrag",
        "BTW",
    ]
    assert list(table.rows) == [
        TableRow(
            number=4,
            line=4,
            cells=("19009", "Kamp", "2025-09-15", "", "58665", "21%"),
        ),
        TableRow(
            number=6,
            line=6,
            cells=("PO 18994", "Trip", "", "2025-12-31", "1234.5", "9%"),
        ),
        TableRow(
            number=7,
            line=7,
            cells=("X-1", "Flag", "2027-01-31", "", "0.00001", "true"),
        ),
    ]


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    path = tmp_path / "register.xlsx"
    write_workbook(path)

    table = read_table(path, sheet="Second")

    assert table.sheet == "Second"
    assert table.headers == ["number", "client"]
    assert list(table.rows) == [
        TableRow(number=2, line=2, cells=("S-1", "Other client"))
    ]


def test_xlsx_unknown_sheet(tmp_path: Path) -> None:
    path = tmp_path / "register.xlsx"
    write_workbook(path)

    with pytest.raises(ImportFileError) as caught:
        read_table(path, sheet="Missing")

    message = str(caught.value)
    assert "'Missing'" in message
    assert "'Contracts', 'Second'" in message


def test_au_register_table() -> None:
    table = read_table(ACT_REGISTER)

    assert table.encoding == "utf-8"
    assert table.delimiter == ","
    assert table.header_row == 1
    assert len(table.rows) == 1296
    assert list(table.rows)[0].number == 2
    assert list(table.rows)[-1].number == 1297


def test_au_register_multiline_rows() -> None:
    table = read_table(ACT_REGISTER)

    rows = [row for row in table.rows if row.cells[0] == "H2625763"]

    # The row number is the record index; the line also counts the line breaks
    # inside quoted cells above the row.
    assert [row.number for row in rows] == [76, 77]
    assert [row.line for row in rows] == [79, 80]


def test_uk_register_table() -> None:
    table = read_table(DATA_DIR / "uk_contracts_finder_council_contracts.csv")

    assert table.encoding == "utf-8"
    assert table.delimiter == ","
    assert len(table.rows) == 683
    assert len(table.headers) == 16
    assert list(table.rows)[0].cells[0] == "454733"
    assert list(table.rows)[1].number == 3
    # The description of row 2 spans lines 2 to 4.
    assert list(table.rows)[1].line == 5


def test_xlsx_name_without_workbook_rejected(tmp_path: Path) -> None:
    path = tmp_path / "register.xlsx"
    path.write_bytes(bytes(range(256)) * 4)

    with pytest.raises(ImportFileError) as raised:
        read_table(path)

    assert str(raised.value) == (
        "register.xlsx is named as an XLSX workbook but is not one: an XLSX file is "
        "a ZIP archive, and this file does not start like one. Open it in a "
        "spreadsheet program and save it again as .xlsx or CSV."
    )


def test_csv_rows_counted_by_first_pass(tmp_path: Path) -> None:
    text = "number,name,client\n1,Alpha,Acme\n\n2,Beta,Acme\n3,Gamma,Acme\n"
    path = write_bytes(tmp_path, "count.csv", text.encode())
    table = read_table(path, count_rows=False)

    assert table.rows.count is None  # type: ignore[attr-defined]
    numbers = [row.cells[0] for row in table.rows]

    assert numbers == ["1", "2", "3"]
    assert table.rows.count == 3  # type: ignore[attr-defined]
    assert len(table.rows) == 3


def test_csv_rows_counted_by_len(tmp_path: Path) -> None:
    text = "number,name,client\n1,Alpha,Acme\n2,Beta,Acme\n"
    path = write_bytes(tmp_path, "count.csv", text.encode())

    assert len(read_table(path, count_rows=False).rows) == 2


def test_unterminated_quote_rejected_by_first_pass(tmp_path: Path) -> None:
    # Beyond the rows that reading the header parses.
    good = "".join(f"{n},Name {n},Acme\n" for n in range(1, 41))
    text = f'number,name,client\n{good}41,"Alpha,Acme\n42,Beta,Acme\n'
    path = write_bytes(tmp_path, "broken.csv", text.encode())
    table = read_table(path, count_rows=False)

    with pytest.raises(ImportFileError) as caught:
        list(table.rows)

    assert "broken.csv line" in str(caught.value)


def test_csv_column_cells_and_count(tmp_path: Path) -> None:
    text = "number,name,client\n1,Alpha,Acme\n\n2\n3,Gamma,Beta\n"
    path = write_bytes(tmp_path, "column.csv", text.encode())
    table = read_table(path, count_rows=False)

    assert list(column_cells(table.rows, 2)) == ["Acme", "Beta"]
    assert table.rows.count == 3  # type: ignore[attr-defined]


def test_csv_mixed_encodings_rejected(tmp_path: Path) -> None:
    data = (
        "Nummer;Naam;Klant\r\nC-1;Onderhoud;Café Noël\r\nC-2;Licentie;Brasserie Zoë\r\n"
    ).encode() + "C-3;Hosting;Bäckerei Müller\r\n".encode("cp1252")
    path = write_bytes(tmp_path, "mixed.csv", data)

    with pytest.raises(ImportFileError) as raised:
        read_table(path)

    assert str(raised.value) == (
        "mixed.csv mixes text encodings: line 4 is not valid UTF-8, but line 2 "
        "contains UTF-8 text. Read in any one encoding, some of its text would be "
        "garbled, so it was not imported. Save the whole file as UTF-8 (in Excel: "
        "'CSV UTF-8'), or in one encoding, and import it again."
    )


def test_csv_mixed_encodings_utf8_later(tmp_path: Path) -> None:
    """A UTF-8 euro sign after the first cp1252 line is found, CR-only lines too."""
    data = (
        b"Nummer;Naam;Klant;Bedrag\r"
        + "C-1;Onderhoud;Bäckerei;12\r".encode("cp1252")
        + "C-2;Licentie;Acme;€ 5\r".encode()
    )
    path = write_bytes(tmp_path, "later.csv", data)

    with pytest.raises(ImportFileError) as raised:
        read_table(path)

    assert str(raised.value).startswith(
        "later.csv mixes text encodings: line 2 is not valid UTF-8, but line 3 "
        "contains UTF-8 text."
    )


def test_csv_mixed_encodings_one_line(tmp_path: Path) -> None:
    data = b"Nummer;Naam;Klant\n" + ("C-1;Café;".encode() + "Müller\n".encode("cp1252"))
    path = write_bytes(tmp_path, "one-line.csv", data)

    with pytest.raises(ImportFileError) as raised:
        read_table(path)

    assert str(raised.value).startswith(
        "one-line.csv mixes text encodings: line 2 contains UTF-8 text next to "
        "bytes that are not UTF-8."
    )


def test_csv_cp1252_with_utf8_like_pair(tmp_path: Path) -> None:
    """ "ß" before a closing quote is DF 93 in cp1252, a UTF-8 pair for U+07D3."""
    text = 'Nummer;Naam;Klant\nC-1;"Große Straße“ 1";Bäckerei Müller\n'
    path = write_bytes(tmp_path, "german.csv", text.encode("cp1252"))

    table = read_table(path)

    assert table.encoding == "cp1252"
    assert list(table.rows)[0].cells == (
        "C-1",
        "Große Straße“ 1",
        "Bäckerei Müller",
    )


def test_csv_iso_8859_15_euro_sign(tmp_path: Path) -> None:
    text = (
        "Nummer;Naam;Klant;Bedrag;Omschrijving\n"
        "C-1;Café;Brasserie Zoë;€ 1.234,56;Œuvre\n"
        "C-2;Licentie;Šabac d.o.o.;99,95 €;\n"
    )
    path = write_bytes(tmp_path, "latin9.csv", text.encode("iso-8859-15"))

    table = read_table(path)

    assert table.encoding == "iso-8859-15"
    assert [row.cells for row in table.rows] == [
        ("C-1", "Café", "Brasserie Zoë", "€ 1.234,56", "Œuvre"),
        ("C-2", "Licentie", "Šabac d.o.o.", "99,95 €"),
    ]


def test_csv_cp1252_a4_with_c1_byte(tmp_path: Path) -> None:
    """Byte 0x80, the cp1252 euro sign, keeps a file with 0xA4 in cp1252."""
    text = "Nummer;Naam;Klant;Bedrag\nC-1;Munt ¤ 5;Acme;€ 12\n"
    path = write_bytes(tmp_path, "windows.csv", text.encode("cp1252"))

    table = read_table(path)

    assert table.encoding == "cp1252"
    assert list(table.rows)[0].cells == ("C-1", "Munt ¤ 5", "Acme", "€ 12")


def test_csv_a4_without_digit_stays_cp1252(tmp_path: Path) -> None:
    text = "Nummer;Naam;Klant\nC-1;Teken ¤;Café\n"
    path = write_bytes(tmp_path, "sign.csv", text.encode("cp1252"))

    table = read_table(path)

    assert table.encoding == "cp1252"
    assert list(table.rows)[0].cells == ("C-1", "Teken ¤", "Café")


def test_csv_cell_over_csv_default_limit(tmp_path: Path) -> None:
    description = "d" * 200_000
    text = f'number,name,client,description\nC-1,Name,Acme,"{description}"\nC-2,B,C,\n'
    path = write_bytes(tmp_path, "long.csv", text.encode())

    table = read_table(path)

    rows = list(table.rows)
    assert len(rows) == 2
    assert rows[0].cells[3] == description
    assert rows[1].cells == ("C-2", "B", "C")


def test_csv_cell_over_max_rejected(tmp_path: Path) -> None:
    cell = "d" * (MAX_CELL_CHARS + 1)
    text = f"number,name,client,description\nC-1,Name,Acme,ok\nC-2,Name,Acme,{cell}\n"
    path = write_bytes(tmp_path, "huge.csv", text.encode())

    with pytest.raises(ImportFileError) as raised:
        read_table(path)

    assert str(raised.value) == (
        "huge.csv line 3: a cell of this row has more than 10000000 characters, the "
        "maximum a cell can have. Shorten that cell, or leave its column out of the "
        "file."
    )


def test_csv_unclosed_quote_over_max(tmp_path: Path) -> None:
    """A quote that is never closed makes a cell run on over many lines."""
    line = "C-9,Name,Acme," + "x" * 99 + "\n"
    lines = line * (MAX_CELL_CHARS // len(line) + 1)
    text = f'number,name,client,description\nC-1,Name,Acme,"open\n{lines}'
    path = write_bytes(tmp_path, "open.csv", text.encode())

    with pytest.raises(ImportFileError) as raised:
        read_table(path)

    end_line = 2 + MAX_CELL_CHARS // len(line) + 1
    assert str(raised.value) == (
        "open.csv line 2: a cell of this row has more than 10000000 characters, the "
        "maximum a cell can have. Shorten that cell, or leave its column out of the "
        f"file. The cell runs on to line {end_line}: if it should end sooner, close "
        "the quote that opens it."
    )
