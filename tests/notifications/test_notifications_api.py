"""The notifications query, the unread count, marking read and node(id:)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from contractgql.config import Settings
from contractgql.ids import encode_id
from contractgql.models import Notification
from tests.conftest import Api, make_tenant
from tests.notifications.conftest import (
    AMOUNT,
    make_contract,
    make_notification,
)
from tests.security.test_api_tokens import token_for

PAGE = """
query Page($first: Int, $after: String, $unreadOnly: Boolean! = false) {
  notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id kind title body readAt contract { id name } }
  }
  unreadNotificationCount
}
"""
MARK = """
mutation Mark($ids: [ID!]!) {
  markNotificationsRead(ids: $ids) {
    notifications { id title readAt }
    unreadCount
    errors { field code message }
  }
}
"""
MARK_ALL = """
mutation { markAllNotificationsRead { markedCount unreadCount errors { code } } }
"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on Notification { title } } }"


async def _notifications(api: Api, role: str, count: int) -> list[Notification]:
    """Create `count` notifications for `role`, each a minute newer than the last."""
    start = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    created = []
    for index in range(count):
        notification = await make_notification(
            api.tenant, role, f"Notification {index}", body=f"Body {index}"
        )
        await Notification.filter(id=notification.id).update(
            created_at=start + timedelta(minutes=index)
        )
        created.append(notification)
    return created


def _gid(notification: Notification) -> str:
    return encode_id("Notification", notification.id)


async def test_list_newest_first_paged(api: Api) -> None:
    created = await _notifications(api, "sales", 3)

    first = await api.data(PAGE, {"first": 2}, role="sales")
    cursor = first["notifications"]["pageInfo"]["endCursor"]
    second = await api.data(PAGE, {"first": 2, "after": cursor}, role="sales")

    assert [n["title"] for n in first["notifications"]["nodes"]] == [
        "Notification 2",
        "Notification 1",
    ]
    assert first["notifications"]["pageInfo"]["hasNextPage"] is True
    assert first["notifications"]["totalCount"] == 3
    assert second["notifications"]["nodes"] == [
        {
            "id": _gid(created[0]),
            "kind": "reminder",
            "title": "Notification 0",
            "body": "Body 0",
            "readAt": None,
            "contract": None,
        }
    ]
    assert second["notifications"]["pageInfo"]["hasNextPage"] is False
    assert first["unreadNotificationCount"] == 3


async def test_list_shows_own_only(api: Api, settings: Settings) -> None:
    await _notifications(api, "sales", 1)
    await _notifications(api, "admin", 2)
    other = await make_tenant(settings)
    await make_notification(other, "sales", "Other organization")

    sales = await api.data(PAGE, role="sales")
    admin = await api.data(PAGE, role="admin")
    finance = await api.data(PAGE, role="finance")

    assert [n["title"] for n in sales["notifications"]["nodes"]] == ["Notification 0"]
    assert [n["title"] for n in admin["notifications"]["nodes"]] == [
        "Notification 1",
        "Notification 0",
    ]
    assert finance["notifications"]["nodes"] == []
    assert finance["notifications"]["totalCount"] == 0
    assert finance["unreadNotificationCount"] == 0


async def test_unread_only_filters(api: Api) -> None:
    created = await _notifications(api, "sales", 3)
    await api.data(MARK, {"ids": [_gid(created[1])]}, role="sales")

    data = await api.data(PAGE, {"unreadOnly": True}, role="sales")

    assert [n["title"] for n in data["notifications"]["nodes"]] == [
        "Notification 2",
        "Notification 0",
    ]
    assert data["notifications"]["totalCount"] == 2
    assert data["unreadNotificationCount"] == 2


async def test_mark_read_keeps_first_time(api: Api) -> None:
    created = await _notifications(api, "sales", 2)

    first = await api.data(MARK, {"ids": [_gid(created[0])]}, role="sales")
    again = await api.data(
        MARK, {"ids": [_gid(created[0]), _gid(created[1])]}, role="sales"
    )

    first_time = first["markNotificationsRead"]["notifications"][0]["readAt"]
    assert first_time is not None
    assert first["markNotificationsRead"]["unreadCount"] == 1
    assert first["markNotificationsRead"]["errors"] == []
    marked = again["markNotificationsRead"]["notifications"]
    assert [n["title"] for n in marked] == ["Notification 0", "Notification 1"]
    assert marked[0]["readAt"] == first_time
    assert marked[1]["readAt"] is not None
    assert again["markNotificationsRead"]["unreadCount"] == 0


