"""The Casbin policy files: permissions, protected fields, validation and reload."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contractgql.app import create_app
from contractgql.config import PROJECT_ROOT, Settings
from contractgql.errors import PermissionDenied
from contractgql.graphql.protection import check_policy, describe_protected_fields
from contractgql.graphql.schema import schema
from contractgql.security.fields import (
    COMPUTED_FROM,
    may_read_field,
    require_readable,
    require_writable,
)
from contractgql.security.policy import ROLES, Policy, PolicyError
from contractgql.security.viewer import Viewer
from tests.conftest import Api, Tenant

POLICY_DIR = PROJECT_ROOT / "policies"
DEFAULT_POLICY = (POLICY_DIR / "policy.csv").read_text()
NOTE_WRITE = "note:write"
# Financial fields of entries and caps, which the policy protects too.
HOURS_FINANCIAL_FIELDS = (
    ("CapUsage", "limitAmount"),
    ("CapUsage", "pendingAmount"),
    ("CapUsage", "remainingAmount"),
    ("CapUsage", "usedAmount"),
    ("ContractCap", "limitAmount"),
    ("TimeEntry", "amount"),
)
# The line number that a rule appended to the default policy gets.
APPENDED_LINE = len(DEFAULT_POLICY.splitlines()) + 1
TIME_ENTRY_APPROVERS = {
    "time_entry:write",
    "time_entry.overrun:approve",
    "contract_cap:write",
}
FINANCIAL_FIELDS = (
    "amount",
    "arr",
    "indexation",
    "mrr",
    "renewalPriceAgreement",
    "totalContractValue",
    "vatRate",
)
EXPECTED_PERMISSIONS = {
    "admin": {
        "contract:read",
        "contract:write",
        "contract.financial:read",
        "contract.financial:write",
        "contract.confidential:read",
        "client:write",
        "contact:write",
        "project:write",
        "service:write",
        "tag:write",
        "contract_type:write",
        "custom_field:write",
        NOTE_WRITE,
        *TIME_ENTRY_APPROVERS,
        "user:manage",
        "policy:manage",
    },
    "management": {
        "contract:read",
        "contract:write",
        "contract.financial:read",
        "contract.financial:write",
        "contract.confidential:read",
        NOTE_WRITE,
        *TIME_ENTRY_APPROVERS,
    },
    "finance": {
        "contract:read",
        "contract.financial:read",
        "contract.financial:write",
        "contract.confidential:read",
        NOTE_WRITE,
        *TIME_ENTRY_APPROVERS,
    },
    "account_manager": {"contract:read", "contract.own:write", NOTE_WRITE},
    "sales": {
        "contract:read",
        "client:write",
        "contact:write",
        "contract.draft:write",
        NOTE_WRITE,
    },
    "project_staff": {NOTE_WRITE, "time_entry.own_project:write"},
    "integrator": {"contract:read"},
}
FINANCIAL_READERS = {"admin", "management", "finance"}
PROTECTED_FIELDS_QUERY = """
query ProtectedFields {
  viewer { protectedFields { typeName fieldName permission readable writable } }
}
"""
RELOAD_POLICY = """
mutation ReloadPolicy { reloadPolicy { source protectedFieldCount } }
"""
AMOUNT_DESCRIPTION = """
query AmountDescription {
  __type(name: "Contract") { fields { name description } }
}
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load(POLICY_DIR)


@pytest.fixture
def restore_schema() -> Iterator[None]:
    """Put the default policy's descriptions back after a test installs another."""
    yield
    describe_protected_fields(Policy.load(POLICY_DIR), schema._schema)


def _viewer(policy: Policy, *roles: str) -> Viewer:
    permissions = policy.permissions_for(frozenset(roles))
    return Viewer(
        user_id=1,
        organization_id=1,
        name="Test",
        email="test@example.com",
        roles=frozenset(roles),
        permissions=permissions,
        timezone="Europe/Amsterdam",
        default_currency="EUR",
        fields=policy.field_access(permissions),
    )


