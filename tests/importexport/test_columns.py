import pytest

from contractgql.importexport.columns import (
    CANONICAL_FIELDS,
    MatchStrength,
    match_header,
    normalize_header,
    resolve_columns,
)
from contractgql.importexport.errors import ImportFileError

AU_HEADERS = [
    "contract_number",
    "procurement_unique_id",
    "title",
    "directorate",
    "contract_type",
    "slj_initiative",
    "status",
    "execution_date",
    "expiry_date",
    "amount",
    "suppliers",
    "details_url",
    "has_attachments",
]

UK_HEADERS = [
    "release_id",
    "tender_title",
    "tender_description",
    "classification_id",
    "classification_description",
    "buyer_name",
    "value_amount",
    "value_human",
    "value_currency",
    "contractPeriod_startDate",
    "contractPeriod_endDate",
    "contract_length_days",
    "contract_length_months",
    "contract_expires_days_from_now",
    "contract_expires_months_from_now",
    "contract_time_remaining_fraction",
]


def test_canonical_fields_exact_names() -> None:
    assert CANONICAL_FIELDS == (
        "number",
        "name",
        "client",
        "client_coc_number",
        "client_vat_number",
        "contract_type",
        "status",
        "start_date",
        "end_date",
        "signed_date",
        "amount",
        "currency",
        "vat_rate",
        "payment_frequency",
        "auto_renewal",
        "notice_period",
        "renewal_term",
        "indexation",
        "description",
        "owner_email",
        "tags",
    )


def test_every_canonical_field_matches_itself() -> None:
    for field in CANONICAL_FIELDS:
        assert match_header(field) == (field, MatchStrength.EXACT)


@pytest.mark.parametrize(
    ("header", "normalized"),
    [
        ("Contract No.", "contractno"),
        ("contract_no", "contractno"),
        ("CONTRACT-NO", "contractno"),
        ("contractPeriod_startDate", "contractperiodstartdate"),
        ("KvK-nummer", "kvknummer"),
        ("Référence", "reference"),
        ("\ufeffnumber", "number"),
    ],
)
def test_normalize_header(header: str, normalized: str) -> None:
    assert normalize_header(header) == normalized


@pytest.mark.parametrize(
    ("header", "field"),
    [
        # English
        ("Contract number", "number"),
        ("Contract No.", "number"),
        ("Reference", "number"),
        ("ID", "number"),
        ("Release ID", "number"),
        ("Title", "name"),
        ("Contract name", "name"),
        ("Tender title", "name"),
        ("Client", "client"),
        ("Customer", "client"),
        ("Buyer", "client"),
        ("Buyer name", "client"),
        ("Directorate", "client"),
        ("Agency", "client"),
        ("Start date", "start_date"),
        ("Commencement date", "start_date"),
        ("Execution date", "start_date"),
        ("Contract period start date", "start_date"),
        ("End date", "end_date"),
        ("Expiry date", "end_date"),
        ("Expiration date", "end_date"),
        ("Contract period end date", "end_date"),
        ("Value", "amount"),
        ("Amount", "amount"),
        ("Contract value", "amount"),
        ("Value amount", "amount"),
        ("Currency", "currency"),
        ("Value currency", "currency"),
        ("Description", "description"),
        ("Tender description", "description"),
        ("Notice period", "notice_period"),
        ("Auto renewal", "auto_renewal"),
        ("Payment frequency", "payment_frequency"),
        ("VAT", "vat_rate"),
        ("VAT %", "vat_rate"),
        ("VAT number", "client_vat_number"),
        ("Tags", "tags"),
        ("Owner e-mail", "owner_email"),
        ("Signed date", "signed_date"),
        ("Renewal term", "renewal_term"),
        ("Indexation", "indexation"),
        ("Status", "status"),
        ("Contract type", "contract_type"),
        # Dutch
        ("Contractnummer", "number"),
        ("Nummer", "number"),
        ("Kenmerk", "number"),
        ("Naam", "name"),
        ("Omschrijving", "description"),
        ("Klant", "client"),
        ("Opdrachtgever", "client"),
        ("Relatie", "client"),
        ("Klantnaam", "client"),
        ("KvK-nummer", "client_coc_number"),
        ("KvK", "client_coc_number"),
        ("BTW-nummer", "client_vat_number"),
        ("BTW", "vat_rate"),
        ("Begindatum", "start_date"),
        ("Startdatum", "start_date"),
        ("Ingangsdatum", "start_date"),
        ("Einddatum", "end_date"),
        ("Looptijd tot", "end_date"),
        ("Bedrag", "amount"),
        ("Waarde", "amount"),
        ("Contractwaarde", "amount"),
        ("Bedrag excl. btw", "amount"),
        ("bedrag exclusief btw", "amount"),
        ("Bedrag ex. BTW", "amount"),
        ("Netto bedrag", "amount"),
        ("Net amount", "amount"),
        ("Amount excl. VAT", "amount"),
        ("Valuta", "currency"),
        ("Opzegtermijn", "notice_period"),
        ("Stilzwijgende verlenging", "auto_renewal"),
        ("Automatische verlenging", "auto_renewal"),
        ("Betaalfrequentie", "payment_frequency"),
        ("Termijn", "payment_frequency"),
        ("Indexatie", "indexation"),
        ("Ondertekend op", "signed_date"),
        ("Eigenaar", "owner_email"),
        ("Labels", "tags"),
    ],
)
def test_match_header_synonyms(header: str, field: str) -> None:
    match = match_header(header)

    assert match is not None
    assert match[0] == field


