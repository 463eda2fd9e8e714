"""Seed a fresh benchmark database with one organization and 10,000 contracts.

The schema comes from the app's own migrations (`contractgql.db.migrate`). The
organization and the login user go through the app's code, so the password hash is
real. Every other row is generated with a fixed random seed and written with
PostgreSQL COPY, so a full seed takes seconds.
"""

from __future__ import annotations

import json
import logging
import random
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.common import (
    BENCH_USER_EMAIL,
    BENCH_USER_NAME,
    BENCH_USER_PASSWORD,
    BENCH_USER_ROLES,
    CLIENT_COUNT,
    CONTRACT_COUNT,
    ORGANIZATION_NAME,
    PAGE_SIZE,
    database_url,
)

logger = logging.getLogger(__name__)

RANDOM_SEED = 20_240_601
OWNER_COUNT = CONTRACT_COUNT // 10
PROJECT_COUNT = 400

# fmt: off
FIRST_NAMES = (
    "Anna", "Bram", "Daan", "Emma", "Eva", "Femke", "Jan", "Julia", "Lars", "Lieke",
    "Lucas", "Maud", "Milan", "Noah", "Noor", "Pieter", "Sanne", "Sem", "Sophie",
    "Thijs", "Tess", "Daniel", "Marta", "Lukas", "Chloé", "Mateo", "Ingrid", "Omar",
)
LAST_NAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos",
    "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "Schmidt", "Dubois",
    "Müller", "Kowalski", "García", "Rossi", "Nielsen", "Okafor",
)
CLIENT_WORDS = (
    "Noord", "Delta", "Polder", "Kade", "Haven", "Duin", "Linde", "Eik", "Rijn",
    "Maas", "IJssel", "Vecht", "Zuid", "Oost", "West", "Kroon", "Molen", "Brug",
    "Toren", "Veld", "Dijk", "Meer", "Berg", "Bron",
)
CLIENT_SECTORS = (
    "Logistiek", "Zorggroep", "Installatietechniek", "Accountants", "Bouw",
    "Software", "Advocaten", "Retail", "Energie", "Onderwijs", "Media", "Food",
    "Transport", "Vastgoed", "Techniek",
)
LEGAL_FORMS = ("B.V.", "B.V.", "B.V.", "N.V.", "Stichting", "Coöperatie U.A.")
SEGMENTS = ("enterprise", "mid-market", "small business", "public sector")
CITIES = (
    ("Amsterdam", "1012 AB"), ("Rotterdam", "3011 AD"), ("Utrecht", "3511 LX"),
    ("Den Haag", "2511 BT"), ("Eindhoven", "5611 EM"), ("Groningen", "9711 LM"),
    ("Zwolle", "8011 PK"), ("Arnhem", "6811 CG"), ("Maastricht", "6211 CS"),
)
STREETS = ("Stationsweg", "Kerkstraat", "Dorpsstraat", "Industrieweg", "Havenkade")
CONTRACT_TYPES = (
    ("Master services agreement", [{"count": 6, "unit": "months"}]),
    ("Service level agreement", [{"count": 3, "unit": "months"}]),
    ("Software licence", [{"count": 3, "unit": "months"}]),
    ("Maintenance contract", [{"count": 2, "unit": "months"}]),
    ("Hosting agreement", [{"count": 1, "unit": "months"}]),
)
SERVICES = (
    ("Managed hosting", "HOST"), ("Application maintenance", "MAINT"),
    ("Support hours", "SUPP"), ("Licence: Office suite", "LIC-OFF"),
    ("Licence: ERP", "LIC-ERP"), ("Backup and recovery", "BACKUP"),
    ("Network monitoring", "NETMON"), ("Security operations", "SOC"),
    ("Consultancy", "CONS"), ("Training", "TRAIN"), ("Cloud storage", "STOR"),
    ("Workplace management", "WORK"), ("Telephony", "TEL"), ("Data platform", "DATA"),
    ("Service desk", "DESK"),
)
TAGS = (
    ("strategic", "#b91c1c"), ("renewal-risk", "#d97706"), ("upsell", "#16a34a"),
    ("public-tender", "#2563eb"), ("framework", "#7c3aed"), ("gdpr", "#0f766e"),
    ("legacy", "#6b7280"), ("priority", "#dc2626"), ("partner", "#0891b2"),
    ("audit", "#4b5563"), ("indexation", "#ca8a04"), ("multi-year", "#9333ea"),
    ("pilot", "#65a30d"), ("reseller", "#0284c7"), ("escalated", "#be123c"),
    ("volume-discount", "#15803d"), ("fixed-price", "#1d4ed8"), ("sla-gold", "#a16207"),
    ("sla-silver", "#64748b"), ("onboarding", "#059669"),
)
# (notice count, notice unit), or None for a contract without a notice period.
NOTICE_PERIODS = (
    (1, "months"), (2, "months"), (3, "months"), (3, "months"), (6, "months"),
    (30, "days"), (4, "weeks"), None,
)
# (payment frequency, weight, amount range per period in whole euros)
FREQUENCIES = (
    ("monthly", 40, (50, 5_000)),
    ("quarterly", 15, (300, 15_000)),
    ("half_yearly", 5, (600, 30_000)),
    ("yearly", 30, (1_000, 120_000)),
    ("one_off", 10, (500, 250_000)),
)
# fmt: on

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class SeedSummary:
    organization_id: int
    user_id: int
    row_counts: dict[str, int]
    seconds: float


