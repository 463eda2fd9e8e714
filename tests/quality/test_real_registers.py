"""Data quality on real public registers: the ACT Government contracts register
(CC0 1.0) and UK Contracts Finder council contracts (Open Government Licence v3.0),
both shipped with their sources beside them."""

from __future__ import annotations

import uuid
from pathlib import Path

from contractgql.accounts import get_or_create_organization
from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.models import Client, Contract, ContractField, RequiredFieldRule
from contractgql.quality.completeness import Grouping, summarize
from contractgql.quality.signals import SignalKind, SignalOptions, signals_for
from contractgql.security.policy import PERMISSIONS
from contractgql.security.viewer import system_viewer

ROOT = Path(__file__).resolve().parents[2]
ACT_REGISTER = ROOT / "src/contractgql/demo/au_act_contracts_2025.csv"
UK_REGISTER = ROOT / "tests/data/uk_contracts_finder_council_contracts.csv"
OPTIONS = SignalOptions(quiet_days=90, deadline_days=60)


async def test_act_register_completeness_and_signals(settings) -> None:
    organization = await get_or_create_organization(f"ACT {uuid.uuid4().hex[:8]}")
    await import_file(ACT_REGISTER, organization, ImportOptions(currency="AUD"))
    viewer = system_viewer(organization, PERMISSIONS)

    query = Contract.filter(organization_id=organization.id, archived_at=None)
    [whole] = await summarize(viewer, query, Grouping.ORGANIZATION)
    signals = await signals_for(viewer, OPTIONS)

    # The register has no contract types, owners, notice periods or VAT rates,
    # and no signed documents, so no contract is complete.
    assert whole.contracts == 1294
    assert whole.complete == 0
    for field in (
        ContractField.CONTRACT_TYPE,
        ContractField.OWNER,
        ContractField.NOTICE_PERIOD,
        ContractField.VAT_RATE,
        ContractField.SIGNED_DATE,
        ContractField.SIGNED_DOCUMENT,
    ):
        assert whole.missing[field] == 1294
    # Amounts are missing where the register left them empty, not where it has 0.
    empty = await query.filter(amount_minor=None).count()
    assert whole.missing.get(ContractField.AMOUNT, 0) == empty
    ended = await query.filter(end_date__lt=viewer.today).count()
    kinds = [signal.kind for signal in signals]
    assert kinds.count(SignalKind.PAST_END_DATE) == ended
    assert kinds.count(SignalKind.RENEWAL_NOT_RECORDED) == 0
    # The organization's VAT rates (Dutch 21% and 9%) are for its euro contracts,
    # and these AUD contracts have no VAT rate of their own, so none is checked.
    assert kinds.count(SignalKind.AMOUNT_LOOKS_VAT_INCLUSIVE) == 0

    # In an Australian organization the GST rate of 10% applies. 500,879.50 is
    # 455,345 plus 10%, so the register's amounts look tax-inclusive.
    organization.default_currency = "AUD"
    organization.vat_rates = [1000]
    await organization.save(update_fields=["default_currency", "vat_rates"])
    vat_only = frozenset({SignalKind.AMOUNT_LOOKS_VAT_INCLUSIVE})
    tape = await query.get(number="HM-23969-DIQ")
    signals = await signals_for(viewer, OPTIONS, vat_only, [tape.id])
    [vat] = signals
    assert vat.kind is SignalKind.AMOUNT_LOOKS_VAT_INCLUSIVE
    assert vat.reason == (
        "The amount of contract 'Tape Library Refresh 2025' (HM-23969-DIQ) is a "
        "round amount plus 10% VAT, as if VAT were included."
    )