@pytest.mark.parametrize(
    "header",
    [
        "suppliers",
        "value_human",
        "procurement_unique_id",
        "classification_id",
        "",
        # Amounts are net of VAT, so gross amounts and VAT amounts stay ignored.
        "Bedrag incl. btw",
        "bedrag inclusief btw",
        "BTW-bedrag",
    ],
)
def test_match_header_unknown(header: str) -> None:
    assert match_header(header) is None


def test_resolve_columns_au_register() -> None:
    mapping = resolve_columns(AU_HEADERS)

    assert mapping.fields == (
        "number",
        None,
        "name",
        "client",
        "contract_type",
        None,
        "status",
        "start_date",
        "end_date",
        "amount",
        None,
        None,
        None,
    )
    assert mapping.ignored_columns == [
        "procurement_unique_id",
        "slj_initiative",
        "suppliers",
        "details_url",
        "has_attachments",
    ]


def test_resolve_columns_uk_register() -> None:
    mapping = resolve_columns(UK_HEADERS)

    assert mapping.mapped_fields == {
        "number": "release_id",
        "name": "tender_title",
        "description": "tender_description",
        "client": "buyer_name",
        "amount": "value_amount",
        "currency": "value_currency",
        "start_date": "contractPeriod_startDate",
        "end_date": "contractPeriod_endDate",
    }
    assert "value_human" in mapping.ignored_columns
    assert mapping.ignored_columns == [
        "classification_id",
        "classification_description",
        "value_human",
        "contract_length_days",
        "contract_length_months",
        "contract_expires_days_from_now",
        "contract_expires_months_from_now",
        "contract_time_remaining_fraction",
    ]


def test_resolve_columns_dutch_headers() -> None:
    headers = ["Contractnummer", "Omschrijving", "Klant", "KvK-nummer", "Begindatum"]

    mapping = resolve_columns(headers)

    assert mapping.fields == (
        "number",
        "description",
        "client",
        "client_coc_number",
        "start_date",
    )


def test_resolve_columns_strong_beats_earlier_weak() -> None:
    mapping = resolve_columns(["ID", "Value", "Contract number", "Contract value"])

    assert mapping.fields == (None, None, "number", "amount")
    assert mapping.ignored_columns == ["ID", "Value"]


def test_resolve_columns_exact_beats_synonym() -> None:
    mapping = resolve_columns(["Title", "name", "client"])

    assert mapping.fields == (None, "name", "client")


def test_resolve_columns_first_of_equal_strength_wins() -> None:
    mapping = resolve_columns(["Klant", "Opdrachtgever", "Naam"])

    assert mapping.fields == ("client", None, "name")
    assert mapping.ignored_columns == ["Opdrachtgever"]


def test_resolve_columns_explicit_overrides() -> None:
    explicit = {"value_human": "amount", "classification_description": "tags"}

    mapping = resolve_columns(UK_HEADERS, explicit)

    assert mapping.header_of("amount") == "value_human"
    assert mapping.header_of("tags") == "classification_description"
    assert "value_amount" in mapping.ignored_columns


