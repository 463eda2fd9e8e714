"""Renewal workflows, reminder offsets, notice and renewal by hand, through the API.

Reminders are made by the scans, so these tests insert them with the ORM and start
their first step with `start_step`, as the scans do. Everything else goes through
GraphQL.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contractgql.config import Settings
from contractgql.ids import decode_id, encode_id
from contractgql.jobs.scans import scan_organization
from contractgql.models import (
    AuditLog,
    AuditOutbox,
    Notification,
    Reminder,
    ReminderKind,
    Task,
    TaskStatus,
)
from contractgql.services.workflow import start_step
from tests.conftest import Api, make_tenant
from tests.graphql.helpers import (
    FIELD_ERRORS,
    amsterdam_today,
    create_client,
    create_contract,
    user_id,
)

CREATE_TYPE = f"""
mutation CreateType($input: ContractTypeInput!) {{
  createContractType(input: $input) {{
    record {{ id renewalWorkflow {{ title assignee daysAfter }} }} {FIELD_ERRORS}
  }}
}}
"""
UPDATE_TYPE = f"""
mutation UpdateType($id: ID!, $input: ContractTypeInput!) {{
  updateContractType(id: $id, input: $input) {{
    record {{ id renewalWorkflow {{ title assignee daysAfter }} }} {FIELD_ERRORS}
  }}
}}
"""
CREATE_CONTRACT = f"""
mutation CreateContract($input: CreateContractInput!) {{
  createContract(input: $input) {{
    contract {{ id reminderOffsets {{ count unit }} }} {FIELD_ERRORS}
  }}
}}
"""
UPDATE_CONTRACT = f"""
mutation UpdateContract($id: ID!, $input: UpdateContractInput!) {{
  updateContract(id: $id, input: $input) {{
    contract {{ id reminderOffsets {{ count unit }} }} {FIELD_ERRORS}
  }}
}}
"""
NOTICE_FIELDS = """
  id endDate noticeDeadline noticeDate noticeParty noticeEffectiveEnd version
  events { kind termEnd newEndDate occurredOn createdBy { id } }
"""
RECORD_NOTICE = f"""
mutation RecordNotice($contractId: ID!, $party: NoticeParty!, $date: Date!) {{
  recordNotice(contractId: $contractId, party: $party, date: $date) {{
    contract {{ {NOTICE_FIELDS} }} {FIELD_ERRORS}
  }}
}}
"""
RENEW = f"""
mutation Renew($contractId: ID!) {{
  renewContract(contractId: $contractId) {{
    contract {{
      endDate amount version
      events {{
        kind termEnd newEndDate occurredOn oldAmount newAmount createdBy {{ id }}
      }}
    }}
    {FIELD_ERRORS}
  }}
}}
"""
READ_NOTICE = f"""
query ReadNotice($id: ID!) {{
  node(id: $id) {{ ... on Contract {{ {NOTICE_FIELDS} }} }}
}}
"""
COMPLETE = f"""
mutation Complete($id: ID!) {{
  completeTask(id: $id) {{
    task {{ id step status completedAt completedBy {{ id }} }} {FIELD_ERRORS}
  }}
}}
"""
CONTRACT_WORK = """
query ContractWork($id: ID!) {
  node(id: $id) {
    ... on Contract {
      reminders {
        id kind anchorDate offset { count unit } dueDate late status
        contract { id } tasks { id step }
      }
      tasks {
        id step title dueDate status assignee { id } completedBy { id }
        reminder { id } contract { id }
      }
    }
  }
}
"""
TASKS = """
query Tasks($first: Int, $after: String, $filter: TaskFilter) {
  tasks(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id step title dueDate status assignee { id } contract { id } }
  }
}
"""
REMINDERS = """
query Reminders($filter: ReminderFilter) {
  reminders(first: 100, filter: $filter) {
    totalCount nodes { id kind dueDate status }
  }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"
ARCHIVE = """
mutation Archive($id: ID!) { archiveContract(id: $id) { contract { id } } }
"""

WORKFLOW = [
    {"title": "Contact the client", "assignee": "owner", "daysAfter": 0},
    {"title": "Send the renewal quote", "assignee": "sales", "daysAfter": 14},
    {"title": "Follow up by phone", "assignee": "owner", "daysAfter": 7},
]


@pytest_asyncio.fixture
async def other_api(client: httpx.AsyncClient, settings: Settings) -> Api:
    """The API as callers of a second organization."""
    return Api(client, await make_tenant(settings))


async def _contract_type(api: Api, steps: list[dict[str, Any]]) -> str:
    data = await api.data(
        CREATE_TYPE, {"input": {"name": "Maintenance", "renewalWorkflow": steps}}
    )
    assert data["createContractType"]["errors"] == []
    type_id: str = data["createContractType"]["record"]["id"]
    return type_id


async def _contract(api: Api, fields: dict[str, Any] | None = None) -> str:
    client_id = await create_client(api, "Workflow Client")
    contract = await create_contract(
        api,
        client_id,
        {
            "startDate": "2026-01-01",
            "endDate": "2026-12-31",
            "autoRenewal": True,
            "noticePeriod": {"count": 3, "unit": "MONTHS"},
            **(fields or {}),
        },
    )
    contract_id: str = contract["id"]
    return contract_id


async def _reminder(api: Api, contract_id: str, due: date) -> Reminder:
    """Insert the notice reminder that a scan would create for the contract."""
    return await Reminder.create(
        organization_id=api.tenant.organization.id,
        contract_id=decode_id(contract_id)[1],
        kind=ReminderKind.NOTICE,
        anchor_date=date(2026, 9, 30),
        offset_count=3,
        offset_unit="months",
        due_date=due,
    )


@pytest_asyncio.fixture
async def workflow(api: Api) -> dict[str, Any]:
    """A contract owned by the account manager with a started three-step workflow."""
    type_id = await _contract_type(api, WORKFLOW)
    contract_id = await _contract(
        api,
        {
            "contractTypeId": type_id,
            "ownerId": user_id(api.tenant, "account_manager"),
            "amount": "4321.09",
        },
    )
    reminder = await _reminder(api, contract_id, date(2026, 6, 30))
    task = await start_step(reminder, 0, amsterdam_today())
    assert task is not None
    return {
        "contract_id": contract_id,
        "reminder": reminder,
        "task_id": encode_id("Task", task.id),
    }


def _errors(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["field"], error["code"]) for error in payload["errors"]]


