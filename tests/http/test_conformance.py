"""The response checker that the fuzz tests use, on responses made by hand."""

from __future__ import annotations

from typing import Any

import pytest

from graphql import build_schema
from tests.http.conformance import ResponseChecker

SCHEMA = build_schema("""
scalar Date
scalar Decimal
enum Status { ACTIVE EXPIRED }
interface Node { id: ID! }
type Contract implements Node {
  id: ID!
  name: String!
  amount: Decimal
  endDate: Date
  status: Status!
  tags: [String!]!
}
type Query { node(id: ID!): Node, contracts: [Contract!]! }
""")
CHECKER = ResponseChecker(SCHEMA)
QUERY = "{ contracts { id name amount endDate status tags } }"
VALID = {
    "id": "Q29udHJhY3Q6MQ",
    "name": "Hosting",
    "amount": "12.50",
    "endDate": "2027-12-31",
    "status": "ACTIVE",
    "tags": ["a"],
}


def test_valid_response_passes() -> None:
    assert CHECKER.violations(QUERY, {"contracts": [VALID]}) == []


def test_null_data_passes() -> None:
    assert CHECKER.violations(QUERY, None) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": None}, "data.contracts[0].name: null in a non-null field"),
        ({"name": 5}, "data.contracts[0].name: 5 is not a valid String"),
        ({"amount": 12.5}, "data.contracts[0].amount: 12.5 is not a valid Decimal"),
        ({"amount": "NaN"}, "data.contracts[0].amount: 'NaN' is not a valid Decimal"),
        (
            {"endDate": "31-12-2027"},
            "data.contracts[0].endDate: '31-12-2027' is not a valid Date",
        ),
        ({"status": "GONE"}, "data.contracts[0].status: 'GONE' is not a Status value"),
        ({"tags": "a"}, "data.contracts[0].tags: expected a list, got 'a'"),
        ({"tags": [None]}, "data.contracts[0].tags[0]: null in a non-null field"),
        ({"extra": 1}, "data.contracts[0]: unexpected keys ['extra']"),
    ],
)
def test_violation_reported(change: dict[str, Any], problem: str) -> None:
    contract = {**VALID, **change}

    assert CHECKER.violations(QUERY, {"contracts": [contract]}) == [problem]


def test_missing_key_reported() -> None:
    contract = {key: value for key, value in VALID.items() if key != "status"}

    problems = CHECKER.violations(QUERY, {"contracts": [contract]})

    assert problems == ["data.contracts[0]: missing ['status']"]


def test_inline_fragment_on_interface() -> None:
    query = 'query { node(id: "x") { id ... on Contract { name status } } }'

    valid = CHECKER.violations(
        query, {"node": {"id": "x", "name": "A", "status": "ACTIVE"}}
    )
    wrong = CHECKER.violations(query, {"node": {"id": "x", "name": "A", "status": 3}})

    assert valid == []
    assert wrong == ["data.node.status: 3 is not a Status value"]


def test_alias_is_response_key() -> None:
    query = "{ all: contracts { title: name } }"

    assert CHECKER.violations(query, {"all": [{"title": "A"}]}) == []
    assert CHECKER.violations(query, {"all": [{"name": "A"}]}) == [
        "data.all[0]: missing ['title']",
        "data.all[0]: unexpected keys ['name']",
    ]
