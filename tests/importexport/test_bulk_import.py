"""The batched insert of new contracts writes what the per-row service path writes.

Each test imports the same file into two organizations: once as the importer runs
it, and once with every row sent through `create_contract`, which is how imports
wrote rows before batching. Records are compared by their values, with ids
replaced by the names of the records they point to.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from contractgql.accounts import get_or_create_organization
from contractgql.audit.recorder import record_audit
from contractgql.ids import encode_id
from contractgql.importexport import bulk, importer
from contractgql.importexport.importer import ImportOptions, ImportReport, import_file
from contractgql.models import (
    AuditLog,
    AuditOutbox,
    Client,
    Contract,
    ContractType,
    Organization,
    Tag,
    User,
)

ROOT = Path(__file__).resolve().parents[2]
UK_REGISTER = ROOT / "tests/data/uk_contracts_finder_council_contracts.csv"

HEADER = (
    "Contractnummer;Naam;Klant;KvK;BTW-nummer;Soort contract;Status;Begindatum;"
    "Einddatum;Bedrag;Valuta;Frequentie;Verlenging;Opzegtermijn;Omschrijving;Eigenaar;Labels\n"
)
# Rows with {owner} in place of the owner's e-mail address, which is unique
# across organizations. With the header as row 1, rows 8 and 9 have no number and
# repeat one contract, rows 10 to 12 are rejected, and row 13 matches row 3's
# client on its CoC number.
ROWS = (
    "C-1;Onderhoud;Acme BV;12345678;;Onderhoud;actief;01-01-2026;31-12-2026;"
    "€ 1.234,56;EUR;maandelijks;ja;2 maanden;Eerste regel;{owner};ICT, Hosting\n"
    "C-2;Licentie;Beta BV;87654321;NL001234567B01;Licentie;concept;01-02-2026;;"
    "100;EUR;jaarlijks;nee;30 dagen;;;ict\n"
    "C-3;Schoonmaak;Acme BV;;;;opgezegd;01-03-2025;28-02-2026;50;EUR;;;;;;\n"
    "C-4;Yen;Gamma KK;;;Licentie;;01-01-2026;;1000;JPY;;;;;;Hosting|Nieuw\n"
    "C-5;Leeg;Delta BV;;;;;01-01-2026;;;;;;;;;\n"
    "C-6;Zonder eind;Acme BV;;;Nieuw soort;;01-06-2026;;10;EUR;;;1 maand;;;\n"
    ";Zonder nummer;Epsilon BV;;;;;01-01-2026;31-12-2026;5;EUR;;;;;;Nieuw\n"
    ";Zonder nummer;Epsilon BV;;;;;01-01-2026;31-12-2026;5;EUR;;;;;;Nieuw\n"
    "C-9;Onbekend;Zeta BV;;;;vreemd;01-01-2026;;1;EUR;;;;;;Afgewezen\n"
    "C-10;Geen eigenaar;Eta BV;;;;;01-01-2026;;1;EUR;;;;;niemand@example.com;\n"
    "C-11;Yen decimalen;Theta KK;;;;;01-01-2026;;1,5;JPY;;;;;;\n"
    "C-12;Tweede;Beta Holding;87654321;;;;01-01-2026;;7;EUR;;;;;;\n"
)


async def new_organization() -> tuple[Organization, str]:
    """Return a new organization with an active user and that user's e-mail."""
    organization = await get_or_create_organization(f"Bulk {uuid.uuid4().hex[:10]}")
    email = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    await User.create(organization_id=organization.id, email=email, name="Owner")
    await Tag.create(organization_id=organization.id, name="ICT")
    await ContractType.create(organization_id=organization.id, name="Onderhoud")
    await ContractType.create(organization_id=organization.id, name="Licentie")
    return organization, email


def write_register(path: Path, email: str) -> Path:
    path.write_text(HEADER + ROWS.replace("{owner}", email), encoding="utf-8")
    return path