# --- Contract type workflows --------------------------------------------------------


async def test_contract_type_workflow_stored(api: Api) -> None:
    type_id = await _contract_type(api, WORKFLOW)
    changed = [
        {"title": "  Call the client ", "assignee": "management", "daysAfter": 3}
    ]

    updated = await api.data(
        UPDATE_TYPE, {"id": type_id, "input": {"renewalWorkflow": changed}}
    )
    cleared = await api.data(
        UPDATE_TYPE, {"id": type_id, "input": {"renewalWorkflow": None}}
    )

    assert updated["updateContractType"]["record"]["renewalWorkflow"] == [
        {"title": "Call the client", "assignee": "management", "daysAfter": 3}
    ]
    assert cleared["updateContractType"]["record"]["renewalWorkflow"] == []


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            {"title": "Call", "assignee": "boss", "daysAfter": 0},
            ("renewalWorkflow.0.assignee", "UNKNOWN_ASSIGNEE"),
        ),
        (
            {"title": "Call", "assignee": "integrator", "daysAfter": 0},
            ("renewalWorkflow.0.assignee", "UNKNOWN_ASSIGNEE"),
        ),
        (
            {"title": "Call", "assignee": "owner", "daysAfter": -1},
            ("renewalWorkflow.0.daysAfter", "OUT_OF_RANGE"),
        ),
        (
            {"title": "Call", "assignee": "owner", "daysAfter": 3661},
            ("renewalWorkflow.0.daysAfter", "OUT_OF_RANGE"),
        ),
        (
            {"title": "  ", "assignee": "owner", "daysAfter": 0},
            ("renewalWorkflow.0.title", "REQUIRED"),
        ),
        (
            {"title": "x" * 301, "assignee": "owner", "daysAfter": 0},
            ("renewalWorkflow.0.title", "TOO_LONG"),
        ),
    ],
)
async def test_contract_type_workflow_step_invalid(
    api: Api, step: dict[str, Any], expected: tuple[str, str]
) -> None:
    data = await api.data(
        CREATE_TYPE, {"input": {"name": "Licence", "renewalWorkflow": [step]}}
    )

    payload = data["createContractType"]
    assert payload["record"] is None
    assert _errors(payload) == [expected]


async def test_contract_type_workflow_too_long(api: Api) -> None:
    steps = [{"title": f"Step {n}", "assignee": "owner"} for n in range(21)]

    data = await api.data(
        CREATE_TYPE, {"input": {"name": "Licence", "renewalWorkflow": steps}}
    )

    assert _errors(data["createContractType"]) == [("renewalWorkflow", "TOO_MANY")]


async def test_contract_type_workflow_as_sales_forbidden(api: Api) -> None:
    error = await api.error(
        CREATE_TYPE,
        {"input": {"name": "Licence", "renewalWorkflow": WORKFLOW}},
        role="sales",
    )

    assert error["extensions"]["code"] == "FORBIDDEN"


# --- Reminder offsets of a contract -------------------------------------------------


async def test_contract_reminder_offsets_stored(api: Api) -> None:
    client_id = await create_client(api)
    offsets = [{"count": 6, "unit": "MONTHS"}, {"count": 2, "unit": "WEEKS"}]
    created = await api.data(
        CREATE_CONTRACT,
        {
            "input": {
                "name": "Hosting",
                "clientId": client_id,
                "startDate": "2026-01-01",
                "reminderOffsets": offsets,
            }
        },
    )
    contract = created["createContract"]["contract"]

    emptied = await api.data(
        UPDATE_CONTRACT, {"id": contract["id"], "input": {"reminderOffsets": []}}
    )

    assert contract["reminderOffsets"] == offsets
    assert emptied["updateContract"]["contract"]["reminderOffsets"] is None


