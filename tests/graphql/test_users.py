"""User management: create, deactivate, reactivate and change the roles of users."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from contractgql.config import Settings
from contractgql.ids import decode_id, encode_id
from contractgql.models import User
from tests.conftest import PASSWORD, Api, make_tenant
from tests.graphql.helpers import user_id

USER_FIELDS = "id email name roles isActive isServiceAccount"
ERRORS = "errors { field code message }"
CREATE_USER = f"""
mutation CreateUser($input: CreateUserInput!) {{
  createUser(input: $input) {{ record {{ {USER_FIELDS} }} {ERRORS} }}
}}
"""
DEACTIVATE_USER = f"""
mutation Deactivate($id: ID!) {{
  deactivateUser(id: $id) {{ record {{ {USER_FIELDS} }} {ERRORS} }}
}}
"""
REACTIVATE_USER = f"""
mutation Reactivate($id: ID!) {{
  reactivateUser(id: $id) {{ record {{ {USER_FIELDS} }} {ERRORS} }}
}}
"""
SET_ROLES = f"""
mutation SetRoles($id: ID!, $roles: [String!]!) {{
  setUserRoles(id: $id, roles: $roles) {{ record {{ {USER_FIELDS} }} {ERRORS} }}
}}
"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { token user { email roles } }
}
"""
VIEWER = "query { viewer { roles permissions } }"
NEW_PASSWORD = "a-new-long-password"


def new_email() -> str:
    return f"new-{uuid.uuid4().hex[:10]}@example.com"


async def create_user(api: Api, **fields: Any) -> dict[str, Any]:
    """Post createUser as admin and return its payload."""
    user_input = {"email": new_email(), "name": "New User", "roles": ["sales"]}
    user_input.update(fields)
    data = await api.data(CREATE_USER, {"input": user_input})
    payload: dict[str, Any] = data["createUser"]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[str, str]]:
    return [(error["field"], error["code"]) for error in payload["errors"]]


async def post_login(
    client: httpx.AsyncClient, email: str, password: str
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"email": email, "password": password}},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- createUser -----------------------------------------------------------------------


async def test_create_person_can_log_in(api: Api) -> None:
    email = new_email()

    payload = await create_user(
        api,
        email=f"  {email.upper()} ",
        name=" Nina Jansen ",
        roles=["sales", "finance", "sales"],
        password=NEW_PASSWORD,
    )
    login = await post_login(api.client, email, NEW_PASSWORD)

    assert payload["errors"] == []
    record = payload["record"]
    assert record["email"] == email
    assert record["name"] == "Nina Jansen"
    assert record["roles"] == ["finance", "sales"]
    assert record["isActive"] is True
    assert record["isServiceAccount"] is False
    assert login["data"]["login"]["user"] == {
        "email": email,
        "roles": ["finance", "sales"],
    }
    stored = await User.get(id=decode_id(record["id"])[1])
    assert stored.organization_id == api.tenant.organization.id
    assert stored.password_hash is not None
    assert NEW_PASSWORD not in stored.password_hash


async def test_create_service_account_has_no_password(api: Api) -> None:
    payload = await create_user(api, roles=["integrator"], isServiceAccount=True)

    assert payload["errors"] == []
    assert payload["record"]["isServiceAccount"] is True
    assert payload["record"]["roles"] == ["integrator"]
    stored = await User.get(id=decode_id(payload["record"]["id"])[1])
    assert stored.password_hash is None


async def test_service_account_cannot_log_in(api: Api) -> None:
    email = new_email()
    await create_user(api, email=email, isServiceAccount=True)

    body = await post_login(api.client, email, "")

    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_service_account_password_rejected(api: Api) -> None:
    payload = await create_user(api, isServiceAccount=True, password=NEW_PASSWORD)

    assert payload["record"] is None
    assert codes(payload) == [("password", "NOT_ALLOWED")]


@pytest.mark.parametrize(
    ("fields", "expected", "named"),
    [
        ({"password": None}, [("password", "REQUIRED")], "10 characters"),
        ({"password": "short"}, [("password", "TOO_SHORT")], "5 characters"),
        (
            {"password": NEW_PASSWORD, "roles": ["sales", "wizard"]},
            [("roles", "UNKNOWN_ROLE")],
            "'wizard'",
        ),
        ({"password": NEW_PASSWORD, "roles": []}, [("roles", "REQUIRED")], "admin"),
        (
            {"password": NEW_PASSWORD, "email": "not-an-address"},
            [("email", "INVALID_EMAIL")],
            "'not-an-address'",
        ),
        ({"password": NEW_PASSWORD, "name": "  "}, [("name", "REQUIRED")], "Name"),
        (
            {"password": NEW_PASSWORD, "name": "x" * 201},
            [("name", "TOO_LONG")],
            "201 characters",
        ),
    ],
)
async def test_invalid_user_input_rejected(
    api: Api, fields: dict[str, Any], expected: list[tuple[str, str]], named: str
) -> None:
    payload = await create_user(api, **fields)

    assert payload["record"] is None
    assert codes(payload) == expected
    assert named in payload["errors"][0]["message"]


async def test_all_user_input_errors_listed(api: Api) -> None:
    payload = await create_user(api, email="", name="", roles=["wizard"])

    assert sorted(codes(payload)) == [
        ("email", "REQUIRED"),
        ("name", "REQUIRED"),
        ("password", "REQUIRED"),
        ("roles", "UNKNOWN_ROLE"),
    ]


async def test_duplicate_email_rejected(api: Api, settings: Settings) -> None:
    other = await make_tenant(settings)
    taken_email = other.emails["sales"]

    payload = await create_user(api, email=taken_email.upper(), password=NEW_PASSWORD)

    assert payload["record"] is None
    assert codes(payload) == [("email", "DUPLICATE")]
    assert f"'{taken_email}'" in payload["errors"][0]["message"]


# --- deactivateUser and reactivateUser -----------------------------------------------


async def test_deactivated_user_rejected_at_once(api: Api) -> None:
    sales = user_id(api.tenant, "sales")
    before = await api.post(VIEWER, role="sales")

    data = await api.data(DEACTIVATE_USER, {"id": sales})
    after = await api.post(VIEWER, role="sales")
    login = await post_login(api.client, api.tenant.emails["sales"], PASSWORD)

    assert "errors" not in before
    assert data["deactivateUser"]["errors"] == []
    assert data["deactivateUser"]["record"]["isActive"] is False
    assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert login["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_reactivated_user_logs_in_again(api: Api) -> None:
    sales = user_id(api.tenant, "sales")
    await api.data(DEACTIVATE_USER, {"id": sales})
    again = await api.data(DEACTIVATE_USER, {"id": sales})

    data = await api.data(REACTIVATE_USER, {"id": sales})
    old_token = await api.post(VIEWER, role="sales")
    login = await post_login(api.client, api.tenant.emails["sales"], PASSWORD)
    new_token = login["data"]["login"]["token"]
    response = await api.client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Bearer {new_token}"},
    )
    viewer = response.json()["data"]

    assert again["deactivateUser"]["record"]["isActive"] is False
    assert old_token["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert data["reactivateUser"] == {
        "record": {
            "id": sales,
            "email": api.tenant.emails["sales"],
            "name": "Sales",
            "roles": ["sales"],
            "isActive": True,
            "isServiceAccount": False,
        },
        "errors": [],
    }
    assert viewer["viewer"]["roles"] == ["sales"]


async def test_deactivate_self_rejected(api: Api) -> None:
    admin = user_id(api.tenant, "admin")

    data = await api.data(DEACTIVATE_USER, {"id": admin})
    viewer = await api.data(VIEWER)

    payload = data["deactivateUser"]
    assert payload["record"] is None
    assert codes(payload) == [("id", "OWN_ACCOUNT")]
    assert viewer["viewer"]["roles"] == ["admin"]


# --- setUserRoles ---------------------------------------------------------------------


async def test_set_roles_changes_permissions(api: Api) -> None:
    sales = user_id(api.tenant, "sales")

    data = await api.data(SET_ROLES, {"id": sales, "roles": ["finance", "sales"]})
    viewer = await api.data(VIEWER, role="sales")

    assert data["setUserRoles"]["errors"] == []
    assert data["setUserRoles"]["record"]["roles"] == ["finance", "sales"]
    assert viewer["viewer"]["roles"] == ["finance", "sales"]
    assert "contract.financial:read" in viewer["viewer"]["permissions"]


async def test_drop_own_admin_role_rejected(api: Api) -> None:
    admin = user_id(api.tenant, "admin")

    data = await api.data(SET_ROLES, {"id": admin, "roles": ["finance"]})
    stored = await User.get(id=api.tenant.user_ids["admin"])

    payload = data["setUserRoles"]
    assert payload["record"] is None
    assert codes(payload) == [("roles", "OWN_ADMIN_ROLE")]
    assert "'user:manage'" in payload["errors"][0]["message"]
    assert stored.roles == ["admin"]


async def test_add_role_to_self_accepted(api: Api) -> None:
    admin = user_id(api.tenant, "admin")

    data = await api.data(SET_ROLES, {"id": admin, "roles": ["admin", "finance"]})

    assert data["setUserRoles"]["errors"] == []
    assert data["setUserRoles"]["record"]["roles"] == ["admin", "finance"]


async def test_other_admin_may_drop_admin_role(api: Api) -> None:
    management = user_id(api.tenant, "management")
    await api.data(SET_ROLES, {"id": management, "roles": ["admin"]})

    data = await api.data(SET_ROLES, {"id": management, "roles": ["management"]})

    assert data["setUserRoles"]["errors"] == []
    assert data["setUserRoles"]["record"]["roles"] == ["management"]


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([], [("roles", "REQUIRED")]),
        (["sales", "boss"], [("roles", "UNKNOWN_ROLE")]),
    ],
)
async def test_invalid_roles_rejected(
    api: Api, roles: list[str], expected: list[tuple[str, str]]
) -> None:
    sales = user_id(api.tenant, "sales")

    data = await api.data(SET_ROLES, {"id": sales, "roles": roles})

    assert data["setUserRoles"]["record"] is None
    assert codes(data["setUserRoles"]) == expected


# --- Permission and tenancy -----------------------------------------------------------


def _documents(target: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            CREATE_USER,
            {
                "input": {
                    "email": new_email(),
                    "name": "X",
                    "roles": ["admin"],
                    "password": NEW_PASSWORD,
                }
            },
        ),
        (DEACTIVATE_USER, {"id": target}),
        (REACTIVATE_USER, {"id": target}),
        (SET_ROLES, {"id": target, "roles": ["admin"]}),
    ]


@pytest.mark.parametrize(
    "role",
    [
        "management",
        "finance",
        "account_manager",
        "sales",
        "project_staff",
        "integrator",
    ],
)
async def test_user_management_needs_user_manage(api: Api, role: str) -> None:
    target = user_id(api.tenant, role)

    for document, variables in _documents(target):
        error = await api.error(document, variables, role=role)
        assert error["extensions"]["code"] == "FORBIDDEN", document
    stored = await User.get(id=api.tenant.user_ids[role])
    assert stored.roles == [role]
    assert stored.is_active is True


async def test_other_organization_user_not_found(api: Api, settings: Settings) -> None:
    other = await make_tenant(settings)
    foreign = encode_id("User", other.user_ids["sales"])
    missing = encode_id("User", 2**62)

    for document, variables in _documents(foreign)[1:]:
        foreign_error = await api.error(document, variables)
        missing_error = await api.error(document, {**variables, "id": missing})
        assert foreign_error["extensions"]["code"] == "NOT_FOUND", document
        assert foreign_error["message"].replace(foreign, "<id>") == missing_error[
            "message"
        ].replace(missing, "<id>")
    stored = await User.get(id=other.user_ids["sales"])
    assert stored.is_active is True
    assert stored.roles == ["sales"]


async def test_created_user_belongs_to_own_organization(
    api: Api, settings: Settings
) -> None:
    other = Api(api.client, await make_tenant(settings))
    email = new_email()

    await create_user(api, email=email, password=NEW_PASSWORD)
    listed = await other.data("query { users(first: 100) { nodes { email } } }")

    assert email not in [node["email"] for node in listed["users"]["nodes"]]


# Found by schemathesis as admin on PostgreSQL, which cannot store a NUL character.
# The duplicate address check sent the invalid address to the database, and the
# mutation failed with INTERNAL_SERVER_ERROR.
FUZZED_CREATE_USER = """
mutation {
  createUser(
    input: {
      email: ";\\u0017yv\\u00d5\\u00ad2\\u009a\\u00ec\\u00b3\\u00ca\\u0099\\u00ab\\u00aap\\u1cf4\\u00c0j\\u00b5\\u0000\\u49b8\\u00db"
      name: ""
      roles: ["'\\u5289\\u9137\\u00e9\\u00fcZ", "", "r", "\\u0094"]
      password: null
    }
  ) {
    record { version }
    errors { field code message }
  }
}
"""  # noqa: E501


async def test_create_user_email_with_nul(api: Api) -> None:
    body = await api.post(FUZZED_CREATE_USER, role="admin")

    assert "errors" not in body
    payload = body["data"]["createUser"]
    assert payload["record"] is None
    problems = {(error["field"], error["code"]) for error in payload["errors"]}
    assert ("email", "INVALID_CHARACTERS") in problems
    assert ("name", "REQUIRED") in problems
    assert await User.filter(organization_id=api.tenant.organization.id).count() == 7