async def test_mark_read_of_colleague_not_found(api: Api) -> None:
    own = await _notifications(api, "sales", 1)
    colleague = await make_notification(api.tenant, "admin", "For the admin")

    error = await api.error(
        MARK, {"ids": [_gid(own[0]), _gid(colleague)]}, role="sales"
    )

    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["message"] == (
        f"Notification {_gid(colleague)!r} does not exist or is not yours: pass ids "
        "from your own `notifications`."
    )
    # A rejected mutation changes nothing, not even the caller's own row.
    rows = await Notification.filter(id__in=[own[0].id, colleague.id]).values("read_at")
    assert [row["read_at"] for row in rows] == [None, None]


async def test_mark_read_wrong_type_rejected(api: Api) -> None:
    error = await api.error(MARK, {"ids": [encode_id("Contract", 1)]}, role="sales")

    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_mark_read_too_many_ids(api: Api) -> None:
    ids = [encode_id("Notification", index) for index in range(1, 1002)]

    error = await api.error(MARK, {"ids": ids}, role="sales")

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("ids has 1001 entries, more than the maximum")


async def test_mark_all_read(api: Api) -> None:
    await _notifications(api, "sales", 3)
    await _notifications(api, "admin", 1)

    data = await api.data(MARK_ALL, role="sales")
    again = await api.data(MARK_ALL, role="sales")
    admin = await api.data(PAGE, role="admin")

    assert data["markAllNotificationsRead"] == {
        "markedCount": 3,
        "unreadCount": 0,
        "errors": [],
    }
    assert again["markAllNotificationsRead"]["markedCount"] == 0
    assert admin["unreadNotificationCount"] == 1


async def test_node_visible_to_its_user_only(api: Api) -> None:
    created = await _notifications(api, "sales", 1)

    own = await api.data(NODE, {"id": _gid(created[0])}, role="sales")
    admin = await api.data(NODE, {"id": _gid(created[0])}, role="admin")

    assert own["node"] == {"id": _gid(created[0]), "title": "Notification 0"}
    assert admin["node"] is None


async def test_contract_hidden_when_not_visible(api: Api) -> None:
    confidential = await make_contract(api.tenant, "Secret deal", confidential=True)
    normal = await make_contract(api.tenant, "Office lease", number="L-1")
    await make_notification(api.tenant, "sales", "Secret", contract=confidential)
    await make_notification(api.tenant, "sales", "Lease", contract=normal)
    await make_notification(api.tenant, "admin", "Secret", contract=confidential)

    sales = await api.data(PAGE, role="sales")
    admin = await api.data(PAGE, role="admin")

    contracts = {n["title"]: n["contract"] for n in sales["notifications"]["nodes"]}
    assert contracts == {
        "Secret": None,
        "Lease": {"id": encode_id("Contract", normal.id), "name": "Office lease"},
    }
    assert admin["notifications"]["nodes"][0]["contract"] == {
        "id": encode_id("Contract", confidential.id),
        "name": "Secret deal",
    }


@pytest.mark.parametrize(
    "role",
    ["admin", "management", "finance", "account_manager", "sales", "project_staff"],
)
async def test_no_financial_values(api: Api, role: str) -> None:
    contract = await make_contract(api.tenant, "Hosting", owner_role=role)
    notification = await make_notification(
        api.tenant, role, "Hosting ends", contract=contract
    )

    page = await api.post(PAGE, role=role)
    node = await api.post(
        "query N($id: ID!) { node(id: $id) { ... on Notification { contract "
        "{ id name } } } }",
        {"id": _gid(notification)},
        role=role,
    )
    text = json.dumps([page, node])

    assert "errors" not in page
    assert page["data"]["notifications"]["nodes"][0]["contract"] == {
        "id": encode_id("Contract", contract.id),
        "name": "Hosting",
    }
    assert AMOUNT not in text
    assert "98765" not in text


@pytest.mark.parametrize(
    "document",
    [MARK_ALL, "mutation { markNotificationsRead(ids: []) { unreadCount } }"],
    ids=["all", "some"],
)
async def test_api_token_cannot_mark(api: Api, document: str) -> None:
    token = await token_for(api, ["admin"], ["READ"])

    body = await api.post(document, role=token)

    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


async def test_anonymous_rejected(api: Api) -> None:
    error = await api.error(PAGE, role=None)

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