async def test_changed_type_offsets_apply_at_the_next_scan(api: Api) -> None:
    today = amsterdam_today()
    org = api.tenant.organization.id
    created = await api.data(
        CREATE_TYPE,
        {
            "input": {
                "name": "Licence",
                "reminderOffsets": [{"count": 1, "unit": "MONTHS"}],
            }
        },
    )
    type_id = created["createContractType"]["record"]["id"]
    client_id = await create_client(api)
    contract = await create_contract(
        api,
        client_id,
        {
            "startDate": (today - timedelta(days=200)).isoformat(),
            "endDate": (today + timedelta(days=70)).isoformat(),
            "contractTypeId": type_id,
        },
    )
    contract_pk = decode_id(contract["id"])[1]
    # Its reminder is due in about 40 days, so once a scan has planned it the
    # next scan of today leaves it alone.
    await scan_organization(org, today)
    before = await scan_organization(org, today)

    updated = await api.data(
        UPDATE_TYPE,
        {"id": type_id, "input": {"reminderOffsets": [{"count": 3, "unit": "MONTHS"}]}},
    )
    after = await scan_organization(org, today)

    assert updated["updateContractType"]["errors"] == []
    assert (before.contracts, before.reminders_created) == (0, 0)
    assert (after.contracts, after.reminders_created, after.late) == (1, 1, 1)
    assert await Reminder.filter(contract_id=contract_pk).values_list(
        "offset_count", "offset_unit", "late"
    ) == [(3, "months", True)]


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([{"count": 0, "unit": "DAYS"}], ("reminderOffsets.0", "OUT_OF_RANGE")),
        ([{"count": 121, "unit": "MONTHS"}], ("reminderOffsets.0", "OUT_OF_RANGE")),
        ([{"count": -1, "unit": "DAYS"}], ("reminderOffsets", "OUT_OF_RANGE")),
        (
            [{"count": n, "unit": "DAYS"} for n in range(1, 12)],
            ("reminderOffsets", "TOO_MANY"),
        ),
    ],
)
async def test_contract_reminder_offsets_invalid(
    api: Api, offsets: list[dict[str, Any]], expected: tuple[str, str]
) -> None:
    contract_id = await _contract(api)

    data = await api.data(
        UPDATE_CONTRACT, {"id": contract_id, "input": {"reminderOffsets": offsets}}
    )

    assert _errors(data["updateContract"]) == [expected]


# --- Notice -------------------------------------------------------------------------


async def _notice(
    api: Api, contract_id: str, day: str, *, party: str = "CLIENT", role: str = "admin"
) -> dict[str, Any]:
    data = await api.data(
        RECORD_NOTICE,
        {"contractId": contract_id, "party": party, "date": day},
        role=role,
    )
    payload: dict[str, Any] = data["recordNotice"]
    return payload


async def test_record_notice_on_deadline(api: Api) -> None:
    contract_id = await _contract(api)

    payload = await _notice(api, contract_id, "2026-09-30")

    assert payload["errors"] == []
    contract = payload["contract"]
    assert contract["noticeDate"] == "2026-09-30"
    assert contract["noticeParty"] == "CLIENT"
    assert contract["noticeEffectiveEnd"] == "2026-12-31"
    assert contract["endDate"] == "2026-12-31"
    assert contract["version"] == 2
    assert contract["events"] == [
        {
            "kind": "NOTICE_RECEIVED",
            "termEnd": "2026-12-31",
            "newEndDate": "2026-12-31",
            "occurredOn": "2026-09-30",
            "createdBy": {"id": user_id(api.tenant, "admin")},
        }
    ]


async def test_record_notice_after_deadline(api: Api) -> None:
    contract_id = await _contract(api)

    payload = await _notice(api, contract_id, "2026-10-01", party="ORGANIZATION")

    contract = payload["contract"]
    assert contract["noticeParty"] == "ORGANIZATION"
    assert contract["noticeEffectiveEnd"] == "2027-12-31"
    assert contract["events"][0]["kind"] == "NOTICE_GIVEN"
    assert contract["events"][0]["newEndDate"] == "2027-12-31"