async def test_uk_register_duplicate_buyers(settings) -> None:
    organization = await get_or_create_organization(f"UK {uuid.uuid4().hex[:8]}")
    await import_file(UK_REGISTER, organization, ImportOptions(currency="GBP"))
    viewer = system_viewer(organization, PERMISSIONS)

    signals = await signals_for(
        viewer, OPTIONS, frozenset({SignalKind.DUPLICATE_CLIENT})
    )

    names = dict(
        await Client.filter(organization_id=organization.id).values_list("id", "name")
    )
    pairs = sorted(
        (names[signal.client_id], names[signal.other_client_id]) for signal in signals
    )
    energy = (
        "West Mercia Energy (A Local Authority Joint Committee of Shropshire "
        "Council, Worcestershire County Council, Telford & Wrekin Council and "
        "Herefordshire Council)"
    )
    assert len(pairs) == 2
    assert pairs[0] == (energy, energy + ".")
    assert sorted(pairs[1]) == [
        "West Sussex County Council",
        "West Sussex County Council (CAP)",
    ]


async def test_rule_enforced_on_next_import(settings, tmp_path: Path) -> None:
    organization = await get_or_create_organization(f"Rule {uuid.uuid4().hex[:8]}")
    await import_file(ACT_REGISTER, organization, ImportOptions(currency="AUD"))
    await RequiredFieldRule.create(
        organization_id=organization.id,
        name="Notice periods",
        required_fields=["notice_period"],
        stages=["draft", "signed"],
    )
    header, first, second = ACT_REGISTER.read_text(encoding="utf-8").splitlines()[:3]
    new_row = "NEW-1" + first[first.index(",") :]
    changed = tmp_path / "act.csv"
    changed.write_text("\n".join([header, first, second, new_row]) + "\n")

    unchanged = await import_file(
        ACT_REGISTER, organization, ImportOptions(currency="AUD")
    )
    without_notice = await import_file(
        changed, organization, ImportOptions(currency="AUD")
    )
    with_notice = await import_file(
        changed,
        organization,
        ImportOptions(currency="AUD", default_notice_period=(3, "months")),
    )

    assert unchanged.count("unchanged") == 1294
    assert unchanged.count("rejected") == 2
    assert without_notice.count("unchanged") == 2
    assert [(e.row, e.column) for e in without_notice.errors] == [(4, None)]
    assert without_notice.errors[0].reason == (
        "Notice period is required by rule 'Notice periods' for signed contracts: "
        "enter a value."
    )
    # The default notice period is also written to the two re-imported rows that
    # had none.
    assert with_notice.count("updated") == 2
    assert with_notice.count("created") == 1
    assert with_notice.errors == []
    noticed = Contract.filter(organization_id=organization.id, notice_count=3)
    numbers = await noticed.values_list("number", flat=True)
    assert len(numbers) == 3
    assert "NEW-1" in numbers


async def test_import_edit_of_nonconforming_contract(settings, tmp_path: Path) -> None:
    """A re-import that changes an unrelated field of a contract that already
    breaks a rule goes through, as the same edit through the API does: an empty
    cell over an empty stored value does not count as setting the field."""
    organization = await get_or_create_organization(f"Rule {uuid.uuid4().hex[:8]}")
    first = tmp_path / "first.csv"
    first.write_text(
        "number,name,client,status,start date,end date,amount\n"
        "K-1,Hosting,Acme BV,draft,2026-01-01,2026-12-31,\n",
        encoding="utf-8",
    )
    later = tmp_path / "later.csv"
    later.write_text(
        "number,name,client,status,start date,end date,amount\n"
        "K-1,Hosting,Acme BV,draft,2026-01-01,2027-11-30,\n",
        encoding="utf-8",
    )
    await import_file(first, organization, ImportOptions())
    await RequiredFieldRule.create(
        organization_id=organization.id,
        name="Drafts need a price",
        required_fields=["amount"],
        stages=["draft"],
    )

    report = await import_file(later, organization, ImportOptions())
    stored = await Contract.get(organization_id=organization.id, number="K-1")

    assert report.errors == []
    assert report.count("updated") == 1
    assert str(stored.end_date) == "2027-11-30"
    assert stored.amount_minor is None
