"""The `activity` timeline of contracts and clients."""

from __future__ import annotations

from datetime import date
from typing import Any

from contractgql.ids import decode_id
from contractgql.models import Reminder, ReminderKind, Task
from tests.conftest import Api
from tests.documents.helpers import pdf_bytes, upload, upload_version
from tests.graphql.helpers import UPDATE_CONTRACT, create_client, create_contract

ACTIVITY = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) {
    ... on %s {
      activity(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          at kind
          note { body }
          change { action }
          reminder { kind }
          task { title }
          document { number downloadName }
        }
      }
    }
  }
}
"""
CREATE_NOTE = """
mutation($input: NoteInput!) { createNote(input: $input) { errors { code } } }
"""


async def activity(
    api: Api,
    type_name: str,
    record_id: str,
    *,
    role: str = "admin",
    first: int | None = None,
    after: str | None = None,
) -> dict[str, Any]:
    variables = {"id": record_id, "first": first, "after": after}
    data = await api.data(ACTIVITY % type_name, variables, role=role)
    result: dict[str, Any] = data["node"]["activity"]
    return result


def describe(item: dict[str, Any]) -> str:
    if item["kind"] == "NOTE":
        return f"note {item['note']['body']}"
    if item["kind"] == "CHANGE":
        return f"change {item['change']['action']}"
    if item["kind"] == "REMINDER":
        return f"reminder {item['reminder']['kind']}"
    if item["kind"] == "DOCUMENT":
        return f"document v{item['document']['number']}"
    return f"task {item['task']['title']}"


async def seed_timeline(api: Api) -> tuple[str, str]:
    """Create a contract with a change, a note, a reminder and a task, in order."""
    client_id = await create_client(api, "Timeline Client")
    contract = await create_contract(api, client_id)
    await api.data(UPDATE_CONTRACT, {"id": contract["id"], "input": {"name": "B"}})
    await api.data(
        CREATE_NOTE, {"input": {"contractId": contract["id"], "body": "Called"}}
    )
    organization_id = api.tenant.organization.id
    contract_pk = decode_id(contract["id"])[1]
    reminder = await Reminder.create(
        organization_id=organization_id,
        contract_id=contract_pk,
        kind=ReminderKind.END,
        anchor_date=date(2027, 12, 31),
        offset_count=1,
        offset_unit="months",
        due_date=date(2027, 11, 30),
    )
    await Task.create(
        organization_id=organization_id,
        contract_id=contract_pk,
        reminder_id=reminder.id,
        step=0,
        title="Decide on renewal",
        due_date=date(2027, 11, 30),
    )
    return client_id, contract["id"]


async def test_contract_activity_newest_first(api: Api) -> None:
    _, contract_id = await seed_timeline(api)

    result = await activity(api, "Contract", contract_id)

    assert [describe(item) for item in result["nodes"]] == [
        "task Decide on renewal",
        "reminder END",
        "note Called",
        "change contract.update",
        "change contract.create",
    ]
    times = [item["at"] for item in result["nodes"]]
    assert times == sorted(times, reverse=True)
    assert result["pageInfo"]["hasNextPage"] is False


async def test_contract_activity_pages(api: Api) -> None:
    _, contract_id = await seed_timeline(api)
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await activity(api, "Contract", contract_id, first=2, after=after)
        seen += [describe(item) for item in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    everything = await activity(api, "Contract", contract_id)
    assert seen == [describe(item) for item in everything["nodes"]]


async def test_client_activity_includes_contract_work(api: Api) -> None:
    client_id, _ = await seed_timeline(api)

    result = await activity(api, "Client", client_id)

    assert [describe(item) for item in result["nodes"]] == [
        "task Decide on renewal",
        "reminder END",
        "change client.create",
    ]


async def test_activity_lists_document_versions(api: Api) -> None:
    client_id, contract_id = await seed_timeline(api)
    uploaded = await upload(
        api, {"contractId": contract_id}, "signed.pdf", pdf_bytes("Signed")
    )
    document_id = uploaded["document"]["id"]
    await upload_version(api, document_id, "signed-2.pdf", pdf_bytes("Signed again"))
    await upload(api, {"clientId": client_id}, "terms.pdf", pdf_bytes("Terms"))

    contract = await activity(api, "Contract", contract_id, first=3)
    client = await activity(api, "Client", client_id, first=3)

    assert [describe(item) for item in contract["nodes"]] == [
        "document v2",
        "document v1",
        "task Decide on renewal",
    ]
    # The client's own document and its contracts' documents.
    assert [describe(item) for item in client["nodes"]] == [
        "document v1",
        "document v2",
        "document v1",
    ]
