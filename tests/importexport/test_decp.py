"""Importing French public procurement data (DECP), on every backend."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from contractgql.accounts import get_or_create_organization
from contractgql.importexport.decp import is_placeholder_amount, read_decp
from contractgql.importexport.errors import ImportFileError
from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.models import AuditLog, AuditOutbox, Client, Contract, Organization

ROOT = Path(__file__).resolve().parents[2]
DECP_SAMPLE = ROOT / "tests/data/fr_decp_sample.json"
DECP = ImportOptions(file_format="decp")

# number: (start, end, amount in cents, client SIRET)
EXPECTED_CONTRACTS = {
    "242010056000732018MC1804600": (
        date(2018, 1, 20),
        date(2022, 1, 19),
        None,
        "24201005600073",
    ),
    "200063402000162018E030000": (
        date(2018, 12, 26),
        date(2022, 12, 25),
        None,
        "20006340200016",
    ),
    "211300876000112019MAPA28201801": (
        date(2019, 1, 29),
        date(2023, 1, 28),
        5286600,
        "21130087600011",
    ),
    "20001784600011201800480101": (
        date(2018, 11, 13),
        date(2019, 11, 12),
        44000000,
        "20001784600011",
    ),
    "223200015000122018DSPRETENUE00": (
        date(2019, 1, 1),
        date(2023, 12, 31),
        150000000,
        "22320001500012",
    ),
    "2174013480001620180001-0200": (
        date(2018, 11, 27),
        date(2019, 4, 26),
        7100000,
        "21740134800016",
    ),
    "266204130000552018757518L101": (
        date(2018, 12, 21),
        date(2019, 12, 20),
        1600000,
        "26620413000055",
    ),
    "214500688000122018421800": (
        date(2018, 8, 31),
        date(2019, 2, 27),
        4018000,
        "21450068800012",
    ),
    "252600192000222018P1218S024400": (
        date(2018, 12, 20),
        date(2021, 12, 19),
        4298010,
        "25260019200022",
    ),
    "252600192000222019P0319S024800": (
        date(2019, 2, 19),
        date(2019, 10, 18),
        2500000,
        "25260019200022",
    ),
    "200023307000162018CA260100": (
        date(2018, 12, 21),
        date(2019, 12, 20),
        None,
        "20002330700016",
    ),
}


async def new_organization() -> Organization:
    return await get_or_create_organization(f"DECP {uuid.uuid4().hex[:10]}")


async def audit_changes(contract_id: int) -> list[tuple[str, list[dict[str, object]]]]:
    """Return (action, changes) of a contract's audit events, oldest first."""
    events = [
        (row.created_at, row.id, row.action, row.changes)
        for model in (AuditOutbox, AuditLog)
        for row in await model.filter(entity_type="Contract", entity_id=contract_id)
    ]
    return [(action, changes) for _, _, action, changes in sorted(events)]


@pytest.mark.parametrize(
    ("amount", "placeholder"),
    [
        ("0", True),
        ("1", True),
        ("999999", True),
        ("999999999", True),
        ("99999", False),
        ("999999999.50", False),
        ("2", False),
        ("13216", False),
    ],
)
def test_placeholder_amounts(amount: str, placeholder: bool) -> None:
    assert is_placeholder_amount(Decimal(amount)) is placeholder


def test_read_decp_rows_and_warnings() -> None:
    source = read_decp(DECP_SAMPLE)

    assert len(source.table.rows) == 11
    first = dict(zip(source.table.headers, source.table.rows[0].cells, strict=True))
    assert first["number"] == "242010056000732018MC1804600"
    assert first["client"] == "Communauté d'Agglomération du Pays Ajaccien"
    assert first["client_coc_number"] == "24201005600073"
    assert first["start_date"] == "2018-01-20"
    assert first["end_date"] == "2022-01-19"
    assert first["amount"] == ""
    assert first["description"] == (
        "Suppliers: OVIVE (SIRET 42399908500057)\n"
        "Procedure: Appel d'offres ouvert\nCPV: 90513500"
    )
    assert [(w.row, w.column, w.value) for w in source.warnings] == [
        (1, "montant", "0"),
        (2, "montant", "999999999"),
        (11, "montant", "1"),
    ]
    assert source.history == {
        3: [
            {"amount": Decimal("13216"), "end_date": date(2023, 1, 28)},
            {"amount": Decimal("52866")},
        ],
        4: [
            {"amount": Decimal("440000"), "end_date": date(2020, 11, 12)},
            {"end_date": date(2019, 11, 12)},
        ],
        7: [
            {"amount": Decimal("192000"), "end_date": date(2019, 12, 20)},
            {"amount": Decimal("16000")},
        ],
    }