def test_resolve_columns_explicit_ignore() -> None:
    mapping = resolve_columns(AU_HEADERS, {"directorate": "-", "suppliers": "client"})

    assert mapping.header_of("client") == "suppliers"
    assert "directorate" in mapping.ignored_columns


def test_resolve_columns_explicit_empty_ignores() -> None:
    mapping = resolve_columns(AU_HEADERS, {"title": ""})

    assert mapping.index_of("name") is None
    assert "title" in mapping.ignored_columns


def test_resolve_columns_explicit_normalized_names() -> None:
    mapping = resolve_columns(["Ref", "Wie", "Van"], {"WIE": "Client", "ref": "number"})

    assert mapping.fields == ("number", "client", "start_date")


def test_resolve_columns_unknown_field() -> None:
    with pytest.raises(ImportFileError) as caught:
        resolve_columns(AU_HEADERS, {"title": "titel"})

    message = str(caught.value)
    assert "'titel'" in message
    assert "'title'" in message
    assert "start_date" in message
    assert "owner_email" in message


def test_resolve_columns_unknown_header() -> None:
    with pytest.raises(ImportFileError) as caught:
        resolve_columns(AU_HEADERS, {"buyer": "client"})

    message = str(caught.value)
    assert "'buyer'" in message
    assert "'directorate'" in message


def test_resolve_columns_two_columns_one_field() -> None:
    with pytest.raises(ImportFileError) as caught:
        resolve_columns(AU_HEADERS, {"title": "name", "suppliers": "name"})

    assert "'title'" in str(caught.value)
    assert "'suppliers'" in str(caught.value)


def test_column_mapping_lookups() -> None:
    mapping = resolve_columns(AU_HEADERS)

    assert mapping.index_of("amount") == 9
    assert mapping.index_of("currency") is None
    assert mapping.header_of("start_date") == "execution_date"
    assert mapping.header_of("tags") is None


def test_resolve_columns_net_and_gross_amounts() -> None:
    mapping = resolve_columns(
        ["Klant", "Bedrag incl. btw", "BTW-bedrag", "Bedrag excl. btw"]
    )

    assert mapping.fields == ("client", None, None, "amount")


@pytest.mark.parametrize(
    ("headers", "fields", "ignored"),
    [
        (
            ["Klant", "Contractwaarde", "Bedrag excl. btw"],
            ("client", None, "amount"),
            ["Contractwaarde"],
        ),
        (
            ["Bedrag", "Totaalbedrag", "Klant"],
            ("amount", None, "client"),
            ["Totaalbedrag"],
        ),
        (
            ["Contract value", "Total value", "Net amount"],
            (None, None, "amount"),
            ["Contract value", "Total value"],
        ),
        (
            ["Totale waarde", "Contract amount"],
            (None, "amount"),
            ["Totale waarde"],
        ),
        # A weak per-payment header still loses to a strong total-value header.
        (["Prijs", "Contractwaarde"], (None, "amount"), ["Prijs"]),
        # The exact field name beats every synonym.
        (
            ["Bedrag", "amount", "Contractwaarde"],
            (None, "amount", None),
            ["Bedrag", "Contractwaarde"],
        ),
    ],
)
def test_resolve_columns_per_payment_beats_total_value(
    headers: list[str], fields: tuple[str | None, ...], ignored: list[str]
) -> None:
    mapping = resolve_columns(headers)

    assert mapping.fields == fields
    assert mapping.ignored_columns == ignored


def test_resolve_columns_total_value_alone_is_amount() -> None:
    mapping = resolve_columns(["Klant", "Contractwaarde"])

    assert mapping.fields == ("client", "amount")
    assert match_header("Contractwaarde") == ("amount", MatchStrength.STRONG)
    assert match_header("Bedrag excl. btw") == ("amount", MatchStrength.STRONG)


def test_resolve_columns_explicit_total_value_wins() -> None:
    mapping = resolve_columns(
        ["Contractwaarde", "Bedrag excl. btw"], {"Contractwaarde": "amount"}
    )

    assert mapping.fields == ("amount", None)
    assert mapping.ignored_columns == ["Bedrag excl. btw"]


def test_resolve_columns_explicit_ignore_of_per_payment() -> None:
    mapping = resolve_columns(
        ["Contractwaarde", "Bedrag excl. btw"], {"Bedrag excl. btw": "-"}
    )

    assert mapping.fields == ("amount", None)
    assert mapping.ignored_columns == ["Bedrag excl. btw"]
