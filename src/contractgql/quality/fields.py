"""Checked contract fields: their columns and input names, and who may learn that one
is missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contractgql.models import ContractField, ContractStage
from contractgql.security.viewer import Viewer


@dataclass(frozen=True)
class FieldSpec:
    """A checked field: its columns, its GraphQL input name and its label."""

    columns: tuple[str, ...]
    input_name: str
    label: str
    # The GraphQL field of Contract whose read permission its absence needs.
    graphql_field: str | None = None


FIELD_SPECS: dict[ContractField, FieldSpec] = {
    ContractField.NUMBER: FieldSpec(("number",), "number", "Contract number"),
    ContractField.CONTRACT_TYPE: FieldSpec(
        ("contract_type_id",), "contract_type_id", "Contract type"
    ),
    ContractField.OWNER: FieldSpec(("owner_id",), "owner_id", "Owner"),
    ContractField.CONTACT: FieldSpec(("contact_id",), "contact_id", "Client contact"),
    ContractField.DESCRIPTION: FieldSpec(
        ("description",), "description", "Description"
    ),
    ContractField.END_DATE: FieldSpec(("end_date",), "end_date", "End date"),
    ContractField.SIGNED_DATE: FieldSpec(
        ("signed_date",), "signed_date", "Signed date"
    ),
    ContractField.NOTICE_PERIOD: FieldSpec(
        ("notice_count", "notice_unit"), "notice_period", "Notice period"
    ),
    ContractField.RENEWAL_TERM: FieldSpec(
        ("renewal_term_count", "renewal_term_unit"), "renewal_term", "Renewal term"
    ),
    ContractField.AMOUNT: FieldSpec(("amount_minor",), "amount", "Amount", "amount"),
    ContractField.VAT_RATE: FieldSpec(
        ("vat_rate_bp",), "vat_rate", "VAT rate", "vatRate"
    ),
    # Documents are not columns of the contract: see has_signed_document.
    ContractField.SIGNED_DOCUMENT: FieldSpec((), "stage", "Signed contract document"),
}

# Checked by the completeness report for every contract, besides the fields that
# rules require. Signed contracts are also checked for their signed date and
# document.
DEFAULT_CHECKED = (
    ContractField.CONTRACT_TYPE,
    ContractField.OWNER,
    ContractField.NOTICE_PERIOD,
    ContractField.AMOUNT,
    ContractField.VAT_RATE,
)
SIGNED_CHECKED = (ContractField.SIGNED_DATE, ContractField.SIGNED_DOCUMENT)


def may_check(viewer: Viewer, field: ContractField) -> bool:
    """Return whether the viewer may learn that `field` is missing.

    A missing protected field is reported only to roles that may read it, so that
    neither its value nor its absence reaches anyone else.
    """
    graphql_field = FIELD_SPECS[field].graphql_field
    return graphql_field is None or viewer.fields.may_read("Contract", graphql_field)


def is_missing(row: Any, field: ContractField, signed_document: bool) -> bool:
    """Return whether `row`, a contract or a dict of its columns, lacks `field`."""
    if field is ContractField.SIGNED_DOCUMENT:
        return not signed_document
    for column in FIELD_SPECS[field].columns:
        value = row[column] if isinstance(row, dict) else getattr(row, column)
        if value is None or (isinstance(value, str) and not value.strip()):
            return True
    return False


def checked_fields(
    stage: str, rule_fields: set[ContractField], viewer: Viewer | None
) -> list[ContractField]:
    """Return the fields the completeness report checks on a contract in `stage`."""
    fields = set(DEFAULT_CHECKED) | rule_fields
    if stage == ContractStage.SIGNED:
        fields |= set(SIGNED_CHECKED)
    ordered = [field for field in ContractField if field in fields]
    if viewer is None:
        return ordered
    return [field for field in ordered if may_check(viewer, field)]
