"""Fuzzing of every query and mutation with schemathesis, once per role.

schemathesis generates valid documents from schema.graphql with random arguments
and posts them to the live server as each role.
Each response must have a status below 500, no INTERNAL_SERVER_ERROR, and data that
matches the schema. For the roles without the financial permission, the raw
response body must contain none of the seeded contract's financial values.

The run is bounded by CONTRACTGQL_FUZZ_MAX_EXAMPLES examples per operation and
role (3 by default, with a fixed seed so that CI runs the same cases). `make fuzz`
runs 100 random examples per operation instead.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from contractgql.security.policy import ROLES
from graphql import build_schema
from tests.http.conformance import ResponseChecker
from tests.http.conftest import (
    NON_FINANCIAL_ROLES,
    ROOT,
    SECRET_NEEDLES,
    LiveServer,
)

MAX_EXAMPLES = int(os.environ.get("CONTRACTGQL_FUZZ_MAX_EXAMPLES", "3"))
# A fixed seed keeps the bounded run in the test suite reproducible. Set
# CONTRACTGQL_FUZZ_RANDOM=1 to explore new cases.
DERANDOMIZE = os.environ.get("CONTRACTGQL_FUZZ_RANDOM", "") != "1"
REQUEST_TIMEOUT = 30

# Strategies for the custom scalars that schemathesis cannot generate itself. Date
# and DateTime have built-in ones. Strings that are not numbers test the parsing.
_decimals = st.decimals(
    min_value=Decimal("-1e13"),
    max_value=Decimal("1e13"),
    allow_nan=False,
    allow_infinity=False,
    places=2,
)
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(_decimals.map(str), st.text(max_size=12)).map(nodes.String),
)
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        st.text(max_size=12).map(nodes.String),
        st.integers().map(nodes.Int),
        st.booleans().map(nodes.Boolean),
        st.just(nodes.Null),
    ),
)
# A file cannot travel in a JSON body, so the server must reject a string here.
schemathesis.graphql.scalar("Upload", st.text(max_size=8).map(nodes.String))


@cache
def _schema() -> Any:
    return schemathesis.graphql.from_path(str(ROOT / "schema.graphql"))


@cache
def _checker() -> ResponseChecker:
    return ResponseChecker(build_schema((ROOT / "schema.graphql").read_text()))


@dataclass
class FuzzReport:
    """Cases run and failures found for one role."""

    cases: int = 0
    failures: list[str] = field(default_factory=list)


def check_response(role: str, query: str, response: requests.Response) -> list[str]:
    """Return what is wrong with one response for `role`, or an empty list."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return [*problems, "the body is not JSON"]
    if not isinstance(body, dict) or not set(body) <= {"data", "errors"}:
        return [*problems, "the body is not a GraphQL response object"]
    errors = body.get("errors") or []
    codes = [(error.get("extensions") or {}).get("code") for error in errors]
    if "INTERNAL_SERVER_ERROR" in codes:
        problems.append("an INTERNAL_SERVER_ERROR")
    if any(not isinstance(error.get("message"), str) for error in errors):
        problems.append("an error without a message")
    problems.extend(_checker().violations(query, body.get("data")))
    if role in NON_FINANCIAL_ROLES:
        leaked = [needle for needle in SECRET_NEEDLES if needle in response.text]
        if leaked:
            problems.append(f"protected values {leaked} leaked")
    return problems


def _fuzz_operation(server: LiveServer, role: str, operation: Any) -> FuzzReport:
    report = FuzzReport()
    headers = {"Authorization": f"Bearer {server.tokens[role]}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        report.cases += 1
        response = case.call(
            base_url=server.graphql_url, headers=headers, timeout=REQUEST_TIMEOUT
        )
        problems = check_response(role, case.body, response)
        if problems:
            report.failures.append(
                f"{operation.label} as {role}: {'; '.join(problems)}\n"
                f"query: {case.body}\nresponse: {response.text[:500]}"
            )

    run()
    return report


@pytest.mark.parametrize("role", ROLES)
def test_fuzz_as_role(live_server: LiveServer, role: str) -> None:
    started = time.monotonic()
    cases = 0
    failures: list[str] = []
    operations = [result.ok() for result in _schema().get_all_operations()]
    for operation in operations:
        report = _fuzz_operation(live_server, role, operation)
        cases += report.cases
        failures.extend(report.failures)
    print(
        f"fuzz as {role}: {cases} cases over {len(operations)} operations in "
        f"{time.monotonic() - started:.1f} s"
    )

    assert len(operations) >= 60
    assert cases >= len(operations)
    assert failures == [], "\n\n".join(failures)


SECRET_CONTRACT = """
query Secret($search: String!) {
  contracts(first: 5, filter: {search: $search}) {
    edges { node {
      name amount vatRate indexation renewalPriceAgreement mrr arr totalContractValue
    } }
  }
}
"""


@pytest.mark.parametrize("role", NON_FINANCIAL_ROLES)
def test_secret_contract_visible_to_role(live_server: LiveServer, role: str) -> None:
    """The leak check above is not vacuous: each role sees the seeded contract."""
    body = live_server.post(SECRET_CONTRACT, {"search": "Secret pricing"}, role=role)

    nodes = [edge["node"] for edge in body["data"]["contracts"]["edges"]]
    assert nodes == [
        {
            "name": "Secret pricing",
            "amount": None,
            "vatRate": None,
            "indexation": None,
            "renewalPriceAgreement": None,
            "mrr": None,
            "arr": None,
            "totalContractValue": None,
        }
    ]


@pytest.mark.parametrize("role", ["admin", "management", "finance"])
def test_secret_values_readable_by_role(live_server: LiveServer, role: str) -> None:
    """The needles are the values that financial roles really receive."""
    data = live_server.data(SECRET_CONTRACT, {"search": "Secret pricing"}, role=role)

    [edge] = data["contracts"]["edges"]
    node = edge["node"]
    assert node["amount"] == "987654.31"
    assert node["indexation"] == "7.31"
    assert node["renewalPriceAgreement"] == "Renewal price WOMBAT-2718"
    assert node["mrr"] == "987654.31"
    assert node["arr"] == "11851851.72"