def _write_policy(folder: Path, lines: str, model: str | None = None) -> Path:
    model_text = model or (POLICY_DIR / "model.conf").read_text()
    (folder / "model.conf").write_text(model_text)
    (folder / "policy.csv").write_text(lines)
    return folder


def _load_error(folder: Path) -> str:
    with pytest.raises(PolicyError) as raised:
        policy = Policy.load(folder)
        check_policy(policy, schema._schema)
    return str(raised.value)


# --- Permissions of each role ---------------------------------------------------------


def test_policy_covers_every_role() -> None:
    assert set(EXPECTED_PERMISSIONS) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_role_permissions(policy: Policy, role: str) -> None:
    assert policy.permissions_for(frozenset({role})) == EXPECTED_PERMISSIONS[role]


def test_permissions_union_of_roles(policy: Policy) -> None:
    granted = policy.permissions_for(frozenset({"sales", "finance"}))

    assert granted == EXPECTED_PERMISSIONS["sales"] | EXPECTED_PERMISSIONS["finance"]


def test_unknown_role_grants_nothing(policy: Policy) -> None:
    assert policy.permissions_for(frozenset({"superuser"})) == frozenset()


# --- Protected fields -----------------------------------------------------------------


def test_protected_fields_are_financial(policy: Policy) -> None:
    assert policy.protected_fields == {
        **{("Contract", field): "contract.financial" for field in FINANCIAL_FIELDS},
        **{field: "contract.financial" for field in HOURS_FINANCIAL_FIELDS},
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("field", FINANCIAL_FIELDS)
def test_may_read_financial_field(policy: Policy, role: str, field: str) -> None:
    viewer = _viewer(policy, role)

    assert may_read_field(viewer, "Contract", field) is (role in FINANCIAL_READERS)


@pytest.mark.parametrize("role", ROLES)
def test_unprotected_field_readable(policy: Policy, role: str) -> None:
    assert may_read_field(_viewer(policy, role), "Contract", "name") is True


def test_sort_on_amount_denied_as_sales(policy: Policy) -> None:
    with pytest.raises(PermissionDenied) as raised:
        require_readable(_viewer(policy, "sales"), "Contract", "amount", "sort on")

    assert raised.value.code == "FORBIDDEN"
    assert raised.value.message == (
        "You may not sort on Contract.amount: it needs the 'contract.financial:read' "
        "permission. Remove it from the request or ask an administrator for a role "
        "that has it."
    )


def test_sort_on_amount_allowed_as_finance(policy: Policy) -> None:
    require_readable(_viewer(policy, "finance"), "Contract", "amount", "sort on")


def test_write_names_every_denied_field(policy: Policy) -> None:
    viewer = _viewer(policy, "account_manager")

    with pytest.raises(PermissionDenied) as raised:
        require_writable(viewer, "Contract", ["name", "vat_rate", "currency"])

    assert raised.value.message == (
        "You may not set currency, vatRate: changing them needs the "
        "'contract.financial:write' permission. Leave these fields out of the input "
        "or ask a user whose role has it."
    )


def test_write_allowed_as_finance(policy: Policy) -> None:
    viewer = _viewer(policy, "finance")

    require_writable(viewer, "Contract", ["amount", "currency", "vat_rate"])


@pytest.mark.parametrize("role", ROLES)
async def test_viewer_protected_fields(api: Api, role: str) -> None:
    data = await api.data(PROTECTED_FIELDS_QUERY, role=role)

    allowed = role in FINANCIAL_READERS
    fields = sorted(
        [*(("Contract", name) for name in FINANCIAL_FIELDS), *HOURS_FINANCIAL_FIELDS]
    )
    assert data["viewer"]["protectedFields"] == [
        {
            "typeName": type_name,
            "fieldName": field,
            "permission": "contract.financial",
            "readable": allowed,
            "writable": allowed,
        }
        for type_name, field in fields
    ]


async def test_introspection_names_permission(api: Api) -> None:
    data = await api.data(AMOUNT_DESCRIPTION, role="sales")

    descriptions = {f["name"]: f["description"] for f in data["__type"]["fields"]}
    assert descriptions["amount"] == (
        "Amount per billing period, excluding VAT. Requires the "
        "`contract.financial:read` permission; null for callers without it."
    )
    assert descriptions["name"] is None


# --- Validation at load ---------------------------------------------------------------


def test_policy_rejects_unknown_role(tmp_path: Path) -> None:
    folder = _write_policy(tmp_path, "p, superuser, contract, write\n")

    assert "unknown role 'superuser'" in _load_error(folder)


def test_policy_rejects_unknown_permission(tmp_path: Path) -> None:
    folder = _write_policy(tmp_path, "p, admin, contract, delete\n")

    assert "unknown permission 'contract:delete' to 'admin'" in _load_error(folder)


def test_policy_rejects_missing_file(tmp_path: Path) -> None:
    assert "model.conf is missing" in _load_error(tmp_path)


def test_policy_rejects_unknown_type(tmp_path: Path) -> None:
    folder = _write_policy(
        tmp_path, DEFAULT_POLICY + "g, Invoice.amount, contract.financial\n"
    )

    assert _load_error(folder) == (
        "The policy protects Invoice.amount, but the schema has no object type "
        "'Invoice': fix the 'g' line in policy.csv."
    )


def test_policy_rejects_unknown_field(tmp_path: Path) -> None:
    folder = _write_policy(
        tmp_path, DEFAULT_POLICY + "g, Contract.price, contract.financial\n"
    )

    assert _load_error(folder) == (
        "The policy protects Contract.price, but Contract has no field 'price': fix "
        "the 'g' line in policy.csv."
    )


def test_policy_rejects_non_null_field(tmp_path: Path) -> None:
    folder = _write_policy(
        tmp_path, DEFAULT_POLICY + "g, Contract.currency, contract.financial\n"
    )

    assert _load_error(folder) == (
        "The policy protects Contract.currency with 'contract.financial', but the "
        "field is non-null and so cannot be hidden: make it nullable in the schema "
        "or remove the line."
    )


def test_policy_rejects_unknown_field_permission(tmp_path: Path) -> None:
    folder = _write_policy(
        tmp_path, DEFAULT_POLICY + "g, Contract.amount, contract.secret\n"
    )

    assert "unknown permission 'contract.secret'" in _load_error(folder)


def test_policy_rejects_field_without_type(tmp_path: Path) -> None:
    folder = _write_policy(tmp_path, DEFAULT_POLICY + "g, amount, contract.financial\n")

    assert _load_error(folder) == (
        f"{folder / 'policy.csv'}, line {APPENDED_LINE}: protects 'amount', which "
        "is not a field name: write the GraphQL type and field, such as "
        "'Contract.amount'."
    )


def test_policy_rejects_visible_derived_field(tmp_path: Path) -> None:
    lines = DEFAULT_POLICY.replace("g, Contract.mrr, contract.financial\n", "")
    folder = _write_policy(tmp_path, lines)

    assert _load_error(folder) == (
        "Contract.mrr is computed from Contract.amount, which the policy protects "
        "with 'contract.financial': add the line 'g, Contract.mrr, "
        "contract.financial' to policy.csv."
    )


def test_computed_fields_exist() -> None:
    names = {
        (type_name, name)
        for (type_name, source), derived in COMPUTED_FROM.items()
        for name in (source, *derived)
    }
    missing = sorted(
        f"{type_name}.{name}"
        for type_name, name in names
        if name not in getattr(schema._schema.type_map[type_name], "fields", {})
    )

    assert missing == []


def test_policy_rejects_visible_date_figures(tmp_path: Path) -> None:
    lines = DEFAULT_POLICY + "g, Contract.noticePeriod, contract.financial\n"
    folder = _write_policy(tmp_path, lines)

    assert _load_error(folder) == (
        "Contract.daysUntilNoticeDeadline is computed from Contract.noticePeriod, "
        "which the policy protects with 'contract.financial': add the line 'g, "
        "Contract.daysUntilNoticeDeadline, contract.financial' to policy.csv."
    )


def test_policy_rejects_end_date(tmp_path: Path) -> None:
    lines = DEFAULT_POLICY + "g, Contract.endDate, contract.financial\n"
    folder = _write_policy(tmp_path, lines)

    assert _load_error(folder) == (
        "The policy protects Contract.endDate, but the non-null field Contract.status "
        "is computed from it and would show it: remove the line, because this field "
        "cannot be protected."
    )


def test_policy_accepts_whole_notice_chain(tmp_path: Path) -> None:
    lines = DEFAULT_POLICY + "".join(
        f"g, Contract.{name}, contract.financial\n"
        for name in (
            "noticePeriod",
            "noticeDeadline",
            "earliestEndWithNoticeToday",
            "daysUntilNoticeDeadline",
            "noticeEffectiveEnd",
        )
    )
    folder = _write_policy(tmp_path, lines)

    policy = Policy.load(folder)
    check_policy(policy, schema._schema)

    assert len(policy.protected_fields) == 7 + len(HOURS_FINANCIAL_FIELDS) + 5


def test_policy_rejects_other_matcher(tmp_path: Path) -> None:
    model = (POLICY_DIR / "model.conf").read_text()
    loose = model.replace("g(r.obj, p.obj)", "r.obj == r.obj")
    folder = _write_policy(tmp_path, DEFAULT_POLICY, model=loose)

    assert "decides 'contract.draft:write' for 'admin'" in _load_error(folder)


@pytest.mark.parametrize(
    "line",
    [
        "G, Contract.description, contract.financial",
        "g2, Contract.description, contract.financial",
        "g Contract.description contract.financial",
        "p, admin, contract",
        "g, Contract.description",
    ],
)
def test_policy_rejects_unparsed_line(tmp_path: Path, line: str) -> None:
    folder = _write_policy(tmp_path, DEFAULT_POLICY + line + "\n")

    message = _load_error(folder)

    assert message.startswith(f"{folder / 'policy.csv'}, line {APPENDED_LINE}: ")
    assert message.endswith(
        "is not a rule: write 'p, role, permission, action' or "
        "'g, Type.field, permission'."
    )


def test_policy_rejects_empty_file(tmp_path: Path) -> None:
    folder = _write_policy(tmp_path, "# nothing yet\n")

    assert _load_error(folder) == (
        f"{folder / 'policy.csv'} grants no permission to any role, so nobody could "
        "use the API: add 'p, role, permission, action' lines."
    )


def test_app_refuses_to_start(tmp_path: Path, settings: Settings) -> None:
    folder = _write_policy(
        tmp_path, DEFAULT_POLICY + "g, Contract.price, contract.financial\n"
    )
    bad = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        policy_dir=folder,
    )

    with pytest.raises(PolicyError, match="Contract has no field 'price'"):
        create_app(bad, manage_database=False)


