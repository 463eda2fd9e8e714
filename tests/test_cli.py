"""The contractgql command line, run as a subprocess on a fresh SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from contractgql.domain.dates import local_today
from tests.conftest import MigratedTemplate
from tests.jobs.test_text_worker import free_port_in_range

ROOT = Path(__file__).resolve().parents[1]
UK_REGISTER = ROOT / "tests/data/uk_contracts_finder_council_contracts.csv"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contractgql", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def env(
    tmp_path: Path, migrated_template: MigratedTemplate
) -> Iterator[dict[str, str]]:
    """Environment for commands on a new migrated database of the tested backend."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONTRACTGQL_")}
    env = {
        **base,
        "CONTRACTGQL_DATA_DIR": str(tmp_path / "data"),
        "CONTRACTGQL_PASSWORD": "a-long-enough-password",
        "CONTRACTGQL_LOG_LEVEL": "WARNING",
    }
    with migrated_template.copy(tmp_path / "data") as database_url:
        if database_url is not None:
            env["CONTRACTGQL_DATABASE_URL"] = database_url
        yield env


def test_create_user_then_duplicate(env: dict[str, str]) -> None:
    args = (
        "create-user",
        "--email",
        "Ann@Example.com",
        "--name",
        "Ann",
        "--role",
        "finance",
        "--role",
        "sales",
        "--organization",
        "Acme",
    )

    first = run(env, *args)
    second = run(env, *args)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (
        "Created user ann@example.com in 'Acme' with roles finance, sales."
    )
    assert second.returncode == 1
    assert "'ann@example.com' already exists" in second.stderr


def test_create_user_unknown_role(env: dict[str, str]) -> None:
    result = run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "superuser",
        "--organization",
        "Acme",
    )

    assert result.returncode == 1
    assert "Unknown role superuser: use one or more of admin, management" in (
        result.stderr
    )


def test_create_user_short_password(env: dict[str, str]) -> None:
    env["CONTRACTGQL_PASSWORD"] = "short"

    result = run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "admin",
        "--organization",
        "Acme",
    )

    assert result.returncode == 1
    assert "The password is 5 characters long: use at least 10." in result.stderr


def test_import_unknown_organization(env: dict[str, str]) -> None:
    run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "admin",
        "--organization",
        "Acme",
    )

    result = run(env, "import", str(UK_REGISTER), "--organization", "Acne")

    assert result.returncode == 2
    assert "organization 'Acne' does not exist: use one of 'Acme'." in result.stderr


def test_import_dry_run_prints_rows(env: dict[str, str]) -> None:
    run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "admin",
        "--organization",
        "Acme",
    )

    result = run(env, "import", str(UK_REGISTER), "--organization", "Acme", "--dry-run")
    again = run(env, "import", str(UK_REGISTER), "--organization", "Acme", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "  row 2: created 454733" in result.stdout
    assert "(same contract as row" in result.stdout
    assert result.stdout.rstrip().endswith(
        "557 would be created, 0 would be updated, 0 unchanged, 126 duplicates, "
        "0 rejected; 189 new clients; 683 of 683 rows accounted for."
    )
    assert (
        again.stdout.rstrip().splitlines()[-1]
        == (result.stdout.rstrip().splitlines()[-1])
    )


def test_import_rejected_rows_exit_one(env: dict[str, str], tmp_path: Path) -> None:
    run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "admin",
        "--organization",
        "Acme",
    )
    register = tmp_path / "bad.csv"
    register.write_text(
        "number,name,client,start date,amount\n"
        "X1,Good,Acme,2026-01-01,10\n"
        "X2,Bad,Acme,2026-01-01,ten euros\n"
    )

    result = run(env, "import", str(register), "--organization", "Acme")

    assert result.returncode == 1
    assert "row 3, column amount, value 'ten euros':" in result.stdout
    assert (
        "1 created, 0 updated, 0 unchanged, 0 duplicates, 1 rejected" in result.stdout
    )


def test_import_bad_mapping_option(env: dict[str, str]) -> None:
    result = run(
        env, "import", str(UK_REGISTER), "--organization", "Acme", "--map", "buyer_name"
    )

    assert result.returncode == 2
    assert "--map 'buyer_name' is not HEADER=FIELD" in result.stderr


def test_invalid_database_url(env: dict[str, str]) -> None:
    env["CONTRACTGQL_DATABASE_URL"] = "mysql://localhost/db"

    result = run(env, "migrate")

    assert result.returncode == 2
    assert "CONTRACTGQL_DATABASE_URL='mysql://localhost/db' is not supported" in (
        result.stderr
    )


DEMO_STAFF_CONTRACTS = """
import asyncio

from contractgql import db
from contractgql.config import load_settings
from contractgql.demo import demo_email, ensure_demo
from contractgql.models import Contract, Project, User
from contractgql.security.policy import Policy
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import viewer_for


async def main():
    settings = load_settings()
    await ensure_demo(settings)
    await ensure_demo(settings)
    await db.connect(settings)
    staff = await User.get(email=demo_email("project_staff")).prefetch_related(
        "organization"
    )
    viewer = viewer_for(staff, Policy.load(settings.policy_dir))
    projects = await Project.filter(members__user_id=staff.id).count()
    seen = await visible_contracts(viewer).count()
    client = await Project.get(members__user_id=staff.id).values_list(
        "client_id", flat=True
    )
    of_client = await Contract.filter(client_id=client).count()
    print(projects, seen, of_client)
    await db.disconnect()


asyncio.run(main())
"""


