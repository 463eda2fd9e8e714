"""Canonical import fields and the header names that map to them.

Header matching ignores case, accents, spaces, underscores and punctuation, so
`Contract No.`, `contract_no` and `CONTRACT-NO` are the same header. Synonyms cover
English and Dutch registers, including the UK Contracts Finder and ACT Government
(Australia) exports.
"""

from __future__ import annotations

import enum
import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from contractgql.importexport.errors import ImportFileError

logger = logging.getLogger(__name__)

CANONICAL_FIELDS: tuple[str, ...] = (
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

# How to map a column, for messages that an import from the command line and one
# started through GraphQL both show.
MAP_COLUMN_HINT = (
    "with --map HEADER=FIELD on the command line, or the mapping input of startImport"
)

# Values of an explicit mapping that mark a column as ignored.
IGNORE_MARKERS = frozenset({"", "-"})


class MatchStrength(enum.IntEnum):
    """Rank of a header match. Of two headers for one field, the lower rank wins,
    and of two amount headers of equal rank, the one that names no total value."""

    EXACT = 0
    STRONG = 1
    WEAK = 2


# Headers that name a field without doubt.
_STRONG_SYNONYMS: dict[str, tuple[str, ...]] = {
    "number": (
        "contract number",
        "contract no",
        "contract nr",
        "contract id",
        "contract reference",
        "contract ref",
        "reference number",
        "release id",
        "contractnummer",
        "contractnr",
        "contractkenmerk",
        "kenmerk",
    ),
    "name": (
        "title",
        "contract name",
        "contract title",
        "tender title",
        "naam",
        "contractnaam",
        "titel",
    ),
    "client": (
        "client",
        "client name",
        "customer",
        "customer name",
        "buyer",
        "buyer name",
        "klant",
        "klantnaam",
        "opdrachtgever",
        "relatie",
        "relatienaam",
        "debiteur",
        "debiteurnaam",
    ),
    "client_coc_number": (
        "coc number",
        "coc",
        "chamber of commerce number",
        "company number",
        "company registration number",
        "client coc",
        "client kvk",
        "kvk",
        "kvk nummer",
        "kvk number",
        "klant kvk",
    ),
    "client_vat_number": (
        "vat number",
        "vat no",
        "vat id",
        "client vat",
        "btw nummer",
        "btw id",
        "omzetbelastingnummer",
        "klant btw nummer",
    ),
    "contract_type": (
        "contract type",
        "type of contract",
        "contractsoort",
        "soort contract",
        "type contract",
    ),
    "status": ("contract status", "contractstatus"),
    "start_date": (
        "start date",
        "commencement date",
        "execution date",
        "effective date",
        "contract start",
        "contract start date",
        "contract period start date",
        "begindatum",
        "startdatum",
        "ingangsdatum",
        "aanvangsdatum",
        "datum ingang",
    ),
    "end_date": (
        "end date",
        "expiry date",
        "expiration date",
        "termination date",
        "contract end",
        "contract end date",
        "contract period end date",
        "einddatum",
        "looptijd tot",
        "vervaldatum",
        "afloopdatum",
        "datum einde",
    ),
    "signed_date": (
        "signed date",
        "date signed",
        "signed on",
        "signature date",
        "signing date",
        "ondertekend op",
        "ondertekeningsdatum",
        "datum ondertekening",
        "getekend op",
        "tekendatum",
    ),
    "amount": (
        "contract value",
        "value amount",
        "total value",
        "contract amount",
        "bedrag",
        "contractwaarde",
        "contractbedrag",
        "totaalbedrag",
        "totale waarde",
        # Amounts are net of VAT, so "bedrag incl. btw" and "btw-bedrag" stay
        # ignored.
        "bedrag excl btw",
        "bedrag exclusief btw",
        "bedrag ex btw",
        "netto bedrag",
        "net amount",
        "amount excl vat",
        "amount excluding vat",
    ),
    "currency": (
        "value currency",
        "currency code",
        "valuta",
        "munteenheid",
    ),
    "vat_rate": (
        "vat rate",
        "vat percentage",
        "tax rate",
        "btw tarief",
        "btw percentage",
    ),
    "payment_frequency": (
        "payment frequency",
        "billing frequency",
        "invoice frequency",
        "invoicing frequency",
        "billing cycle",
        "billing period",
        "betaalfrequentie",
        "betalingsfrequentie",
        "betaaltermijn",
        "facturatiefrequentie",
        "factuurfrequentie",
        "facturatiefrequentie",
    ),
    "auto_renewal": (
        "auto renewal",
        "automatic renewal",
        "auto renew",
        "renews automatically",
        "tacit renewal",
        "stilzwijgende verlenging",
        "automatische verlenging",
        "stilzwijgend verlengen",
    ),
    "notice_period": (
        "notice",
        "termination notice",
        "period of notice",
        "opzegtermijn",
        "opzegperiode",
    ),
    "renewal_term": (
        "renewal period",
        "extension period",
        "verlengingstermijn",
        "verlengingsperiode",
        "verlengperiode",
    ),
    "indexation": (
        "price indexation",
        "price index",
        "indexatie",
        "indexering",
        "prijsindexatie",
    ),
    "description": (
        "tender description",
        "contract description",
        "omschrijving",
        "beschrijving",
        "toelichting",
    ),
    "owner_email": (
        "owner",
        "owner e-mail",
        "contract owner",
        "contract manager",
        "account manager",
        "eigenaar",
        "contracteigenaar",
        "contractbeheerder",
        "verantwoordelijke",
    ),
    "tags": ("tag", "labels", "label"),
}

# Headers that probably name a field but lose to a strong synonym in the same file.
_WEAK_SYNONYMS: dict[str, tuple[str, ...]] = {
    "number": ("reference", "ref", "id", "no", "nr", "nummer", "referentie"),
    "name": ("subject", "onderwerp"),
    "client": ("directorate", "agency", "department", "organisation", "organization"),
    "contract_type": ("type", "kind", "soort"),
    "start_date": ("start", "begin", "from", "van", "ingang"),
    "end_date": ("end", "expiry", "until", "tot", "einde"),
    "signed_date": ("signed", "ondertekend", "getekend"),
    "amount": ("value", "waarde", "price", "prijs", "total", "totaal"),
    "currency": ("cur", "ccy"),
    # A bare "VAT" or "BTW" column contains a rate more often than a VAT number.
    "vat_rate": ("vat", "btw", "tax"),
    # "Termijn" is the Dutch word for an instalment, so it names how often one is paid.
    "payment_frequency": ("frequency", "frequentie", "termijn"),
    "notice_period": ("opzegging",),
    "indexation": ("index",),
    "description": ("details", "summary", "samenvatting"),
    "owner_email": ("manager", "beheerder"),
    "tags": ("keywords", "trefwoorden"),
}


# Amount headers, as normalize_header() writes them, that name the total value of a
# contract rather than the amount per payment. Public registers use them for
# one-off contracts, where the two are the same.
TOTAL_VALUE_HEADERS = frozenset(
    {
        "contractvalue",
        "totalvalue",
        "totalcontractvalue",
        "contractwaarde",
        "totaalbedrag",
        "totalewaarde",
    }
)


def normalize_header(text: str) -> str:
    """Return `text` casefolded, without accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if char.isalnum())


def _build_synonym_index() -> dict[str, tuple[str, MatchStrength]]:
    index: dict[str, tuple[str, MatchStrength]] = {}
    entries: list[tuple[str, str, MatchStrength]] = [
        (field, field, MatchStrength.EXACT) for field in CANONICAL_FIELDS
    ]
    for synonyms, strength in (
        (_STRONG_SYNONYMS, MatchStrength.STRONG),
        (_WEAK_SYNONYMS, MatchStrength.WEAK),
    ):
        for field, names in synonyms.items():
            entries.extend((name, field, strength) for name in names)

    for name, field, strength in entries:
        key = normalize_header(name)
        known = index.get(key)
        if known is not None and known[0] != field:
            raise RuntimeError(
                f"Header {name!r} is a synonym of {known[0]} and {field}."
            )
        if known is None or strength < known[1]:
            index[key] = (field, strength)
    return index


_SYNONYM_INDEX = _build_synonym_index()


def match_header(header: str) -> tuple[str, MatchStrength] | None:
    """Return the canonical field that `header` names and how strongly, or None."""
    return _SYNONYM_INDEX.get(normalize_header(header))


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """The canonical field of every column in a file, or None for an ignored column."""

    headers: tuple[str, ...]
    fields: tuple[str | None, ...]

    def index_of(self, field: str) -> int | None:
        """Return the 0-based index of the column mapped to `field`, or None."""
        try:
            return self.fields.index(field)
        except ValueError:
            return None

    def header_of(self, field: str) -> str | None:
        """Return the header of the column mapped to `field`, or None."""
        index = self.index_of(field)
        return None if index is None else self.headers[index]

    @property
    def mapped_fields(self) -> dict[str, str]:
        """Canonical field to source header, for every mapped column."""
        return {
            field: header
            for header, field in zip(self.headers, self.fields, strict=True)
            if field is not None
        }

    @property
    def ignored_columns(self) -> list[str]:
        """Headers of the columns that map to no field, in file order."""
        return [
            header
            for header, field in zip(self.headers, self.fields, strict=True)
            if field is None
        ]


def resolve_columns(
    headers: list[str], explicit: dict[str, str] | None = None
) -> ColumnMapping:
    """Map every header to a canonical field, or to None when the column is ignored.

    `explicit` maps a source header to a canonical field, or to "" or "-" to ignore
    that column. Columns it does not name are matched by synonym. When several
    columns name the same field, the strongest match wins, then, for the amount,
    a header that names no total value (`Bedrag` over `Contractwaarde`), then the
    leftmost, and the others are ignored. Raises ImportFileError for an unknown
    header or field.
    """
    fields: list[str | None] = [None] * len(headers)
    decided = _apply_explicit(headers, explicit or {}, fields)
    _apply_synonyms(headers, decided, fields)

    mapping = ColumnMapping(headers=tuple(headers), fields=tuple(fields))
    logger.debug(
        "Resolved columns %s, ignored %s",
        mapping.mapped_fields,
        mapping.ignored_columns,
    )
    return mapping


def _apply_explicit(
    headers: list[str], explicit: Mapping[str, str], fields: list[str | None]
) -> set[int]:
    """Write the explicit choices into `fields` and return the indexes they decide."""
    decided: set[int] = set()
    sources_by_field: dict[str, str] = {}
    for source, target in explicit.items():
        index = _find_source_header(headers, source)
        field = _find_canonical_field(source, target)
        if field is not None:
            if field in sources_by_field:
                raise ImportFileError(
                    f"The column mapping maps both {sources_by_field[field]!r} and "
                    f"{source!r} to {field!r}; map only one column to each field."
                )
            sources_by_field[field] = source
        fields[index] = field
        decided.add(index)
    return decided


def mapping_errors(explicit: Mapping[str, str]) -> list[str]:
    """Return a message for each target of `explicit` that is no canonical field,
    and for each field that several columns map to.

    These are the checks of `resolve_columns` that need no file, so a job can
    reject its mapping before it stores the file. Headers are checked against the
    file when the import reads it.
    """
    messages: list[str] = []
    sources_by_field: dict[str, str] = {}
    for source, target in explicit.items():
        try:
            field = _find_canonical_field(source, target)
        except ImportFileError as error:
            messages.append(str(error))
            continue
        if field is None:
            continue
        if field in sources_by_field:
            messages.append(
                f"The column mapping maps both {sources_by_field[field]!r} and "
                f"{source!r} to {field!r}; map only one column to each field."
            )
        else:
            sources_by_field[field] = source
    return messages


def _find_source_header(headers: list[str], source: str) -> int:
    # NOTE: when a header text occurs twice in the file, only its first column is
    # mapped; the later column falls back to synonym matching.
    if source in headers:
        return headers.index(source)

    wanted = normalize_header(source)
    matches = [
        i for i, header in enumerate(headers) if normalize_header(header) == wanted
    ]
    if len(matches) == 1:
        return matches[0]

    listed = ", ".join(repr(headers[i]) for i in matches)
    if matches:
        raise ImportFileError(
            f"Column {source!r} in the column mapping matches several columns "
            f"({listed}); use the exact header text."
        )

    listed = ", ".join(repr(header) for header in headers)
    raise ImportFileError(
        f"Column {source!r} in the column mapping is not in the file. "
        f"Columns in the file: {listed}."
    )


def _find_canonical_field(source: str, target: str) -> str | None:
    cleaned = target.strip()
    if cleaned in IGNORE_MARKERS:
        return None

    wanted = normalize_header(cleaned)
    for field in CANONICAL_FIELDS:
        if normalize_header(field) == wanted:
            return field

    valid = ", ".join(CANONICAL_FIELDS)
    raise ImportFileError(
        f"Unknown field {target!r} in the column mapping for column {source!r}. "
        f"Valid fields: {valid}; use '-' to ignore the column."
    )


def _apply_synonyms(
    headers: list[str], decided: set[int], fields: list[str | None]
) -> None:
    """Give each field not chosen explicitly its best-matching undecided column."""
    taken = {field for field in fields if field is not None}
    best: dict[str, tuple[MatchStrength, bool, int]] = {}
    for index, header in enumerate(headers):
        match = match_header(header)
        if index in decided or match is None or match[0] in taken:
            continue
        field, strength = match
        # A contract's amount is the amount per payment, so a column that contains
        # it wins over one that contains the total value.
        total_value = normalize_header(header) in TOTAL_VALUE_HEADERS
        rank = (strength, total_value, index)
        if field not in best or rank < best[field]:
            best[field] = rank

    for field, (_strength, _total_value, index) in best.items():
        fields[index] = field