async def test_record_notice_on_open_ended_sets_end(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(
        api,
        client_id,
        {
            "startDate": "2025-01-01",
            "noticePeriod": {"count": 2, "unit": "MONTHS"},
            "noticeToMonthEnd": True,
        },
    )

    payload = await _notice(api, contract["id"], "2026-10-15")

    assert payload["errors"] == []
    # 15 October plus 2 months is 15 December, and notice runs to the month end.
    assert payload["contract"]["endDate"] == "2026-12-31"
    assert payload["contract"]["noticeEffectiveEnd"] == "2026-12-31"
    assert payload["contract"]["noticeDeadline"] == "2026-10-31"


async def test_record_notice_invalid_dates(api: Api) -> None:
    contract_id = await _contract(api)
    tomorrow = (amsterdam_today() + timedelta(days=1)).isoformat()

    future = await _notice(api, contract_id, tomorrow)
    early = await _notice(api, contract_id, "2025-12-31")

    assert future["contract"] is None
    assert _errors(future) == [("date", "IN_FUTURE")]
    assert tomorrow in future["errors"][0]["message"]
    assert _errors(early) == [("date", "BEFORE_START")]
    unchanged = await api.data(READ_NOTICE, {"id": contract_id})
    assert unchanged["node"]["noticeDate"] is None
    assert unchanged["node"]["version"] == 1
    assert unchanged["node"]["events"] == []


async def test_record_notice_twice_rejected(api: Api) -> None:
    contract_id = await _contract(api)
    await _notice(api, contract_id, "2026-05-01")

    again = await _notice(api, contract_id, "2026-06-01")

    assert _errors(again) == [("contractId", "NOTICE_ALREADY_RECORDED")]
    stored = await api.data(READ_NOTICE, {"id": contract_id})
    assert stored["node"]["noticeDate"] == "2026-05-01"
    assert len(stored["node"]["events"]) == 1


WITHDRAW_NOTICE = f"""
mutation WithdrawNotice($contractId: ID!, $version: Int) {{
  withdrawNotice(contractId: $contractId, expectedVersion: $version) {{
    contract {{ {NOTICE_FIELDS} }} {FIELD_ERRORS}
  }}
}}
"""


async def test_withdrawn_notice_can_be_recorded_again(api: Api) -> None:
    contract_id = await _contract(api)
    await _notice(api, contract_id, "2026-10-01")

    data = await api.data(WITHDRAW_NOTICE, {"contractId": contract_id, "version": 2})
    corrected = await _notice(api, contract_id, "2026-09-01")

    withdrawn = data["withdrawNotice"]
    assert withdrawn["errors"] == []
    contract = withdrawn["contract"]
    assert (contract["noticeDate"], contract["noticeParty"], contract["events"]) == (
        None,
        None,
        [],
    )
    assert contract["version"] == 3
    # In time for the deadline of 2026-09-30 this time.
    assert corrected["contract"]["noticeEffectiveEnd"] == "2026-12-31"
    assert [e["occurredOn"] for e in corrected["contract"]["events"]] == ["2026-09-01"]
    audited = (
        await AuditOutbox.filter(
            entity_id=decode_id(contract_id)[1], action="contract.withdraw_notice"
        ).count()
        + await AuditLog.filter(
            entity_id=decode_id(contract_id)[1], action="contract.withdraw_notice"
        ).count()
    )
    assert audited == 1


async def test_withdraw_notice_rejections(api: Api) -> None:
    contract_id = await _contract(api)

    without = await api.data(WITHDRAW_NOTICE, {"contractId": contract_id})
    await _notice(api, contract_id, "2026-10-01")
    stale = await api.post(
        WITHDRAW_NOTICE, {"contractId": contract_id, "version": 1}, role="admin"
    )
    as_sales = await api.post(
        WITHDRAW_NOTICE, {"contractId": contract_id}, role="sales"
    )

    assert without["withdrawNotice"]["errors"] == [
        {
            "field": "contractId",
            "code": "NO_NOTICE",
            "message": f"Contract {contract_id!r} has no recorded notice to withdraw.",
        }
    ]
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert stale["errors"][0]["extensions"]["changedFields"] == [
        "noticeDate",
        "noticeParty",
    ]
    assert as_sales["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    stored = await api.data(READ_NOTICE, {"id": contract_id})
    assert stored["node"]["noticeDate"] == "2026-10-01"


async def test_record_notice_on_draft_rejected(api: Api) -> None:
    contract_id = await _contract(api, {"stage": "DRAFT"})

    payload = await _notice(api, contract_id, "2026-05-01")

    assert _errors(payload) == [("contractId", "NOT_SIGNED")]


async def test_record_notice_after_fixed_end_rejected(api: Api) -> None:
    contract_id = await _contract(
        api, {"startDate": "2025-01-01", "endDate": "2025-06-30", "autoRenewal": False}
    )

    payload = await _notice(api, contract_id, "2025-07-01")

    assert _errors(payload) == [("date", "AFTER_END")]


@pytest.mark.parametrize("role", ["finance", "sales", "integrator"])
async def test_record_notice_without_write_forbidden(api: Api, role: str) -> None:
    contract_id = await _contract(api)

    error = await api.error(
        RECORD_NOTICE,
        {"contractId": contract_id, "party": "CLIENT", "date": "2026-05-01"},
        role=role,
    )

    assert error["extensions"]["code"] == "FORBIDDEN"
    stored = await api.data(READ_NOTICE, {"id": contract_id})
    assert stored["node"]["noticeDate"] is None


async def test_record_notice_as_account_manager(api: Api) -> None:
    own = await _contract(api, {"ownerId": user_id(api.tenant, "account_manager")})
    other = await _contract(api)

    allowed = await _notice(api, own, "2026-05-01", role="account_manager")
    denied = await api.error(
        RECORD_NOTICE,
        {"contractId": other, "party": "CLIENT", "date": "2026-05-01"},
        role="account_manager",
    )

    assert allowed["errors"] == []
    assert denied["extensions"]["code"] == "FORBIDDEN"


async def test_record_notice_hidden_contract_not_found(
    api: Api, other_api: Api
) -> None:
    confidential = await _contract(api, {"sensitivity": "CONFIDENTIAL"})
    foreign = await _contract(other_api)
    missing = encode_id("Contract", 2**62)

    errors = [
        await api.error(
            RECORD_NOTICE,
            {"contractId": contract_id, "party": "CLIENT", "date": "2026-05-01"},
            role="sales",
        )
        for contract_id in (confidential, foreign, missing)
    ]

    assert [error["extensions"]["code"] for error in errors] == ["NOT_FOUND"] * 3
    messages = {
        error["message"].replace(contract_id, "<id>")
        for error, contract_id in zip(
            errors, (confidential, foreign, missing), strict=True
        )
    }
    assert len(messages) == 1


# --- Renewal by hand ----------------------------------------------------------------


async def test_renew_contract_by_hand(api: Api) -> None:
    contract_id = await _contract(api, {"amount": "1000.00", "indexation": "2.5"})

    data = await api.data(RENEW, {"contractId": contract_id})

    payload = data["renewContract"]
    assert payload["errors"] == []
    contract = payload["contract"]
    assert contract["endDate"] == "2027-12-31"
    assert contract["amount"] == "1025.00"
    assert contract["version"] == 2
    today = amsterdam_today()
    assert contract["events"] == [
        {
            "kind": "RENEWED",
            "termEnd": "2026-12-31",
            "newEndDate": "2027-12-31",
            "occurredOn": min(today, date(2027, 1, 1)).isoformat(),
            "oldAmount": "1000.00",
            "newAmount": "1025.00",
            "createdBy": {"id": user_id(api.tenant, "admin")},
        }
    ]


@pytest.mark.parametrize("action", ["renew", "notice"])
async def test_renew_and_notice_cancel_stale_reminders_at_once(
    api: Api, action: str
) -> None:
    today = amsterdam_today()
    org = api.tenant.organization.id
    contract_id = await _contract(
        api,
        {
            "startDate": (today - timedelta(days=300)).isoformat(),
            "endDate": (today + timedelta(days=100)).isoformat(),
            "noticePeriod": {"count": 1, "unit": "MONTHS"},
        },
    )
    # The 3-month reminder before the notice deadline is due, and created late.
    await scan_organization(org, today)
    reminders = Reminder.filter(contract_id=decode_id(contract_id)[1])
    before = await reminders.values_list("offset_count", "status")

    if action == "renew":
        data = await api.data(RENEW, {"contractId": contract_id})
        errors = data["renewContract"]["errors"]
    else:
        variables = {
            "contractId": contract_id,
            "party": "CLIENT",
            "date": today.isoformat(),
        }
        data = await api.data(RECORD_NOTICE, variables)
        errors = data["recordNotice"]["errors"]

    assert errors == []
    assert before == [(3, "pending")]
    assert await reminders.values_list("offset_count", "status") == [(3, "cancelled")]


async def test_renew_contract_rejections(api: Api) -> None:
    draft = await _contract(api, {"stage": "DRAFT"})
    client_id = await create_client(api)
    open_ended = (await create_contract(api, client_id, {"startDate": "2026-01-01"}))[
        "id"
    ]
    noticed = await _contract(api)
    await _notice(api, noticed, "2026-09-01")
    archived = await _contract(api)
    await api.data(ARCHIVE, {"id": archived})

    payloads = [
        (await api.data(RENEW, {"contractId": contract_id}))["renewContract"]
        for contract_id in (draft, open_ended, noticed, archived)
    ]

    assert [_errors(payload) for payload in payloads] == [
        [("contractId", "NOT_SIGNED")],
        [("contractId", "OPEN_ENDED")],
        [("contractId", "NOTICE_GIVEN")],
        [("contractId", "ARCHIVED")],
    ]
    stored = await api.data(READ_NOTICE, {"id": noticed})
    assert stored["node"]["endDate"] == "2026-12-31"


async def test_renew_contract_after_late_notice_allowed(api: Api) -> None:
    contract_id = await _contract(api)
    await _notice(api, contract_id, "2026-10-01")

    data = await api.data(RENEW, {"contractId": contract_id})

    assert data["renewContract"]["errors"] == []
    assert data["renewContract"]["contract"]["endDate"] == "2027-12-31"


@pytest.mark.parametrize("role", ["account_manager", "finance", "sales"])
async def test_renew_contract_without_write_forbidden(api: Api, role: str) -> None:
    contract_id = await _contract(
        api, {"ownerId": user_id(api.tenant, "account_manager")}
    )

    error = await api.error(RENEW, {"contractId": contract_id}, role=role)

    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_renew_other_organization_not_found(api: Api, other_api: Api) -> None:
    foreign = await _contract(other_api)

    error = await api.error(RENEW, {"contractId": foreign})

    assert error["extensions"]["code"] == "NOT_FOUND"
    unchanged = await other_api.data(READ_NOTICE, {"id": foreign})
    assert unchanged["node"]["endDate"] == "2026-12-31"


# --- Workflow tasks -----------------------------------------------------------------


async def _tasks_of(api: Api, contract_id: str) -> list[dict[str, Any]]:
    data = await api.data(CONTRACT_WORK, {"id": contract_id})
    tasks: list[dict[str, Any]] = data["node"]["tasks"]
    return sorted(tasks, key=lambda task: task["step"])


async def _complete(api: Api, task_id: str, role: str) -> dict[str, Any]:
    data = await api.data(COMPLETE, {"id": task_id}, role=role)
    payload: dict[str, Any] = data["completeTask"]
    return payload


async def _notifications(api: Api) -> list[Notification]:
    return await Notification.filter(
        organization_id=api.tenant.organization.id
    ).order_by("id")


async def test_first_step_due_after_reminder(
    api: Api, workflow: dict[str, Any]
) -> None:
    tasks = await _tasks_of(api, workflow["contract_id"])

    assert [
        (t["step"], t["title"], t["dueDate"], t["status"], t["assignee"]) for t in tasks
    ] == [
        (
            0,
            "Contact the client",
            "2026-06-30",
            "OPEN",
            {"id": user_id(api.tenant, "account_manager")},
        )
    ]
    assert tasks[0]["reminder"]["id"] == encode_id("Reminder", workflow["reminder"].id)
    assert tasks[0]["contract"]["id"] == workflow["contract_id"]


async def test_workflow_completion_chain(api: Api, workflow: dict[str, Any]) -> None:
    today = amsterdam_today()

    first = await _complete(api, workflow["task_id"], "account_manager")
    tasks = await _tasks_of(api, workflow["contract_id"])
    second = await _complete(api, tasks[1]["id"], "sales")
    tasks = await _tasks_of(api, workflow["contract_id"])
    third = await _complete(api, tasks[2]["id"], "account_manager")
    tasks = await _tasks_of(api, workflow["contract_id"])

    assert first["errors"] == []
    assert first["task"]["status"] == "DONE"
    assert first["task"]["completedBy"] == {
        "id": user_id(api.tenant, "account_manager")
    }
    assert second["errors"] == []
    assert third["errors"] == []
    assert [
        (t["step"], t["dueDate"], t["status"], t["assignee"]["id"]) for t in tasks
    ] == [
        (0, "2026-06-30", "DONE", user_id(api.tenant, "account_manager")),
        (
            1,
            (today + timedelta(days=14)).isoformat(),
            "DONE",
            user_id(api.tenant, "sales"),
        ),
        (
            2,
            (today + timedelta(days=7)).isoformat(),
            "DONE",
            user_id(api.tenant, "account_manager"),
        ),
    ]


async def test_workflow_notifies_each_assignee(
    api: Api, workflow: dict[str, Any]
) -> None:
    await _complete(api, workflow["task_id"], "account_manager")

    notifications = await _notifications(api)
    tasks = await _tasks_of(api, workflow["contract_id"])

    assert [(n.user_id, n.kind, n.source) for n in notifications] == [
        (
            api.tenant.user_ids["account_manager"],
            "task",
            f"task:{decode_id(tasks[0]['id'])[1]}",
        ),
        (api.tenant.user_ids["sales"], "task", f"task:{decode_id(tasks[1]['id'])[1]}"),
    ]
    assert notifications[1].title == "New task: Send the renewal quote"
    assert "due on" in notifications[1].body
    for notification in notifications:
        # The contract's amount is 4,321.09.
        assert "4321" not in notification.title + notification.body
        assert "4,321" not in notification.title + notification.body


async def test_complete_task_twice_changes_nothing(
    api: Api, workflow: dict[str, Any]
) -> None:
    first = await _complete(api, workflow["task_id"], "account_manager")

    again = await _complete(api, workflow["task_id"], "admin")

    assert again["errors"] == []
    assert again["task"] == first["task"]
    assert len(await _tasks_of(api, workflow["contract_id"])) == 2
    assert len(await _notifications(api)) == 2


async def test_concurrent_completion_starts_next_step_once(
    api: Api, workflow: dict[str, Any]
) -> None:
    payloads = await asyncio.gather(
        *(_complete(api, workflow["task_id"], "admin") for _ in range(4))
    )

    assert [payload["errors"] for payload in payloads] == [[]] * 4
    reminder_id = workflow["reminder"].id
    assert await Task.filter(reminder_id=reminder_id).count() == 2
    assert await Task.filter(reminder_id=reminder_id, step=1).count() == 1
    assert len(await _notifications(api)) == 2


async def test_start_step_runs_once(api: Api, workflow: dict[str, Any]) -> None:
    again = await start_step(workflow["reminder"], 0, amsterdam_today())
    missing_step = await start_step(workflow["reminder"], 3, amsterdam_today())

    assert again is None
    assert missing_step is None
    assert len(await _tasks_of(api, workflow["contract_id"])) == 1


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("integrator", "FORBIDDEN"),
        ("sales", "FORBIDDEN"),
        ("project_staff", "NOT_FOUND"),
    ],
)
async def test_complete_task_not_allowed(
    api: Api, workflow: dict[str, Any], role: str, code: str
) -> None:
    error = await api.error(COMPLETE, {"id": workflow["task_id"]}, role=role)

    assert error["extensions"]["code"] == code
    task = await Task.get(id=decode_id(workflow["task_id"])[1])
    assert task.status is TaskStatus.OPEN


