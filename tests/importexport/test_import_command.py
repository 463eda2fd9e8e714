"""`contractgql import` jobs, Ctrl-C and the job commands, run as subprocesses."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import MigratedTemplate
from tests.importexport.test_import_jobs import VALID_FIELDS, register
from tests.test_cli import run

from contractgql.importexport.command import print_report
from contractgql.importexport.importer import ImportReport, RowWarning
from contractgql.importexport.jobs import MAX_STORED_ERRORS

ROOT = Path(__file__).resolve().parents[2]
DECP_SAMPLE = ROOT / "tests/data/fr_decp_sample.json"


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


def create_organization(env: dict[str, str]) -> None:
    created = run(
        env,
        "create-user",
        "--email",
        "admin@example.com",
        "--name",
        "Admin",
        "--role",
        "admin",
        "--organization",
        "Acme",
    )
    assert created.returncode == 0, created.stderr


def test_import_ctrl_c_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    create_organization(env)
    path = tmp_path / "large.csv"
    path.write_bytes(register(3000))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "contractgql",
            "import",
            str(path),
            "--organization",
            "Acme",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        line = ""
        while "started" not in line:
            assert time.monotonic() < deadline, "the import never started"
            line = process.stderr.readline()
            assert line or process.poll() is None, "the import stopped early"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    assert process.returncode == 130, stderr
    assert "Import job 1 cancelled: nothing was imported." in stderr
    status = run(env, "import-status", "1")
    assert status.stdout.splitlines()[0] == "Import job 1: cancelled, file large.csv"
    # Importing again creates every contract, so the cancelled run left none.
    again = run(env, "import", str(path), "--organization", "Acme")
    assert again.returncode == 0, again.stderr
    assert "3000 created, 0 updated, 0 unchanged" in again.stdout


def test_enqueue_rejects_unknown_mapping_field(
    env: dict[str, str], tmp_path: Path
) -> None:
    create_organization(env)
    path = tmp_path / "register.csv"
    path.write_bytes(register(2))

    result = run(
        env,
        "import",
        str(path),
        "--organization",
        "Acme",
        "--enqueue",
        "--map",
        "Vendor=klant_naam",
    )

    assert result.returncode == 2
    assert result.stderr == (
        "contractgql import: Unknown field 'klant_naam' in the column mapping for "
        f"column 'Vendor'. Valid fields: {VALID_FIELDS}; use '-' to ignore the "
        "column.\n"
    )
    # The mapping was rejected before a job was recorded.
    status = run(env, "import-status", "1")
    assert status.returncode == 2
    assert "import job '1' does not exist" in status.stderr


def test_import_decp_then_status(env: dict[str, str]) -> None:
    create_organization(env)

    result = run(
        env, "import", str(DECP_SAMPLE), "--organization", "Acme", "--format", "decp"
    )

    assert result.returncode == 0, result.stderr
    assert "11 created, 0 updated" in result.stdout
    assert "Import job 1 succeeded." in result.stdout
    status = run(env, "import-status", "1")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    status_warnings = [line for line in lines if line.startswith("  warning ")]
    summary_warnings = [
        line for line in result.stdout.splitlines() if line.startswith("  warning ")
    ]
    # The job stores the contract types left empty as a last warning, which the
    # summary lists on a line of its own.
    assert summary_warnings == status_warnings[:-1]
    assert len(summary_warnings) == 3
    assert status_warnings[-1].startswith("  warning row 0, column contract_type")
    assert "Contract types not found, left empty" in result.stdout
    assert lines[:2] == [
        "Import job 1: succeeded, file fr_decp_sample.json",
        "11 of 11 rows read: 11 created, 0 updated, 0 unchanged, 0 duplicates, "
        "0 rejected",
    ]
    assert lines[2].startswith(
        "  warning row 1, column montant, value '0': Placeholder"
    )
    cancel = run(env, "import-cancel", "1")
    assert cancel.returncode == 1
    assert cancel.stdout == ""
    assert re.fullmatch(
        r"contractgql import-cancel: Import job 1 \(SW1wb3J0Sm9iOjE\) already "
        r"succeeded on \d{4}-\d\d-\d\d \d\d:\d\d UTC; only a queued or running "
        r"job can be cancelled\.\n",
        cancel.stderr,
    ), cancel.stderr


def test_template_command_writes_a_template(
    env: dict[str, str], tmp_path: Path
) -> None:
    create_organization(env)
    output = tmp_path / "template.xlsx"

    written = run(env, "import-template", str(output), "--organization", "Acme")
    imported = run(env, "import", str(output), "--organization", "Acme")

    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == f"Wrote the import template to {output}"
    # Left as it is, the example row is rejected, and the command says why.
    assert imported.returncode == 1, imported.stderr
    assert (
        "  row 2, column Contract number, value 'EX-0001': This is the import "
        "template's example row" in imported.stdout
    )
    assert "0 created, 0 updated" in imported.stdout


def test_import_status_unknown_job(env: dict[str, str]) -> None:
    result = run(env, "import-status", "42")

    assert result.returncode == 2
    assert "import job '42' does not exist" in result.stderr


def test_enqueue_needs_redis(env: dict[str, str]) -> None:
    create_organization(env)

    result = run(
        env,
        "import",
        str(DECP_SAMPLE),
        "--organization",
        "Acme",
        "--format",
        "decp",
        "--enqueue",
    )

    assert result.returncode == 2
    assert "--enqueue needs CONTRACTGQL_REDIS_URL" in result.stderr


def test_cancel_of_job_in_other_process(env: dict[str, str]) -> None:
    """Without Redis, a SQLite job's cancel request cannot reach the process
    running it, so the command says so instead of claiming success."""
    import uuid

    import redis

    create_organization(env)
    queue = f"test-cancel-{uuid.uuid4().hex[:8]}"
    queued_env = {
        **env,
        "CONTRACTGQL_REDIS_URL": "redis://127.0.0.1:6379/0",
        "CONTRACTGQL_WORKER_QUEUE": queue,
    }
    try:
        enqueued = run(
            queued_env,
            "import",
            str(DECP_SAMPLE),
            "--organization",
            "Acme",
            "--format",
            "decp",
            "--enqueue",
        )
        assert enqueued.returncode == 0, enqueued.stderr
    finally:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").delete(queue)

    cancel = run(env, "import-cancel", "1")

    if "CONTRACTGQL_DATABASE_URL" in env:
        # PostgreSQL: the request goes into the job's row, which the import reads.
        assert cancel.returncode == 0, cancel.stderr
        assert cancel.stdout == "Cancel of import job 1 requested; it writes nothing.\n"
    else:
        assert cancel.returncode == 1
        assert "import job 1 runs in another process" in cancel.stderr
        assert "cancelImport mutation" in cancel.stderr
        status = run(env, "import-status", "1")
        assert status.returncode == 0
        assert "Progress is unknown here" in status.stdout


def test_import_prints_long_values_truncated(
    env: dict[str, str], tmp_path: Path
) -> None:
    create_organization(env)
    path = tmp_path / "long.csv"
    path.write_text(
        "number,name,client,start_date,description\n"
        f"L-1,Contract,Client,2027-01-01,{'x' * 131_000}\n"
        "L-2,Contract,Client,2027-01-01,kort\n",
        encoding="utf-8",
    )
    expected = (
        f"  row 2, column description, value '{'x' * 200}… (131000 characters in "
        "all)': Description is 131000 characters long: shorten it to at most 20000."
    )

    result = run(env, "import", str(path), "--organization", "Acme")

    assert result.returncode == 1, result.stderr
    assert expected in result.stdout.splitlines()
    assert len(result.stdout) < 2_000
    status = run(env, "import-status", "1")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[2] == expected


def test_summary_warnings_bounded() -> None:
    report = ImportReport(path=Path("register.csv"), dry_run=False, total_rows=2)
    report.warnings = [
        RowWarning(row, "Bedrag", "0", "Placeholder amount, left out.")
        for row in range(1, MAX_STORED_ERRORS + 3)
    ]
    output = io.StringIO()

    print_report(report, verbose=False, out=output)

    lines = output.getvalue().splitlines()
    warnings = [line for line in lines if line.startswith("  warning ")]
    assert len(warnings) == MAX_STORED_ERRORS
    assert warnings[0] == (
        "  warning row 1, column Bedrag, value '0': Placeholder amount, left out."
    )
    assert lines[lines.index(warnings[-1]) + 1] == "  2 more warnings are not listed"


def test_summary_one_row_singular() -> None:
    report = ImportReport(path=Path("register.csv"), dry_run=False, total_rows=1)
    output = io.StringIO()

    print_report(report, verbose=False, out=output)

    lines = output.getvalue().splitlines()
    assert lines[0] == "Imported register.csv (1 row, 0.0 s)"
    assert lines[-1] == (
        "0 created, 0 updated, 0 unchanged, 0 duplicates, 0 rejected; 0 new "
        "clients; 0 of 1 row accounted for."
    )


def test_strict_import_says_nothing_was_written(
    env: dict[str, str], tmp_path: Path
) -> None:
    create_organization(env)
    path = tmp_path / "strict.csv"
    path.write_text(
        "number,name,client,start_date,amount\n"
        "S-1,Contract,Client,2027-01-01,10.00\n"
        "S-2,Contract,Client,2027-01-01,-5\n",
        encoding="utf-8",
    )

    result = run(env, "import", str(path), "--organization", "Acme", "--strict")

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2] == (
        "Nothing was written: --strict rolls the whole import back when a row is "
        "rejected. Fix the rejected rows and import the file again."
    )
    assert lines[-1].startswith("1 would be created, 0 would be updated, ")
