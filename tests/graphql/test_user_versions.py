"""Versions and last editors of users, and the expectedVersion of user mutations.

Requests go over HTTP to the ASGI app. The concurrent tests send them with
asyncio.gather, as tests/graphql/test_concurrency.py does for the other records.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from tortoise.expressions import F

from contractgql.ids import decode_id
from contractgql.models import AuditLog, AuditOutbox, User
from contractgql.security.policy import ROLES
from tests.conftest import PASSWORD, Api, QueryCounter
from tests.graphql.helpers import user_id
from tests.graphql.test_users import NEW_PASSWORD, create_user, post_login

CONCURRENT_REQUESTS = 20
USER_FIELDS = "id roles isActive version updatedAt updatedBy { id }"
ERRORS = "errors { field code message }"
SET_ROLES = f"""
mutation SetRoles($id: ID!, $roles: [String!]!, $version: Int) {{
  setUserRoles(id: $id, roles: $roles, expectedVersion: $version) {{
    record {{ {USER_FIELDS} }} {ERRORS}
  }}
}}
"""
DEACTIVATE_USER = f"""
mutation Deactivate($id: ID!, $version: Int) {{
  deactivateUser(id: $id, expectedVersion: $version) {{
    record {{ {USER_FIELDS} }} {ERRORS}
  }}
}}
"""
REACTIVATE_USER = f"""
mutation Reactivate($id: ID!, $version: Int) {{
  reactivateUser(id: $id, expectedVersion: $version) {{
    record {{ {USER_FIELDS} }} {ERRORS}
  }}
}}
"""
USER_NODE = f"""
query ReadUser($id: ID!) {{ node(id: $id) {{ ... on User {{ {USER_FIELDS} }} }} }}
"""


@dataclass(frozen=True)
class Change:
    """One user mutation, the variables of a valid change and what it changes."""

    document: str
    variables: dict[str, Any]
    # GraphQL names of the fields that the change sets to a new value.
    changed_fields: tuple[str, ...]
    # Whether the target user is deactivated before the change.
    deactivated: bool = False


CHANGES = {
    "setUserRoles": Change(SET_ROLES, {"roles": ["finance", "sales"]}, ("roles",)),
    "deactivateUser": Change(DEACTIVATE_USER, {}, ("isActive",)),
    "reactivateUser": Change(REACTIVATE_USER, {}, ("isActive",), deactivated=True),
}


async def _payload(
    api: Api, document: str, variables: dict[str, Any], role: str = "admin"
) -> dict[str, Any]:
    """Run a user mutation that must succeed and return its record."""
    data = await api.data(document, variables, role=role)
    (payload,) = data.values()
    assert payload["errors"] == []
    record: dict[str, Any] = payload["record"]
    return record


async def _target(api: Api, change: Change) -> str:
    """Return the sales user, deactivated by admin when `change` needs it.

    The management user is made an admin, so that it can make the change as an
    editor other than the admin who prepared the target.
    """
    await _payload(
        api, SET_ROLES, {"id": user_id(api.tenant, "management"), "roles": ["admin"]}
    )
    target = user_id(api.tenant, "sales")
    if change.deactivated:
        await _payload(api, DEACTIVATE_USER, {"id": target})
    return target


async def _state(global_id: str) -> dict[str, Any]:
    """Return the stored row of the user and the number of its audit events."""
    pk = decode_id(global_id)[1]
    rows = await User.filter(id=pk).values()
    state = dict(rows[0])
    state["events"] = (
        await AuditOutbox.filter(entity_type="User", entity_id=pk).count()
        + await AuditLog.filter(entity_type="User", entity_id=pk).count()
    )
    return state


@pytest.mark.parametrize("name", sorted(CHANGES))
async def test_stale_user_version_rejected(api: Api, name: str) -> None:
    change = CHANGES[name]
    target = await _target(api, change)
    read = await User.get(id=decode_id(target)[1])
    # Another administrator's change after the caller read the user.
    await User.filter(id=read.id).update(version=F("version") + 1)
    state = await _state(target)

    body = await api.post(
        change.document,
        {"id": target, **change.variables, "version": read.version},
        role="management",
    )

    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentVersion"] == read.version + 1
    assert error["extensions"]["changedFields"] == list(change.changed_fields)
    assert error["message"] == (
        f"User {target!r} was changed by someone else: the request expected "
        f"version {read.version}, but the current version is {read.version + 1}. "
        "Reload the record and apply your changes again."
    )
    assert await _state(target) == state


@pytest.mark.parametrize("name", sorted(CHANGES))
async def test_current_user_version_accepted(api: Api, name: str) -> None:
    change = CHANGES[name]
    target = await _target(api, change)
    before = await api.data(USER_NODE, {"id": target})

    record = await _payload(
        api,
        change.document,
        {"id": target, **change.variables, "version": before["node"]["version"]},
        role="management",
    )
    after = await api.data(USER_NODE, {"id": target})

    editor = {"id": user_id(api.tenant, "management")}
    assert record["version"] == before["node"]["version"] + 1
    assert record["updatedBy"] == editor
    assert after["node"] == record
    assert _updated_at(record) >= _updated_at(before["node"])
    stored = await User.get(id=decode_id(target)[1])
    assert stored.version == before["node"]["version"] + 1
    assert stored.updated_by_id == api.tenant.user_ids["management"]


@pytest.mark.parametrize("name", sorted(CHANGES))
async def test_user_change_without_version_accepted(api: Api, name: str) -> None:
    change = CHANGES[name]
    target = await _target(api, change)
    before = await User.get(id=decode_id(target)[1])

    record = await _payload(
        api, change.document, {"id": target, **change.variables}, role="management"
    )

    assert record["version"] == before.version + 1
    assert record["updatedBy"] == {"id": user_id(api.tenant, "management")}


async def test_user_version_counts_changes(api: Api) -> None:
    target = user_id(api.tenant, "sales")

    first = await _payload(api, SET_ROLES, {"id": target, "roles": ["finance"]})
    second = await _payload(api, DEACTIVATE_USER, {"id": target, "version": 2})
    third = await _payload(api, REACTIVATE_USER, {"id": target, "version": 3})
    fourth = await _payload(api, SET_ROLES, {"id": target, "roles": ["sales"]})

    assert [first["version"], second["version"], third["version"]] == [2, 3, 4]
    assert fourth["version"] == 5
    assert fourth["roles"] == ["sales"]
    assert fourth["isActive"] is True


async def test_stale_version_rejects_unchanged_roles(api: Api) -> None:
    target = user_id(api.tenant, "sales")
    await _payload(api, SET_ROLES, {"id": target, "roles": ["finance"]})

    error = await api.error(
        SET_ROLES, {"id": target, "roles": ["finance"], "version": 1}
    )

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["currentVersion"] == 2
    assert error["extensions"]["changedFields"] == []
    assert (await User.get(id=api.tenant.user_ids["sales"])).version == 2


async def test_version_never_reached_named(api: Api) -> None:
    target = user_id(api.tenant, "sales")

    error = await api.error(DEACTIVATE_USER, {"id": target, "version": 99})

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["message"] == (
        f"User {target!r} never had version 99: versions start at 1 and the current "
        "version is 1. Send the version of the record as you read it."
    )
    assert (await User.get(id=api.tenant.user_ids["sales"])).is_active is True


async def test_repeated_deactivation_keeps_version(api: Api) -> None:
    target = user_id(api.tenant, "sales")
    first = await _payload(api, DEACTIVATE_USER, {"id": target, "version": 1})

    again = await _payload(api, DEACTIVATE_USER, {"id": target, "version": 2})
    without = await _payload(api, DEACTIVATE_USER, {"id": target})
    stored = await User.get(id=api.tenant.user_ids["sales"])

    assert first["version"] == 2
    assert again["version"] == 2
    assert without["version"] == 2
    assert stored.version == 2
    assert stored.token_generation == 1


async def test_reactivating_active_user_keeps_version(api: Api) -> None:
    target = user_id(api.tenant, "sales")

    record = await _payload(api, REACTIVATE_USER, {"id": target, "version": 1})

    assert record["version"] == 1
    assert record["updatedBy"] is None


async def test_rejected_roles_keep_version(api: Api) -> None:
    target = user_id(api.tenant, "sales")

    data = await api.data(SET_ROLES, {"id": target, "roles": ["boss"], "version": 1})

    assert data["setUserRoles"]["record"] is None
    assert data["setUserRoles"]["errors"][0]["code"] == "UNKNOWN_ROLE"
    assert (await User.get(id=api.tenant.user_ids["sales"])).version == 1


async def test_login_keeps_user_version(api: Api) -> None:
    before = await User.get(id=api.tenant.user_ids["sales"])

    body = await post_login(api.client, api.tenant.emails["sales"], PASSWORD)
    after = await User.get(id=api.tenant.user_ids["sales"])

    assert "errors" not in body, body["errors"]
    assert after.last_login_at is not None
    assert after.version == before.version
    assert after.updated_at == before.updated_at
    assert after.updated_by_id is None


async def test_created_user_names_creator(api: Api) -> None:
    payload = await create_user(api, password=NEW_PASSWORD)
    target = payload["record"]["id"]

    read = await api.data(USER_NODE, {"id": target})

    assert read["node"]["version"] == 1
    assert read["node"]["updatedBy"] == {"id": user_id(api.tenant, "admin")}
    assert read["node"]["updatedAt"] is not None


def _updated_at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["updatedAt"])


# --- Concurrent changes ---------------------------------------------------------------


async def _concurrent(
    api: Api, document: str, variables: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    return await asyncio.gather(
        *(api.post(document, item, role="admin") for item in variables)
    )


def _role_sets(count: int) -> list[list[str]]:
    """Return `count` different sets of two roles, none of them the sales role."""
    others = [role for role in ROLES if role != "sales"]
    pairs = [sorted(pair) for pair in itertools.combinations(others, 2)]
    singles = [[role] for role in others]
    sets = pairs + singles
    assert len(sets) >= count
    return sets[:count]


async def test_concurrent_same_version_one_wins(api: Api) -> None:
    target = user_id(api.tenant, "sales")
    requests = [
        {"id": target, "roles": roles, "version": 1}
        for roles in _role_sets(CONCURRENT_REQUESTS)
    ]

    bodies = await _concurrent(api, SET_ROLES, requests)

    winners = [body for body in bodies if "errors" not in body]
    losers = [body for body in bodies if "errors" in body]
    assert len(winners) == 1
    assert len(losers) == CONCURRENT_REQUESTS - 1
    codes = {body["errors"][0]["extensions"]["code"] for body in losers}
    assert codes == {"CONFLICT"}
    assert {body["errors"][0]["extensions"]["currentVersion"] for body in losers} == {2}
    assert all(
        body["errors"][0]["extensions"]["changedFields"] == ["roles"] for body in losers
    )
    stored = await User.get(id=api.tenant.user_ids["sales"])
    assert stored.version == 2
    assert stored.roles == winners[0]["data"]["setUserRoles"]["record"]["roles"]


async def test_concurrent_roles_without_version(api: Api) -> None:
    """Each change's audited old roles are the roles the change before it wrote."""
    target = user_id(api.tenant, "sales")
    requests = [
        {"id": target, "roles": roles} for roles in _role_sets(CONCURRENT_REQUESTS)
    ]

    bodies = await _concurrent(api, SET_ROLES, requests)

    assert [body.get("errors") for body in bodies] == [None] * CONCURRENT_REQUESTS
    stored = await User.get(id=api.tenant.user_ids["sales"])
    assert stored.version == 1 + CONCURRENT_REQUESTS
    chain = [
        (change["old"], change["new"])
        for changes in await _audited_changes(stored.id)
        for change in changes
        if change["field"] == "roles"
    ]
    assert len(chain) == CONCURRENT_REQUESTS
    assert [old for old, _ in chain] == [["sales"], *(new for _, new in chain[:-1])]
    assert chain[-1][1] == stored.roles