async def test_complete_task_as_contract_writer(
    api: Api, workflow: dict[str, Any]
) -> None:
    payload = await _complete(api, workflow["task_id"], "management")

    assert payload["errors"] == []
    assert payload["task"]["completedBy"] == {"id": user_id(api.tenant, "management")}


async def test_complete_cancelled_task_rejected(
    api: Api, workflow: dict[str, Any]
) -> None:
    await Task.filter(id=decode_id(workflow["task_id"])[1]).update(
        status=TaskStatus.CANCELLED
    )

    payload = await _complete(api, workflow["task_id"], "account_manager")

    assert payload["task"] is None
    assert _errors(payload) == [("id", "TASK_CANCELLED")]
    assert len(await _tasks_of(api, workflow["contract_id"])) == 1


async def test_role_assignee_must_see_contract(api: Api) -> None:
    type_id = await _contract_type(
        api,
        [
            {"title": "Check", "assignee": "sales"},
            {"title": "Approve", "assignee": "management"},
        ],
    )
    contract_id = await _contract(
        api, {"contractTypeId": type_id, "sensitivity": "CONFIDENTIAL"}
    )
    reminder = await _reminder(api, contract_id, date(2026, 6, 30))

    first = await start_step(reminder, 0, amsterdam_today())
    second = await start_step(reminder, 1, amsterdam_today())

    assert first is not None
    assert first.assignee_id is None
    assert second is not None
    assert second.assignee_id == api.tenant.user_ids["management"]
    sources = [n.source for n in await _notifications(api)]
    assert sources == [f"task:{second.id}"]


