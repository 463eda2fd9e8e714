"""Regression tests for published ways around GraphQL field and record checks."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission

from contractgql.graphql.execution import FastExecutor
from contractgql.ids import encode_id
from tests.conftest import Api
from tests.graphql.helpers import create_client, create_contract

# --- A protected field with an awaitable resolver or permission check -----------------

calls: list[str] = []


class DenyLater(BasePermission):
    """A permission check that answers through an awaitable, as some libraries do."""

    message = "Denied by DenyLater."

    async def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        calls.append("checked")
        return False


@strawberry.type
class Secret:
    plain: str | None = "plain-secret"

    @strawberry.field
    async def awaited(self) -> str | None:
        calls.append("awaited")
        return "awaited-secret"

    @strawberry.field(permission_classes=[DenyLater])
    async def guarded(self) -> str | None:
        calls.append("guarded")
        return "guarded-secret"


@strawberry.type
class SecretQuery:
    @strawberry.field
    def secret(self) -> Secret:
        return Secret()


class SeeEveryField(SchemaExtension):
    """A field middleware, which sends every field down graphql-core's own path."""

    def resolve(
        self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        return _next(root, info, *args, **kwargs)


class HiddenContext:
    hidden_fields = frozenset({("Secret", "plain"), ("Secret", "awaited")})


@pytest.mark.parametrize("middleware", [False, True], ids=["short", "full"])
async def test_hidden_async_field_never_resolves(middleware: bool) -> None:
    extensions = [SeeEveryField] if middleware else []
    schema = strawberry.Schema(
        SecretQuery, extensions=extensions, execution_context_class=FastExecutor
    )
    calls.clear()

    result = await schema.execute(
        "{ secret { plain awaited } }", context_value=HiddenContext()
    )

    assert result.errors is None
    assert result.data == {"secret": {"plain": None, "awaited": None}}
    assert calls == []


@pytest.mark.parametrize("middleware", [False, True], ids=["short", "full"])
async def test_awaitable_permission_denies(middleware: bool) -> None:
    extensions = [SeeEveryField] if middleware else []
    schema = strawberry.Schema(
        SecretQuery, extensions=extensions, execution_context_class=FastExecutor
    )
    calls.clear()

    result = await schema.execute("{ secret { guarded } }", context_value=object())

    assert result.data == {"secret": {"guarded": None}}
    assert [error.message for error in result.errors or []] == ["Denied by DenyLater."]
    assert calls == ["checked"]


# --- Node-id type confusion -----------------------------------------------------------

NODE_TYPE = "query($id: ID!) { node(id: $id) { __typename id } }"
UPDATE_CONTRACT = """
mutation($id: ID!) {
  updateContract(id: $id, input: {name: "Renamed"}) { contract { id } }
}
"""


def _raw_id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def test_client_id_with_contract_key(api: Api) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    contract_pk = int(base64.urlsafe_b64decode(contract["id"] + "==").split(b":")[1])

    data = await api.data(NODE_TYPE, {"id": encode_id("Client", contract_pk)})

    assert data["node"] is None or data["node"]["__typename"] == "Client"


async def test_update_with_client_id_rejected(api: Api) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id)

    error = await api.error(UPDATE_CONTRACT, {"id": client_id})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        f"id={client_id!r} is the id of a Client, not of a Contract: pass the id of a "
        "Contract."
    )


@pytest.mark.parametrize(
    "raw",
    [
        "contract:{pk}",
        "CONTRACT:{pk}",
        "Contract:0{pk}",
        "Contract:+{pk}",
        "Contract: {pk}",
        "Contract:{pk} ",
        "Contract:{pk}:Client",
        "Contract:-{pk}",
        "Contract:{pk}0000000000000000000000",
        "Note:{pk}",
    ],
)
async def test_id_variants_find_nothing(api: Api, raw: str) -> None:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id)
    pk = int(base64.urlsafe_b64decode(contract["id"] + "==").split(b":")[1])

    body = await api.post(NODE_TYPE, {"id": _raw_id(raw.format(pk=pk))}, role="admin")

    if "errors" in body:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
    else:
        assert body["data"]["node"] is None