class SeedError(Exception):
    """The benchmark database is missing or does not hold the expected data."""


async def recreate_database(server_url: str, database: str) -> None:
    """Drop `database` with its connections and create it empty."""
    if not _DATABASE_NAME.match(database):
        raise SeedError(
            f"Database name {database!r} is invalid: use lower-case letters, digits "
            "and underscores, starting with a letter."
        )
    if "bench" not in database:
        # Guards a shared server against dropping a database of other work.
        raise SeedError(
            f"Refusing to drop database {database!r}: the benchmark drops and "
            "recreates its database, so its name must contain 'bench'."
        )
    connection = await asyncpg.connect(database_url(server_url, "postgres"))
    try:
        await connection.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {database}")
    finally:
        await connection.close()


async def seed(server_url: str, database: str) -> SeedSummary:
    """Create `database` afresh, apply the app's migrations and fill it."""
    from contractgql import db
    from contractgql.accounts import create_user, get_or_create_organization
    from contractgql.config import Settings

    started = time.perf_counter()
    await recreate_database(server_url, database)
    url = database_url(server_url, database)
    with tempfile.TemporaryDirectory(prefix="contractgql-bench-") as data_dir:
        settings = Settings(
            database_url=url, secret_key="s" * 48, data_dir=Path(data_dir)
        )
        await db.migrate(settings)
        await db.connect(settings)
        try:
            organization = await get_or_create_organization(
                ORGANIZATION_NAME, timezone="Europe/Amsterdam", currency="EUR"
            )
            user = await create_user(
                organization,
                BENCH_USER_EMAIL,
                BENCH_USER_NAME,
                BENCH_USER_ROLES,
                BENCH_USER_PASSWORD,
            )
        finally:
            await db.disconnect()

    rows = generate_rows(organization.id, first_user_id=user.id + 1)
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            for table, (columns, records) in rows.items():
                await connection.copy_records_to_table(
                    table, records=records, columns=columns
                )
            for table in _SEQUENCE_TABLES:
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()

    seconds = time.perf_counter() - started
    counts = {table: len(records) for table, (_, records) in rows.items()}
    logger.info("Seeded %s in %.1f s: %s", database, seconds, counts)
    return SeedSummary(organization.id, user.id, counts, seconds)


