"""Audit events written by mutations, in the transaction of the change."""

from __future__ import annotations

from typing import Any

import pytest

from contractgql.audit.recorder import record_audit
from contractgql.ids import decode_id
from contractgql.models import AuditLog, AuditOutbox, Contract
from tests.conftest import Api
from tests.graphql.helpers import (
    UPDATE_CONTRACT,
    create_client,
    create_contract,
    user_id,
)

SET_USER_ROLES = """
mutation SetRoles($id: ID!, $roles: [String!]!, $version: Int) {
  setUserRoles(id: $id, roles: $roles, expectedVersion: $version) { errors { code } }
}
"""
DEACTIVATE_USER = """
mutation Deactivate($id: ID!, $version: Int) {
  deactivateUser(id: $id, expectedVersion: $version) { errors { code } }
}
"""


async def entries_of(api: Api, entity_type: str, entity_id: int) -> list[AuditLog]:
    await record_audit(api.tenant.organization.id)
    return list(
        await AuditLog.filter(
            organization_id=api.tenant.organization.id,
            entity_type=entity_type,
            entity_id=entity_id,
        ).order_by("sequence")
    )


def changes_by_field(entry: AuditLog) -> dict[str, Any]:
    return {str(change["field"]): change for change in entry.changes}


async def test_contract_update_records_changed_fields(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(
        api, client_id, {"amount": "1000.00", "currency": "EUR"}
    )
    data = await api.data(
        UPDATE_CONTRACT,
        {"id": contract["id"], "input": {"name": "Renamed", "amount": "1500.50"}},
    )
    assert data["updateContract"]["errors"] == []

    pk = decode_id(contract["id"])[1]
    entries = await entries_of(api, "Contract", pk)
    assert [entry.action for entry in entries] == [
        "contract.create",
        "contract.update",
    ]
    # The scans' bookkeeping columns are not changes anyone made.
    assert not {"scannedVersion", "nextScanOn"} & set(changes_by_field(entries[0]))
    update = entries[1]
    assert update.actor_id == api.tenant.user_ids["admin"]
    assert update.request_id
    changes = changes_by_field(update)
    assert set(changes) == {"name", "amount"}
    assert changes["name"]["old"] == "Hosting"
    assert changes["name"]["new"] == "Renamed"
    assert changes["amount"]["old"] == "1000.00"
    assert changes["amount"]["new"] == "1500.50"


async def test_update_without_changes_records_nothing(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    await api.data(
        UPDATE_CONTRACT, {"id": contract["id"], "input": {"name": "Hosting"}}
    )
    entries = await entries_of(api, "Contract", decode_id(contract["id"])[1])
    assert [entry.action for entry in entries] == ["contract.create"]


async def test_failed_audit_write_rolls_back_change(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)

    async def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(AuditOutbox, "create", fail)
    body = await api.post(
        UPDATE_CONTRACT,
        {"id": contract["id"], "input": {"name": "Never stored"}},
        role="admin",
    )
    assert body.get("errors")

    stored = await Contract.get(id=decode_id(contract["id"])[1])
    assert stored.name == "Hosting"


async def test_client_and_note_changes_recorded(api: Api) -> None:
    client_id = await create_client(api, "Audit Client")
    await api.data(
        """
        mutation($id: ID!) {
          updateClient(id: $id, input: {name: "Audit Client 2"}) { errors { code } }
        }
        """,
        {"id": client_id},
    )
    await api.data(
        """
        mutation($id: ID!) {
          createNote(input: {clientId: $id, body: "Called them"}) { errors { code } }
        }
        """,
        {"id": client_id},
    )
    pk = decode_id(client_id)[1]
    entries = await entries_of(api, "Client", pk)
    assert [entry.action for entry in entries] == ["client.create", "client.update"]
    assert changes_by_field(entries[1])["name"]["new"] == "Audit Client 2"
    notes = await AuditLog.filter(
        organization_id=api.tenant.organization.id, action="note.create"
    )
    assert len(notes) == 1
    assert changes_by_field(notes[0])["client"]["new"] == client_id


async def test_user_changes_leave_version_out(api: Api) -> None:
    """The version and last editor of a user are bookkeeping, not audited changes."""
    target = user_id(api.tenant, "sales")
    for document, variables in (
        (SET_USER_ROLES, {"id": target, "roles": ["finance"], "version": 1}),
        (DEACTIVATE_USER, {"id": target, "version": 2}),
    ):
        data = await api.data(document, variables)
        (payload,) = data.values()
        assert payload["errors"] == []

    entries = await entries_of(api, "User", api.tenant.user_ids["sales"])

    assert [entry.action for entry in entries] == ["user.roles", "user.deactivate"]
    roles, deactivate = (changes_by_field(entry) for entry in entries)
    assert set(roles) == {"roles"}
    assert roles["roles"]["old"] == ["sales"]
    assert roles["roles"]["new"] == ["finance"]
    assert set(deactivate) == {"isActive"}
    assert entries[0].actor_id == api.tenant.user_ids["admin"]
