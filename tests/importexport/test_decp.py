"""Importing French public procurement data (DECP), on every backend."""

from __future__ import annotations

import json
import tempfile
import tracemalloc
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from bench.decp_file import decp_record, write_decp

from contractgql.accounts import get_or_create_organization
from contractgql.importexport.decp import CHUNK_BYTES, is_placeholder_amount, read_decp
from contractgql.importexport.errors import ImportFileError
from contractgql.importexport.importer import ImportOptions, ImportProgress, import_file
from contractgql.models import AuditLog, AuditOutbox, Client, Contract, Organization

ROOT = Path(__file__).resolve().parents[2]
DECP_SAMPLE = ROOT / "tests/data/fr_decp_sample.json"
DECP = ImportOptions(file_format="decp")
NOT_DECP = (
    "has no 'marches' list of contracts, so it is not a DECP file. Import a CSV or "
    "XLSX register with the register format instead."
)

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


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point tempfile at an empty directory, so that left-over files show."""
    directory = tmp_path / "temp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


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
    first_row = next(iter(source.table.rows))
    first = dict(zip(source.table.headers, first_row.cells, strict=True))
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


def test_read_decp_empty_or_missing_list(tmp_path: Path, temp_dir: Path) -> None:
    for name, data in (
        ("empty.json", {"marches": []}),
        ("wrapped_empty.json", {"marches": {"marche": []}}),
        ("wrapped_other.json", {"marches": {"contrats": [decp_record(1)]}}),
        ("list.json", [decp_record(1)]),
    ):
        path = tmp_path / name
        path.write_text(json.dumps(data))

        with pytest.raises(ImportFileError) as raised:
            read_decp(path)

        assert str(raised.value) == f"{name} {NOT_DECP}"
    assert list(temp_dir.iterdir()) == []


def test_read_decp_wrapped_form(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.json"
    records = [decp_record(1), "not a record", decp_record(2)]
    path.write_text(json.dumps({"marches": {"marche": records}}))

    source = read_decp(path)

    rows = list(source.table.rows)
    source.table.close()
    assert [row.number for row in rows] == [1, 2, 3]
    first = dict(zip(source.table.headers, rows[0].cells, strict=True))
    assert first["number"] == "200000000000012024M00000001"
    assert first["client_coc_number"] == "20000000000001"
    assert first["amount"] == "1001.01"
    assert first["end_date"] == "2025-04-14"
    # A record that is not an object reads as an empty one.
    assert rows[1].cells == (
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "EUR",
        "one_off",
        "",
    )
    assert source.warnings == []
    assert source.history == {}


def test_read_decp_keeps_numbers_exact(tmp_path: Path) -> None:
    path = tmp_path / "exact.json"
    path.write_text(
        '{"marches": [{"montant": 1234567890123.45, "modifications": '
        '[{"montant": 0.1}, {"montant": 20000000000000000.07}]}]}'
    )

    source = read_decp(path)

    row = next(iter(source.table.rows))
    source.table.close()
    assert row.cells[9] == "20000000000000000.07"
    assert source.history == {
        1: [
            {"amount": Decimal("1234567890123.45"), "end_date": None},
            {"amount": Decimal("0.1")},
            {"amount": Decimal("20000000000000000.07")},
        ]
    }


def test_read_decp_invalid_json_midway(tmp_path: Path, temp_dir: Path) -> None:
    path = tmp_path / "broken.json"
    write_decp(path, 2_000)
    data = path.read_bytes()
    # Drop the opening quote of record 1,500's contract type.
    broken = data.index(b'"_type"', data.index(b"2024M00001500") - 100) + 9
    assert data[broken : broken + 6] == b'"March'
    path.write_bytes(data[:broken] + data[broken + 1 :])
    start = broken // CHUNK_BYTES * CHUNK_BYTES

    with pytest.raises(ImportFileError) as raised:
        read_decp(path)

    assert str(raised.value) == (
        "broken.json is not valid JSON (lexical error: invalid char in json text, "
        f"in bytes {start:,} to {start + CHUNK_BYTES:,}, near: "
        'difications": []}, {"_type": Marché", "uid": "2000000000050). '
        "A DECP file is the JSON that data.gouv.fr publishes, with a 'marches' list."
    )
    assert list(temp_dir.iterdir()) == []


def test_read_decp_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "truncated.json"
    write_decp(path, 10)
    data = path.read_bytes()[:-20]
    path.write_bytes(data)

    with pytest.raises(ImportFileError) as raised:
        read_decp(path)

    assert str(raised.value) == (
        "truncated.json is not valid JSON (parse error: premature EOF, in bytes 0 "
        f"to {len(data):,}). A DECP file is the JSON that data.gouv.fr publishes, "
        "with a 'marches' list."
    )


def test_read_decp_byte_order_marks(tmp_path: Path) -> None:
    text = json.dumps({"marches": [decp_record(7)]}, ensure_ascii=False)
    for encoding in ("utf-8-sig", "utf-16", "utf-32"):
        path = tmp_path / f"{encoding}.json"
        path.write_bytes(text.encode(encoding))

        source = read_decp(path)

        rows = list(source.table.rows)
        source.table.close()
        assert len(rows) == 1
        assert rows[0].cells[1] == "Entretien des espaces verts, lot 7"
        assert rows[0].cells[9] == "1007.07"


def test_read_decp_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"

    with pytest.raises(ImportFileError) as raised:
        read_decp(path)

    assert str(raised.value) == (
        f"Cannot read {path}: No such file or directory. Check the path and "
        "permissions."
    )


def traced_peak_of_one_pass(path: Path) -> int:
    """Return the tracemalloc peak of read_decp and one pass over its rows."""
    tracemalloc.start()
    try:
        source = read_decp(path)
        count = sum(1 for _ in source.table.rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    source.table.close()
    assert count == len(source.table.rows)
    return peak


def test_read_decp_memory_stays_flat(tmp_path: Path) -> None:
    small = tmp_path / "small.json"
    large = tmp_path / "large.json"
    write_decp(small, 2_000)
    write_decp(large, 20_000)

    small_peak = traced_peak_of_one_pass(small)
    large_peak = traced_peak_of_one_pass(large)

    # Records are parsed and written to the temporary file one at a time, so 10
    # times the records may not double the peak. Measured here: about 0.9 MiB and
    # 0.8 MiB, but 7.1 MiB and 71 MiB when json.load read the file whole.
    assert large_peak < 2 * small_peak


async def test_decp_temp_file_gone_after_import(
    settings, tmp_path: Path, temp_dir: Path
) -> None:
    organization = await new_organization()
    path = tmp_path / "decp.json"
    write_decp(path, 5)

    report = await import_file(path, organization, DECP)

    assert report.count("created") == 5
    assert list(temp_dir.iterdir()) == []


async def test_decp_temp_file_gone_after_failure(
    settings, tmp_path: Path, temp_dir: Path
) -> None:
    organization = await new_organization()
    path = tmp_path / "decp.json"
    write_decp(path, 5)

    async def fail(progress: ImportProgress) -> None:
        raise RuntimeError("progress failed")

    with pytest.raises(RuntimeError, match="progress failed") as raised:
        await import_file(path, organization, DECP, progress=fail)

    # The traceback still refers to the import's frames and so to its table.
    assert raised.traceback
    assert list(temp_dir.iterdir()) == []
    assert await Contract.filter(organization_id=organization.id).count() == 0
