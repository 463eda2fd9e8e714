"""Time and material entries: validation, permissions, versions, audit and tenancy."""

from __future__ import annotations

import pytest

from contractgql.config import Settings
from contractgql.ids import decode_id
from contractgql.models import AuditLog, AuditOutbox
from tests.conftest import Api, make_tenant
from tests.graphql.helpers import create_client, create_contract, user_id
from tests.hours.helpers import (
    CREATE_ENTRY,
    DELETE_ENTRY,
    SET_CAP,
    TIME_ENTRIES,
    UPDATE_ENTRY,
    add_hours,
    create_entry,
    entry_input,
    make_setup,
    set_cap,
    usage,
)


async def test_entry_stored_exactly(api: Api) -> None:
    setup = await make_setup(api)

    payload = await add_hours(api, setup, "2027-03-15", "7.25")

    entry = payload["entry"]
    assert entry["hours"] == "7.25"
    assert entry["kind"] == "HOURS"
    assert entry["amount"] is None
    assert entry["billable"] is True
    assert entry["status"] == "APPROVED"
    assert entry["personId"] == user_id(api.tenant, "project_staff")
    assert entry["version"] == 1
    assert payload["warnings"] == []


@pytest.mark.parametrize(
    ("hours", "code"),
    [
        ("7.255", "INVALID_HOURS"),
        ("-1", "INVALID_HOURS"),
        ("1e2", "INVALID_HOURS"),
        ("0", "OUT_OF_RANGE"),
        ("24.01", "OUT_OF_RANGE"),
    ],
)
async def test_invalid_hours_rejected(api: Api, hours: str, code: str) -> None:
    setup = await make_setup(api)

    payload = await create_entry(api, setup, "2027-03-15", hours=hours)

    assert payload["entry"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("hours", code)]


async def test_contract_not_linked_to_project(api: Api) -> None:
    setup = await make_setup(api)
    other = await create_contract(
        api, setup.client_id, {"name": "Licence", "startDate": "2027-01-01"}
    )

    payload = await create_entry(
        api, setup, "2027-03-15", hours="1", contractId=other["id"]
    )

    assert payload["errors"] == [
        {
            "field": "contractId",
            "code": "NOT_LINKED",
            "message": f"Contract 'Licence' ({other['id']}) is not linked to project "
            "'Support': link the project to the contract with changeContractLinks, "
            "or pick a contract of this project.",
        }
    ]


async def test_date_outside_term_names_the_term(api: Api) -> None:
    setup = await make_setup(api)

    payload = await create_entry(api, setup, "2029-01-01", hours="1")

    assert payload["errors"] == [
        {
            "field": "date",
            "code": "NOT_IN_FORCE",
            "message": f"Contract 'Support 2027' ({setup.contract_id}) is in force "
            "from 2027-01-01 to 2028-12-31, and the entry date 2029-01-01 is "
            "outside that term: correct the date, or pick the contract that covers "
            "it.",
        }
    ]


async def test_draft_contract_covers_nothing(api: Api) -> None:
    setup = await make_setup(api)
    draft = await create_contract(
        api,
        setup.client_id,
        {
            "name": "Draft",
            "stage": "DRAFT",
            "startDate": "2027-01-01",
            "projectIds": [setup.project_id],
        },
    )

    payload = await create_entry(
        api, setup, "2027-03-15", hours="1", contractId=draft["id"]
    )

    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("contractId", "NOT_IN_FORCE")
    ]
    assert "is draft" in payload["errors"][0]["message"]


async def test_staff_outside_project_forbidden(api: Api) -> None:
    setup = await make_setup(api)
    other_client = await create_client(api, "Other BV")
    contract = await create_contract(
        api, other_client, {"name": "Other", "startDate": "2027-01-01"}
    )
    project = await api.data(
        """
        mutation P($input: ProjectInput!) { createProject(input: $input) {
          record { id } } }
        """,
        {"input": {"clientId": other_client, "name": "Elsewhere"}},
    )
    project_id = project["createProject"]["record"]["id"]
    variables = {
        "input": {
            **entry_input(setup, "2027-03-15", hours="1"),
            "projectId": project_id,
            "contractId": contract["id"],
        }
    }

    body = await api.post(CREATE_ENTRY, variables, role="project_staff")

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "not a member of project" in body["errors"][0]["message"]


async def test_staff_cannot_record_for_others(api: Api) -> None:
    setup = await make_setup(api)
    variables = {
        "input": entry_input(
            setup, "2027-03-15", hours="1", personId=user_id(api.tenant, "sales")
        )
    }

    body = await api.post(CREATE_ENTRY, variables, role="project_staff")
    allowed = await api.post(CREATE_ENTRY, variables, role="management")

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert allowed["data"]["createTimeEntry"]["errors"] == []
    assert allowed["data"]["createTimeEntry"]["entry"]["personId"] == user_id(
        api.tenant, "sales"
    )