# --- Reload ---------------------------------------------------------------------------


async def _policy_app(
    folder: Path, settings: Settings, tenant: Tenant
) -> tuple[Any, Api]:
    custom = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        secret_key=settings.secret_key,
        policy_dir=folder,
    )
    app = create_app(custom, manage_database=False)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    )
    return app, Api(client, tenant)


async def test_reload_mutation_applies_policy(
    tmp_path: Path,
    settings: Settings,
    tenant: Tenant,
    restore_schema: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = _write_policy(tmp_path, DEFAULT_POLICY)
    _, api = await _policy_app(folder, settings, tenant)
    async with api.client:
        before = await api.data(PROTECTED_FIELDS_QUERY, role="finance")
        (folder / "policy.csv").write_text(
            DEFAULT_POLICY.replace("p, finance, contract.financial, read\n", "")
        )

        with caplog.at_level(logging.INFO, logger="contractgql.graphql.protection"):
            reloaded = await api.data(RELOAD_POLICY)
        after = await api.data(PROTECTED_FIELDS_QUERY, role="finance")

    assert reloaded["reloadPolicy"] == {
        "source": str(folder),
        "protectedFieldCount": 7 + len(HOURS_FINANCIAL_FIELDS),
    }
    assert {f["readable"] for f in before["viewer"]["protectedFields"]} == {True}
    assert {f["readable"] for f in after["viewer"]["protectedFields"]} == {False}
    count = 7 + len(HOURS_FINANCIAL_FIELDS)
    assert f"Reloaded policy from {folder}: {count} protected fields" in caplog.messages


async def test_reload_keeps_old_policy_on_error(
    tmp_path: Path,
    settings: Settings,
    tenant: Tenant,
    restore_schema: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = _write_policy(tmp_path, DEFAULT_POLICY)
    _, api = await _policy_app(folder, settings, tenant)
    async with api.client:
        (folder / "policy.csv").write_text(DEFAULT_POLICY + "p, root, contract, read\n")

        with caplog.at_level(logging.ERROR, logger="contractgql.graphql.protection"):
            error = await api.error(RELOAD_POLICY)
        after = await api.data(PROTECTED_FIELDS_QUERY, role="finance")

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "unknown role 'root'" in error["message"]
    assert error["message"].endswith("The old policy stays in force.")
    assert {f["readable"] for f in after["viewer"]["protectedFields"]} == {True}
    assert any("Policy reload from" in message for message in caplog.messages)


async def test_reload_forbidden_as_management(api: Api) -> None:
    error = await api.error(RELOAD_POLICY, role="management")

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "'policy:manage'" in error["message"]


async def test_sighup_reloads_policy(
    tmp_path: Path, settings: Settings, tenant: Tenant, restore_schema: None
) -> None:
    folder = _write_policy(tmp_path, DEFAULT_POLICY)
    app, api = await _policy_app(folder, settings, tenant)
    services_before = app.state.services.policy
    async with app.router.lifespan_context(app), api.client:
        (folder / "policy.csv").write_text(
            DEFAULT_POLICY.replace("p, finance, contract.financial, read\n", "")
        )
        os.kill(os.getpid(), signal.SIGHUP)
        # The event loop runs the handler on one of its next iterations.
        for _ in range(100):
            if app.state.services.policy is not services_before:
                break
            await asyncio.sleep(0.01)
        after = await api.data(PROTECTED_FIELDS_QUERY, role="finance")

    assert {f["readable"] for f in after["viewer"]["protectedFields"]} == {False}


UPDATE_CLIENT = """
mutation($id: ID!, $input: ClientInput!) {
  updateClient(id: $id, input: $input) { record { id vatNumber } errors { field } }
}
"""
CREATE_CLIENT = """
mutation($input: ClientInput!) {
  createClient(input: $input) { record { id vatNumber } errors { field } }
}
"""


async def test_protected_client_field_write(
    tmp_path: Path, settings: Settings, tenant: Tenant, restore_schema: None
) -> None:
    lines = DEFAULT_POLICY + "g, Client.vatNumber, contract.financial\n"
    folder = _write_policy(tmp_path, lines)
    _, api = await _policy_app(folder, settings, tenant)
    async with api.client:
        created = await api.data(CREATE_CLIENT, {"input": {"name": "Acme"}})
        client_id = created["createClient"]["record"]["id"]
        update = {"id": client_id, "input": {"vatNumber": "NL001"}}

        denied = await api.error(UPDATE_CLIENT, update, role="sales")
        denied_create = await api.error(
            CREATE_CLIENT, {"input": {"name": "B", "vatNumber": "NL002"}}, role="sales"
        )
        allowed = await api.data(UPDATE_CLIENT, update, role="admin")
        read = await api.data(
            UPDATE_CLIENT, {"id": client_id, "input": {}}, role="sales"
        )

    assert denied["extensions"]["code"] == "FORBIDDEN"
    assert denied["message"].startswith("You may not set vatNumber:")
    assert denied_create["extensions"]["code"] == "FORBIDDEN"
    assert allowed["updateClient"]["record"]["vatNumber"] == "NL001"
    assert read["updateClient"]["record"]["vatNumber"] is None