async def test_concurrent_deactivations_deactivate_once(api: Api) -> None:
    target = user_id(api.tenant, "sales")

    bodies = await _concurrent(
        api, DEACTIVATE_USER, [{"id": target}] * CONCURRENT_REQUESTS
    )

    assert [body.get("errors") for body in bodies] == [None] * CONCURRENT_REQUESTS
    stored = await User.get(id=api.tenant.user_ids["sales"])
    assert stored.is_active is False
    assert stored.token_generation == 1
    changes = [
        (change["old"], change["new"])
        for changes in await _audited_changes(stored.id)
        for change in changes
        if change["field"] == "isActive"
    ]
    assert changes == [(True, False)]


async def _audited_changes(user_pk: int) -> list[list[Any]]:
    """Return the changes of the user's events, in the order they were written."""
    waiting = await AuditOutbox.filter(
        entity_type="User", entity_id=user_pk
    ).values_list("id", "changes")
    recorded = await AuditLog.filter(entity_type="User", entity_id=user_pk).values_list(
        "outbox_id", "changes"
    )
    return [changes for _, changes in sorted([*waiting, *recorded])]


# --- Reading the editors of users -----------------------------------------------------

USER_PAGE = """
query UserPage($first: Int!) {
  users(first: $first) { nodes { name version updatedBy { name } } }
}
"""
# One statement each: authenticating the token, the page and the editors of its
# users.
USER_PAGE_STATEMENTS = 3
USER_COUNT = 40


