"""Import jobs through GraphQL, run in the API process without Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.decp_file import decp_record
from tests.conftest import BACKEND, Api, Tenant, make_tenant
from tests.documents.helpers import post_upload

from contractgql.audit.recorder import record_audit
from contractgql.config import Settings
from contractgql.ids import decode_id, encode_id
from contractgql.importexport import importer, jobs
from contractgql.importexport import progress as board
from contractgql.importexport.command import stored_counts
from contractgql.importexport.importer import ImportProgress
from contractgql.models import (
    AuditLog,
    AuditOutbox,
    Client,
    Contract,
    ImportFormat,
    ImportJob,
    ImportStatus,
    User,
)
from contractgql.security.policy import Policy
from contractgql.security.viewer import viewer_for

HEADER = "number,name,client,start_date,end_date,amount,payment_frequency\r\n"

START_IMPORT = """
mutation Start($file: Upload!, $format: ImportFormat! = REGISTER) {
  startImport(input: {file: $file, format: $format}) {
    job { id status fileName format startedById }
    errors { field code message }
  }
}
"""

JOB = """
query Job($id: ID!) {
  importJob(id: $id) {
    id status totalRows rowsRead rowsWritten rowsRejected rowsCreated rowsUpdated
    rowsUnchanged rowsDuplicate failure cancelRequested attempts
    errors { row column value reason }
    warnings { row column value message }
  }
}
"""

JOBS = """
query Jobs($status: ImportStatus) {
  importJobs(first: 10, status: $status) { edges { node { id status fileName } } }
}
"""

NODE = """
query Node($id: ID!) { node(id: $id) { id ... on ImportJob { fileName } } }
"""

CANCEL = """
mutation Cancel($id: ID!) {
  cancelImport(id: $id) { job { id status cancelRequested } errors { message } }
}
"""

FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")


def register(rows: int, *, prefix: str = "J", bad_rows: tuple[int, ...] = ()) -> bytes:
    """Return a CSV register of `rows` contracts; `bad_rows` get an invalid amount."""
    lines = [HEADER]
    for index in range(1, rows + 1):
        amount = "twelve" if index in bad_rows else f"{index}.50"
        lines.append(
            f"{prefix}-{index},Contract {index},Client {index % 7},2027-01-01,"
            f"2027-12-31,{amount},monthly\r\n"
        )
    return "".join(lines).encode()


async def start(
    api: Api, content: bytes, *, role: str = "admin", name: str = "register.csv"
) -> dict[str, Any]:
    response = await post_upload(
        api.client,
        api.tenant.tokens[role],
        START_IMPORT,
        {"file": None},
        {"0": (name, ["variables.file"], content)},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for_job(
    api: Api, job_id: str, statuses: tuple[str, ...] = FINISHED, timeout: float = 60
) -> dict[str, Any]:
    """Poll the job until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = (await api.data(JOB, {"id": job_id}))["importJob"]
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"Job stayed {job['status']}: {job}"
        await asyncio.sleep(0.05)


async def test_start_import_runs_job(api: Api, tenant: Tenant) -> None:
    body = await start(api, register(5, bad_rows=(3,)))

    started = body["data"]["startImport"]
    assert started["errors"] == []
    assert started["job"]["fileName"] == "register.csv"
    assert started["job"]["format"] == "REGISTER"
    assert started["job"]["startedById"] == encode_id("User", tenant.user_ids["admin"])
    job = await wait_for_job(api, started["job"]["id"])
    assert job["status"] == "SUCCEEDED"
    assert job["totalRows"] == 5
    assert job["rowsRead"] == 5
    assert job["rowsWritten"] == 4
    assert job["rowsCreated"] == 4
    assert job["rowsRejected"] == 1
    assert job["attempts"] == 1
    assert job["failure"] is None
    assert job["errors"] == [
        {
            "row": 4,
            "column": "amount",
            "value": "twelve",
            "reason": "Invalid amount 'twelve': expected a number such as 45000, "
            "45,000, 1234.56 or € 1.234,56.",
        }
    ]
    organization_id = tenant.organization.id
    assert await Contract.filter(organization_id=organization_id).count() == 4


