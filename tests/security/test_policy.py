"""Role permissions from the Casbin policy and the checks built on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from contractgql.config import PROJECT_ROOT
from contractgql.errors import PermissionDenied
from contractgql.security.fields import (
    FINANCIAL_READ,
    PROTECTED_FIELDS,
    may_read_field,
    require_readable,
)
from contractgql.security.policy import ROLES, Policy, PolicyError
from contractgql.security.viewer import Viewer
from tests.conftest import Api
from tests.graphql.helpers import FINANCIAL_FIELDS

POLICY_DIR = PROJECT_ROOT / "policies"
NOTE_WRITE = "note:write"
EXPECTED_PERMISSIONS = {
    "admin": {
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
        "user:manage",
    },
    "management": {
        "contract:write",
        "contract.financial:read",
        "contract.financial:write",
        "contract.confidential:read",
        NOTE_WRITE,
    },
    "finance": {
        "contract.financial:read",
        "contract.financial:write",
        "contract.confidential:read",
        NOTE_WRITE,
    },
    "account_manager": {"contract.own:write", NOTE_WRITE},
    "sales": {"client:write", "contact:write", "contract.draft:write", NOTE_WRITE},
    "project_staff": {NOTE_WRITE},
    "integrator": set(),
}
FINANCIAL_READERS = {"admin", "management", "finance"}
PROTECTED_FIELDS_QUERY = """
query ProtectedFields {
  viewer { protectedFields { typeName fieldName permission readable } }
}
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load(POLICY_DIR)


def _viewer(policy: Policy, *roles: str) -> Viewer:
    return Viewer(
        user_id=1,
        organization_id=1,
        name="Test",
        email="test@example.com",
        roles=frozenset(roles),
        permissions=policy.permissions_for(frozenset(roles)),
        timezone="Europe/Amsterdam",
        default_currency="EUR",
    )


def _write_policy(folder: Path, lines: str) -> Path:
    (folder / "model.conf").write_text((POLICY_DIR / "model.conf").read_text())
    (folder / "policy.csv").write_text(lines)
    return folder


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


def test_policy_rejects_unknown_role(tmp_path: Path) -> None:
    folder = _write_policy(tmp_path, "p, superuser, contract, write\n")

    with pytest.raises(PolicyError, match="'superuser'"):
        Policy.load(folder)


def test_policy_rejects_unknown_permission(tmp_path: Path) -> None:
    folder = _write_policy(tmp_path, "p, admin, contract, delete\n")

    with pytest.raises(PolicyError, match="'contract:delete'"):
        Policy.load(folder)


def test_policy_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="model.conf"):
        Policy.load(tmp_path)


def test_protected_fields_are_financial() -> None:
    assert {
        "Contract": dict.fromkeys(FINANCIAL_FIELDS, FINANCIAL_READ)
    } == PROTECTED_FIELDS


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
    assert "Contract.amount" in raised.value.message
    assert FINANCIAL_READ in raised.value.message


def test_sort_on_amount_allowed_as_finance(policy: Policy) -> None:
    require_readable(_viewer(policy, "finance"), "Contract", "amount", "sort on")


@pytest.mark.parametrize("role", ROLES)
async def test_viewer_protected_fields(api: Api, role: str) -> None:
    data = await api.data(PROTECTED_FIELDS_QUERY, role=role)

    readable = role in FINANCIAL_READERS
    assert data["viewer"]["protectedFields"] == [
        {
            "typeName": "Contract",
            "fieldName": field,
            "permission": FINANCIAL_READ,
            "readable": readable,
        }
        for field in FINANCIAL_FIELDS
    ]
