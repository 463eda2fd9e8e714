"""Importing registers into the database, on every backend."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest

from contractgql.accounts import get_or_create_organization
from contractgql.importexport import bulk, importer
from contractgql.importexport.errors import ImportFileError
from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.jobs.renewals import renew_and_expire
from contractgql.models import AuditOutbox, Client, Contract, Organization

ROOT = Path(__file__).resolve().parents[2]
ACT_REGISTER = ROOT / "src/contractgql/demo/au_act_contracts_2025.csv"
UK_REGISTER = ROOT / "tests/data/uk_contracts_finder_council_contracts.csv"


async def new_organization() -> Organization:
    return await get_or_create_organization(f"Import {uuid.uuid4().hex[:10]}")


async def test_act_register_every_row_accounted(settings) -> None:
    organization = await new_organization()

    report = await import_file(
        ACT_REGISTER, organization, ImportOptions(currency="AUD")
    )

    assert report.total_rows == 1296
    assert report.accounted_for == 1296
    assert report.count("created") == 1294
    assert report.count("rejected") == 2
    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (77, "contract_number", "H2625763"),
        (381, "contract_number", "PIEP0010135"),
    ]
    assert await Contract.filter(organization_id=organization.id).count() == 1294
    assert await Client.filter(organization_id=organization.id).count() == 24


async def test_act_register_row_values(settings) -> None:
    organization = await new_organization()

    await import_file(ACT_REGISTER, organization, ImportOptions(currency="AUD"))

    contract = await Contract.get(organization_id=organization.id, number="PO_26725")
    client = await Client.get(id=contract.client_id)
    assert contract.name == "Action Learning Initiatives"
    assert client.name == "Education Directorate"
    assert contract.start_date == date(2025, 10, 22)
    assert contract.end_date == date(2028, 3, 27)
    assert contract.amount_minor == 35195900
    assert contract.currency == "AUD"


async def test_reimport_updates_not_duplicates(settings) -> None:
    organization = await new_organization()
    await import_file(ACT_REGISTER, organization, ImportOptions(currency="AUD"))
    contract = await Contract.get(organization_id=organization.id, number="19009")
    contract.name = "Renamed by hand"
    await contract.save()

    report = await import_file(
        ACT_REGISTER, organization, ImportOptions(currency="AUD")
    )

    assert report.count("created") == 0
    assert report.count("updated") == 1
    assert report.count("unchanged") == 1293
    assert report.count("rejected") == 2
    assert await Contract.filter(organization_id=organization.id).count() == 1294
    restored = await Contract.get(organization_id=organization.id, number="19009")
    assert restored.name == "Belconnen High School Year 9 Camp 2026 Jindabyne"


async def test_uk_register_buyer_is_client(settings) -> None:
    organization = await new_organization()

    report = await import_file(UK_REGISTER, organization, ImportOptions())

    assert report.total_rows == 683
    assert report.accounted_for == 683
    assert report.count("created") == 557
    assert report.count("duplicate") == 126
    assert report.count("rejected") == 0
    contract = await Contract.get(organization_id=organization.id, number="454733")
    client = await Client.get(id=contract.client_id)
    assert client.name == "Herefordshire Council"
    assert contract.amount_minor == 4500000
    assert contract.currency == "GBP"
    assert contract.start_date == date(2021, 4, 14)
    assert contract.end_date == date(2022, 4, 13)


async def test_dry_run_writes_nothing(settings) -> None:
    organization = await new_organization()

    report = await import_file(UK_REGISTER, organization, ImportOptions(dry_run=True))

    assert report.count("created") == 557
    assert await Contract.filter(organization_id=organization.id).count() == 0
    assert await Client.filter(organization_id=organization.id).count() == 0


async def test_failure_midway_leaves_nothing(settings, monkeypatch) -> None:
    organization = await new_organization()
    calls = 0
    real_check = importer.check_new_contract

    def failing_check(validator, viewer, values):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 100:
            raise RuntimeError("disk full")
        return real_check(validator, viewer, values)

    monkeypatch.setattr(importer, "check_new_contract", failing_check)

    with pytest.raises(RuntimeError, match="disk full"):
        await import_file(UK_REGISTER, organization, ImportOptions())

    assert calls == 100
    assert await Contract.filter(organization_id=organization.id).count() == 0
    assert await Client.filter(organization_id=organization.id).count() == 0


async def test_failed_batch_insert_leaves_nothing(settings, monkeypatch) -> None:
    """The audit insert fails after the batch's contracts were inserted."""
    organization = await new_organization()

    insert = bulk._insert

    async def failing_insert(connection, table, columns, rows):  # type: ignore[no-untyped-def]
        if table != "audit_outbox":
            return await insert(connection, table, columns, rows)
        assert await Contract.filter(organization_id=organization.id).count() > 0
        raise RuntimeError("disk full")

    monkeypatch.setattr(bulk, "_insert", failing_insert)

    with pytest.raises(RuntimeError, match="disk full"):
        await import_file(UK_REGISTER, organization, ImportOptions())

    assert await Contract.filter(organization_id=organization.id).count() == 0
    assert await Client.filter(organization_id=organization.id).count() == 0
    outbox = AuditOutbox.filter(organization_id=organization.id)
    assert await outbox.count() == 0


