"""Every role × every protected field of time entries and caps, from the policy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contractgql.config import PROJECT_ROOT, Settings
from contractgql.security.policy import ROLES, FieldName, Policy
from tests.conftest import Api, Tenant, make_tenant
from tests.hours.helpers import (
    CAP_USAGE,
    CONTRACT_CAPS,
    TIME_ENTRIES,
    Setup,
    create_entry,
    make_setup,
    set_cap,
)

POLICY = Policy.load(PROJECT_ROOT / "policies")
HOURS_TYPES = ("TimeEntry", "ContractCap", "CapUsage")
PROTECTED = sorted(f for f in POLICY.protected_fields if f[0] in HOURS_TYPES)
# The value that a role allowed to read each field gets. The seeded amount cap
# of 1,000.00 a year has 876.54 used, so 123.46 remain, and an entry of 200.00
# waits for approval.
EXPECTED: dict[FieldName, str] = {
    ("TimeEntry", "amount"): "876.54",
    ("ContractCap", "limitAmount"): "1000.00",
    ("CapUsage", "limitAmount"): "1000.00",
    ("CapUsage", "usedAmount"): "876.54",
    ("CapUsage", "remainingAmount"): "123.46",
    ("CapUsage", "pendingAmount"): "200.00",
}
NEEDLES = ("876.54", "1000.00", "123.46", "200.00", "87.65")


@dataclass
class Seed:
    api: Api
    setup: Setup
    cap_id: str


@pytest_asyncio.fixture(scope="module")
async def seed(settings: Settings, app: Any) -> AsyncIterator[Seed]:
    tenant: Tenant = await make_tenant(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        api = Api(client, tenant)
        setup = await make_setup(api)
        cap = await set_cap(api, setup, "AMOUNT", "YEAR", "1000.00")
        material = await create_entry(
            api, setup, "2027-02-02", role="finance", amount="876.54", currency="EUR"
        )
        pending = await create_entry(
            api,
            setup,
            "2027-02-03",
            role="finance",
            overrun="REQUEST_APPROVAL",
            amount="200.00",
            currency="EUR",
        )
        assert material["errors"] == []
        assert pending["entry"]["status"] == "PENDING_APPROVAL"
        yield Seed(api, setup, cap["id"])


def _may_read(role: str, field: FieldName) -> bool:
    permissions = POLICY.permissions_for(frozenset({role}))
    return POLICY.field_access(permissions).may_read(*field)


async def _read(seed: Seed, role: str, field: FieldName) -> tuple[Any, str]:
    """Return the field's value as `role` reads it, and the raw response."""
    api, setup = seed.api, seed.setup
    type_name, name = field
    if type_name == "TimeEntry":
        body = await api.post(TIME_ENTRIES, {"projectId": setup.project_id}, role=role)
        rows = body["data"]["timeEntries"]
        value = [row[name] for row in rows if row["kind"] == "MATERIAL"][0]
    elif type_name == "ContractCap":
        body = await api.post(
            CONTRACT_CAPS, {"contractId": setup.contract_id}, role=role
        )
        value = body["data"]["contractCaps"][0][name]
    else:
        variables = {"capId": seed.cap_id, "from": "2027-05-01", "to": "2027-05-01"}
        body = await api.post(CAP_USAGE, variables, role=role)
        value = body["data"]["capUsage"][0][name]
    assert "errors" not in body, body
    return value, json.dumps(body)


def test_every_protected_field_has_a_value() -> None:
    assert sorted(EXPECTED) == PROTECTED


@pytest.mark.parametrize("field", PROTECTED, ids=".".join)
@pytest.mark.parametrize("role", ROLES)
async def test_field_access(seed: Seed, role: str, field: FieldName) -> None:
    value, raw = await _read(seed, role, field)

    if _may_read(role, field):
        assert value == EXPECTED[field]
    else:
        assert value is None
        for needle in NEEDLES:
            assert needle not in raw


@pytest.mark.parametrize("role", ROLES)
async def test_amount_cap_percentage(seed: Seed, role: str) -> None:
    variables = {"capId": seed.cap_id, "from": "2027-05-01", "to": "2027-05-01"}

    body = await seed.api.post(CAP_USAGE, variables, role=role)

    usage = body["data"]["capUsage"][0]
    if _may_read(role, ("CapUsage", "usedAmount")):
        assert usage["percentage"] == "87.65"
        # 87.65% of the cap is used, past the default warning at 80%.
        assert usage["warning"] is True
    else:
        assert usage["percentage"] is None
        assert usage["warning"] is None