# --- Reads --------------------------------------------------------------------------


async def test_contract_reminders_and_tasks(api: Api, workflow: dict[str, Any]) -> None:
    data = await api.data(CONTRACT_WORK, {"id": workflow["contract_id"]})

    reminder_id = encode_id("Reminder", workflow["reminder"].id)
    assert data["node"]["reminders"] == [
        {
            "id": reminder_id,
            "kind": "NOTICE",
            "anchorDate": "2026-09-30",
            "offset": {"count": 3, "unit": "MONTHS"},
            "dueDate": "2026-06-30",
            "late": False,
            "status": "PENDING",
            "contract": {"id": workflow["contract_id"]},
            "tasks": [{"id": workflow["task_id"], "step": 0}],
        }
    ]


async def test_tasks_connection_filters(api: Api, workflow: dict[str, Any]) -> None:
    await _complete(api, workflow["task_id"], "account_manager")

    def ids(data: dict[str, Any]) -> list[int]:
        return [node["step"] for node in data["tasks"]["nodes"]]

    mine = await api.data(TASKS, {"filter": {"assignedToMe": True}}, role="sales")
    others = await api.data(TASKS, {"filter": {"assignedToMe": False}}, role="sales")
    open_tasks = await api.data(TASKS, {"filter": {"status": "OPEN"}})
    due_soon = await api.data(TASKS, {"filter": {"dueBefore": "2026-07-01"}})
    due_before = await api.data(TASKS, {"filter": {"dueBefore": "2026-06-30"}})

    assert ids(mine) == [1]
    assert ids(others) == [0]
    assert ids(open_tasks) == [1]
    assert ids(due_soon) == [0]
    assert ids(due_before) == []