async def test_bad_rows_reported_good_rows_kept(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "register.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Einddatum;Bedrag;Valuta;Opzegtermijn\n"
        "C-1;Onderhoud;Acme BV;01-01-2026;31-12-2026;€ 1.234,56;EUR;2 maanden\n"
        "C-2;Licentie;Acme BV;01-01-2026;31-12-2025;100;EUR;1 maand\n"
        "C-3;Hosting;Beta BV;01-02-2026;31-01-2027;50;XXX;30 dagen\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 1
    assert report.count("rejected") == 2
    reasons = {(e.row, e.column): e.reason for e in report.errors}
    assert set(reasons) == {(3, "Einddatum"), (4, "Valuta")}
    assert "'31-12-2025'" in reasons[(3, "Einddatum")]
    assert "'XXX'" in reasons[(4, "Valuta")]
    contract = await Contract.get(organization_id=organization.id, number="C-1")
    assert contract.amount_minor == 123456
    assert contract.notice_deadline == date(2026, 10, 31)
    assert (
        await Client.filter(organization_id=organization.id, name="Beta BV").count()
        == 0
    )


async def test_client_values_too_long_rejected(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    long_name = "Acme " * 61
    path = tmp_path / "register.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        f"C-1;Onderhoud;{long_name};;01-01-2026\n"
        f"C-2;Licentie;Beta BV;{'1' * 41};01-01-2026\n"
        "C-3;Hosting;Gamma BV;12345678;01-01-2026\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome) for o in report.outcomes] == [
        (2, "rejected"),
        (3, "rejected"),
        (4, "created"),
    ]
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (
            2,
            "Klant",
            "The client's name has 304 characters, more than the 300 it can "
            "have: shorten it.",
        ),
        (
            3,
            "KvK",
            "The client's chamber of commerce number has 41 characters, more "
            "than the 40 it can have: shorten it.",
        ),
    ]
    assert report.created_clients == 1
    clients = Client.filter(organization_id=organization.id)
    assert await clients.values_list("name", flat=True) == ["Gamma BV"]

    # A stored contract whose row names a new client goes through the services.
    path.write_text(
        f"Contractnummer;Naam;Klant;Begindatum\nC-3;Hosting;{long_name};01-01-2026\n",
        encoding="utf-8",
    )
    again = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome) for o in again.outcomes] == [(2, "rejected")]
    assert again.errors[0].column == "Klant"
    assert await clients.count() == 1


async def test_long_tags_and_types_rejected(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    long_tag, long_type = "T" * 101, "C" * 101
    path = tmp_path / "register.csv"
    path.write_text(
        "Contract number,Title,Client,KvK,Start date,Contract type,Tags\n"
        f"E-1,t,Edge A,,2026-01-01,,{long_tag}\n"
        f"E-2,t,Edge B,,2026-01-01,{long_type},short\n"
        f"E-3,t,Edge C,{'1' * 41},2026-01-01,,\n"
        "E-4,t,Edge C,,2026-01-01,,\n",
        encoding="utf-8",
    )
    options = ImportOptions(create_types=True)

    report = await import_file(path, organization, options)

    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (
            2,
            "Tags",
            "The tag has 101 characters, more than the 100 it can have: shorten it.",
        ),
        (
            3,
            "Contract type",
            "The contract type has 101 characters, more than the 100 it can "
            "have: shorten it.",
        ),
        (
            4,
            "KvK",
            "The client's chamber of commerce number has 41 characters, more "
            "than the 40 it can have: shorten it.",
        ),
    ]
    assert report.count("created") == 1

    # The client of row 4 now exists, and row 4 is still rejected.
    again = await import_file(path, organization, options)

    assert [(o.row, o.outcome) for o in again.outcomes] == [
        (2, "rejected"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "unchanged"),
    ]