def test_demo_gives_project_staff_a_project(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", DEMO_STAFF_CONTRACTS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    projects, seen, of_client = map(int, result.stdout.split())
    assert projects == 1
    assert seen == of_client
    assert seen > 1


def test_service_account_then_token(env: dict[str, str]) -> None:
    no_password = {k: v for k, v in env.items() if k != "CONTRACTGQL_PASSWORD"}
    created = run(
        no_password,
        "create-user",
        "--email",
        "robot@example.com",
        "--name",
        "ERP robot",
        "--role",
        "integrator",
        "--organization",
        "Acme",
        "--service-account",
    )
    token = run(env, "create-token", "--email", "robot@example.com", "--name", "ERP")

    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == (
        "Created service account robot@example.com in 'Acme' with roles integrator."
    )
    assert token.returncode == 0, token.stderr
    assert token.stdout.startswith("cgql_")


def test_scan_settles_contracts_and_full_plans_them_again(
    env: dict[str, str], tmp_path: Path
) -> None:
    today = local_today("Europe/Amsterdam")
    register = tmp_path / "register.csv"
    # Without a notice period the reminders anchor on the end date: the 3-month one
    # is due about a month ago and is created late, the 1-month one is not due yet.
    # An imported contract has no owner, so nobody is notified.
    end = today + timedelta(days=60)
    register.write_text(
        "contract number,name,client,start date,end date\n"
        f"S-1,Hosting,Acme BV,2026-01-01,{end.isoformat()}\n",
        encoding="utf-8",
    )
    run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "admin",
        "--organization",
        "Acme",
    )
    imported = run(env, "import", str(register), "--organization", "Acme")

    first = run(env, "scan")
    again = run(env, "scan")
    full = run(env, "scan", "--full")

    assert imported.returncode == 0, imported.stderr
    assert (first.returncode, again.returncode, full.returncode) == (0, 0, 0)
    assert first.stdout.strip() == (
        "1 organizations, 1 contracts, 1 reminders created (1 late), 0 cancelled, "
        "0 restored, 0 tasks and 0 notifications created"
    )
    assert again.stdout.strip() == (
        "1 organizations, 0 contracts, 0 reminders created (0 late), 0 cancelled, "
        "0 restored, 0 tasks and 0 notifications created"
    )
    assert full.stdout.strip().startswith("1 organizations, 1 contracts, 0 reminders")


def test_command_line_changes_are_audited(env: dict[str, str], tmp_path: Path) -> None:
    register = tmp_path / "register.csv"
    register.write_text(
        "contract number,name,client,start date\nA-1,Hosting,Acme BV,2026-01-01\n",
        encoding="utf-8",
    )
    run(
        env,
        "create-user",
        "--email",
        "a@example.com",
        "--name",
        "A",
        "--role",
        "admin",
        "--organization",
        "Acme",
    )
    run(env, "import", str(register), "--organization", "Acme")

    recorded = run(env, "audit", "record")
    verified = run(env, "audit", "verify")

    assert recorded.returncode == 0, recorded.stderr
    # The user, the client and the contract: one creation event each.
    assert verified.stdout.strip() == "Audit chains intact: 1 organizations, 3 entries."


def invalid_policy(tmp_path: Path) -> tuple[Path, str]:
    """Write the default policy with a line for an unknown role; return its folder
    and the error line that the command line prints for it."""
    policies = tmp_path / "policies"
    policies.mkdir()
    for name in ("model.conf", "policy.csv"):
        (policies / name).write_text((ROOT / "policies" / name).read_text())
    with (policies / "policy.csv").open("a") as policy:
        policy.write("p, importer, contract, read\n")
    lines = (policies / "policy.csv").read_text().count("\n")
    message = (
        f"contractgql: invalid policy: {policies / 'policy.csv'}, line {lines}: "
        "grants 'contract:read' to unknown role 'importer': use one of admin, "
        "management, finance, account_manager, sales, project_staff, integrator.\n"
    )
    return policies, message


def test_invalid_policy_stops_serve_in_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    policies, message = invalid_policy(tmp_path)

    result = run({**env, "CONTRACTGQL_POLICY_DIR": str(policies)}, "serve")

    assert result.returncode == 2
    assert result.stderr == message


def test_invalid_policy_stops_worker_in_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    policies, message = invalid_policy(tmp_path)
    # Nothing listens on this port, so a worker that started arq would fail to
    # connect instead of taking jobs from a Redis database that tests share.
    redis_url = f"redis://127.0.0.1:{free_port_in_range()}/0"
    worker_env = {
        **env,
        "CONTRACTGQL_POLICY_DIR": str(policies),
        "CONTRACTGQL_REDIS_URL": redis_url,
        # arq logs "Starting worker" at INFO, so it would show before the error.
        "CONTRACTGQL_LOG_LEVEL": "INFO",
    }

    result = run(worker_env, "worker")

    assert result.returncode == 2
    assert result.stderr == message
    assert result.stdout == ""
