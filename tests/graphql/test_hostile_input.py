"""Careless or hostile inputs: each gets a clear error and nothing breaks."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from contractgql.ids import encode_id
from tests.conftest import Api
from tests.graphql.helpers import CONTRACT_LIST, CREATE_CONTRACT, create_client

NODE = "query ($id: ID!) { node(id: $id) { id } }"
CHANGE_LINKS = """
mutation ($id: ID!, $remove: ContractLinksInput) {
  changeContractLinks(id: $id, remove: $remove) {
    contract { tags { name } } errors { field code message }
  }
}
"""


async def _create(api: Api, fields: dict[str, Any]) -> dict[str, Any]:
    client_id = await create_client(api)
    values = {"name": "Hosting", "clientId": client_id, "startDate": "2026-01-01"}
    data = await api.data(CREATE_CONTRACT, {"input": {**values, **fields}})
    payload: dict[str, Any] = data["createContract"]
    return payload


async def _count(api: Api) -> int:
    data = await api.data(CONTRACT_LIST, {"first": 100})
    count: int = data["contracts"]["totalCount"]
    return count


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        (
            {"noticePeriod": {"count": 2147483647, "unit": "MONTHS"}},
            "noticePeriod",
            "OUT_OF_RANGE",
        ),
        (
            {"noticePeriod": {"count": -3, "unit": "DAYS"}},
            "noticePeriod",
            "OUT_OF_RANGE",
        ),
        (
            {"renewalTerm": {"count": 0, "unit": "MONTHS"}},
            "renewalTerm",
            "OUT_OF_RANGE",
        ),
        (
            {"endDate": "9999-12-31", "noticePeriod": {"count": 1, "unit": "MONTHS"}},
            "endDate",
            "OUT_OF_RANGE",
        ),
        (
            {"startDate": "0001-01-01"},
            "startDate",
            "OUT_OF_RANGE",
        ),
        ({"customFields": [1]}, "customFields", "INVALID_CUSTOM_FIELDS"),
        ({"customFields": "x"}, "customFields", "INVALID_CUSTOM_FIELDS"),
        ({"amount": "1e3"}, "amount", "INVALID_AMOUNT"),
        ({"amount": "1_000"}, "amount", "INVALID_AMOUNT"),
        ({"amount": "\u0661\u0662\u0663"}, "amount", "INVALID_AMOUNT"),
        ({"indexation": "1e2"}, "indexation", "INVALID_PERCENTAGE"),
        ({"name": "Hosting\x00"}, "name", "INVALID_CHARACTERS"),
        ({"description": "x" * 20_001}, "description", "TOO_LONG"),
    ],
)
async def test_bad_contract_input_rejected(
    api: Api, fields: dict[str, Any], field: str, code: str
) -> None:
    payload = await _create(api, fields)

    assert payload["contract"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await _count(api) == 0


@pytest.mark.parametrize(
    "global_id",
    [
        encode_id("Contract", 2**63),
        encode_id("Contract", 2**70),
        "Q29udHJhY3Q6MDE",  # "Contract:01"
        "Q29udHJhY3Q6IDE",  # "Contract: 1"
    ],
)
async def test_out_of_range_ids_are_null(api: Api, global_id: str) -> None:
    data = await api.data(NODE, {"id": global_id})

    assert data == {"node": None}


async def test_remove_missing_link_is_harmless(api: Api) -> None:
    payload = await _create(api, {})
    missing_tag = encode_id("Tag", 2**62)

    data = await api.data(
        CHANGE_LINKS,
        {"id": payload["contract"]["id"], "remove": {"tagIds": [missing_tag]}},
    )

    assert data["changeContractLinks"] == {"contract": {"tags": []}, "errors": []}


SEARCH = """
query ($search: String!) {
  contracts(filter: {search: $search}) { totalCount }
  clients(search: $search) { totalCount }
}
"""


async def test_overlong_search_rejected(api: Api) -> None:
    error = await api.error(SEARCH, {"search": "x" * 1_000_000})

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 200 characters" in error["message"]


async def test_caller_errors_not_logged_as_errors(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    missing = encode_id("Contract", 2**62)
    update = """
    mutation ($id: ID!) {
      updateContract(id: $id, input: {name: "x"}) { errors { code } }
    }
    """

    with caplog.at_level("DEBUG"):
        error = await api.error(update, {"id": missing})

    assert error["extensions"]["code"] == "NOT_FOUND"
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []


@pytest.mark.parametrize("body", ["1", '"query"', "null", "true"])
async def test_body_not_an_object(api: Api, body: str) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"] == (
        "The request body must be a JSON object with a `query` string, such as "
        '{"query": "{ viewer { roles } }"}.'
    )


@pytest.mark.parametrize(
    "body", [b'{"query": "{ __typename }", "x": "\xe9"}', b"\x1f\x8b\x08\x00"]
)
async def test_body_not_utf8(api: Api, body: bytes) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"] == (
        "The request body is not UTF-8 text: send JSON encoded as UTF-8, without "
        "compression."
    )


async def test_cursor_with_unknown_direction(api: Api) -> None:
    cursor = base64.urlsafe_b64encode(b"v1:created_at:x:1").decode().rstrip("=")

    error = await api.error(
        "query($after: String) { contracts(after: $after) { totalCount } }",
        {"after": cursor},
    )

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(f"Cursor {cursor!r} is invalid")