async def _statements_for_user_page(
    api: Api, count_queries: QueryCounter, size: int
) -> int:
    count_queries.statements.clear()
    data = await api.data(USER_PAGE, {"first": size}, role="sales")

    nodes = data["users"]["nodes"]
    assert len(nodes) == size
    editors = {node["name"]: node["updatedBy"] for node in nodes}
    assert editors["Account 00"] == {"name": "Admin"}
    assert editors["Account 01"] == {"name": "Management"}
    return len(count_queries.statements)


async def test_user_page_editors_statements_constant(
    api: Api, count_queries: QueryCounter
) -> None:
    await _payload(
        api, SET_ROLES, {"id": user_id(api.tenant, "management"), "roles": ["admin"]}
    )
    for index in range(USER_COUNT):
        payload = await create_user(
            api, name=f"Account {index:02d}", isServiceAccount=True
        )
        if index % 2 == 1:
            await _payload(
                api,
                SET_ROLES,
                {"id": payload["record"]["id"], "roles": ["integrator"]},
                role="management",
            )

    small = await _statements_for_user_page(api, count_queries, 5)
    large = await _statements_for_user_page(api, count_queries, USER_COUNT)

    assert small == USER_PAGE_STATEMENTS
    assert large == USER_PAGE_STATEMENTS