async def test_tasks_connection_pages(api: Api, workflow: dict[str, Any]) -> None:
    await _complete(api, workflow["task_id"], "account_manager")

    first = await api.data(TASKS, {"first": 1})
    cursor = first["tasks"]["pageInfo"]["endCursor"]
    second = await api.data(TASKS, {"first": 1, "after": cursor})

    assert first["tasks"]["totalCount"] == 2
    assert first["tasks"]["pageInfo"]["hasNextPage"] is True
    assert [n["step"] for n in first["tasks"]["nodes"]] == [0]
    assert [n["step"] for n in second["tasks"]["nodes"]] == [1]
    assert second["tasks"]["pageInfo"]["hasNextPage"] is False


async def test_reminders_connection_filters(api: Api, workflow: dict[str, Any]) -> None:
    pending = await api.data(REMINDERS, {"filter": {"status": "PENDING"}})
    done = await api.data(REMINDERS, {"filter": {"status": "DONE"}})
    notice = await api.data(REMINDERS, {"filter": {"kind": "NOTICE"}})
    review = await api.data(REMINDERS, {"filter": {"kind": "REVIEW"}})
    due = await api.data(REMINDERS, {"filter": {"dueBefore": "2026-06-30"}})

    assert pending["reminders"]["totalCount"] == 1
    assert done["reminders"]["totalCount"] == 0
    assert notice["reminders"]["totalCount"] == 1
    assert review["reminders"]["totalCount"] == 0
    assert due["reminders"]["totalCount"] == 0


async def test_confidential_work_hidden(api: Api) -> None:
    type_id = await _contract_type(api, [{"title": "Check", "assignee": "owner"}])
    contract_id = await _contract(
        api,
        {
            "contractTypeId": type_id,
            "sensitivity": "CONFIDENTIAL",
            "ownerId": user_id(api.tenant, "admin"),
        },
    )
    reminder = await _reminder(api, contract_id, date(2026, 6, 30))
    task = await start_step(reminder, 0, amsterdam_today())
    assert task is not None
    task_id = encode_id("Task", task.id)
    reminder_id = encode_id("Reminder", reminder.id)

    tasks = await api.data(TASKS, {}, role="sales")
    reminders = await api.data(REMINDERS, {}, role="sales")
    nodes = [
        (await api.data(NODE, {"id": node_id}, role="sales"))["node"]
        for node_id in (task_id, reminder_id)
    ]
    admin_nodes = [
        (await api.data(NODE, {"id": node_id}))["node"]
        for node_id in (task_id, reminder_id)
    ]

    assert tasks["tasks"]["totalCount"] == 0
    assert reminders["reminders"]["totalCount"] == 0
    assert nodes == [None, None]
    assert admin_nodes == [
        {"__typename": "Task", "id": task_id},
        {"__typename": "Reminder", "id": reminder_id},
    ]