async def test_job_lists_ignored_columns(api: Api, tenant: Tenant) -> None:
    content = (
        b"number,name,client,start date,Notes,Internal code\n"
        b"J-1,Hosting,Acme,2027-01-01,call back,X1\n"
    )

    body = await start(api, content)
    job = await wait_for_job(api, body["data"]["startImport"]["job"]["id"])

    assert job["status"] == "SUCCEEDED"
    assert job["warnings"] == [
        {
            "row": 0,
            "column": None,
            "value": "Notes, Internal code",
            "message": "These columns were not imported. Map one to a field with "
            "--map HEADER=FIELD on the command line, or the mapping input of "
            "startImport if it holds contract data.",
        }
    ]


async def test_nul_byte_rejects_its_row(api: Api, tenant: Tenant) -> None:
    content = HEADER.encode() + (
        b"N-1,Con\x00tract,Client 1,2027-01-01,2027-12-31,10.00,monthly\r\n"
        b"N-2,Contract 2,Client 2,2027-01-01,2027-12-31,20.00,monthly\r\n"
    )

    body = await start(api, content)
    job = await wait_for_job(api, body["data"]["startImport"]["job"]["id"])

    assert job["status"] == "SUCCEEDED"
    assert job["rowsCreated"] == 1
    assert job["rowsRejected"] == 1
    assert job["errors"] == [
        {
            "row": 2,
            "column": "name",
            "value": "Con\\x00tract",
            "reason": "The cell contains a NUL character (byte 0), which no text "
            "field can store. Remove it, or check that the file was saved as text "
            "(CSV UTF-8).",
        }
    ]
    numbers = Contract.filter(organization_id=tenant.organization.id)
    assert await numbers.values_list("number", flat=True) == ["N-2"]


async def test_import_audited_as_starter(api: Api, tenant: Tenant) -> None:
    body = await start(api, register(3))
    await wait_for_job(api, body["data"]["startImport"]["job"]["id"])

    organization_id = tenant.organization.id
    await record_audit(organization_id)
    events = [
        (row.action, row.actor_id, row.request_id)
        for row in await AuditLog.filter(organization_id=organization_id)
    ]
    assert sorted(action for action, _, _ in events) == [
        "client.create",
        "client.create",
        "client.create",
        "contract.create",
        "contract.create",
        "contract.create",
    ]
    assert {actor for _, actor, _ in events} == {tenant.user_ids["admin"]}
    request_ids = {request_id for _, _, request_id in events}
    assert len(request_ids) == 1
    assert next(iter(request_ids)).startswith("import-")
    contract = await Contract.get(organization_id=organization_id, number="J-1")
    assert contract.owner_id == tenant.user_ids["admin"]


async def test_import_roles(api: Api) -> None:
    for role in ("finance", "account_manager", "sales", "project_staff", "integrator"):
        body = await start(api, register(1, prefix=role), role=role)
        assert body["data"] is None, role
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", role

    body = await start(api, register(2, prefix="M"), role="management")
    job = await wait_for_job(api, body["data"]["startImport"]["job"]["id"])
    assert job["status"] == "SUCCEEDED"
    assert job["rowsCreated"] == 2


async def test_jobs_hidden_from_other_roles(api: Api) -> None:
    body = await start(api, register(1))
    job_id = body["data"]["startImport"]["job"]["id"]
    await wait_for_job(api, job_id)

    node = await api.data(NODE, {"id": job_id})
    assert node["node"] == {"id": job_id, "fileName": "register.csv"}
    for role in ("finance", "sales"):
        hidden = await api.data(NODE, {"id": job_id}, role=role)
        assert hidden["node"] is None, role
        error = await api.error(JOB, {"id": job_id}, role=role)
        assert error["extensions"]["code"] == "FORBIDDEN", role
        error = await api.error(JOBS, role=role)
        assert error["extensions"]["code"] == "FORBIDDEN", role


async def test_jobs_hidden_from_other_organizations(
    api: Api, client: httpx.AsyncClient, settings: Settings
) -> None:
    body = await start(api, register(1))
    job_id = body["data"]["startImport"]["job"]["id"]
    await wait_for_job(api, job_id)
    other = Api(client, await make_tenant(settings))

    assert (await other.data(JOB, {"id": job_id}))["importJob"] is None
    node = await other.data(NODE, {"id": job_id})
    assert node["node"] is None
    jobs_data = await other.data(JOBS)
    assert jobs_data["importJobs"]["edges"] == []
    cancel = await other.error(CANCEL, {"id": job_id})
    assert cancel["extensions"]["code"] == "NOT_FOUND"