async def test_sales_cannot_record_hours(api: Api) -> None:
    setup = await make_setup(api)

    body = await api.post(
        CREATE_ENTRY,
        {"input": entry_input(setup, "2027-03-15", hours="1")},
        role="sales",
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_update_with_version_check(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")
    created = await add_hours(api, setup, "2027-04-01", "2.00")
    entry_id = created["entry"]["id"]

    updated = await api.data(
        UPDATE_ENTRY,
        {"id": entry_id, "input": {"hours": "3.50"}, "version": 1},
        role="project_staff",
    )
    stale = await api.error(
        UPDATE_ENTRY,
        {"id": entry_id, "input": {"hours": "1.00"}, "version": 1},
        role="project_staff",
    )

    result = updated["updateTimeEntry"]
    assert result["errors"] == []
    assert result["entry"]["hours"] == "3.50"
    assert result["entry"]["version"] == 2
    assert stale["extensions"]["code"] == "CONFLICT"
    assert stale["extensions"]["currentVersion"] == 2
    assert stale["extensions"]["changedFields"] == ["hours"]
    periods = await usage(api, cap["id"], "2027-04-01", "2027-04-01")
    assert periods[0]["usedHours"] == "3.50"


async def test_update_beyond_cap_rejected(api: Api) -> None:
    setup = await make_setup(api)
    await set_cap(api, setup, "HOURS", "MONTH", "10")
    await add_hours(api, setup, "2027-04-01", "6.00")
    created = await add_hours(api, setup, "2027-04-02", "3.00")

    data = await api.data(
        UPDATE_ENTRY,
        {"id": created["entry"]["id"], "input": {"hours": "4.01"}},
        role="project_staff",
    )
    fits = await api.data(
        UPDATE_ENTRY,
        {"id": created["entry"]["id"], "input": {"hours": "4.00"}},
        role="project_staff",
    )

    assert [e["code"] for e in data["updateTimeEntry"]["errors"]] == ["CAP_EXCEEDED"]
    assert fits["updateTimeEntry"]["errors"] == []
    assert fits["updateTimeEntry"]["warnings"][0]["usedHours"] == "10.00"


async def test_description_fix_past_cap_needs_no_approval(api: Api) -> None:
    setup = await make_setup(api)
    await set_cap(api, setup, "HOURS", "MONTH", "1")
    created = await create_entry(
        api, setup, "2027-04-03", role="finance", overrun="APPROVE", hours="2.00"
    )

    data = await api.data(
        UPDATE_ENTRY,
        {"id": created["entry"]["id"], "input": {"description": "Fixed"}},
        role="finance",
    )

    assert data["updateTimeEntry"]["errors"] == []
    assert data["updateTimeEntry"]["entry"]["status"] == "APPROVED"
    assert data["updateTimeEntry"]["entry"]["description"] == "Fixed"


async def test_delete_with_version_and_audit(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")
    created = await add_hours(api, setup, "2027-05-01", "2.00")
    entry_id = created["entry"]["id"]

    stale = await api.error(
        DELETE_ENTRY, {"id": entry_id, "version": 7}, role="project_staff"
    )
    deleted = await api.data(
        DELETE_ENTRY, {"id": entry_id, "version": 1}, role="project_staff"
    )
    listed = await api.data(TIME_ENTRIES, {"projectId": setup.project_id})

    assert stale["extensions"]["code"] == "CONFLICT"
    assert deleted["deleteTimeEntry"]["entry"] == {"id": entry_id}
    assert listed["timeEntries"] == []
    periods = await usage(api, cap["id"], "2027-05-01", "2027-05-01")
    assert periods[0]["usedHours"] == "0.00"
    entity = {"entity_type": "TimeEntry", "entity_id": decode_id(entry_id)[1]}
    # The recorder moves events from the outbox into the log after each request.
    audited = [
        *await AuditLog.filter(**entity)
        .order_by("sequence")
        .values_list("action", "actor_id"),
        *await AuditOutbox.filter(**entity)
        .order_by("id")
        .values_list("action", "actor_id"),
    ]
    staff = api.tenant.user_ids["project_staff"]
    assert audited == [("time_entry.create", staff), ("time_entry.delete", staff)]


async def test_other_organization_sees_no_entries(api: Api, settings: Settings) -> None:
    setup = await make_setup(api)
    created = await add_hours(api, setup, "2027-05-01", "2.00")
    other = Api(api.client, await make_tenant(settings))

    listed = await other.post(
        TIME_ENTRIES, {"projectId": setup.project_id}, role="admin"
    )
    deleted = await other.error(DELETE_ENTRY, {"id": created["entry"]["id"]})

    assert listed["data"]["timeEntries"] == []
    assert deleted["extensions"]["code"] == "NOT_FOUND"


async def test_pending_entry_correction_stays_pending(api: Api) -> None:
    setup = await make_setup(api)
    await set_cap(api, setup, "HOURS", "MONTH", "1")
    pending = await create_entry(
        api, setup, "2027-06-01", hours="2.00", overrun="REQUEST_APPROVAL"
    )

    data = await api.data(
        UPDATE_ENTRY,
        {"id": pending["entry"]["id"], "input": {"description": "More detail"}},
        role="project_staff",
    )

    result = data["updateTimeEntry"]
    assert result["errors"] == []
    assert result["entry"]["status"] == "PENDING_APPROVAL"
    assert result["entry"]["description"] == "More detail"
    assert result["entry"]["version"] == 2


async def test_null_required_field_rejected(api: Api) -> None:
    setup = await make_setup(api)
    created = await add_hours(api, setup, "2027-06-01", "1.00")

    data = await api.data(
        UPDATE_ENTRY,
        {"id": created["entry"]["id"], "input": {"date": None}},
        role="project_staff",
    )

    assert data["updateTimeEntry"]["errors"] == [
        {
            "field": "date",
            "code": "REQUIRED",
            "message": "date cannot be null: leave it out to keep the stored value.",
        }
    ]


async def test_staff_cannot_set_caps(api: Api) -> None:
    setup = await make_setup(api)

    body = await api.post(
        SET_CAP,
        {
            "contractId": setup.contract_id,
            "unit": "HOURS",
            "period": "MONTH",
            "limit": "10",
        },
        role="project_staff",
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "'contract_cap:write'" in body["errors"][0]["message"]