async def check_seeded(server_url: str, database: str) -> SeedSummary:
    """Return the summary of a seeded database, or raise SeedError if it is unfit."""
    url = database_url(server_url, database)
    try:
        connection = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        raise SeedError(
            f"Database {database!r} does not exist: run without --skip-seed once."
        ) from None
    try:
        organization_id = await connection.fetchval(
            "SELECT id FROM organizations WHERE name = $1", ORGANIZATION_NAME
        )
        user_id = await connection.fetchval(
            "SELECT id FROM users WHERE email = $1", BENCH_USER_EMAIL
        )
        contracts = await connection.fetchval(
            "SELECT count(*) FROM contracts WHERE organization_id = $1 "
            "AND archived_at IS NULL",
            organization_id,
        )
    except asyncpg.UndefinedTableError:
        organization_id = user_id = contracts = None
    finally:
        await connection.close()
    if organization_id is None or user_id is None or contracts != CONTRACT_COUNT:
        raise SeedError(
            f"Database {database!r} does not hold the benchmark data (organization "
            f"{ORGANIZATION_NAME!r}, user {BENCH_USER_EMAIL}, {CONTRACT_COUNT} "
            f"contracts; found {contracts}): run without --skip-seed."
        )
    return SeedSummary(organization_id, user_id, {"contracts": contracts}, 0.0)


_SEQUENCE_TABLES = (
    "users",
    "clients",
    "contact_persons",
    "contract_types",
    "projects",
    "services",
    "tags",
    "contracts",
)

Rows = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


def generate_rows(organization_id: int, first_user_id: int) -> Rows:
    """Generate every seeded row, keyed by table, in an order that satisfies FKs."""
    if CONTRACT_COUNT % PAGE_SIZE:
        raise SeedError(
            f"CONTRACT_COUNT={CONTRACT_COUNT} is not a multiple of PAGE_SIZE="
            f"{PAGE_SIZE}, so the last page would not be full."
        )
    rng = random.Random(RANDOM_SEED)
    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    rows: Rows = {}

    owner_ids = list(range(first_user_id, first_user_id + OWNER_COUNT))
    rows["users"] = _users(rng, organization_id, owner_ids, now)
    rows["clients"] = _clients(rng, organization_id, owner_ids, now)
    rows["contact_persons"] = _contacts(rng, organization_id, now)
    rows["contract_types"] = _contract_types(organization_id, now)
    rows["projects"] = _projects(rng, organization_id, now)
    rows["services"] = _services(organization_id, now)
    rows["tags"] = _tags(organization_id, now)
    rows["contracts"] = _contracts(
        rng, organization_id, owner_ids, rows["clients"][1], now
    )
    contract_records = rows["contracts"][1]
    rows["contract_tags"] = _contract_tags(rng, len(contract_records))
    rows["contract_projects"] = _contract_projects(
        rng, contract_records, rows["projects"][1]
    )
    rows["contract_services"] = _contract_services(rng, len(contract_records))
    return rows


def _person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _users(
    rng: random.Random, organization_id: int, owner_ids: list[int], now: datetime
) -> tuple[list[str], list[tuple[Any, ...]]]:
    # Owners never log in during the benchmark, so they get no password hash.
    columns = [
        "id",
        "organization_id",
        "email",
        "name",
        "password_hash",
        "roles",
        "is_active",
        "is_service_account",
        "created_at",
        "updated_at",
    ]
    records = [
        (
            pk,
            organization_id,
            f"owner{index:04d}@bench.example.com",
            _person_name(rng),
            None,
            json.dumps(["account_manager"]),
            True,
            False,
            now,
            now,
        )
        for index, pk in enumerate(owner_ids, start=1)
    ]
    return columns, records


def _clients(
    rng: random.Random, organization_id: int, owner_ids: list[int], now: datetime
) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = [
        "id",
        "organization_id",
        "name",
        "coc_number",
        "vat_number",
        "addresses",
        "segment",
        "custom_fields",
        "created_by_id",
        "updated_by_id",
        "created_at",
        "updated_at",
        "version",
    ]
    records = []
    for pk in range(1, CLIENT_COUNT + 1):
        city, postal_code = rng.choice(CITIES)
        name = (
            f"{rng.choice(CLIENT_WORDS)}{rng.choice(CLIENT_WORDS).lower()} "
            f"{rng.choice(CLIENT_SECTORS)} {city} {rng.choice(LEGAL_FORMS)}"
        )
        address = {
            "kind": "visiting",
            "street": f"{rng.choice(STREETS)} {rng.randint(1, 250)}",
            "postalCode": postal_code,
            "city": city,
            "country": "NL",
        }
        creator = rng.choice(owner_ids)
        records.append(
            (
                pk,
                organization_id,
                name,
                f"{rng.randint(10_000_000, 99_999_999)}",
                f"NL{rng.randint(100_000_000, 999_999_999)}B01",
                json.dumps([address]),
                rng.choice(SEGMENTS),
                "{}",
                creator,
                creator,
                now,
                now,
                1,
            )
        )
    return columns, records