async def test_import_jobs_list_newest_first(api: Api) -> None:
    first = await start(api, register(1, prefix="A"), name="a.csv")
    await wait_for_job(api, first["data"]["startImport"]["job"]["id"])
    second = await start(api, b"nothing,here\r\n1,2\r\n", name="b.csv")
    await wait_for_job(api, second["data"]["startImport"]["job"]["id"])

    listed = (await api.data(JOBS))["importJobs"]["edges"]
    assert [(e["node"]["fileName"], e["node"]["status"]) for e in listed] == [
        ("b.csv", "FAILED"),
        ("a.csv", "SUCCEEDED"),
    ]
    failed = (await api.data(JOBS, {"status": "FAILED"}))["importJobs"]["edges"]
    assert [e["node"]["fileName"] for e in failed] == ["b.csv"]


async def test_failed_import_writes_nothing(api: Api, tenant: Tenant) -> None:
    body = await start(api, b"nothing,here\r\n1,2\r\n")

    job = await wait_for_job(api, body["data"]["startImport"]["job"]["id"])

    assert job["status"] == "FAILED"
    assert job["failure"].startswith("No header row found in register.csv: ")
    assert job["rowsWritten"] == 0
    assert await Contract.filter(organization_id=tenant.organization.id).count() == 0


START_WITH_MAPPING = """
mutation Start($file: Upload!, $mapping: [ColumnMappingInput!]) {
  startImport(input: {file: $file, mapping: $mapping}) {
    job { id }
    errors { field code message }
  }
}
"""
VALID_FIELDS = (
    "number, name, client, client_coc_number, client_vat_number, contract_type, "
    "status, start_date, end_date, signed_date, amount, currency, vat_rate, "
    "payment_frequency, auto_renewal, notice_period, renewal_term, indexation, "
    "description, owner_email, tags"
)


async def test_start_import_rejects_unknown_mapping_field(
    api: Api, tenant: Tenant
) -> None:
    mapping = [
        {"header": "Vendor", "field": "klant_naam"},
        {"header": "Klant", "field": "client"},
        {"header": "Opdrachtgever", "field": "Client"},
        {"header": "Notes", "field": "-"},
    ]
    response = await post_upload(
        api.client,
        tenant.tokens["admin"],
        START_WITH_MAPPING,
        {"file": None, "mapping": mapping},
        {"0": ("register.csv", ["variables.file"], register(3))},
    )

    assert response.status_code == 200, response.text
    payload = response.json()["data"]["startImport"]
    assert payload["job"] is None
    assert payload["errors"] == [
        {
            "field": "mapping",
            "code": "INVALID",
            "message": "Unknown field 'klant_naam' in the column mapping for column "
            f"'Vendor'. Valid fields: {VALID_FIELDS}; use '-' to ignore the column.",
        },
        {
            "field": "mapping",
            "code": "INVALID",
            "message": "The column mapping maps both 'Klant' and 'Opdrachtgever' to "
            "'client'; map only one column to each field.",
        },
    ]
    assert await ImportJob.filter(organization_id=tenant.organization.id).count() == 0


async def test_upload_wrong_file_type(api: Api) -> None:
    body = await start(api, b"%PDF-1.4", name="register.pdf")

    payload = body["data"]["startImport"]
    assert payload["job"] is None
    assert payload["errors"] == [
        {
            "field": "file",
            "code": "INVALID_FILE_TYPE",
            "message": "'register.pdf' does not end in .csv, .xlsx, .txt, .tsv: a "
            "register import reads only those files.",
        }
    ]


async def test_cancel_leaves_zero_rows(api: Api, tenant: Tenant) -> None:
    body = await start(api, register(1500))
    job_id = body["data"]["startImport"]["job"]["id"]
    running = await wait_for_job(api, job_id, ("RUNNING", *FINISHED))
    assert running["status"] == "RUNNING"

    cancel = await api.data(CANCEL, {"id": job_id})

    assert cancel["cancelImport"]["job"]["cancelRequested"] is True
    job = await wait_for_job(api, job_id)
    assert job["status"] == "CANCELLED"
    assert job["rowsCreated"] == 0
    organization_id = tenant.organization.id
    assert await Contract.filter(organization_id=organization_id).count() == 0
    assert await Client.filter(organization_id=organization_id).count() == 0
    assert await AuditOutbox.filter(organization_id=organization_id).count() == 0