async def test_strict_import_writes_nothing_on_error(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "register.csv"
    path.write_text(
        "number,name,client,start date,end date\n"
        "A1,Good,Acme,2026-01-01,2026-12-31\n"
        "A2,Bad,Acme,2026-01-01,2025-12-31\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions(strict=True))

    assert report.count("rejected") == 1
    assert await Contract.filter(organization_id=organization.id).count() == 0


async def test_reimport_without_numbers_adds_nothing(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "zonder_nummer.csv"
    path.write_text(
        "Naam;Klant;Begindatum;Einddatum;Bedrag;Betalingsfrequentie\n"
        "Onderhoud;Acme BV;01-01-2026;31-12-2026;100,00;maandelijks\n"
        "Hosting;Acme BV;01-02-2026;31-01-2027;50,00;per kwartaal\n",
        encoding="utf-8",
    )

    first = await import_file(path, organization, ImportOptions())
    second = await import_file(path, organization, ImportOptions())

    assert first.count("created") == 2
    assert second.count("created") == 0
    assert second.count("unchanged") == 2
    assert await Contract.filter(organization_id=organization.id).count() == 2
    hosting = await Contract.get(organization_id=organization.id, name="Hosting")
    assert hosting.payment_frequency == "quarterly"
    assert hosting.amount_minor == 5000


async def test_number_filled_in_on_a_client_found_by_name(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    acme = await Client.create(organization_id=organization.id, name="Acme BV")
    path = tmp_path / "kvk.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        "C-1;Onderhoud;Acme BV;12345678;01-01-2026\n"
        "C-2;Hosting;Acme Holding;12345678;01-02-2026\n"
        "C-3;Licentie;Beta BV;87654321;01-03-2026\n",
        encoding="utf-8",
    )

    first = await import_file(path, organization, ImportOptions())
    second = await import_file(path, organization, ImportOptions())

    assert first.count("created") == 3
    assert first.created_clients == 1
    assert [(w.row, w.column, w.value, w.message) for w in first.warnings] == [
        (
            3,
            "Klant",
            "Acme Holding",
            "No client is called 'Acme Holding', so the contract joins client "
            "'Acme BV', which has the CoC number '12345678'. Later rows with this "
            "client name join it too. Correct the number if these are different "
            "companies.",
        )
    ]
    assert second.count("unchanged") == 3
    assert second.created_clients == 0
    assert [w.row for w in second.warnings] == [3]
    contracts = await Contract.filter(organization_id=organization.id).order_by(
        "number"
    )
    beta = await Client.get(organization_id=organization.id, name="Beta BV")
    assert [(c.number, c.client_id) for c in contracts] == [
        ("C-1", acme.id),
        ("C-2", acme.id),
        ("C-3", beta.id),
    ]
    assert await Client.filter(organization_id=organization.id).count() == 2
    stored = await Client.get(id=acme.id)
    assert stored.coc_number == "12345678"
    updates = await AuditOutbox.filter(
        organization_id=organization.id, action="client.update"
    ).values_list("entity_id", flat=True)
    assert updates == [acme.id]


async def test_name_joined_on_a_number_keeps_its_client(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    klant_a = await Client.create(organization_id=organization.id, name="Klant A")
    path = tmp_path / "kvk.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        "B-2;Onderhoud;Klant A;01234567;01-01-2026\n"
        "B-3;Hosting;Klant A Holding;1234567;01-01-2026\n"
        "B-4;Licentie;Klant A Holding;;01-01-2026\n",
        encoding="utf-8",
    )
    subset = tmp_path / "subset.csv"
    subset.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        "B-3;Hosting;Klant A Holding;1234567;01-01-2026\n"
        "B-4;Licentie;Klant A Holding;;01-01-2026\n",
        encoding="utf-8",
    )

    first = await import_file(path, organization, ImportOptions())
    second = await import_file(path, organization, ImportOptions())
    part = await import_file(subset, organization, ImportOptions())

    assert first.count("created") == 3
    assert first.created_clients == 0
    assert [(w.row, w.column, w.value) for w in first.warnings] == [
        (3, "Klant", "Klant A Holding"),
        (4, "Klant", "Klant A Holding"),
    ]
    assert first.warnings[1].message == (
        "No client is called 'Klant A Holding', and row 3 joined that name to "
        "client 'Klant A' on its registration number, so this contract joins "
        "'Klant A' too."
    )
    assert second.count("unchanged") == 3
    assert second.errors == []
    assert part.count("unchanged") == 2
    assert part.errors == []
    contracts = Contract.filter(organization_id=organization.id)
    assert set(await contracts.values_list("client_id", flat=True)) == {klant_a.id}
    assert await Client.filter(organization_id=organization.id).count() == 1
    assert (await Client.get(id=klant_a.id)).coc_number == "01234567"


async def test_number_of_another_client_rejected(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    acme = await Client.create(organization_id=organization.id, name="Acme BV")
    await Client.create(organization_id=organization.id, name="Beta BV")
    path = tmp_path / "kvk.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        "C-1;Onderhoud;Acme BV;12345678;01-01-2026\n"
        "C-2;Hosting;Beta BV;12345678;01-02-2026\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome) for o in report.outcomes] == [
        (2, "created"),
        (3, "rejected"),
    ]
    assert [(e.row, e.column, e.value, e.reason) for e in report.errors] == [
        (
            3,
            "KvK",
            "12345678",
            "The CoC number '12345678' belongs to client 'Acme BV', but this row "
            "names client 'Beta BV', which is another client. Correct the number "
            "or the client name.",
        )
    ]
    contract = await Contract.get(organization_id=organization.id)
    assert contract.client_id == acme.id


async def test_unused_total_value_warned(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "beide.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Bedrag excl. btw;Contractwaarde;"
        "Betaalfrequentie\n"
        "W-1;Hosting;Tau BV;01-01-2027;1.000,00;12.000,00;maandelijks\n"
        "W-2;Licentie;Tau BV;01-01-2027;;12.000,00;maandelijks\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 2
    assert [(w.row, w.column, w.value, w.message) for w in report.warnings] == [
        (
            3,
            "Contractwaarde",
            "12.000,00",
            "The amount cell ('Bedrag excl. btw') is empty, so the contract has no "
            "amount. The total value '12.000,00' in the column 'Contractwaarde' "
            "was not used, because the amount is the amount per payment: fill in "
            "the amount cell.",
        )
    ]


async def test_joined_name_never_joins_a_second_client(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    beta = await Client.create(
        organization_id=organization.id, name="Beta NV", coc_number="999"
    )
    await Client.create(
        organization_id=organization.id, name="Zeta BV", coc_number="777"
    )
    path = tmp_path / "kvk.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        "D-12;Onderhoud;Theta BV;0999;01-01-2026\n"
        "D-13;Hosting;Theta BV;777;01-01-2026\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome) for o in report.outcomes] == [
        (2, "created"),
        (3, "rejected"),
    ]
    assert [(w.row, w.message) for w in report.warnings] == [
        (
            2,
            "No client is called 'Theta BV', so the contract joins client "
            "'Beta NV', which has the CoC number '999'. Later rows with this "
            "client name join it too. Correct the number if these are different "
            "companies.",
        )
    ]
    assert [(e.row, e.column, e.value, e.reason) for e in report.errors] == [
        (
            3,
            "KvK",
            "777",
            "The CoC number '777' belongs to client 'Zeta BV', but this row names "
            "'Theta BV', which row 2 joined to client 'Beta NV'. Correct the "
            "number or the client name.",
        )
    ]
    contract = await Contract.get(organization_id=organization.id)
    assert contract.client_id == beta.id


async def test_client_name_case_repeat_is_duplicate(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "case.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Bedrag\n"
        "N-1;Onderhoud;Nu BV;01-01-2026;100,00\n"
        "N-1;Onderhoud;nu  bv;01-01-2026;100,00\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome) for o in report.outcomes] == [
        (2, "created"),
        (3, "duplicate"),
    ]


async def test_other_number_of_client_rejected(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "zonder_nummer.csv"
    path.write_text(
        "Naam;Klant;KvK;Begindatum;Bedrag\n"
        "Onderhoud;Acme BV;11111111;01-01-2026;1,00\n"
        "Hosting;Acme BV;22222222;01-01-2026;2,00\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(e.row, e.column, e.value, e.reason) for e in report.errors] == [
        (
            3,
            "KvK",
            "22222222",
            "Client 'Acme BV' has the CoC number '11111111', but this row gives "
            "'22222222'. Correct the number in the file, or the client's number "
            "through the API if the file is right.",
        )
    ]
    assert report.count("created") == 1


async def test_unnumbered_row_never_overwrites_an_earlier_row(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    path = tmp_path / "zonder_nummer.csv"
    path.write_text(
        "Naam;Klant;KvK;Begindatum;Bedrag\n"
        "Onderhoud;Acme BV;11111111;01-01-2026;1,00\n"
        "Onderhoud;Acme Holding;11111111;01-01-2026;1,00\n"
        "Onderhoud;Acme Groep;11111111;01-01-2026;2,00\n",
        encoding="utf-8",
    )

    first = await import_file(path, organization, ImportOptions())
    second = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome) for o in first.outcomes] == [
        (2, "created"),
        (3, "duplicate"),
        (4, "rejected"),
    ]
    assert first.outcomes[1].detail == "same contract as row 2"
    assert [(e.row, e.column, e.value, e.reason) for e in first.errors] == [
        (
            4,
            "Klant",
            "Acme Groep",
            "Row 2 already wrote the contract 'Onderhoud' of this client starting "
            "2026-01-01, and rows without a contract number are matched on client, "
            "name and start date, so this row would overwrite it. Give each "
            "contract its own number, or remove one of the rows.",
        )
    ]
    assert [(o.row, o.outcome) for o in second.outcomes] == [
        (2, "unchanged"),
        (3, "duplicate"),
        (4, "rejected"),
    ]
    contract = await Contract.get(organization_id=organization.id)
    assert contract.amount_minor == 100


async def test_reimport_keeps_a_renewed_term(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "renew.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Status;Begindatum;Einddatum;Bedrag;"
        "Betaalfrequentie;Stilzwijgende verlenging;Opzegtermijn;Indexatie\n"
        "R-1;Hosting R;Klant R;getekend;01-12-2024;30-11-2025;€ 100,00;maandelijks;"
        "ja;1 maand;3%\n",
        encoding="utf-8",
    )
    await import_file(path, organization, ImportOptions())
    renewals = await renew_and_expire(organization.id, date(2025, 12, 15))
    renewed = await Contract.get(organization_id=organization.id, number="R-1")

    again = await import_file(path, organization, ImportOptions())
    stored = await Contract.get(organization_id=organization.id, number="R-1")
    empty_end = tmp_path / "empty_end.csv"
    empty_end.write_text(
        path.read_text(encoding="utf-8").replace(";30-11-2025;", ";;"),
        encoding="utf-8",
    )
    without_end = await import_file(empty_end, organization, ImportOptions())
    after_empty = await Contract.get(organization_id=organization.id, number="R-1")

    assert renewals.terms_renewed == 1
    assert (renewed.end_date, renewed.amount_minor) == (date(2026, 11, 30), 10300)
    assert again.count("unchanged") == 1
    assert (stored.end_date, stored.amount_minor) == (date(2026, 11, 30), 10300)
    assert [(w.row, w.column, w.value, w.message) for w in again.warnings] == [
        (
            2,
            "Einddatum",
            "30-11-2025",
            "Contract 'R-1' was renewed after the term that ended on 2025-11-30, "
            "and this row has that term's end date, so the contract keeps its "
            "current end date 2026-11-30 and its indexed amount. Put the current "
            "term in the file to change it.",
        )
    ]
    assert without_end.count("unchanged") == 1
    assert (after_empty.end_date, after_empty.amount_minor) == (
        date(2026, 11, 30),
        10300,
    )
    assert [(w.column, w.value) for w in without_end.warnings] == [
        ("Bedrag", "€ 100,00")
    ]


async def test_row_never_moves_a_contract_to_another_client(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    first = tmp_path / "first.csv"
    first.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Bedrag;Betaalfrequentie\n"
        "C-3;Hosting webshop;Jansen Logistiek;01-02-2026;99,99;maandelijks\n",
        encoding="utf-8",
    )
    colliding = tmp_path / "colliding.csv"
    colliding.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Bedrag;Betaalfrequentie\n"
        "C-3;Schoonmaak;Totaal Andere BV;01-05-2026;€ 55,00;maandelijks\n",
        encoding="utf-8",
    )

    await import_file(first, organization, ImportOptions())
    report = await import_file(colliding, organization, ImportOptions())

    assert report.count("rejected") == 1
    assert report.created_clients == 0
    assert [(e.row, e.column, e.value, e.reason) for e in report.errors] == [
        (
            2,
            "Klant",
            "Totaal Andere BV",
            "Contract 'C-3' belongs to client 'Jansen Logistiek', but this row's "
            "client is 'Totaal Andere BV'. Give the row its own contract number if "
            "it is another contract; to move the contract, change its client "
            "through the API first.",
        )
    ]
    contract = await Contract.get(organization_id=organization.id, number="C-3")
    jansen = await Client.get(organization_id=organization.id, name="Jansen Logistiek")
    assert (
        contract.client_id,
        contract.name,
        contract.start_date,
        contract.amount_minor,
    ) == (jansen.id, "Hosting webshop", date(2026, 2, 1), 9999)
    assert await Client.filter(organization_id=organization.id).count() == 1


async def test_reimport_after_another_file_keeps_clients(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    await Client.create(
        organization_id=organization.id,
        name="Bakkerij de Vries B.V.",
        coc_number="12345670",
    )
    kvk_d = tmp_path / "kvk-d.csv"
    kvk_d.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        "D-1;Brood;Bakkerij de Vries B.V.;99999999;01-01-2026\n"
        "D-2;Taart;Bakker Anders;99999999;01-01-2026\n",
        encoding="utf-8",
    )
    kvk_e = tmp_path / "kvk-e.csv"
    kvk_e.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        "E-1;Koek;Bakker Anders;99999999;01-01-2026\n",
        encoding="utf-8",
    )

    first = await import_file(kvk_d, organization, ImportOptions())
    await import_file(kvk_e, organization, ImportOptions())
    again = await import_file(kvk_d, organization, ImportOptions())

    assert [(o.row, o.outcome) for o in first.outcomes] == [
        (2, "rejected"),
        (3, "created"),
    ]
    assert first.errors[0].reason == (
        "Client 'Bakkerij de Vries B.V.' has the CoC number '12345670', but this "
        "row gives '99999999'. Correct the number in the file, or the client's "
        "number through the API if the file is right."
    )
    assert [(o.row, o.outcome) for o in again.outcomes] == [
        (2, "rejected"),
        (3, "unchanged"),
    ]
    assert again.errors[0].reason == (
        "The CoC number '99999999' belongs to client 'Bakker Anders', but this row "
        "names client 'Bakkerij de Vries B.V.', which is another client. Correct "
        "the number or the client name."
    )
    contracts = await Contract.filter(organization_id=organization.id).order_by(
        "number"
    )
    anders = await Client.get(organization_id=organization.id, name="Bakker Anders")
    assert [(c.number, c.client_id) for c in contracts] == [
        ("D-2", anders.id),
        ("E-1", anders.id),
    ]


async def test_total_value_column_with_recurring_payments(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    path = tmp_path / "totaal.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Contractwaarde;Betaalfrequentie\n"
        "T-1;Totaal maandelijks;Klant T;01-01-2027;€ 12.000,00;maandelijks\n"
        "T-2;Eenmalig;Klant T;01-01-2027;€ 5.000,00;eenmalig\n"
        "T-3;Zonder frequentie;Klant T;01-01-2027;€ 7.000,00;\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())
    mapped = await import_file(
        path,
        await new_organization(),
        ImportOptions(mapping={"Contractwaarde": "amount"}),
    )

    assert [(o.row, o.outcome) for o in report.outcomes] == [
        (2, "rejected"),
        (3, "created"),
        (4, "created"),
    ]
    assert [(e.column, e.value, e.reason) for e in report.errors] == [
        (
            "Contractwaarde",
            "12000",
            "The column 'Contractwaarde' reads as the total value of a contract, "
            "but the row is paid monthly, and a contract's amount is the amount per "
            "payment, which gives its MRR. Give the amount per payment in a column "
            "such as 'Amount', or map this column to amount explicitly "
            "(Contractwaarde=amount with --map HEADER=FIELD on the command line, or "
            "the mapping input of startImport) if it holds that amount.",
        )
    ]
    assert mapped.count("created") == 3


async def test_per_payment_column_beats_total_value(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "bedrag_en_waarde.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Einddatum;Contractwaarde;"
        "Bedrag excl. btw;Betaalfrequentie\n"
        "B-1;Maandelijks;Klant B;01-01-2027;31-12-2027;€ 12.000,00;€ 1.000,00;"
        "maandelijks\n"
        "B-2;Eenmalig;Klant B;01-01-2027;31-12-2027;€ 5.000,00;€ 5.000,00;"
        "eenmalig\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome) for o in report.outcomes] == [
        (2, "created"),
        (3, "created"),
    ]
    assert report.errors == []
    assert report.mapped_columns["amount"] == "Bedrag excl. btw"
    assert report.ignored_columns == ["Contractwaarde"]
    contracts = await Contract.filter(organization_id=organization.id).order_by(
        "number"
    )
    assert [(c.number, c.amount_minor) for c in contracts] == [
        ("B-1", 100000),
        ("B-2", 500000),
    ]
    assert [str(c.payment_frequency.value) for c in contracts] == [
        "monthly",
        "one_off",
    ]


async def test_registration_number_without_leading_zero_matches(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    stored = await Client.create(
        organization_id=organization.id,
        name="Gemeente Voorbeeld",
        coc_number="04567890",
    )
    path = tmp_path / "zonder_nul.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;KvK;Begindatum\n"
        "G-1;Onderhoud;Gem. Voorbeeld;4567890;01-01-2026\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 1
    assert report.created_clients == 0
    contract = await Contract.get(organization_id=organization.id, number="G-1")
    assert contract.client_id == stored.id


async def test_comma_decimal_column_rejects_1_234(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "bedragen.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Bedrag\n"
        "B-1;Onderhoud;Acme BV;01-01-2026;€ 1.234,56\n"
        "B-2;Licentie;Acme BV;01-01-2026;€ 1,234\n"
        "B-3;Hosting;Acme BV;01-01-2026;€ 1,5\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 2
    assert [(e.row, e.column) for e in report.errors] == [(3, "Bedrag")]
    assert report.errors[0].value == "€ 1,234"
    assert report.errors[0].reason == (
        "Amount '€ 1,234' is ambiguous: this column uses ',' as decimal separator, "
        "as in '€ 1.234,56', so '€ 1,234' reads with 3 decimal places, more than "
        "the 2 of EUR. Write 1.234 or 1234 for one thousand two hundred "
        "thirty-four. If you meant one and 234 thousandths, write it rounded to 2 "
        "decimal places: 1,23."
    )
    assert not await Contract.filter(
        organization_id=organization.id, number="B-2"
    ).exists()
    hosting = await Contract.get(organization_id=organization.id, number="B-3")
    assert hosting.amount_minor == 150


async def test_unnumbered_repeat_keeps_first_row(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "dup.csv"
    path.write_text(
        "Klant;Naam;Begindatum;Bedrag\n"
        "Acme BV;Onderhoud;01-01-2026;1,00\n"
        "Acme BV;Onderhoud;01-01-2026;2,00\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 1
    assert report.count("updated") == 0
    assert report.count("rejected") == 1
    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (3, "Klant", "Acme BV")
    ]
    assert report.errors[0].reason == (
        "Row 2 has the same client 'Acme BV', name 'Onderhoud' and start date "
        "'01-01-2026' but different values. Rows without a contract number are "
        "matched on client, name and start date, so this row would overwrite that "
        "contract. Give each contract its own number, or remove one of the rows."
    )
    stored = await Contract.filter(organization_id=organization.id)
    assert [contract.amount_minor for contract in stored] == [100]


async def test_unnumbered_identical_repeat_duplicate(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "dup.csv"
    path.write_text(
        "Klant;Naam;Begindatum;Bedrag\n"
        "Acme BV;Onderhoud;01-01-2026;1,00\n"
        "Acme BV;Onderhoud;01-01-2026;1,00\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 1
    assert report.count("duplicate") == 1
    assert report.errors == []
    duplicate = [o for o in report.outcomes if o.outcome == "duplicate"]
    assert [(o.row, o.detail) for o in duplicate] == [(3, "same contract as row 2")]
    assert await Contract.filter(organization_id=organization.id).count() == 1


async def test_ambiguous_amounts_warned(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "bedragen.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Bedrag\n"
        "B-1;Onderhoud;Acme BV;01-01-2026;1,234\n"
        "B-2;Licentie;Acme BV;01-01-2026;2,500\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 2
    assert [(w.row, w.column, w.value, w.field) for w in report.warnings] == [
        (2, "Bedrag", "1,234", "amount")
    ]
    assert report.warnings[0].message == (
        "Amount '1,234' can have ',' as thousands or as decimal separator, and no "
        "amount in this column shows which decimal separator it uses, so it was "
        "read as 1234 (one thousand two hundred thirty-four). Write 1234 to keep "
        "that reading. If you meant one and 234 thousandths, write it rounded to 2 "
        "decimal places: 1,23. 1 other amount of the column can be read both ways "
        "and was read as a whole number too."
    )
    stored = await Contract.filter(organization_id=organization.id).order_by("number")
    assert [contract.amount_minor for contract in stored] == [123400, 250000]


async def test_default_currency_allows_3_decimals(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "bedragen.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum;Bedrag\n"
        "B-1;Onderhoud;Acme BV;01-01-2026;2,50\n"
        "B-2;Licentie;Acme BV;01-01-2026;1,234\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions(currency="KWD"))

    assert report.errors == []
    stored = await Contract.get(organization_id=organization.id, number="B-2")
    assert stored.amount_minor == 1234
    assert stored.currency == "KWD"


async def test_formula_without_result_rejected(settings, tmp_path: Path) -> None:
    import openpyxl

    organization = await new_organization()
    path = tmp_path / "formulas.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["number", "name", "client", "start date", "amount"])
    sheet.append(["F-1", "Computed", "Acme", "2026-01-01", "=100*2"])
    sheet.append(["F-2", "Typed", "Acme", "2026-01-01", 300])
    workbook.save(path)

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 1
    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (2, "amount", "=100*2")
    ]
    assert "without a computed value" in report.errors[0].reason


async def test_update_keeps_values_of_columns_the_file_lacks(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    full = tmp_path / "full.csv"
    full.write_text(
        "number,name,client,status,start date,end date,amount,currency,"
        "payment frequency,auto renewal\n"
        "K-1,Hosting,Acme BV,draft,2026-01-01,2026-12-31,500.00,USD,monthly,yes\n",
        encoding="utf-8",
    )
    partial = tmp_path / "partial.csv"
    partial.write_text(
        "number,name,client,start date,end date\n"
        "K-1,Hosting,Acme BV,2026-01-01,2027-06-30\n",
        encoding="utf-8",
    )
    emptied_cells = tmp_path / "emptied.csv"
    emptied_cells.write_text(
        "number,name,client,status,start date,end date,signed date,amount,currency,"
        "payment frequency,auto renewal,notice period\n"
        "K-1,,Acme BV,,2026-01-01,,,,,,,\n",
        encoding="utf-8",
    )

    await import_file(full, organization, ImportOptions())
    updated = await import_file(partial, organization, ImportOptions())
    kept = await Contract.get(organization_id=organization.id, number="K-1")
    emptied = await import_file(
        emptied_cells,
        organization,
        ImportOptions(default_notice_period=(1, "months")),
    )
    after_empty = await Contract.get(organization_id=organization.id, number="K-1")
    other_default = await import_file(
        emptied_cells,
        organization,
        ImportOptions(default_notice_period=(3, "months")),
    )
    after_default = await Contract.get(organization_id=organization.id, number="K-1")

    assert updated.count("updated") == 1
    assert (
        kept.end_date,
        kept.amount_minor,
        kept.currency,
        kept.payment_frequency,
        kept.stage,
        kept.auto_renewal,
    ) == (date(2027, 6, 30), 50000, "USD", "monthly", "draft", True)
    # Empty cells keep the stored values. The default notice period fills a
    # contract without one.
    assert emptied.count("updated") == 1
    assert other_default.count("unchanged") == 1
    assert after_default.notice_count == 1
    assert (
        after_empty.name,
        after_empty.end_date,
        after_empty.amount_minor,
        after_empty.currency,
        after_empty.payment_frequency,
        after_empty.stage,
        after_empty.auto_renewal,
        after_empty.notice_count,
    ) == ("Hosting", date(2027, 6, 30), 50000, "USD", "monthly", "draft", True, 1)


async def test_reimport_without_amount_column_unchanged(
    settings, tmp_path: Path
) -> None:
    """A file without amounts, such as the export of a role that may not read
    them, leaves contracts with an amount unchanged, at the same version."""
    organization = await new_organization()
    full = tmp_path / "full.csv"
    full.write_text(
        "number,name,client,start date,amount\n"
        "A-1,Hosting,Acme BV,2026-01-01,500.00\n"
        "A-2,Support,Acme BV,2026-01-01,\n",
        encoding="utf-8",
    )
    without_amounts = tmp_path / "without_amounts.csv"
    without_amounts.write_text(
        "number,name,client,start date\n"
        "A-1,Hosting,Acme BV,2026-01-01\n"
        "A-2,Support,Acme BV,2026-01-01\n",
        encoding="utf-8",
    )
    await import_file(full, organization, ImportOptions())

    report = await import_file(without_amounts, organization, ImportOptions())

    assert report.count("unchanged") == 2
    assert report.count("updated") == 0
    contracts = await Contract.filter(organization_id=organization.id).order_by(
        "number"
    )
    assert [(c.number, c.amount_minor, c.version) for c in contracts] == [
        ("A-1", 50000, 1),
        ("A-2", None, 1),
    ]


async def test_conflicting_repeat_names_its_number(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "register.csv"
    path.write_text(
        "number,name,client,start date\n"
        "R-1,Hosting,Acme BV,2026-01-01\n"
        "R-1,Hosting,Other BV,2026-01-01\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome, o.number) for o in report.outcomes] == [
        (2, "created", "R-1"),
        (3, "rejected", "R-1"),
    ]


async def test_rejected_rows_name_their_number_and_cell_text(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    path = tmp_path / "register.csv"
    path.write_text(
        "contract number,name,client,start date,notice period\n"
        "E05,Negative,Zeta,2026-01-01,-1 month\n"
        "E06,Huge,Zeta,2026-01-01,400 months\n"
        "E08,No client,,2026-01-01,1 month\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(o.row, o.outcome, o.number) for o in report.outcomes] == [
        (2, "rejected", "E05"),
        (3, "rejected", "E06"),
        (4, "rejected", "E08"),
    ]
    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (2, "notice period", "-1 month"),
        (3, "notice period", "400 months"),
        (4, "client", ""),
    ]


async def test_update_keeps_the_name_when_the_file_has_no_name_column(
    settings, tmp_path: Path
) -> None:
    organization = await new_organization()
    named = tmp_path / "named.csv"
    named.write_text(
        "number,name,client,start date\nN-1,Hosting,Acme BV,2026-01-01\n",
        encoding="utf-8",
    )
    numbers_only = tmp_path / "numbers.csv"
    numbers_only.write_text(
        "number,client,start date,end date\nN-1,Acme BV,2026-01-01,2027-06-30\n",
        encoding="utf-8",
    )

    await import_file(named, organization, ImportOptions())
    report = await import_file(numbers_only, organization, ImportOptions())

    contract = await Contract.get(organization_id=organization.id, number="N-1")
    assert report.count("updated") == 1
    assert (contract.name, contract.end_date) == ("Hosting", date(2027, 6, 30))


async def test_reimport_writes_added_terms(settings, tmp_path: Path) -> None:
    """A later file that adds notice, VAT, indexation and renewal term updates the
    contract, and the same file again leaves it unchanged."""
    organization = await new_organization()
    bare = tmp_path / "bare.csv"
    bare.write_text(
        "number,name,client,start date,end date\n"
        "K-1,Hosting,Acme BV,2026-01-01,2026-12-31\n",
        encoding="utf-8",
    )
    terms = tmp_path / "terms.csv"
    terms.write_text(
        "number,name,client,start date,end date,notice period,vat rate,indexation,"
        "renewal term\n"
        "K-1,Hosting,Acme BV,2026-01-01,2026-12-31,3 months,21,2.5,12 months\n",
        encoding="utf-8",
    )

    await import_file(bare, organization, ImportOptions())
    updated = await import_file(terms, organization, ImportOptions())
    again = await import_file(terms, organization, ImportOptions())
    stored = await Contract.get(organization_id=organization.id, number="K-1")

    assert updated.count("updated") == 1
    assert again.count("unchanged") == 1
    assert (stored.notice_count, stored.notice_unit) == (3, "months")
    assert (stored.renewal_term_count, stored.renewal_term_unit) == (12, "months")
    assert (stored.vat_rate_bp, stored.indexation_bp) == (2100, 250)


async def test_iso_8859_15_amounts_imported(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "latin9.csv"
    path.write_bytes(
        (
            "Contractnummer;Naam;Klant;Begindatum;Bedrag\n"
            "L-1;Onderhoud;Brasserie Zoë;01-01-2026;€ 1.234,56\n"
            "L-2;Licentie;Œuvre BV;01-01-2026;99,95 €\n"
        ).encode("iso-8859-15")
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.errors == []
    assert report.count("created") == 2
    contracts = Contract.filter(organization_id=organization.id).order_by("number")
    assert await contracts.values_list("number", "amount_minor", "currency") == [
        ("L-1", 123456, "EUR"),
        ("L-2", 9995, "EUR"),
    ]
    clients = Client.filter(organization_id=organization.id).order_by("name")
    assert await clients.values_list("name", flat=True) == [
        "Brasserie Zoë",
        "Œuvre BV",
    ]


async def test_mixed_encoding_file_writes_nothing(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        "number;name;client;start_date\n"
        "M-1;Onderhoud;Café Noël;2026-01-01\n"
        "M-2;Licentie;Brasserie Zoë;2026-01-01\n".encode()
        + "M-3;Hosting;Bäckerei Müller;2026-01-01\n".encode("cp1252")
    )

    with pytest.raises(ImportFileError) as raised:
        await import_file(path, organization, ImportOptions())

    assert str(raised.value).startswith(
        "mixed.csv mixes text encodings: line 4 is not valid UTF-8, but line 2 "
        "contains UTF-8 text."
    )
    assert await Contract.filter(organization_id=organization.id).count() == 0
    assert await Client.filter(organization_id=organization.id).count() == 0


async def test_long_cell_rejects_only_its_row(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    description = "Lorem ipsum " * 12_000
    amount = "12 euro " * 20_000
    path = tmp_path / "long.csv"
    path.write_text(
        "number,name,client,start_date,amount,description\n"
        f'D-1,Onderhoud,Acme,2026-01-01,10,"{description}"\n'
        f"D-2,Licentie,Acme,2026-01-01,{amount},kort\n"
        "D-3,Hosting,Acme,2026-01-01,10,kort\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions(currency="EUR"))

    assert report.count("created") == 1
    assert report.count("rejected") == 2
    assert [(e.row, e.column, e.value, e.reason) for e in report.errors] == [
        (
            2,
            "description",
            # The value is the cell as written, 144,000 characters; the length
            # check counts the cleaned text, without the trailing space.
            description[:200] + "… (144000 characters in all)",
            "Description is 143999 characters long: shorten it to at most 20000.",
        ),
        (
            3,
            "amount",
            amount[:200] + "… (160000 characters in all)",
            "Invalid amount '"
            + amount[:200]
            + "… (160000 characters in all)': expected a number such as 45000, "
            "45,000, 1234.56 or € 1.234,56.",
        ),
    ]
    numbers = Contract.filter(organization_id=organization.id)
    assert await numbers.values_list("number", flat=True) == ["D-3"]


async def test_rejected_value_as_written(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "waarden.csv"
    path.write_text(
        "Contractnummer;Klant;Begindatum;Bedrag;BTW\n"
        "W-1;Acme BV;01-01-2026;€ 1.234,567;21%\n"
        "W-2;Acme BV;01-01-2026;€ 10,00;19%\n"
        "W-3;Acme BV;01-01-2026;€ 10,00;0,21\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (2, "Bedrag", "€ 1.234,567"),
        (3, "BTW", "19%"),
        (4, "BTW", "0,21"),
    ]


async def test_one_month_first_typo_keeps_day_first(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "datums.csv"
    path.write_text(
        "Contractnummer;Naam;Klant;Begindatum\n"
        "D-1;Onderhoud;Acme BV;03-04-2026\n"
        "D-2;Licentie;Acme BV;05-06-2026\n"
        "D-3;Hosting;Acme BV;01-13-2026\n"
        "D-4;Support;Acme BV;31-02-2026\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 2
    assert report.warnings == []
    assert [(e.row, e.column, e.value) for e in report.errors] == [
        (4, "Begindatum", "01-13-2026"),
        (5, "Begindatum", "31-02-2026"),
    ]
    assert [e.reason for e in report.errors] == [
        "Invalid date '01-13-2026': it is valid only month first, but this column "
        "reads every date written with '-' or '.' day first. Write it day first, "
        "as 13-01-2026, or as 2026-01-13.",
        "Invalid date '31-02-2026': read day first, as day 31 of month 2, that day "
        "does not exist (day is out of range for month). Write an existing date "
        "day first, or as yyyy-mm-dd such as 2026-12-31.",
    ]
    stored = await Contract.filter(organization_id=organization.id).order_by("number")
    assert [(c.number, c.start_date) for c in stored] == [
        ("D-1", date(2026, 4, 3)),
        ("D-2", date(2026, 6, 5)),
    ]


async def test_month_first_slash_column_warned(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "dates.csv"
    path.write_text(
        "number,name,client,start date\n"
        "M-1,Support,Acme,03/04/2026\n"
        "M-2,Hosting,Acme,12/31/2026\n"
        "M-3,Licence,Acme,11/30/2026\n"
        "M-4,Training,Acme,05-06-2026\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.errors == []
    assert report.count("created") == 4
    assert [(w.row, w.column, w.value, w.field) for w in report.warnings] == [
        (2, "start date", "03/04/2026", "start_date")
    ]
    assert report.warnings[0].message == (
        "Column 'start date' is read month first because 2 dates such as "
        "'12/31/2026' are valid only month first, against 0 valid only day first, "
        "so '03/04/2026' was read as 2026-03-04. Dates written with '-' or '.' are "
        "still read day first. If the column is day first, correct the 2 dates "
        "valid only month first."
    )
    stored = await Contract.filter(organization_id=organization.id).order_by("number")
    assert [(c.number, c.start_date) for c in stored] == [
        ("M-1", date(2026, 3, 4)),
        ("M-2", date(2026, 12, 31)),
        ("M-3", date(2026, 11, 30)),
        ("M-4", date(2026, 6, 5)),
    ]


async def test_one_slash_month_first_date_rejected(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    path = tmp_path / "dates.csv"
    path.write_text(
        "number,name,client,start date\n"
        "S-1,Support,Acme,03/04/2026\n"
        "S-2,Hosting,Acme,01/13/2026\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 1
    assert report.warnings == []
    assert [(e.row, e.value) for e in report.errors] == [(3, "01/13/2026")]
    assert report.errors[0].reason == (
        "Invalid date '01/13/2026': it is valid only month first, but this column "
        "reads dates written with '/' day first, because it has only 1 date valid "
        "only month first, and a column is read month first from 2 such dates on. "
        "Write the date day first, or as 2026-01-13 if that is the date meant."
    )
    stored = await Contract.get(organization_id=organization.id, number="S-1")
    assert stored.start_date == date(2026, 4, 3)


async def test_million_digit_cells_rejected(settings, tmp_path: Path) -> None:
    organization = await new_organization()
    digits = "9" * 1_000_000
    path = tmp_path / "huge.csv"
    path.write_text(
        "number;name;client;start date;amount;vat;indexation\n"
        f"H-1;Support;Acme;01-01-2026;{digits};21;\n"
        f"H-2;Hosting;Acme;01-01-2026;5;{digits};\n"
        f"H-3;Licence;Acme;01-01-2026;5;21;1,{digits}\n"
        "H-4;Training;Acme;01-01-2026;0,0000000001;21;\n"
        "H-5;Advice;Acme;01-01-2026;5;21;\n",
        encoding="utf-8",
    )

    report = await import_file(path, organization, ImportOptions())

    assert report.count("created") == 1
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "amount"),
        (3, "vat"),
        (4, "indexation"),
        (5, "amount"),
    ]
    shown = f"'{'9' * 200}… (1000000 characters in all)'"
    assert [e.reason for e in report.errors] == [
        f"Amount {shown} is too large to store: it has 1,000,000 digits before the "
        "decimal separator, and the maximum is 9223372036854775807 in a currency "
        "without decimal places, or 92233720368547758.07 in one with 2, such as "
        "EUR. Correct the amount.",
        f"Invalid percentage {shown}: it is too large; expected a number from 0 to "
        "100 with at most 2 decimal places, such as 21, 21% or 2,5%.",
        f"Invalid percentage '1,{'9' * 198}… (1000002 characters in all)': it has "
        "1,000,000 decimal places; expected a number from 0 to 100 with at most 2 "
        "decimal places, such as 21, 21% or 2,5%.",
        "Amount '0,0000000001' has 10 decimal places, more than any currency has: "
        "round it to the decimal places of its currency, such as 2 for EUR.",
    ]
    stored = await Contract.filter(organization_id=organization.id)
    assert [c.number for c in stored] == ["H-5"]


async def test_summary_counts_singular(settings, tmp_path: Path) -> None:
    import io

    from contractgql.importexport.command import print_report

    organization = await new_organization()
    path = tmp_path / "one.csv"
    path.write_text(
        "number,name,client,start date\n"
        "O-1,Support,Acme,2026-01-01\n"
        "O-1,Support,Acme,2026-01-01\n",
        encoding="utf-8",
    )
    report = await import_file(path, organization, ImportOptions())
    output = io.StringIO()

    print_report(report, verbose=False, out=output)

    lines = output.getvalue().splitlines()
    assert lines[0].startswith(f"Imported {path} (2 rows, ")
    assert lines[-1] == (
        "1 created, 0 updated, 0 unchanged, 1 duplicate, 0 rejected; 1 new client; "
        "2 of 2 rows accounted for."
    )
