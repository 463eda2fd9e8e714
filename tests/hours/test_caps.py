"""Consumption of contract caps per period, warnings, rejections and approvals."""

from __future__ import annotations

import asyncio
import json

import pytest

from contractgql.ids import decode_id
from contractgql.models import Notification
from tests.conftest import Api
from tests.graphql.helpers import user_id
from tests.hours.helpers import (
    APPROVE_ENTRY,
    CONTRACT_CAPS,
    CREATE_ENTRY,
    SET_CAP,
    SET_WARNING_PERCENT,
    TIME_ENTRIES,
    add_hours,
    create_entry,
    entry_input,
    make_setup,
    set_cap,
    usage,
)


def figures(period: dict[str, object]) -> tuple[object, ...]:
    """Return a period's label and hours figures, for compact exact asserts."""
    return (
        period["label"],
        period["usedHours"],
        period["remainingHours"],
        period["percentage"],
    )


# --- Consumption per period -------------------------------------------------------


async def test_monthly_usage_with_leap_february(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")
    await add_hours(api, setup, "2028-01-31", "2.25")
    await add_hours(api, setup, "2028-02-01", "3.50")
    await add_hours(api, setup, "2028-02-29", "1.25")
    await add_hours(api, setup, "2028-03-01", "0.01")

    periods = await usage(api, cap["id"], "2028-01-01", "2028-03-31")

    assert [figures(p) for p in periods] == [
        ("2028-01", "2.25", "7.75", "22.50"),
        ("2028-02", "4.75", "5.25", "47.50"),
        ("2028-03", "0.01", "9.99", "0.10"),
    ]
    assert [(p["periodStart"], p["periodEnd"]) for p in periods] == [
        ("2028-01-01", "2028-01-31"),
        ("2028-02-01", "2028-02-29"),
        ("2028-03-01", "2028-03-31"),
    ]


async def test_february_of_common_year_ends_28th(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")
    await add_hours(api, setup, "2027-02-28", "1.00")
    await add_hours(api, setup, "2027-03-01", "2.00")

    periods = await usage(api, cap["id"], "2027-02-10", "2027-02-10")

    assert len(periods) == 1
    assert periods[0]["periodEnd"] == "2027-02-28"
    assert figures(periods[0]) == ("2027-02", "1.00", "9.00", "10.00")


async def test_quarter_and_year_usage(api: Api) -> None:
    setup = await make_setup(api)
    quarter = await set_cap(api, setup, "HOURS", "QUARTER", "20")
    year = await set_cap(api, setup, "HOURS", "YEAR", "100")
    await add_hours(api, setup, "2027-03-31", "5.50")
    await add_hours(api, setup, "2027-04-01", "4.00")
    await add_hours(api, setup, "2027-12-31", "0.50")
    await add_hours(api, setup, "2028-01-01", "8.00")

    quarters = await usage(api, quarter["id"], "2027-01-01", "2027-12-31")
    years = await usage(api, year["id"], "2027-06-01", "2028-06-01")

    assert [figures(p) for p in quarters] == [
        ("2027-Q1", "5.50", "14.50", "27.50"),
        ("2027-Q2", "4.00", "16.00", "20.00"),
        ("2027-Q3", "0.00", "20.00", "0.00"),
        ("2027-Q4", "0.50", "19.50", "2.50"),
    ]
    assert [figures(p) for p in years] == [
        ("2027", "10.00", "90.00", "10.00"),
        ("2028", "8.00", "92.00", "8.00"),
    ]


async def test_term_cap_counts_whole_contract(api: Api) -> None:
    setup = await make_setup(api)
    term = await set_cap(api, setup, "HOURS", "TERM", "40")
    await add_hours(api, setup, "2027-01-01", "10.00")
    await add_hours(api, setup, "2028-12-31", "2.50")

    periods = await usage(api, term["id"], "2027-05-05", "2027-05-05")

    assert len(periods) == 1
    assert (periods[0]["periodStart"], periods[0]["periodEnd"]) == (
        "2027-01-01",
        "2028-12-31",
    )
    assert figures(periods[0]) == ("term", "12.50", "27.50", "31.25")


async def test_non_billable_and_deleted_not_counted(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")
    await add_hours(api, setup, "2027-05-02", "1.00")
    await create_entry(api, setup, "2027-05-03", hours="4.00", billable=False)

    periods = await usage(api, cap["id"], "2027-05-01", "2027-05-01")

    assert figures(periods[0]) == ("2027-05", "1.00", "9.00", "10.00")


# --- Warnings -----------------------------------------------------------------------


async def test_warning_at_exactly_80_percent(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")
    below = await add_hours(api, setup, "2027-06-01", "7.99")

    at = await add_hours(api, setup, "2027-06-02", "0.01")
    again = await add_hours(api, setup, "2027-06-03", "0.50")

    assert below["warnings"] == []
    assert len(at["warnings"]) == 1
    warning = at["warnings"][0]
    assert warning["cap"] == {"id": cap["id"]}
    assert figures(warning) == ("2027-06", "8.00", "2.00", "80.00")
    assert warning["warning"] is True
    assert warning["warningPercent"] == 80
    assert figures(again["warnings"][0]) == ("2027-06", "8.50", "1.50", "85.00")
    owner = api.tenant.user_ids["account_manager"]
    notes = await Notification.filter(user_id=owner, kind="cap_warning").values(
        "title", "body"
    )
    assert notes == [
        {
            "title": "Cap warning: Support 2027 (S-27)",
            "body": "The hours cap of contract 'Support 2027 (S-27)' per month has "
            "reached 80.00% in 2027-06: 8.00 of 10.00 hours are used (warning "
            "from 80%).",
        }
    ]


async def test_warning_percent_per_cap_and_organization(api: Api) -> None:
    setup = await make_setup(api)
    monthly = await set_cap(api, setup, "HOURS", "MONTH", "10", warningPercent=50)
    await set_cap(api, setup, "HOURS", "YEAR", "100")
    data = await api.data(SET_WARNING_PERCENT, {"percent": 5}, role="admin")

    payload = await add_hours(api, setup, "2027-07-01", "5.00")

    assert data["setCapWarningPercent"] == {"percent": 5, "errors": []}
    assert monthly["warningPercent"] == 50
    assert [(w["label"], w["warningPercent"]) for w in payload["warnings"]] == [
        ("2027-07", 50),
        ("2027", 5),
    ]


async def test_warning_percent_out_of_range_rejected(api: Api) -> None:
    setup = await make_setup(api)
    variables = {
        "contractId": setup.contract_id,
        "unit": "HOURS",
        "period": "MONTH",
        "limit": "10",
        "warningPercent": 101,
    }

    data = await api.data(SET_CAP, variables, role="finance")

    errors = data["setContractCap"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("warningPercent", "OUT_OF_RANGE")
    ]


# --- Rejection and approval ---------------------------------------------------------


async def test_entry_just_above_cap_rejected(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")
    await add_hours(api, setup, "2027-08-01", "9.99")

    rejected = await create_entry(api, setup, "2027-08-02", hours="0.02")
    exact = await create_entry(api, setup, "2027-08-02", hours="0.01")

    assert rejected["entry"] is None
    assert rejected["errors"] == [
        {
            "field": "hours",
            "code": "CAP_EXCEEDED",
            "message": "The entry adds 0.02 hours to the hours cap of 10.00 hours "
            "per month for 2027-08, of which 9.99 are used and 0.01 remain. Reduce "
            "the entry, send overrun: REQUEST_APPROVAL to store it for approval, or "
            "ask a finance or management user to approve the overrun.",
        }
    ]
    assert exact["errors"] == []
    periods = await usage(api, cap["id"], "2027-08-01", "2027-08-01")
    assert figures(periods[0]) == ("2027-08", "10.00", "0.00", "100.00")


async def test_pending_entry_approved_by_finance(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")
    await add_hours(api, setup, "2027-09-01", "9.00")

    pending = await create_entry(
        api, setup, "2027-09-02", hours="2.00", overrun="REQUEST_APPROVAL"
    )
    entry = pending["entry"]
    before = await usage(api, cap["id"], "2027-09-01", "2027-09-01")
    approved = await api.data(
        APPROVE_ENTRY, {"id": entry["id"], "version": 1}, role="finance"
    )
    after = await usage(api, cap["id"], "2027-09-01", "2027-09-01")

    assert entry["status"] == "PENDING_APPROVAL"
    assert pending["warnings"] == []
    assert figures(before[0]) == ("2027-09", "9.00", "1.00", "90.00")
    assert before[0]["pendingHours"] == "2.00"
    result = approved["approveTimeEntry"]
    assert result["errors"] == []
    assert result["entry"]["status"] == "APPROVED"
    assert result["entry"]["approvedById"] == user_id(api.tenant, "finance")
    assert result["entry"]["version"] == 2
    assert figures(result["warnings"][0]) == ("2027-09", "11.00", "0.00", "110.00")
    assert figures(after[0]) == ("2027-09", "11.00", "0.00", "110.00")
    assert after[0]["pendingHours"] == "0.00"


async def test_project_staff_cannot_approve(api: Api) -> None:
    setup = await make_setup(api)
    await set_cap(api, setup, "HOURS", "MONTH", "1")
    pending = await create_entry(
        api, setup, "2027-10-01", hours="2.00", overrun="REQUEST_APPROVAL"
    )

    error = await api.error(
        APPROVE_ENTRY, {"id": pending["entry"]["id"]}, role="project_staff"
    )
    direct = await api.post(
        CREATE_ENTRY,
        {
            "input": entry_input(setup, "2027-10-02", hours="2.00"),
            "overrun": "APPROVE",
        },
        role="project_staff",
    )

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "'time_entry.overrun:approve'" in error["message"]
    assert direct["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_finance_creates_approved_overrun(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "1")

    payload = await create_entry(
        api, setup, "2027-10-03", role="finance", overrun="APPROVE", hours="1.50"
    )

    assert payload["errors"] == []
    assert payload["entry"]["status"] == "APPROVED"
    assert payload["entry"]["approvedById"] is not None
    periods = await usage(api, cap["id"], "2027-10-01", "2027-10-01")
    assert figures(periods[0]) == ("2027-10", "1.50", "0.00", "150.00")


# --- Concurrency --------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(3))
async def test_racing_entries_cannot_both_fit(api: Api, attempt: int) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "16")
    await add_hours(api, setup, "2027-11-01", "6.00")

    first, second = await asyncio.gather(
        create_entry(api, setup, "2027-11-02", hours="6.00"),
        create_entry(api, setup, "2027-11-03", hours="6.00"),
    )

    outcomes = sorted(
        [
            "ok" if first["errors"] == [] else first["errors"][0]["code"],
            "ok" if second["errors"] == [] else second["errors"][0]["code"],
        ]
    )
    assert outcomes == ["CAP_EXCEEDED", "ok"]
    periods = await usage(api, cap["id"], "2027-11-01", "2027-11-01")
    assert figures(periods[0]) == ("2027-11", "12.00", "4.00", "75.00")


# --- Field security -----------------------------------------------------------------


async def test_sales_sees_hours_but_no_amounts(api: Api) -> None:
    setup = await make_setup(api)
    amount_cap = await set_cap(api, setup, "AMOUNT", "YEAR", "1000.00")
    await set_cap(api, setup, "HOURS", "YEAR", "100")
    material = await create_entry(
        api, setup, "2027-03-03", role="finance", amount="876.54", currency="EUR"
    )
    await add_hours(api, setup, "2027-03-04", "3.25")

    entries = await api.post(
        TIME_ENTRIES, {"projectId": setup.project_id}, role="sales"
    )
    caps = await api.post(
        CONTRACT_CAPS, {"contractId": setup.contract_id}, role="sales"
    )
    spent = await usage(api, amount_cap["id"], "2027-01-01", "2027-01-01", role="sales")
    finance = await usage(api, amount_cap["id"], "2027-01-01", "2027-01-01")

    assert material["errors"] == []
    assert material["warnings"][0]["usedAmount"] == "876.54"
    rows = entries["data"]["timeEntries"]
    assert [(row["kind"], row["hours"], row["amount"]) for row in rows] == [
        ("MATERIAL", None, None),
        ("HOURS", "3.25", None),
    ]
    assert [cap["limitAmount"] for cap in caps["data"]["contractCaps"]] == [None, None]
    assert [cap["limitHours"] for cap in caps["data"]["contractCaps"]] == [
        None,
        "100.00",
    ]
    assert spent[0]["usedAmount"] is None
    assert spent[0]["limitAmount"] is None
    assert spent[0]["remainingAmount"] is None
    assert spent[0]["percentage"] is None
    for response in (entries, caps, spent):
        text = json.dumps(response)
        assert "876.54" not in text
        assert "1000.00" not in text
        assert "123.46" not in text
    assert finance[0]["usedAmount"] == "876.54"
    assert finance[0]["remainingAmount"] == "123.46"
    assert finance[0]["percentage"] == "87.65"


async def test_sales_cannot_record_material(api: Api) -> None:
    setup = await make_setup(api)

    body = await api.post(
        CREATE_ENTRY,
        {
            "input": {
                "projectId": setup.project_id,
                "contractId": setup.contract_id,
                "date": "2027-03-03",
                "description": "Cables",
                "amount": "10.00",
                "currency": "EUR",
            }
        },
        role="sales",
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_amount_cap_notification_has_no_amount(api: Api) -> None:
    setup = await make_setup(api)
    await set_cap(api, setup, "AMOUNT", "MONTH", "100.00")

    await create_entry(
        api, setup, "2027-04-04", role="finance", amount="85.00", currency="EUR"
    )

    owner = api.tenant.user_ids["account_manager"]
    bodies = await Notification.filter(user_id=owner, kind="cap_warning").values_list(
        "body", flat=True
    )
    assert bodies == [
        "The material budget of contract 'Support 2027 (S-27)' per month has "
        "reached its warning threshold of 80% in 2027-04."
    ]


async def test_cap_ids_decode(api: Api) -> None:
    setup = await make_setup(api)
    cap = await set_cap(api, setup, "HOURS", "MONTH", "10")

    assert decode_id(cap["id"])[0] == "ContractCap"