CANCEL_WITH_CODES = """
mutation Cancel($id: ID!) {
  cancelImport(id: $id) {
    job { id status cancelRequested }
    errors { field code message }
  }
}
"""


async def test_cancel_finished_job_rejected(api: Api, tenant: Tenant) -> None:
    body = await start(api, register(3, bad_rows=(2,)))
    job_id = body["data"]["startImport"]["job"]["id"]
    assert (await wait_for_job(api, job_id))["status"] == "SUCCEEDED"
    _type_name, pk = decode_id(job_id)
    stored = await ImportJob.get(id=pk)
    assert stored.finished_at is not None
    finished_at = stored.finished_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")

    cancel = (await api.data(CANCEL_WITH_CODES, {"id": job_id}))["cancelImport"]

    assert cancel["errors"] == [
        {
            "field": "id",
            "code": "ALREADY_FINISHED",
            "message": f"Import job {pk} ({job_id}) already succeeded on "
            f"{finished_at} UTC; only a queued or running job can be cancelled.",
        }
    ]
    assert cancel["job"] == {
        "id": job_id,
        "status": "SUCCEEDED",
        "cancelRequested": False,
    }
    job = await wait_for_job(api, job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["rowsCreated"] == 2
    assert job["rowsRejected"] == 1
    assert (await ImportJob.get(id=pk)).cancel_requested is False


@pytest.mark.parametrize(
    ("status", "verb"),
    [
        (ImportStatus.FAILED, "already failed"),
        (ImportStatus.CANCELLED, "was already cancelled"),
    ],
)
async def test_cancel_failed_or_cancelled_rejected(
    api: Api, tenant: Tenant, status: ImportStatus, verb: str
) -> None:
    job = await ImportJob.create(
        organization_id=tenant.organization.id,
        file_name="register.csv",
        stored_path="/nonexistent/register.csv",
        file_format=ImportFormat.REGISTER,
        status=status,
        finished_at=datetime(2026, 3, 4, 5, 6, tzinfo=UTC),
        cancel_requested=status is ImportStatus.CANCELLED,
    )
    job_id = encode_id("ImportJob", job.id)

    cancel = (await api.data(CANCEL_WITH_CODES, {"id": job_id}))["cancelImport"]

    assert [error["message"] for error in cancel["errors"]] == [
        f"Import job {job.id} ({job_id}) {verb} on 2026-03-04 05:06 UTC; only a "
        "queued or running job can be cancelled."
    ]
    assert cancel["job"]["status"] == status.name
    stored = await ImportJob.get(id=job.id)
    assert stored.status is status
    assert stored.finished_at == datetime(2026, 3, 4, 5, 6, tzinfo=UTC)


async def test_progress_values(
    settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "progress.csv"
    # Rows 2 and 4 of the file are invalid. Progress comes every 250 rows read.
    path.write_bytes(register(602, bad_rows=(1, 3)))
    job = await jobs.create_job(
        None, tenant.organization.id, path.name, path, ImportFormat.REGISTER, {}
    )
    seen: list[ImportProgress] = []

    async def observe(current: ImportProgress) -> None:
        seen.append(current)

    policy = Policy.load(settings.policy_dir)
    finished = await jobs.run_job(settings, policy, job.id, observer=observe)

    assert finished is not None
    assert finished.status is ImportStatus.SUCCEEDED
    assert seen == [
        ImportProgress(
            total_rows=602, rows_read=250, rows_written=248, rows_rejected=2
        ),
        ImportProgress(
            total_rows=602, rows_read=500, rows_written=498, rows_rejected=2
        ),
        ImportProgress(
            total_rows=602, rows_read=602, rows_written=600, rows_rejected=2
        ),
    ]
    assert finished.rows_created == 600
    assert finished.rows_rejected == 2
    assert path.exists(), "the command line's own file is never deleted"


async def test_cancelled_job_keeps_rejected_count(
    api: Api, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "cancelled.csv"
    # Rows 2 and 4 of the file are invalid. Progress comes every 250 rows read.
    path.write_bytes(register(602, bad_rows=(1, 3)))
    job = await jobs.create_job(
        None, tenant.organization.id, path.name, path, ImportFormat.REGISTER, {}
    )

    async def cancel_at_first_progress(current: ImportProgress) -> None:
        board.request_cancel_here(job.id)

    policy = Policy.load(settings.policy_dir)
    finished = await jobs.run_job(
        settings, policy, job.id, observer=cancel_at_first_progress
    )
    node = (await api.data(JOB, {"id": encode_id("ImportJob", job.id)}))["importJob"]

    assert finished is not None
    assert finished.status is ImportStatus.CANCELLED
    assert (finished.total_rows, finished.rows_read) == (602, 250)
    assert finished.rows_rejected == 2
    assert finished.rows_created == 0
    assert node["status"] == "CANCELLED"
    assert node["totalRows"] == 602
    assert node["rowsRead"] == 250
    assert node["rowsRejected"] == 2
    # The 248 rows written before the cancel were rolled back.
    assert node["rowsWritten"] == 0
    assert node["rowsCreated"] == 0
    assert node["errors"] == []
    assert stored_counts(finished) == (
        "250 of 602 rows read, 2 rejected, before the import was cancelled. It was "
        "rolled back, so no row was imported, and rejected rows are listed only "
        "when an import runs to the end."
    )
    assert await Contract.filter(organization_id=tenant.organization.id).count() == 0


async def test_amount_denied_names_map_option(
    api: Api, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(settings.policy_dir, folder)
    policy_csv = folder / "policy.csv"
    financial = (
        "p, management, contract.financial, read\n"
        "p, management, contract.financial, write\n"
    )
    assert financial in policy_csv.read_text()
    policy_csv.write_text(policy_csv.read_text().replace(financial, ""))
    policy = Policy.load(folder)
    manager = await User.get(id=tenant.user_ids["management"]).select_related(
        "organization"
    )
    path = tmp_path / "amounts.csv"
    path.write_bytes(register(2, prefix="F"))
    job = await jobs.create_job(
        viewer_for(manager, policy),
        tenant.organization.id,
        path.name,
        path,
        ImportFormat.REGISTER,
        {},
    )

    finished = await jobs.run_job(settings, policy, job.id)
    node = (await api.data(JOB, {"id": encode_id("ImportJob", job.id)}))["importJob"]

    assert finished is not None
    assert finished.status is ImportStatus.FAILED
    expected = (
        "You may not set amount, currency: changing them needs the "
        "'contract.financial:write' permission. Leave these fields out of the input "
        "or ask a user whose role has it. To import the other columns, ignore the "
        "columns of amount: map each to '-', with --map \"HEADER=-\" on the command "
        "line, or with the field '-' in the mapping input of startImport."
    )
    assert finished.failure == expected
    assert node["status"] == "FAILED"
    assert node["failure"] == expected
    assert await Contract.filter(organization_id=tenant.organization.id).count() == 0


async def test_stored_counts_of_finished_jobs() -> None:
    succeeded = ImportJob(
        status=ImportStatus.SUCCEEDED,
        total_rows=5,
        rows_read=5,
        rows_created=3,
        rows_updated=1,
        rows_unchanged=0,
        rows_duplicate=0,
        rows_rejected=1,
        errors=[{"row": 4}],
    )
    failed = ImportJob(
        status=ImportStatus.FAILED,
        total_rows=None,
        rows_read=0,
        rows_rejected=0,
        errors=[],
    )

    assert stored_counts(succeeded) == (
        "5 of 5 rows read: 3 created, 1 updated, 0 unchanged, 0 duplicates, 1 rejected"
    )
    assert stored_counts(failed) == (
        "0 of 0 rows read, 0 rejected, before the import failed. It was rolled "
        "back, so no row was imported."
    )


async def test_interrupted_job_runs_again(
    settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "again.csv"
    path.write_bytes(register(2, prefix="R"))
    job = await jobs.create_job(
        None, tenant.organization.id, path.name, path, ImportFormat.REGISTER, {}
    )
    # As a process that stopped mid-import leaves it.
    await ImportJob.filter(id=job.id).update(status=ImportStatus.RUNNING, attempts=1)
    policy = Policy.load(settings.policy_dir)

    finished = await jobs.run_job(settings, policy, job.id)

    assert finished is not None
    assert finished.status is ImportStatus.SUCCEEDED
    assert finished.attempts == 2
    assert finished.rows_created == 2


async def test_job_fails_after_max_attempts(
    settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "stuck.csv"
    path.write_bytes(register(2, prefix="S"))
    job = await jobs.create_job(
        None, tenant.organization.id, path.name, path, ImportFormat.REGISTER, {}
    )
    await ImportJob.filter(id=job.id).update(
        status=ImportStatus.RUNNING, attempts=jobs.MAX_ATTEMPTS
    )
    policy = Policy.load(settings.policy_dir)

    finished = await jobs.run_job(settings, policy, job.id)

    assert finished is not None
    assert finished.status is ImportStatus.FAILED
    assert finished.failure is not None
    assert finished.failure.startswith("The import was interrupted 3 times")
    organization_id = tenant.organization.id
    assert await Contract.filter(organization_id=organization_id).count() == 0


async def test_job_of_deactivated_user_fails(
    api: Api, settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "deactivated.csv"
    path.write_bytes(register(2, prefix="D"))
    admin = await User.get(id=tenant.user_ids["admin"])
    job = await ImportJob.create(
        organization_id=tenant.organization.id,
        created_by_id=admin.id,
        file_name=path.name,
        stored_path=str(path),
        file_format=ImportFormat.REGISTER,
        status=ImportStatus.QUEUED,
    )
    await User.filter(id=admin.id).update(is_active=False)
    policy = Policy.load(settings.policy_dir)

    finished = await jobs.run_job(settings, policy, job.id)

    assert finished is not None
    assert finished.status is ImportStatus.FAILED
    assert finished.failure == (
        "The user who started the import was deactivated or deleted before it "
        "ran, so nothing was imported."
    )
    assert await Contract.filter(organization_id=tenant.organization.id).count() == 0


async def test_finished_job_not_run_again(
    settings: Settings, tenant: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "done.csv"
    path.write_bytes(register(1, prefix="F"))
    job = await jobs.create_job(
        None, tenant.organization.id, path.name, path, ImportFormat.REGISTER, {}
    )
    policy = Policy.load(settings.policy_dir)
    await jobs.run_job(settings, policy, job.id)

    again = await jobs.run_job(settings, policy, job.id)

    assert again is None
    assert await Contract.filter(organization_id=tenant.organization.id).count() == 1
    stored = await ImportJob.get(id=job.id)
    assert stored.attempts == 1


async def test_uploaded_file_deleted_after_job(api: Api, settings: Settings) -> None:
    body = await start(api, register(1, prefix="U"))
    job_id = body["data"]["startImport"]["job"]["id"]
    await wait_for_job(api, job_id)

    _, pk = decode_id(job_id)
    stored = await ImportJob.get(id=pk)
    stored_path = Path(stored.stored_path)
    assert stored_path.parent.parent == jobs.import_dir(settings)
    assert stored_path.name == "register.csv"
    assert not stored_path.exists()
    assert not stored_path.parent.exists()


async def test_decp_import_job_warnings(api: Api, tenant: Tenant) -> None:
    content = (
        Path(__file__).resolve().parents[1] / "data/fr_decp_sample.json"
    ).read_bytes()
    response = await post_upload(
        api.client,
        api.tenant.tokens["management"],
        START_IMPORT,
        {"file": None, "format": "DECP"},
        {"0": ("decp.json", ["variables.file"], content)},
    )
    started = response.json()["data"]["startImport"]

    job = await wait_for_job(api, started["job"]["id"])

    assert started["job"]["format"] == "DECP"
    assert job["status"] == "SUCCEEDED"
    assert job["rowsCreated"] == 11
    assert [(w["row"], w["column"], w["value"]) for w in job["warnings"]] == [
        (1, "montant", "0"),
        (2, "montant", "999999999"),
        (11, "montant", "1"),
        (
            0,
            "contract_type",
            "'Accord-cadre' (5), 'Marché' (5), 'Concession de service' (1)",
        ),
    ]
    contract = await Contract.get(
        organization_id=tenant.organization.id, number="211300876000112019MAPA28201801"
    )
    assert contract.amount_minor == 5286600


async def test_job_stores_long_values_truncated(api: Api, tenant: Tenant) -> None:
    description = "x" * 131_000
    lines = [HEADER.replace("\r\n", ",description\r\n")]
    for index in range(1, 4):
        lines.append(
            f"L-{index},Contract {index},Client 1,2027-01-01,2027-12-31,10.00,"
            f"monthly,{description}\r\n"
        )
    lines.append("L-4,Contract 4,Client 1,2027-01-01,2027-12-31,10.00,monthly,kort\r\n")

    body = await start(api, "".join(lines).encode())
    job_id = body["data"]["startImport"]["job"]["id"]
    job = await wait_for_job(api, job_id)

    assert job["status"] == "SUCCEEDED"
    assert job["rowsCreated"] == 1
    assert job["rowsRejected"] == 3
    assert job["errors"] == [
        {
            "row": row,
            "column": "description",
            "value": "x" * 200 + "… (131000 characters in all)",
            "reason": "Description is 131000 characters long: shorten it to at most "
            "20000.",
        }
        for row in (2, 3, 4)
    ]
    stored = await ImportJob.get(id=decode_id(job_id)[1])
    assert stored.errors == [
        {
            "row": row,
            "column": "description",
            "value": "x" * 200 + "… (131000 characters in all)",
            "reason": "Description is 131000 characters long: shorten it to at most "
            "20000.",
            "field": "description",
        }
        for row in (2, 3, 4)
    ]
    response = await api.client.post(
        "/graphql",
        json={"query": JOB, "variables": {"id": job_id}},
        headers={"Authorization": f"Bearer {api.tenant.tokens['admin']}"},
    )
    assert response.status_code == 200
    # Three quoted excerpts of about 230 bytes and the job's other fields.
    assert len(response.content) < 2_000


async def test_job_stores_long_warning_truncated(api: Api, tenant: Tenant) -> None:
    record = decp_record(1)
    record["objet"] = "Entretien " * 100
    content = json.dumps({"marches": [record]}).encode()

    response = await post_upload(
        api.client,
        api.tenant.tokens["admin"],
        START_IMPORT,
        {"file": None, "format": "DECP"},
        {"0": ("decp.json", ["variables.file"], content)},
    )
    job = await wait_for_job(api, response.json()["data"]["startImport"]["job"]["id"])

    assert job["status"] == "SUCCEEDED"
    assert job["warnings"][0] == {
        "row": 1,
        "column": "objet",
        "value": ("Entretien " * 20) + "… (999 characters in all)",
        "message": "Shortened to 300 characters.",
    }


# Seconds the test's other writer holds SQLite's write lock: longer than the busy
# timeout of 5 s that the import waits, so its first write fails, and short enough
# that the job's outcome is stored once the lock is gone.
LOCK_SECONDS = 8


@pytest.mark.skipif(BACKEND != "sqlite", reason="only SQLite locks the database")
async def test_sqlite_lock_fails_job_plainly(
    settings: Settings, tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.csv"
    path.write_bytes(register(2, prefix="L"))
    job = await jobs.create_job(
        None, tenant.organization.id, path.name, path, ImportFormat.REGISTER, {}
    )
    database = settings.resolved_database_url.removeprefix("sqlite://")
    locked = threading.Event()

    def hold_lock() -> None:
        writer = sqlite3.connect(database, timeout=0)
        try:
            writer.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(LOCK_SECONDS)
        finally:
            writer.rollback()
            writer.close()

    holder = threading.Thread(target=hold_lock)
    read_table = importer.read_table

    def read_then_lock(*args: Any, **kwargs: Any) -> Any:
        # The job is claimed by now; another writer takes the lock before the
        # import writes its first row.
        holder.start()
        assert locked.wait(5), "the other writer could not take the lock"
        return read_table(*args, **kwargs)

    monkeypatch.setattr(importer, "read_table", read_then_lock)
    try:
        finished = await jobs.run_job(
            settings, Policy.load(settings.policy_dir), job.id
        )
    finally:
        holder.join(LOCK_SECONDS + 5)

    assert finished is not None
    assert finished.status is ImportStatus.FAILED
    assert finished.failure == (
        "The SQLite database stayed locked by another writer, such as another "
        "import or the API server recording audit events, so nothing was imported. "
        "Run the import again when that write is done, or use PostgreSQL when "
        "imports run next to other work."
    )
    assert await Contract.filter(organization_id=tenant.organization.id).count() == 0