def test_read_decp_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"contracts": []}))

    with pytest.raises(ImportFileError, match="has no 'marches' list"):
        read_decp(path)


async def test_decp_import_values(settings) -> None:
    organization = await new_organization()

    report = await import_file(DECP_SAMPLE, organization, DECP)

    assert report.count("created") == 11
    assert report.errors == []
    contracts = await Contract.filter(organization_id=organization.id)
    clients = {
        client.id: client.coc_number
        for client in await Client.filter(organization_id=organization.id)
    }
    found = {
        contract.number: (
            contract.start_date,
            contract.end_date,
            contract.amount_minor,
            clients[contract.client_id],
        )
        for contract in contracts
    }
    assert found == EXPECTED_CONTRACTS
    assert {contract.currency for contract in contracts} == {"EUR"}
    assert len(clients) == 10


async def test_decp_placeholder_warnings(settings) -> None:
    organization = await new_organization()

    report = await import_file(DECP_SAMPLE, organization, DECP)

    assert [(w.row, w.column, w.value) for w in report.warnings] == [
        (1, "montant", "0"),
        (2, "montant", "999999999"),
        (11, "montant", "1"),
    ]
    assert report.warnings[0].message.startswith("Placeholder amount")


async def test_decp_amendments_in_history(settings) -> None:
    organization = await new_organization()

    report = await import_file(DECP_SAMPLE, organization, DECP)

    rousset = await Contract.get(
        organization_id=organization.id, number="211300876000112019MAPA28201801"
    )
    history = await audit_changes(rousset.id)
    assert [action for action, _ in history] == ["contract.create", "contract.update"]
    assert history[1][1] == [{"field": "amount", "old": "13216.00", "new": "52866.00"}]
    etampes = await Contract.get(
        organization_id=organization.id, number="20001784600011201800480101"
    )
    history = await audit_changes(etampes.id)
    assert history[1][1] == [
        {"field": "endDate", "old": "2020-11-12", "new": "2019-11-12"}
    ]
    request_ids = {
        row.request_id
        for model in (AuditOutbox, AuditLog)
        for row in await model.filter(organization_id=organization.id)
    }
    assert request_ids == {report.request_id}


async def test_decp_reimport_changes_nothing(settings) -> None:
    organization = await new_organization()
    await import_file(DECP_SAMPLE, organization, DECP)

    report = await import_file(DECP_SAMPLE, organization, DECP)

    assert report.count("unchanged") == 11
    assert report.count("created") == 0
    assert await Contract.filter(organization_id=organization.id).count() == 11


async def test_decp_matches_client_on_siren(settings) -> None:
    organization = await new_organization()
    # Stored under another name and with the 9-digit SIREN of the buyer's SIRET.
    client = await Client.create(
        organization_id=organization.id,
        name="Rousset (commune)",
        coc_number="211300876",
    )
    by_name = await Client.create(
        organization_id=organization.id, name="DEPARTEMENT DU GERS"
    )

    await import_file(DECP_SAMPLE, organization, DECP)

    rousset = await Contract.get(
        organization_id=organization.id, number="211300876000112019MAPA28201801"
    )
    gers = await Contract.get(
        organization_id=organization.id, number="223200015000122018DSPRETENUE00"
    )
    assert rousset.client_id == client.id
    assert gers.client_id == by_name.id
    assert await Client.filter(organization_id=organization.id).count() == 10


async def test_decp_matches_siret_before_name(settings) -> None:
    organization = await new_organization()
    # The Gers department under another name, with its SIRET.
    gers = await Client.create(
        organization_id=organization.id,
        name="Département du Gers",
        coc_number="22320001500012",
    )

    await import_file(DECP_SAMPLE, organization, DECP)

    concession = await Contract.get(
        organization_id=organization.id, number="223200015000122018DSPRETENUE00"
    )
    assert concession.client_id == gers.id
    assert not await Client.filter(
        organization_id=organization.id, name="DEPARTEMENT DU GERS"
    ).exists()
