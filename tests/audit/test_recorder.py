"""The recorder: exactly-once, in-order chains despite kills and concurrent runs."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from contractgql.audit.outbox import (
    creation_batch,
    creation_batch_json,
    snapshot_of_columns,
)
from contractgql.audit.recorder import (
    GENESIS_HASH,
    ChainEnd,
    ChainProblem,
    chain_hash,
    entry_content,
    record_audit,
    verify_chain,
)
from contractgql.config import Settings
from contractgql.domain.dates import PeriodUnit
from contractgql.domain.money import PaymentFrequency
from contractgql.ids import encode_id
from contractgql.models import (
    AuditChainHead,
    AuditLog,
    AuditOutbox,
    Client,
    Contract,
    Organization,
)
from contractgql.models.contracts import ContractStage, Sensitivity
from tests.jobs.conftest import CONTRACTGQL, process_env

# Seconds a recorder process may take before the test gives up on it.
PROCESS_TIMEOUT = 120


async def make_events(count: int) -> Organization:
    """Create an organization with `count` waiting outbox events."""
    organization = await Organization.create(name=f"Audit {uuid.uuid4().hex[:10]}")
    now = datetime.now(UTC)
    await AuditOutbox.bulk_create(
        [
            AuditOutbox(
                organization_id=organization.id,
                actor_id=None,
                action="contract.update",
                entity_type="Contract",
                entity_id=index + 1,
                changes=[{"field": "name", "old": f"v{index}", "new": f"v{index + 1}"}],
                request_id=f"request-{index}",
                created_at=now,
            )
            for index in range(count)
        ]
    )
    return organization


async def assert_complete_chain(organization: Organization, count: int) -> None:
    """Check that the chain contains each event once, in id order, and verifies."""
    entries = await AuditLog.filter(organization_id=organization.id).order_by(
        "sequence"
    )
    assert [entry.sequence for entry in entries] == list(range(1, count + 1))
    outbox_ids = [entry.outbox_id for entry in entries]
    assert outbox_ids == sorted(outbox_ids)
    assert len(set(outbox_ids)) == count
    assert [entry.entity_id for entry in entries] == list(range(1, count + 1))
    assert await AuditOutbox.filter(organization_id=organization.id).count() == 0
    assert isinstance(await verify_chain(organization), ChainEnd)


def recorder(organization: Organization, batch_size: int) -> list[str]:
    return [
        *CONTRACTGQL,
        "audit",
        "record",
        "--organization",
        organization.name,
        "--batch-size",
        str(batch_size),
    ]


async def test_recorder_builds_hash_chain(scratch: Settings) -> None:
    organization = await make_events(5)
    assert await record_audit(organization.id, batch_size=2) == 5

    entries = await AuditLog.filter(organization_id=organization.id).order_by(
        "sequence"
    )
    assert entries[0].prev_hash == GENESIS_HASH
    for previous, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == previous.hash
    for entry in entries:
        expected = chain_hash(entry.prev_hash, entry_content(entry, entry.sequence))
        assert entry.hash == expected
    await assert_complete_chain(organization, 5)


async def test_recorder_continues_chain(scratch: Settings) -> None:
    organization = await make_events(3)
    await record_audit(organization.id)
    await AuditOutbox.create(
        organization_id=organization.id,
        action="contract.update",
        entity_type="Contract",
        entity_id=4,
        changes=[],
        created_at=datetime.now(UTC),
    )
    assert await record_audit(organization.id) == 1
    await assert_complete_chain(organization, 4)


async def test_batch_event_becomes_one_entry_per_record(scratch: Settings) -> None:
    organization = await make_events(2)
    now = datetime.now(UTC)
    changes = creation_batch(
        [
            (11, {"name": "Alpha", "amount": "10.00", "endDate": None}),
            (12, {"name": "Beta", "tags": []}),
            (13, {"name": "Gamma", "amount": None}),
        ]
    )
    batch = await AuditOutbox.create(
        organization_id=organization.id,
        actor_id=7,
        action="contract.create",
        entity_type="Contract",
        entity_id=11,
        changes=changes,
        request_id="import-1",
        created_at=now,
    )
    await AuditOutbox.create(
        organization_id=organization.id,
        action="contract.update",
        entity_type="Contract",
        entity_id=11,
        changes=[{"field": "name", "old": "Alpha", "new": "Alef"}],
        created_at=now,
    )

    # Batches of two entries: the batch event's three entries go in one
    # transaction, and the update waits for the next.
    assert await record_audit(organization.id, batch_size=2) == 6

    entries = await AuditLog.filter(organization_id=organization.id).order_by(
        "sequence"
    )
    assert [
        (e.sequence, e.outbox_item, e.entity_id, e.action) for e in entries[2:]
    ] == [
        (3, 1, 11, "contract.create"),
        (4, 2, 12, "contract.create"),
        (5, 3, 13, "contract.create"),
        (6, 0, 11, "contract.update"),
    ]
    assert [e.changes for e in entries[2:5]] == [
        [
            {"field": "amount", "old": None, "new": "10.00"},
            {"field": "name", "old": None, "new": "Alpha"},
        ],
        [
            {"field": "name", "old": None, "new": "Beta"},
            {"field": "tags", "old": None, "new": []},
        ],
        [{"field": "name", "old": None, "new": "Gamma"}],
    ]
    assert {(e.outbox_id, e.actor_id, e.request_id) for e in entries[2:5]} == {
        (batch.id, 7, "import-1")
    }
    assert await AuditOutbox.filter(organization_id=organization.id).count() == 0
    assert isinstance(await verify_chain(organization), ChainEnd)

    # Only batch entries hash their item number, so entries of single events
    # keep the content they had before batch events existed.
    assert "outbox_item" not in entry_content(entries[0], 1)
    assert entry_content(entries[3], 4)["outbox_item"] == 2
    await AuditLog.filter(id=entries[3].id).update(outbox_item=9)
    problem = await verify_chain(organization)
    assert isinstance(problem, ChainProblem)
    assert (problem.sequence, problem.reason) == (
        4,
        "the stored hash does not match the entry's content",
    )


async def test_batch_events_between_single_events(scratch: Settings) -> None:
    organization = await Organization.create(name=f"Audit {uuid.uuid4().hex[:10]}")
    now = datetime.now(UTC)
    expected: list[tuple[int, int]] = []
    for batch in range(5):
        await AuditOutbox.create(
            organization_id=organization.id,
            action="contract.update",
            entity_type="Contract",
            entity_id=batch,
            changes=[{"field": "name", "old": "a", "new": "b"}],
            created_at=now,
        )
        expected.append((0, batch))
        records = [(batch * 1000 + i, {"name": f"C{i}"}) for i in range(300)]
        await AuditOutbox.create(
            organization_id=organization.id,
            action="contract.create",
            entity_type="Contract",
            entity_id=records[0][0],
            changes=creation_batch(records),
            created_at=now,
        )
        expected += [(i + 1, entity_id) for i, (entity_id, _) in enumerate(records)]

    assert await record_audit(organization.id, batch_size=200) == 1505

    entries = await AuditLog.filter(organization_id=organization.id).order_by(
        "sequence"
    )
    assert [e.sequence for e in entries] == list(range(1, 1506))
    assert [(e.outbox_item, e.entity_id) for e in entries] == expected
    assert await AuditOutbox.filter(organization_id=organization.id).count() == 0
    assert isinstance(await verify_chain(organization), ChainEnd)


async def test_log_keys_reject_a_repeated_entry(scratch: Settings) -> None:
    organization = await make_events(1)
    await record_audit(organization.id)
    entry = await AuditLog.get(organization_id=organization.id)
    fields = {
        "organization_id": organization.id,
        "actor_id": None,
        "action": "contract.update",
        "entity_type": "Contract",
        "entity_id": 1,
        "changes": [],
        "created_at": entry.created_at,
        "prev_hash": entry.hash,
        "hash": "f" * 64,
    }
    with pytest.raises(IntegrityError):
        await AuditLog.create(**fields, sequence=1, outbox_id=entry.outbox_id + 1)
    with pytest.raises(IntegrityError):
        await AuditLog.create(**fields, sequence=2, outbox_id=entry.outbox_id)
    await AuditLog.create(
        **fields, sequence=2, outbox_id=entry.outbox_id, outbox_item=1
    )


async def test_killed_recorder_leaves_no_gap(scratch: Settings) -> None:
    count = 1500
    organization = await make_events(count)
    process = subprocess.Popen(
        recorder(organization, batch_size=1),
        env=process_env(scratch),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    recorded = 0
    deadline = time.monotonic() + PROCESS_TIMEOUT
    try:
        while time.monotonic() < deadline and process.poll() is None:
            recorded = await AuditLog.filter(organization_id=organization.id).count()
            if recorded >= 20:
                break
            await asyncio.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=PROCESS_TIMEOUT)
    assert process.returncode == -signal.SIGKILL
    assert recorded >= 20
    left = await AuditOutbox.filter(organization_id=organization.id).count()
    assert left > 0, "the recorder finished before it was killed"

    await record_audit(organization.id)
    await assert_complete_chain(organization, count)


async def test_concurrent_recorders_write_one_chain(scratch: Settings) -> None:
    count = 400
    organization = await make_events(count)
    processes = [
        subprocess.Popen(
            recorder(organization, batch_size=3),
            env=process_env(scratch),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=PROCESS_TIMEOUT) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    appended = sum(int(stdout.split()[1]) for stdout, _ in outputs)
    assert appended == count
    await assert_complete_chain(organization, count)


def verify(
    settings: Settings, organization: Organization
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONTRACTGQL, "audit", "verify", "--organization", organization.name],
        env=process_env(settings),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )


async def test_verify_names_edited_entry(scratch: Settings) -> None:
    organization = await make_events(4)
    await record_audit(organization.id)
    intact = verify(scratch, organization)
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout

    third = await AuditLog.get(organization_id=organization.id, sequence=3)
    await connections.get("default").execute_query(
        f"UPDATE audit_log SET actor_id = 999 WHERE id = {third.id}"
    )
    broken = verify(scratch, organization)
    assert broken.returncode == 1
    assert "sequence 3" in broken.stderr
    assert f"id {third.id}" in broken.stderr
    assert organization.name in broken.stderr


async def test_verify_names_missing_entry(scratch: Settings) -> None:
    organization = await make_events(4)
    await record_audit(organization.id)
    second = await AuditLog.get(organization_id=organization.id, sequence=2)
    await connections.get("default").execute_query(
        f"DELETE FROM audit_log WHERE id = {second.id}"
    )
    problem = await verify_chain(organization)
    assert isinstance(problem, ChainProblem)
    assert problem.sequence == 2
    assert problem.entry_id is None

    broken = verify(scratch, organization)
    assert broken.returncode == 1
    assert "sequence 2" in broken.stderr


def run_audit(
    settings: Settings, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONTRACTGQL, "audit", *args],
        env=process_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )


async def _execute(sql: str) -> None:
    await connections.get("default").execute_script(sql)


async def test_anchors_reveal_a_log_cut_short(scratch: Settings, tmp_path) -> None:
    organization = await make_events(4)
    await record_audit(organization.id)
    anchors = tmp_path / "anchors.txt"
    named = ("--organization", organization.name)

    anchored = run_audit(scratch, "verify", *named, "--anchors", str(anchors))
    end = await AuditLog.get(organization_id=organization.id, sequence=4)
    # Entries 3 and 4 are deleted and the head is made to match entry 2.
    second = await AuditLog.get(organization_id=organization.id, sequence=2)
    await _execute(
        f"DELETE FROM audit_log WHERE organization_id = {organization.id} "
        f"AND sequence > 2; UPDATE audit_chain_heads SET sequence = 2, "
        f"hash = '{second.hash}' WHERE organization_id = {organization.id}"
    )
    without = run_audit(scratch, "verify", *named)
    against = run_audit(scratch, "verify", *named, "--anchors", str(anchors))

    assert anchored.returncode == 0, anchored.stderr
    assert anchors.read_text() == f"{organization.id} 4 {end.hash}\n"
    # The chain alone looks intact, the anchor does not.
    assert without.returncode == 0, without.stderr
    assert against.returncode == 1
    assert "an anchor names sequence 4 but the log ends at 2" in against.stderr


async def test_anchors_reveal_a_rewritten_log(scratch: Settings, tmp_path) -> None:
    organization = await make_events(3)
    await record_audit(organization.id)
    anchors = tmp_path / "anchors.txt"
    named = ("--organization", organization.name)
    run_audit(scratch, "verify", *named, "--anchors", str(anchors))

    # Someone with write access changes entry 2 and recomputes every hash after it.
    entries = await AuditLog.filter(organization_id=organization.id).order_by(
        "sequence"
    )
    prev_hash = entries[0].hash
    for entry in entries[1:]:
        if entry.sequence == 2:
            entry.changes = [{"field": "name", "old": "v1", "new": "forged"}]
        entry.prev_hash = prev_hash
        entry.hash = chain_hash(prev_hash, entry_content(entry, entry.sequence))
        prev_hash = entry.hash
        await entry.save()
    await _execute(
        f"UPDATE audit_chain_heads SET hash = '{prev_hash}' "
        f"WHERE organization_id = {organization.id}"
    )
    without = run_audit(scratch, "verify", *named)
    against = run_audit(scratch, "verify", *named, "--anchors", str(anchors))

    assert without.returncode == 0, without.stderr
    assert against.returncode == 1
    assert "sequence 3" in against.stderr
    assert "differs from the anchor" in against.stderr


async def test_missing_head_stops_recording_until_restored(scratch: Settings) -> None:
    organization = await make_events(2)
    await record_audit(organization.id)
    await _execute(
        f"DELETE FROM audit_chain_heads WHERE organization_id = {organization.id}"
    )
    more = await make_events(2)
    await AuditOutbox.filter(organization_id=more.id).update(
        organization_id=organization.id
    )
    named = ("--organization", organization.name)

    stopped = run_audit(scratch, "record", *named)
    broken = run_audit(scratch, "verify", *named)
    waiting = await AuditOutbox.filter(organization_id=organization.id).count()
    restored = run_audit(scratch, "restore-head", *named)
    recorded = run_audit(scratch, "record", *named)
    intact = run_audit(scratch, "verify", *named)

    assert stopped.returncode == 1
    assert "chain head of organization" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert broken.returncode == 1
    assert "the chain head is missing although the log has 2 entries" in broken.stderr
    assert waiting == 2
    assert restored.returncode == 0, restored.stderr
    assert recorded.stdout.strip() == "Recorded 2 audit events."
    assert intact.stdout.strip() == "Audit chains intact: 1 organizations, 4 entries."


async def test_restore_head_refuses_a_broken_chain(scratch: Settings) -> None:
    organization = await make_events(3)
    await record_audit(organization.id)
    await _execute(
        f"DELETE FROM audit_log WHERE organization_id = {organization.id} "
        f"AND sequence = 2; DELETE FROM audit_chain_heads "
        f"WHERE organization_id = {organization.id}"
    )

    restored = run_audit(scratch, "restore-head", "--organization", organization.name)

    assert restored.returncode == 1
    assert "sequence 2" in restored.stderr
    assert not await AuditChainHead.exists(organization_id=organization.id)


def test_commands_reject_a_missing_database_and_bad_batch_size(
    scratch: Settings, tmp_path
) -> None:
    empty = str(tmp_path / "empty")

    missing = subprocess.run(
        [*CONTRACTGQL, "audit", "verify"],
        env={
            **{
                k: v
                for k, v in process_env(scratch).items()
                if k != "CONTRACTGQL_DATABASE_URL"
            },
            "CONTRACTGQL_DATA_DIR": empty,
        },
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    batch = run_audit(scratch, "record", "--batch-size", "0")

    assert missing.returncode == 2
    assert "there is no database at" in missing.stderr
    assert not (tmp_path / "empty" / "contractgql.sqlite3").exists()
    assert batch.returncode == 2
    assert "--batch-size 0 is invalid" in batch.stderr


async def test_anchors_reveal_a_deleted_organization(
    scratch: Settings, tmp_path
) -> None:
    organization = await make_events(2)
    await record_audit(organization.id)
    anchors = tmp_path / "anchors.txt"
    named = ("--organization", organization.name, "--anchors", str(anchors))
    first = run_audit(scratch, "verify", *named)
    lines = anchors.read_text()
    again = run_audit(scratch, "verify", *named)
    await _execute(
        f"DELETE FROM audit_log WHERE organization_id = {organization.id}; "
        f"DELETE FROM audit_chain_heads WHERE organization_id = {organization.id}; "
        f"DELETE FROM organizations WHERE id = {organization.id}"
    )

    # Without --organization, so that every anchored organization must exist. The
    # check of the anchors comes before the chains of the other test organizations.
    deleted = run_audit(scratch, "verify", "--anchors", str(anchors))

    assert first.returncode == 0, first.stderr
    # An unchanged chain adds no second, identical anchor.
    assert again.returncode == 0, again.stderr
    assert anchors.read_text() == lines
    assert deleted.returncode == 1
    assert f"organization id {organization.id}, which no longer exists" in (
        deleted.stderr
    )


def test_anchors_file_in_a_missing_folder_rejected(scratch: Settings, tmp_path) -> None:
    path = tmp_path / "missing" / "anchors.txt"

    result = run_audit(scratch, "verify", "--anchors", str(path))

    assert result.returncode == 2
    assert f"cannot append to the anchors file {path}" in result.stderr
    assert "intact" not in result.stdout


async def test_batch_json_decodes_to_the_snapshots(scratch: Settings) -> None:
    """The JSON text that bulk imports write equals a batch of snapshot() values."""
    signed = {
        "name": "Onderhoud",
        "number": "C-1",
        "client_id": 5,
        "owner_id": 9,
        "stage": ContractStage.SIGNED,
        "sensitivity": Sensitivity.NORMAL,
        "start_date": date(2028, 2, 29),
        "end_date": date(2029, 2, 28),
        "notice_deadline": date(2028, 11, 28),
        "payment_frequency": PaymentFrequency.QUARTERLY,
        "auto_renewal": True,
        "currency": "JPY",
        "amount_minor": 1000,
        "vat_rate_bp": 2100,
        "notice_count": 3,
        "notice_unit": PeriodUnit.MONTHS,
        "custom_fields": {"cost_centre": "R&D", "budget": Decimal("12.50")},
        "archived_at": datetime(2029, 3, 1, 12, 30, tzinfo=UTC),
    }
    # Missing columns count as None.
    draft = {"name": "Leeg", "client_id": 6, "stage": ContractStage.DRAFT}
    records = [
        (21, signed, {"tags": [encode_id("Tag", 3), encode_id("Tag", 4)]}),
        (22, draft, {}),
    ]

    text = creation_batch_json(Contract, records)

    expected = creation_batch(
        [
            (pk, snapshot_of_columns(Contract, columns, **extra))
            for pk, columns, extra in records
        ]
    )
    assert orjson.loads(text) == expected
    fields, first = expected["batch"]["fields"], expected["batch"]["records"][0]
    record = dict(zip(fields, first[1:], strict=True))
    assert record["amount"] == "1000"
    assert record["startDate"] == "2028-02-29"
    assert record["archivedAt"] == "2029-03-01T12:30:00+00:00"
    assert record["customFields"] == {"cost_centre": "R&D", "budget": "12.50"}

    client = {"name": "Acme BV", "coc_number": "12345678", "addresses": []}
    text = creation_batch_json(Client, [(31, client, {})])
    assert orjson.loads(text) == creation_batch(
        [(31, snapshot_of_columns(Client, client))]
    )