async def import_per_row(
    path: Path, organization: Organization, options: ImportOptions
) -> ImportReport:
    """Import with every new row written by `create_contract`, one at a time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importer._Writer, "_is_new_contract", lambda self, row: False)
        return await import_file(path, organization, options)


def report_values(report: ImportReport) -> dict[str, Any]:
    return {
        "outcomes": [(o.row, o.outcome, o.number, o.detail) for o in report.outcomes],
        "errors": [(e.row, e.column, e.value, e.reason) for e in report.errors],
        "created_clients": report.created_clients,
        "unmapped_contract_types": dict(report.unmapped_contract_types),
    }


async def stored_values(organization: Organization) -> dict[str, Any]:
    """Return the organization's records and audit entries without their ids.

    The outbox is first recorded into the audit log, because the batched path
    writes one outbox event per batch, which becomes one entry per contract.
    """
    org = organization.id
    await record_audit(org)
    names: dict[str, str] = {}
    for label, model in (
        ("Client", Client),
        ("ContractType", ContractType),
        ("Tag", Tag),
        ("Contract", Contract),
    ):
        for record in await model.filter(organization_id=org):
            names[_global_id(label, record.id)] = f"{label}:{record.name}"
    for user in await User.filter(organization_id=org):
        names[_global_id("User", user.id)] = "User:owner"

    contracts = []
    for contract in await Contract.filter(organization_id=org).order_by("number", "id"):
        row = {name: getattr(contract, name) for name in Contract._meta.db_fields}
        for column in ("id", "organization_id", "created_at", "updated_at"):
            row.pop(column)
        row["client_id"] = names[_global_id("Client", contract.client_id)]
        if row["contract_type_id"] is not None:
            row["contract_type_id"] = names[
                _global_id("ContractType", row["contract_type_id"])
            ]
        if row["owner_id"] is not None:
            row["owner_id"] = names[_global_id("User", row["owner_id"])]
        tags = await contract.tags.all().values_list("name", flat=True)
        row["tags"] = sorted(tags)  # type: ignore[arg-type]
        contracts.append(row)

    clients = sorted(
        (client.name, client.coc_number, client.vat_number)
        for client in await Client.filter(organization_id=org)
    )
    events = []
    for event in await AuditLog.filter(organization_id=org):
        events.append(
            (
                event.action,
                event.entity_type,
                names.get(_global_id(event.entity_type, event.entity_id)),
                event.actor_id,
                repr(_replace_ids(event.changes, names)),
            )
        )
    request_ids = {
        event.request_id for event in await AuditLog.filter(organization_id=org)
    }
    return {
        "contracts": contracts,
        "clients": clients,
        "events": sorted(events),
        "request_ids": len(request_ids),
    }


def _global_id(label: str, pk: int) -> str:
    return encode_id(label, pk)


def _replace_ids(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [_replace_ids(item, names) for item in value]
    if isinstance(value, dict):
        return {key: _replace_ids(item, names) for key, item in value.items()}
    return value


async def test_bulk_matches_per_row_register(settings, tmp_path: Path) -> None:
    options = ImportOptions(create_types=True)
    batched_org, batched_email = await new_organization()
    per_row_org, per_row_email = await new_organization()
    batched_path = write_register(tmp_path / "batched.csv", batched_email)
    per_row_path = write_register(tmp_path / "per_row.csv", per_row_email)

    batched = await import_file(batched_path, batched_org, options)
    per_row = await import_per_row(per_row_path, per_row_org, options)

    assert report_values(batched) == report_values(per_row)
    assert batched.count("created") == 8
    assert batched.count("duplicate") == 1
    assert batched.count("unchanged") == 0
    assert batched.count("rejected") == 3
    batched_values = await stored_values(batched_org)
    per_row_values = await stored_values(per_row_org)
    assert batched_values["contracts"] == per_row_values["contracts"]
    assert batched_values["clients"] == per_row_values["clients"]
    assert batched_values["events"] == per_row_values["events"]
    assert batched_values["request_ids"] == 1
    # Contracts, clients, the new contract type and the new tags.
    assert len(batched_values["events"]) == 8 + 5 + 1 + 2


async def test_bulk_matches_per_row_without_types(settings, tmp_path: Path) -> None:
    options = ImportOptions(default_notice_period=(3, "months"))
    batched_org, batched_email = await new_organization()
    per_row_org, per_row_email = await new_organization()
    batched_path = write_register(tmp_path / "batched.csv", batched_email)
    per_row_path = write_register(tmp_path / "per_row.csv", per_row_email)

    batched = await import_file(batched_path, batched_org, options)
    per_row = await import_per_row(per_row_path, per_row_org, options)

    assert report_values(batched) == report_values(per_row)
    assert batched.unmapped_contract_types == {"Nieuw soort": 1}
    assert await stored_values(batched_org) == await stored_values(per_row_org)


async def test_bulk_matches_per_row_uk_register(settings) -> None:
    """A public register with 557 rows, over more than one batch."""
    batched_org, _ = await new_organization()
    per_row_org, _ = await new_organization()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bulk, "BATCH_ROWS", 100)
        batched = await import_file(UK_REGISTER, batched_org, ImportOptions())
    per_row = await import_per_row(UK_REGISTER, per_row_org, ImportOptions())

    assert report_values(batched) == report_values(per_row)
    assert batched.count("created") == 557
    # One outbox event per batch of 100 new contracts, one per contract otherwise.
    for organization, expected in ((batched_org, 6), (per_row_org, 557)):
        events = AuditOutbox.filter(
            organization_id=organization.id, action="contract.create"
        )
        assert await events.count() == expected
    assert await stored_values(batched_org) == await stored_values(per_row_org)


async def test_bulk_reimport_changes_nothing(settings, tmp_path: Path) -> None:
    organization, email = await new_organization()
    path = write_register(tmp_path / "register.csv", email)
    await import_file(path, organization, ImportOptions(create_types=True))
    before = await stored_values(organization)

    again = await import_file(path, organization, ImportOptions(create_types=True))

    assert again.count("created") == 0
    assert again.count("unchanged") == 8
    assert again.count("duplicate") == 1
    assert again.count("rejected") == 3
    after = await stored_values(organization)
    assert after["contracts"] == before["contracts"]
    assert after["events"] == before["events"]
