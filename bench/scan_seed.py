"""Seed a database for the reminder scan benchmark: one organization, N contracts.

The schema comes from the app's migrations and the organization from
`contractgql.accounts`. Every other row is generated with a fixed random seed and
streamed into PostgreSQL with COPY, so that 1,000,000 contracts never sit in memory
at once. Apart from the contracts and their watchers, the data does not depend on
N, so runs of different sizes differ only in the number of contracts.

The dates are relative to `SCAN_DATE`, the organization's date during the scans:
fixed-term contracts end on one of the 730 days after it, and open-ended contracts
started up to 8 years before it.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.common import database_url
from bench.seed import recreate_database
from contractgql.domain.dates import Period, PeriodUnit, add_months, notice_deadline

logger = logging.getLogger(__name__)

ORGANIZATION_NAME = "Scan Bench B.V."
TIMEZONE = "Europe/Amsterdam"
# The scans run at 09:00 UTC on this day, which is the same date in Amsterdam.
SCAN_DATE = date(2027, 1, 4)
SCAN_MOMENT = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
RANDOM_SEED = 20_270_104

CLIENT_COUNT = 20_000
PROJECT_COUNT = 1_000
PROJECTS_PER_STAFF_MEMBER = 50
FIXED_TERM_DAYS = 730
OPEN_ENDED_START_DAYS = 8 * 365

# (role, number of users). Every 100th account manager is inactive, so that some
# owners get no notification.
USERS = (
    ("account_manager", 300),
    ("sales", 20),
    ("project_staff", 10),
    ("finance", 3),
    ("management", 2),
    ("admin", 1),
)
# (name, reminder offsets, renewal workflow, share of the typed contracts). The
# workflows assign their first step to the owner, to the first sales user who may
# see the contract, and to project staff, who see only their projects' clients.
CONTRACT_TYPES: tuple[tuple[str, list[Any], list[Any] | None, float], ...] = (
    (
        "Master services agreement",
        [
            {"count": 6, "unit": "months"},
            {"count": 3, "unit": "months"},
            {"count": 1, "unit": "months"},
        ],
        [
            {"title": "Prepare the renewal proposal", "assignee": "owner"},
            {"title": "Negotiate the renewal", "assignee": "management"},
        ],
        0.20,
    ),
    (
        "Service level agreement",
        [{"count": 2, "unit": "months"}],
        [{"title": "Review the service levels", "assignee": "sales", "days_after": 7}],
        0.25,
    ),
    ("Software licence", [], [], 0.25),
    (
        "Maintenance contract",
        [{"count": 90, "unit": "days"}, {"count": 30, "unit": "days"}],
        [{"title": "Check the installed base", "assignee": "project_staff"}],
        0.15,
    ),
    ("Hosting agreement", [{"count": 8, "unit": "weeks"}], None, 0.15),
)
UNTYPED_SHARE = 0.15
# Offsets that some contracts set themselves, replacing their type's.
OWN_OFFSETS = (
    [{"count": 45, "unit": "days"}, {"count": 2, "unit": "weeks"}],
    [{"count": 4, "unit": "months"}],
    [{"count": 12, "unit": "months"}, {"count": 6, "unit": "months"}],
)
OWN_OFFSETS_SHARE = 0.03
# (notice count, notice unit), or None for a contract without a notice period.
NOTICE_PERIODS = (
    (1, "months"),
    (2, "months"),
    (3, "months"),
    (3, "months"),
    (6, "months"),
    (30, "days"),
    (4, "weeks"),
    None,
)
TERM_MONTHS = (12, 12, 12, 24, 24, 36, 36, 60)
OPEN_ENDED_SHARE = 0.12
AUTO_RENEWAL_SHARE = 0.40
DRAFT_SHARE = 0.05
CANCELLED_SHARE = 0.03
ARCHIVED_SHARE = 0.01
RECORDED_NOTICE_SHARE = 0.01
CONFIDENTIAL_SHARE = 0.05
WATCHED_SHARE = 0.10
SECOND_WATCHER_SHARE = 0.20
OWNERLESS_SHARE = 0.01

CONTRACT_COLUMNS = [
    "id",
    "organization_id",
    "client_id",
    "contract_type_id",
    "owner_id",
    "number",
    "name",
    "stage",
    "sensitivity",
    "start_date",
    "end_date",
    "signed_date",
    "notice_deadline",
    "payment_frequency",
    "amount_minor",
    "currency",
    "auto_renewal",
    "renewal_term_count",
    "renewal_term_unit",
    "notice_count",
    "notice_unit",
    "notice_to_month_end",
    "notice_date",
    "notice_party",
    "reminder_offsets",
    "custom_fields",
    "created_at",
    "updated_at",
    "version",
    "archived_at",
]
CONTRACT_NAMES = (
    "Managed hosting",
    "Application maintenance",
    "Support hours",
    "ERP licence",
    "Backup and recovery",
    "Network monitoring",
    "Service desk",
)


@dataclass
class ScanSeedSummary:
    organization_id: int
    contracts: int
    row_counts: dict[str, int] = field(default_factory=dict)
    # Seconds per step: schema, contracts, watchers, analyze, and the total.
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _People:
    owners: list[int]
    watchers: list[int]
    project_staff: list[int]
    all_ids: list[int]


async def seed(server_url: str, database: str, contracts: int) -> ScanSeedSummary:
    """Create `database` afresh, apply the migrations and fill it."""
    from contractgql import db
    from contractgql.accounts import get_or_create_organization
    from contractgql.config import Settings

    started = time.perf_counter()
    await recreate_database(server_url, database)
    url = database_url(server_url, database)
    with tempfile.TemporaryDirectory(prefix="contractgql-bench-scan-") as data_dir:
        settings = Settings(
            database_url=url, secret_key="s" * 48, data_dir=Path(data_dir)
        )
        await db.migrate(settings)
        await db.connect(settings)
        try:
            organization = await get_or_create_organization(
                ORGANIZATION_NAME, timezone=TIMEZONE, currency="EUR"
            )
        finally:
            await db.disconnect()
    summary = ScanSeedSummary(organization.id, contracts)
    summary.seconds["schema"] = time.perf_counter() - started

    rng = random.Random(RANDOM_SEED)
    connection = await asyncpg.connect(url)
    try:
        people = await _copy_small_tables(connection, rng, organization.id, summary)
        step = time.perf_counter()
        await connection.copy_records_to_table(
            "contracts",
            records=_contract_rows(rng, organization.id, people, contracts),
            columns=CONTRACT_COLUMNS,
        )
        summary.row_counts["contracts"] = contracts
        summary.seconds["contracts"] = time.perf_counter() - step

        step = time.perf_counter()
        watchers = list(_watcher_rows(rng, people, contracts))
        await connection.copy_records_to_table(
            "contract_watchers", records=watchers, columns=["contract_id", "user_id"]
        )
        summary.row_counts["contract_watchers"] = len(watchers)
        summary.seconds["watchers"] = time.perf_counter() - step

        step = time.perf_counter()
        for table in ("users", "clients", "projects", "contract_types", "contracts"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        # VACUUM sets the hint bits and the visibility map now, so that neither the
        # first scan nor the SQL statement pays for that.
        await connection.execute("VACUUM (ANALYZE)")
        summary.seconds["analyze"] = time.perf_counter() - step
    finally:
        await connection.close()
    summary.seconds["total"] = time.perf_counter() - started
    logger.info(
        "Seeded %s with %d contracts in %.1f s",
        database,
        contracts,
        summary.seconds["total"],
    )
    return summary


async def _copy_small_tables(
    connection: Any, rng: random.Random, organization_id: int, summary: ScanSeedSummary
) -> _People:
    """Write the users, clients, projects, members and types; return the user ids."""
    now = datetime.combine(SCAN_DATE - timedelta(days=30), datetime.min.time(), UTC)
    user_rows = []
    by_role: dict[str, list[int]] = {}
    pk = 0
    for role, count in USERS:
        for index in range(1, count + 1):
            pk += 1
            active = not (role == "account_manager" and index % 100 == 0)
            user_rows.append(
                (
                    pk,
                    organization_id,
                    f"{role.replace('_', '-')}{index:03d}@scan.example.com",
                    f"{role.replace('_', ' ').title()} {index}",
                    json.dumps([role]),
                    active,
                    False,
                    now,
                    now,
                )
            )
            by_role.setdefault(role, []).append(pk)
    await connection.copy_records_to_table(
        "users",
        records=user_rows,
        columns=[
            "id",
            "organization_id",
            "email",
            "name",
            "roles",
            "is_active",
            "is_service_account",
            "created_at",
            "updated_at",
        ],
    )

    client_rows = [
        (pk, organization_id, f"Client {pk:05d} B.V.", "[]", "{}", now, now, 1)
        for pk in range(1, CLIENT_COUNT + 1)
    ]
    await connection.copy_records_to_table(
        "clients",
        records=client_rows,
        columns=[
            "id",
            "organization_id",
            "name",
            "addresses",
            "custom_fields",
            "created_at",
            "updated_at",
            "version",
        ],
    )

    project_rows = [
        (pk, organization_id, rng.randint(1, CLIENT_COUNT), f"Project {pk}", "{}")
        + (now, now, 1)
        for pk in range(1, PROJECT_COUNT + 1)
    ]
    await connection.copy_records_to_table(
        "projects",
        records=project_rows,
        columns=[
            "id",
            "organization_id",
            "client_id",
            "name",
            "custom_fields",
            "created_at",
            "updated_at",
            "version",
        ],
    )
    member_rows = [
        (project_id, user_id)
        for user_id in by_role["project_staff"]
        for project_id in rng.sample(
            range(1, PROJECT_COUNT + 1), PROJECTS_PER_STAFF_MEMBER
        )
    ]
    await connection.copy_records_to_table(
        "project_members", records=member_rows, columns=["project_id", "user_id"]
    )

    type_rows = [
        (pk, organization_id, name, json.dumps(offsets), json.dumps(workflow))
        + (now, now, 1)
        for pk, (name, offsets, workflow, _) in enumerate(CONTRACT_TYPES, start=1)
    ]
    await connection.copy_records_to_table(
        "contract_types",
        records=type_rows,
        columns=[
            "id",
            "organization_id",
            "name",
            "reminder_offsets",
            "renewal_workflow",
            "created_at",
            "updated_at",
            "version",
        ],
    )
    summary.row_counts.update(
        users=len(user_rows),
        clients=len(client_rows),
        projects=len(project_rows),
        project_members=len(member_rows),
        contract_types=len(type_rows),
    )
    owners = by_role["account_manager"]
    return _People(
        owners=owners,
        watchers=owners + by_role["sales"] + by_role["management"],
        project_staff=by_role["project_staff"],
        all_ids=[row[0] for row in user_rows],
    )


def _contract_rows(
    rng: random.Random, organization_id: int, people: _People, count: int
) -> Iterator[tuple[Any, ...]]:
    """Yield the contract rows one at a time, so COPY streams them."""
    random_value = rng.random
    type_ids = list(range(1, len(CONTRACT_TYPES) + 1))
    type_weights = [share for *_, share in CONTRACT_TYPES]
    own_offsets = [json.dumps(offsets) for offsets in OWN_OFFSETS]
    created = datetime.combine(SCAN_DATE - timedelta(days=30), datetime.min.time(), UTC)
    archived = created + timedelta(days=1)
    for pk in range(1, count + 1):
        draw = random_value()
        if draw < DRAFT_SHARE:
            stage = "draft"
        elif draw < DRAFT_SHARE + CANCELLED_SHARE:
            stage = "cancelled"
        else:
            stage = "signed"
        open_ended = random_value() < OPEN_ENDED_SHARE
        if open_ended:
            end = None
            start = SCAN_DATE - timedelta(days=rng.randrange(1, OPEN_ENDED_START_DAYS))
            auto_renewal = False
        else:
            end = SCAN_DATE + timedelta(days=rng.randrange(1, FIXED_TERM_DAYS + 1))
            start = add_months(end + timedelta(days=1), -rng.choice(TERM_MONTHS))
            auto_renewal = random_value() < AUTO_RENEWAL_SHARE
        notice = rng.choice(NOTICE_PERIODS)
        deadline = None
        if notice is not None:
            deadline = notice_deadline(end, Period(notice[0], PeriodUnit(notice[1])))
        notice_date = None
        if stage == "signed" and random_value() < RECORDED_NOTICE_SHARE:
            notice_date = SCAN_DATE - timedelta(days=rng.randrange(1, 60))
        type_id = (
            None
            if random_value() < UNTYPED_SHARE
            else rng.choices(type_ids, type_weights)[0]
        )
        offsets = (
            rng.choice(own_offsets) if random_value() < OWN_OFFSETS_SHARE else None
        )
        owner_id = (
            None if random_value() < OWNERLESS_SHARE else rng.choice(people.owners)
        )
        yield (
            pk,
            organization_id,
            rng.randint(1, CLIENT_COUNT),
            type_id,
            owner_id,
            f"SC-{pk:07d}",
            f"{CONTRACT_NAMES[pk % len(CONTRACT_NAMES)]} {pk}",
            stage,
            "confidential" if random_value() < CONFIDENTIAL_SHARE else "normal",
            start,
            end,
            start if stage == "signed" else None,
            deadline,
            "monthly",
            rng.randint(100, 10_000) * 100,
            "EUR",
            auto_renewal,
            12 if auto_renewal else None,
            "months" if auto_renewal else None,
            None if notice is None else notice[0],
            None if notice is None else notice[1],
            False,
            notice_date,
            "client" if notice_date else None,
            offsets,
            "{}",
            created,
            created,
            1,
            archived if stage == "signed" and random_value() < ARCHIVED_SHARE else None,
        )


def _watcher_rows(
    rng: random.Random, people: _People, count: int
) -> Iterator[tuple[int, int]]:
    random_value = rng.random
    for contract_id in range(1, count + 1):
        if random_value() >= WATCHED_SHARE:
            continue
        how_many = 2 if random_value() < SECOND_WATCHER_SHARE else 1
        for user_id in rng.sample(people.watchers, how_many):
            yield contract_id, user_id
