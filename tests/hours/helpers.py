"""GraphQL documents and setup shared by the tests of entries and caps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.conftest import Api
from tests.graphql.helpers import (
    FIELD_ERRORS,
    create_client,
    create_contract,
    join_client,
    user_id,
)

ENTRY_FIELDS = """
  id projectId contractId personId date kind hours amount currency description
  billable status approvedById version
"""
USAGE_FIELDS = """
  cap { id } unit periodStart periodEnd label limitHours usedHours remainingHours
  pendingHours limitAmount usedAmount remainingAmount pendingAmount currency
  percentage warningPercent warning
"""
CREATE_ENTRY = f"""
mutation CreateEntry($input: CreateTimeEntryInput!, $overrun: CapOverrun) {{
  createTimeEntry(input: $input, overrun: $overrun) {{
    entry {{ {ENTRY_FIELDS} }} warnings {{ {USAGE_FIELDS} }} {FIELD_ERRORS}
  }}
}}
"""
CREATE_ENTRY_DEFAULT = f"""
mutation CreateEntry($input: CreateTimeEntryInput!) {{
  createTimeEntry(input: $input) {{
    entry {{ {ENTRY_FIELDS} }} warnings {{ {USAGE_FIELDS} }} {FIELD_ERRORS}
  }}
}}
"""
UPDATE_ENTRY = f"""
mutation UpdateEntry(
  $id: ID!, $input: UpdateTimeEntryInput!, $version: Int, $overrun: CapOverrun
) {{
  updateTimeEntry(
    id: $id, input: $input, expectedVersion: $version, overrun: $overrun
  ) {{
    entry {{ {ENTRY_FIELDS} }} warnings {{ {USAGE_FIELDS} }} {FIELD_ERRORS}
  }}
}}
"""
APPROVE_ENTRY = f"""
mutation ApproveEntry($id: ID!, $version: Int) {{
  approveTimeEntry(id: $id, expectedVersion: $version) {{
    entry {{ {ENTRY_FIELDS} }} warnings {{ {USAGE_FIELDS} }} {FIELD_ERRORS}
  }}
}}
"""
DELETE_ENTRY = f"""
mutation DeleteEntry($id: ID!, $version: Int) {{
  deleteTimeEntry(id: $id, expectedVersion: $version) {{
    entry {{ id }} {FIELD_ERRORS}
  }}
}}
"""
SET_CAP = f"""
mutation SetCap(
  $contractId: ID!, $unit: CapUnit!, $period: CapPeriod!, $limit: String!,
  $currency: String, $warningPercent: Int, $version: Int
) {{
  setContractCap(
    contractId: $contractId, unit: $unit, period: $period, limit: $limit,
    currency: $currency, warningPercent: $warningPercent, expectedVersion: $version
  ) {{
    cap {{ id unit period limitHours limitAmount currency warningPercent version }}
    {FIELD_ERRORS}
  }}
}}
"""
CAP_USAGE = f"""
query CapUsage($capId: ID!, $from: Date, $to: Date) {{
  capUsage(capId: $capId, fromDate: $from, toDate: $to) {{ {USAGE_FIELDS} }}
}}
"""
CONTRACT_CAPS = """
query ContractCaps($contractId: ID!) {
  contractCaps(contractId: $contractId) {
    id unit period limitHours limitAmount currency warningPercent version
  }
}
"""
TIME_ENTRIES = f"""
query TimeEntries($projectId: ID, $contractId: ID) {{
  timeEntries(projectId: $projectId, contractId: $contractId) {{ {ENTRY_FIELDS} }}
}}
"""
SET_WARNING_PERCENT = """
mutation SetWarningPercent($percent: Int!) {
  setCapWarningPercent(percent: $percent) { percent errors { field code message } }
}
"""


@dataclass
class Setup:
    """A project with project staff as member, and a contract covering 2027-2028."""

    project_id: str
    contract_id: str
    client_id: str


async def make_setup(api: Api, *, name: str = "Support 2027") -> Setup:
    client_id = await create_client(api, "Acme BV")
    project_id = await join_client(api, client_id, "project_staff")
    contract = await create_contract(
        api,
        client_id,
        {
            "name": name,
            "number": "S-27",
            "startDate": "2027-01-01",
            "endDate": "2028-12-31",
            "projectIds": [project_id],
            "ownerId": user_id(api.tenant, "account_manager"),
            "amount": "5000.00",
            "currency": "EUR",
        },
    )
    return Setup(project_id=project_id, contract_id=contract["id"], client_id=client_id)


async def set_cap(
    api: Api,
    setup: Setup,
    unit: str,
    period: str,
    limit: str,
    *,
    role: str = "finance",
    **extra: Any,
) -> dict[str, Any]:
    """Set a cap, which must succeed, and return it."""
    variables = {
        "contractId": setup.contract_id,
        "unit": unit,
        "period": period,
        "limit": limit,
        **extra,
    }
    data = await api.data(SET_CAP, variables, role=role)
    payload = data["setContractCap"]
    assert payload["errors"] == []
    cap: dict[str, Any] = payload["cap"]
    return cap


def entry_input(setup: Setup, day: str, **fields: Any) -> dict[str, Any]:
    return {
        "projectId": setup.project_id,
        "contractId": setup.contract_id,
        "date": day,
        "description": "Support work",
        **fields,
    }


async def create_entry(
    api: Api,
    setup: Setup,
    day: str,
    *,
    role: str = "project_staff",
    overrun: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Send createTimeEntry and return its payload."""
    variables: dict[str, Any] = {"input": entry_input(setup, day, **fields)}
    if overrun is not None:
        variables["overrun"] = overrun
    data = await api.data(CREATE_ENTRY, variables, role=role)
    payload: dict[str, Any] = data["createTimeEntry"]
    return payload


async def add_hours(
    api: Api, setup: Setup, day: str, hours: str, *, role: str = "project_staff"
) -> dict[str, Any]:
    """Record hours, which must succeed, and return the payload."""
    payload = await create_entry(api, setup, day, role=role, hours=hours)
    assert payload["errors"] == [], payload["errors"]
    return payload


async def usage(
    api: Api, cap_id: str, first: str, last: str, *, role: str = "finance"
) -> list[dict[str, Any]]:
    data = await api.data(
        CAP_USAGE, {"capId": cap_id, "from": first, "to": last}, role=role
    )
    periods: list[dict[str, Any]] = data["capUsage"]
    return periods