def _contacts(
    rng: random.Random, organization_id: int, now: datetime
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Return one contact person per client, with the same pk as the client."""
    columns = [
        "id",
        "organization_id",
        "client_id",
        "name",
        "email",
        "phone",
        "job_title",
        "created_at",
        "updated_at",
        "version",
    ]
    records = []
    for pk in range(1, CLIENT_COUNT + 1):
        name = _person_name(rng)
        email = name.lower().replace(" ", ".") + f"@client{pk}.example.com"
        records.append(
            (
                pk,
                organization_id,
                pk,
                name,
                email,
                f"+31 6 {rng.randint(10_000_000, 99_999_999)}",
                rng.choice(("Purchaser", "IT manager", "CFO", "Facility manager")),
                now,
                now,
                1,
            )
        )
    return columns, records


def _contract_types(
    organization_id: int, now: datetime
) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = [
        "id",
        "organization_id",
        "name",
        "description",
        "reminder_offsets",
        "created_at",
        "updated_at",
        "version",
    ]
    records = [
        (pk, organization_id, name, None, json.dumps(offsets), now, now, 1)
        for pk, (name, offsets) in enumerate(CONTRACT_TYPES, start=1)
    ]
    return columns, records


def _projects(
    rng: random.Random, organization_id: int, now: datetime
) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = [
        "id",
        "organization_id",
        "client_id",
        "name",
        "code",
        "description",
        "custom_fields",
        "created_at",
        "updated_at",
        "version",
    ]
    records = [
        (
            pk,
            organization_id,
            rng.randint(1, CLIENT_COUNT),
            f"{rng.choice(SERVICES)[0]} roll-out {pk}",
            f"PRJ-{pk:04d}",
            None,
            "{}",
            now,
            now,
            1,
        )
        for pk in range(1, PROJECT_COUNT + 1)
    ]
    return columns, records


def _services(
    organization_id: int, now: datetime
) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = [
        "id",
        "organization_id",
        "name",
        "code",
        "description",
        "created_at",
        "updated_at",
        "version",
    ]
    records = [
        (pk, organization_id, name, code, None, now, now, 1)
        for pk, (name, code) in enumerate(SERVICES, start=1)
    ]
    return columns, records


def _tags(
    organization_id: int, now: datetime
) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = [
        "id",
        "organization_id",
        "name",
        "color",
        "created_at",
        "updated_at",
        "version",
    ]
    records = [
        (pk, organization_id, name, color, now, now, 1)
        for pk, (name, color) in enumerate(TAGS, start=1)
    ]
    return columns, records


def _contracts(
    rng: random.Random,
    organization_id: int,
    owner_ids: list[int],
    clients: list[tuple[Any, ...]],
    now: datetime,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Return the contracts. Each client has one contact person with the same pk."""
    from contractgql.domain.dates import Period, PeriodUnit, notice_deadline, term_end

    first_start = date(2019, 1, 1)
    start_span_days = (date(2026, 9, 30) - first_start).days
    frequency_names = [f[0] for f in FREQUENCIES]
    frequency_weights = [f[1] for f in FREQUENCIES]
    amount_ranges = {f[0]: f[2] for f in FREQUENCIES}
    rows: list[dict[str, Any]] = []
    for pk in range(1, CONTRACT_COUNT + 1):
        client_id = rng.randint(1, CLIENT_COUNT)
        client_word = clients[client_id - 1][2].split(" ")[0]
        stage = rng.choices(("signed", "draft", "cancelled"), (85, 10, 5))[0]
        start = first_start + timedelta(days=rng.randrange(start_span_days))
        end = None
        if rng.random() >= 0.1:
            term = Period(rng.choice((12, 24, 36, 48, 60)), PeriodUnit.MONTHS)
            end = term_end(start, term)
        notice = rng.choice(NOTICE_PERIODS)
        period = None if notice is None else Period(notice[0], PeriodUnit(notice[1]))
        frequency = rng.choices(frequency_names, frequency_weights)[0]
        low, high = amount_ranges[frequency]
        amount_minor = rng.randint(low, high) * 100 + rng.choice((0, 0, 0, 50, 95))
        auto_renewal = end is not None and rng.random() < 0.5
        renewal_term = auto_renewal and rng.random() < 0.5
        owner_id = rng.choice(owner_ids)
        signed = start - timedelta(days=rng.randint(0, 60))
        created = datetime.combine(signed, clock_time(10, 0), tzinfo=UTC)
        rows.append(
            {
                "id": pk,
                "organization_id": organization_id,
                "client_id": client_id,
                "contract_type_id": rng.randint(1, len(CONTRACT_TYPES)),
                "owner_id": owner_id,
                "contact_id": client_id if rng.random() < 0.7 else None,
                "parent_id": None,
                "number": f"CT-{start.year}-{pk:05d}",
                "name": f"{rng.choice(SERVICES)[0]} – {client_word}",
                "description": (
                    "Includes on-site support." if rng.random() < 0.3 else None
                ),
                "stage": stage,
                "sensitivity": "confidential" if rng.random() < 0.05 else "normal",
                "start_date": start,
                "end_date": end,
                "signed_date": signed if stage == "signed" else None,
                "notice_deadline": notice_deadline(end, period),
                "payment_frequency": frequency,
                # Half of the drafts have no amount yet.
                "amount_minor": (
                    None if stage == "draft" and rng.random() < 0.5 else amount_minor
                ),
                "currency": "EUR",
                "vat_rate_bp": rng.choices((2100, 900, 0), (90, 5, 5))[0],
                "indexation_bp": rng.choice((None, None, 200, 250, 300, 350)),
                "renewal_price_agreement": (
                    "CPI-indexed at renewal" if rng.random() < 0.1 else None
                ),
                "auto_renewal": auto_renewal,
                "renewal_term_count": 12 if renewal_term else None,
                "renewal_term_unit": "months" if renewal_term else None,
                "notice_count": None if notice is None else notice[0],
                "notice_unit": None if notice is None else notice[1],
                "notice_to_month_end": end is None and rng.random() < 0.3,
                "custom_fields": "{}",
                "created_by_id": owner_id,
                "updated_by_id": owner_id,
                "created_at": min(created, now),
                "updated_at": now,
                "version": 1,
                "archived_at": None,
            }
        )
    columns = list(rows[0])
    return columns, [tuple(row[column] for column in columns) for row in rows]


def _contract_tags(
    rng: random.Random, contract_count: int
) -> tuple[list[str], list[tuple[Any, ...]]]:
    tag_ids = list(range(1, len(TAGS) + 1))
    records = [
        (contract_id, tag_id)
        for contract_id in range(1, contract_count + 1)
        for tag_id in rng.sample(tag_ids, rng.choice((0, 1, 1, 2, 2, 3)))
    ]
    return ["contracts_id", "tag_id"], records


def _contract_projects(
    rng: random.Random,
    contracts: list[tuple[Any, ...]],
    projects: list[tuple[Any, ...]],
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Link half of the contracts whose client has projects to one of those projects."""
    projects_by_client: dict[int, list[int]] = {}
    for project in projects:
        projects_by_client.setdefault(project[2], []).append(project[0])
    records = []
    for contract in contracts:
        candidates = projects_by_client.get(contract[2])
        if candidates and rng.random() < 0.5:
            records.append((contract[0], rng.choice(candidates)))
    return ["contracts_id", "project_id"], records


def _contract_services(
    rng: random.Random, contract_count: int
) -> tuple[list[str], list[tuple[Any, ...]]]:
    service_ids = list(range(1, len(SERVICES) + 1))
    records = [
        (contract_id, service_id)
        for contract_id in range(1, contract_count + 1)
        if rng.random() < 0.7
        for service_id in rng.sample(service_ids, rng.choice((1, 1, 2)))
    ]
    return ["contracts_id", "service_id"], records