async def test_work_of_other_organization_hidden(
    api: Api, other_api: Api, workflow: dict[str, Any]
) -> None:
    tasks = await other_api.data(TASKS, {})
    node = await other_api.data(NODE, {"id": workflow["task_id"]})
    error = await other_api.error(COMPLETE, {"id": workflow["task_id"]})

    assert tasks["tasks"]["totalCount"] == 0
    assert node["node"] is None
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_events_hide_amounts_without_financial_read(api: Api) -> None:
    contract_id = await _contract(api, {"amount": "1000.00", "indexation": "2.5"})
    await api.data(RENEW, {"contractId": contract_id})
    query = """
    query Events($id: ID!) {
      node(id: $id) {
        ... on Contract { events { kind oldAmount newAmount indexation } }
      }
    }
    """

    finance = await api.data(query, {"id": contract_id}, role="finance")
    sales = await api.post(query, {"id": contract_id}, role="sales")

    assert finance["node"]["events"] == [
        {
            "kind": "RENEWED",
            "oldAmount": "1000.00",
            "newAmount": "1025.00",
            "indexation": "2.50",
        }
    ]
    assert sales["data"]["node"]["events"] == [
        {"kind": "RENEWED", "oldAmount": None, "newAmount": None, "indexation": None}
    ]
    assert "1025" not in str(sales)
    assert "2.5" not in str(sales)


async def test_end_date_change_reschedules_at_once(api: Api) -> None:
    client_id = await create_client(api)
    today = amsterdam_today()
    created = await api.data(
        CREATE_CONTRACT,
        {
            "input": {
                "name": "Hosting",
                "clientId": client_id,
                "startDate": "2026-01-01",
                "endDate": (today + timedelta(days=40)).isoformat(),
                "reminderOffsets": [{"count": 30, "unit": "DAYS"}],
            }
        },
    )
    contract_id = created["createContract"]["contract"]["id"]
    first_end = today + timedelta(days=20)
    second_end = today + timedelta(days=25)

    await api.data(
        UPDATE_CONTRACT,
        {"id": contract_id, "input": {"endDate": first_end.isoformat()}},
    )
    await api.data(
        UPDATE_CONTRACT,
        {"id": contract_id, "input": {"endDate": second_end.isoformat()}},
    )
    data = await api.data(CONTRACT_WORK, {"id": contract_id})

    reminders = sorted(
        (r["anchorDate"], r["dueDate"], r["late"], r["status"])
        for r in data["node"]["reminders"]
    )
    assert reminders == [
        (
            first_end.isoformat(),
            (first_end - timedelta(days=30)).isoformat(),
            True,
            "CANCELLED",
        ),
        (
            second_end.isoformat(),
            (second_end - timedelta(days=30)).isoformat(),
            True,
            "PENDING",
        ),
    ]


async def test_cancelled_reminder_cancels_its_tasks(api: Api) -> None:
    client_id = await create_client(api)
    today = amsterdam_today()
    type_data = await api.data(
        CREATE_TYPE,
        {
            "input": {
                "name": "Reviewed",
                "renewalWorkflow": [
                    {"title": "Review terms", "assignee": "owner", "daysAfter": 0}
                ],
            }
        },
    )
    type_id = type_data["createContractType"]["record"]["id"]
    created = await api.data(
        CREATE_CONTRACT,
        {
            "input": {
                "name": "Hosting",
                "clientId": client_id,
                "contractTypeId": type_id,
                "startDate": "2026-01-01",
                "endDate": (today + timedelta(days=20)).isoformat(),
                "reminderOffsets": [{"count": 30, "unit": "DAYS"}],
            }
        },
    )
    contract_id = created["createContract"]["contract"]["id"]
    # Creating does not reschedule: the update below does, and starts the workflow.
    await api.data(
        UPDATE_CONTRACT,
        {
            "id": contract_id,
            "input": {"endDate": (today + timedelta(days=21)).isoformat()},
        },
    )
    before = await api.data(CONTRACT_WORK, {"id": contract_id})

    await api.data(
        UPDATE_CONTRACT,
        {
            "id": contract_id,
            "input": {"endDate": (today + timedelta(days=90)).isoformat()},
        },
    )
    after = await api.data(CONTRACT_WORK, {"id": contract_id})

    assert [t["status"] for t in before["node"]["tasks"]] == ["OPEN"]
    assert [t["status"] for t in after["node"]["tasks"]] == ["CANCELLED"]
    assert [r["status"] for r in after["node"]["reminders"]] == ["CANCELLED"]


async def test_notice_closes_missed_notice_alert(api: Api) -> None:
    client_id = await create_client(api)
    today = amsterdam_today()
    created = await api.data(
        CREATE_CONTRACT,
        {
            "input": {
                "name": "Hosting",
                "clientId": client_id,
                "startDate": "2026-01-01",
                "endDate": (today + timedelta(days=10)).isoformat(),
                "autoRenewal": True,
                "noticePeriod": {"count": 1, "unit": "MONTHS"},
            }
        },
    )
    contract_id = created["createContract"]["contract"]["id"]
    # The update reschedules the contract, which raises the alert.
    await api.data(
        UPDATE_CONTRACT,
        {
            "id": contract_id,
            "input": {"endDate": (today + timedelta(days=11)).isoformat()},
        },
    )
    before = await api.data(CONTRACT_WORK, {"id": contract_id})

    await api.data(
        RECORD_NOTICE,
        {"contractId": contract_id, "party": "CLIENT", "date": today.isoformat()},
    )
    after = await api.data(CONTRACT_WORK, {"id": contract_id})

    assert [(r["kind"], r["status"]) for r in before["node"]["reminders"]] == [
        ("MISSED_NOTICE", "PENDING")
    ]
    assert [(r["kind"], r["status"]) for r in after["node"]["reminders"]] == [
        ("MISSED_NOTICE", "DONE")
    ]
