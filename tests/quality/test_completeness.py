"""The completeness report, its summary and the `missing` contract filter."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.graphql.helpers import create_client, create_contract, user_id
from tests.quality.helpers import (
    COMPLETENESS,
    SUMMARY,
    add_signed_document,
    by_name,
    create_rule,
    create_type,
)

NOTICE = {"count": 1, "unit": "MONTHS"}


async def _portfolio(api: Api) -> dict[str, str]:
    """Create three contracts owned by the account manager, as drafts unless noted.

    - Complete: every default field.
    - Gaps: no notice period and no amount.
    - Signed: every default field, signed without signed date or document.
    """
    client_id = await create_client(api)
    hosting = await create_type(api, "Hosting")
    licence = await create_type(api, "Licence")
    full = {
        "contractTypeId": hosting,
        "ownerId": user_id(api.tenant, "account_manager"),
        "noticePeriod": NOTICE,
        "amount": "100.00",
        "vatRate": "21",
        "stage": "DRAFT",
    }
    complete = await create_contract(api, client_id, {**full, "name": "Complete"})
    gaps = {**full, "name": "Gaps", "contractTypeId": licence}
    del gaps["noticePeriod"], gaps["amount"]
    partial = await create_contract(api, client_id, gaps)
    signed = await create_contract(
        api, client_id, {**full, "name": "Signed", "stage": "SIGNED"}
    )
    return {
        "Complete": complete["id"],
        "Gaps": partial["id"],
        "Signed": signed["id"],
        "hosting": hosting,
        "licence": licence,
    }


def _missing(node: dict[str, Any]) -> list[str]:
    return [missing["field"] for missing in node["missing"]]


async def test_completeness_per_contract_as_admin(api: Api) -> None:
    await _portfolio(api)

    data = await api.data(COMPLETENESS)

    nodes = by_name(data["contractCompleteness"]["nodes"])
    assert data["contractCompleteness"]["totalCount"] == 3
    assert nodes["Complete"]["score"] == 100
    assert nodes["Complete"]["complete"] is True
    assert nodes["Complete"]["checkedFields"] == 5
    assert _missing(nodes["Complete"]) == []
    assert _missing(nodes["Gaps"]) == ["NOTICE_PERIOD", "AMOUNT"]
    assert nodes["Gaps"]["score"] == 60
    assert nodes["Gaps"]["complete"] is False
    assert _missing(nodes["Signed"]) == ["SIGNED_DATE", "SIGNED_DOCUMENT"]
    assert nodes["Signed"]["checkedFields"] == 7
    assert nodes["Signed"]["score"] == 71


async def test_completeness_hides_financial_gaps(api: Api) -> None:
    await _portfolio(api)

    data = await api.data(COMPLETENESS, role="account_manager")

    nodes = by_name(data["contractCompleteness"]["nodes"])
    assert _missing(nodes["Gaps"]) == ["NOTICE_PERIOD"]
    assert nodes["Gaps"]["checkedFields"] == 3
    assert nodes["Gaps"]["score"] == 66
    assert nodes["Complete"]["checkedFields"] == 3


async def test_completeness_names_rules(api: Api) -> None:
    ids = await _portfolio(api)
    await create_rule(
        api,
        {
            "name": "Hosting numbers",
            "contractTypeId": ids["hosting"],
            "fields": ["NUMBER", "NOTICE_PERIOD"],
        },
    )
    await add_signed_document(api, ids["Signed"])

    data = await api.data(COMPLETENESS)

    nodes = by_name(data["contractCompleteness"]["nodes"])
    assert nodes["Complete"]["missing"] == [
        {"field": "NUMBER", "requiredBy": [{"name": "Hosting numbers"}]}
    ]
    assert nodes["Complete"]["checkedFields"] == 6
    assert _missing(nodes["Signed"]) == ["NUMBER", "SIGNED_DATE"]
    assert nodes["Gaps"]["missing"][0]["requiredBy"] == []


async def test_missing_filter_on_contracts(api: Api) -> None:
    await _portfolio(api)

    notice = await api.data(COMPLETENESS, {"filter": {"missing": ["NOTICE_PERIOD"]}})
    both = await api.data(
        COMPLETENESS, {"filter": {"missing": ["NOTICE_PERIOD", "SIGNED_DOCUMENT"]}}
    )
    document = await api.data(
        COMPLETENESS, {"filter": {"missing": ["SIGNED_DOCUMENT"]}}
    )
    listed = await api.data(
        "query($f: ContractFilter) { contracts(filter: $f) { nodes { name } } }",
        {"f": {"missing": ["AMOUNT"]}},
    )

    assert list(by_name(notice["contractCompleteness"]["nodes"])) == ["Gaps"]
    assert list(by_name(both["contractCompleteness"]["nodes"])) == ["Gaps"]
    assert sorted(by_name(document["contractCompleteness"]["nodes"])) == [
        "Complete",
        "Gaps",
        "Signed",
    ]
    assert listed["contracts"]["nodes"] == [{"name": "Gaps"}]


async def test_missing_amount_filter_as_account_manager(api: Api) -> None:
    await _portfolio(api)

    error = await api.error(
        "query($f: ContractFilter) { contracts(filter: $f) { totalCount } }",
        {"f": {"missing": ["AMOUNT"]}},
        role="account_manager",
    )

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "Contract.amount" in error["message"]


async def test_summary_per_contract_type(api: Api) -> None:
    await _portfolio(api)

    by_type = await api.data(SUMMARY, {"groupBy": "CONTRACT_TYPE"})
    whole = await api.data(SUMMARY, {"groupBy": "ORGANIZATION"})
    by_owner = await api.data(SUMMARY, {"groupBy": "OWNER"})

    groups = {g["contractType"]["name"]: g for g in by_type["completenessSummary"]}
    assert groups["Hosting"]["contracts"] == 2
    assert groups["Hosting"]["complete"] == 1
    assert groups["Hosting"]["share"] == 0.5
    assert groups["Hosting"]["missing"] == [
        {"field": "SIGNED_DATE", "contracts": 1},
        {"field": "SIGNED_DOCUMENT", "contracts": 1},
    ]
    assert groups["Licence"]["share"] == 0.0
    assert whole["completenessSummary"] == [
        {
            "contractType": None,
            "owner": None,
            "contracts": 3,
            "complete": 1,
            "share": 1 / 3,
            "missing": [
                {"field": "SIGNED_DATE", "contracts": 1},
                {"field": "NOTICE_PERIOD", "contracts": 1},
                {"field": "AMOUNT", "contracts": 1},
                {"field": "SIGNED_DOCUMENT", "contracts": 1},
            ],
        }
    ]
    assert [g["owner"]["name"] for g in by_owner["completenessSummary"]] == [
        "Account Manager"
    ]
