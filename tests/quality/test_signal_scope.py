"""Which contracts each signal checks, how signals are ordered, and how the fix
is worded for roles that may not read amounts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contractgql.config import Settings
from contractgql.ids import decode_id
from contractgql.models import Contract, Notification, Organization
from contractgql.quality.notify import notify_quality_signals
from contractgql.security.policy import Policy
from tests.conftest import Api
from tests.graphql.helpers import (
    amsterdam_today,
    create_client,
    create_contract,
    user_id,
)
from tests.quality.helpers import SIGNALS

QUIET_SIGNALS = """
query Quiet($kinds: [QualitySignalKind!]) {
  qualitySignals(kinds: $kinds, deadlineWithinDays: 30, first: 500) {
    signals { kind reason fix contract { name } }
  }
}
"""
FIX_WITH_AMOUNT = (
    "Check that the contract's dates, notice period and amount still match "
    "reality, and add a note with the decision on renewal."
)
FIX_WITHOUT_AMOUNT = (
    "Check that the contract's dates and notice period still match reality, and "
    "add a note with the decision on renewal."
)


def _reasons(signals: list[dict[str, Any]]) -> dict[str, str]:
    return {s["contract"]["name"]: s["reason"] for s in signals}


async def test_vat_rates_follow_currency(api: Api) -> None:
    # A contract's own VAT rate must be one of the organization's rates.
    await Organization.filter(id=api.tenant.organization.id).update(
        vat_rates=[900, 1000, 2000, 2100]
    )
    client_id = await create_client(api, "Acme BV")
    draft = {"stage": "DRAFT"}
    # 1211.21 is 1001.00 plus 21%, 1101.10 is 1001.00 plus 10%, and 1512.50 is
    # 1250.00 plus 21% and 1375.00 plus 10%, but not a round amount plus 20%.
    await create_contract(api, client_id, {**draft, "name": "EUR", "amount": "1211.21"})
    await create_contract(
        api,
        client_id,
        {**draft, "name": "AUD no rate", "amount": "1512.50", "currency": "AUD"},
    )
    await create_contract(
        api,
        client_id,
        {
            **draft,
            "name": "AUD GST",
            "amount": "1101.10",
            "currency": "AUD",
            "vatRate": "10",
        },
    )
    await create_contract(
        api,
        client_id,
        {
            **draft,
            "name": "GBP VAT",
            "amount": "1512.50",
            "currency": "GBP",
            "vatRate": "20",
        },
    )

    data = await api.data(SIGNALS, {"kinds": ["AMOUNT_LOOKS_VAT_INCLUSIVE"]})

    reasons = _reasons(data["qualitySignals"]["signals"])
    assert sorted(reasons) == ["AUD GST", "EUR"]
    assert reasons["EUR"] == (
        "The amount of contract 'EUR' is a round amount plus 21% VAT, as if VAT "
        "were included."
    )
    assert reasons["AUD GST"] == (
        "The amount of contract 'AUD GST' is a round amount plus 10% VAT, as if VAT "
        "were included."
    )


async def test_previous_term_needs_same_client(api: Api) -> None:
    first = await create_client(api, "Acme BV")
    second = await create_client(api, "Initech BV")
    draft = {"stage": "DRAFT", "name": "Support"}
    await create_contract(
        api, first, {**draft, "startDate": "2025-01-01", "amount": "1000.00"}
    )
    await create_contract(
        api, second, {**draft, "startDate": "2026-01-01", "amount": "1210.00"}
    )

    data = await api.data(SIGNALS, {"kinds": ["AMOUNT_LOOKS_VAT_INCLUSIVE"]})

    assert data["qualitySignals"]["totalCount"] == 0


async def _quiet_contracts(api: Api) -> None:
    """Create a quiet signed contract with and one without a notice period."""
    today = amsterdam_today()
    client_id = await create_client(api, "Acme BV")
    manager = user_id(api.tenant, "account_manager")
    start = (today - timedelta(days=400)).isoformat()
    common = {"startDate": start, "ownerId": manager}
    without = await create_contract(
        api,
        client_id,
        {**common, "name": "No notice", "endDate": (today + timedelta(20)).isoformat()},
    )
    with_notice = await create_contract(
        api,
        client_id,
        {
            **common,
            "name": "Notice",
            "endDate": (today + timedelta(45)).isoformat(),
            "noticePeriod": {"count": 1, "unit": "MONTHS"},
        },
    )
    long_ago = datetime.now(UTC) - timedelta(days=200)
    ids = [decode_id(c["id"])[1] for c in (without, with_notice)]
    await Contract.filter(id__in=ids).update(updated_at=long_ago)


async def test_quiet_without_notice_uses_end_date(api: Api) -> None:
    await _quiet_contracts(api)
    ends = (amsterdam_today() + timedelta(20)).isoformat()

    data = await api.data(QUIET_SIGNALS, {"kinds": ["NO_RECENT_ACTIVITY"]})

    reasons = _reasons(data["qualitySignals"]["signals"])
    assert sorted(reasons) == ["No notice", "Notice"]
    assert reasons["No notice"] == (
        f"Contract 'No notice' ends on {ends} and has no notice period, but has had "
        "no change and no note for 200 days."
    )


async def test_quiet_fix_worded_per_role(api: Api) -> None:
    await _quiet_contracts(api)
    kinds = {"kinds": ["NO_RECENT_ACTIVITY"]}

    admin = await api.data(QUIET_SIGNALS, kinds)
    manager = await api.data(QUIET_SIGNALS, kinds, role="account_manager")

    admin_fixes = {s["fix"] for s in admin["qualitySignals"]["signals"]}
    manager_fixes = {s["fix"] for s in manager["qualitySignals"]["signals"]}
    assert admin_fixes == {FIX_WITH_AMOUNT}
    assert manager_fixes == {FIX_WITHOUT_AMOUNT}


async def test_quiet_notification_omits_amount(api: Api, settings: Settings) -> None:
    await _quiet_contracts(api)
    policy = Policy.load(settings.policy_dir)
    noon = datetime.combine(
        amsterdam_today(), time(12), tzinfo=ZoneInfo("Europe/Amsterdam")
    )

    await notify_quality_signals(noon, settings, policy)

    bodies = await Notification.filter(
        organization_id=api.tenant.organization.id,
        user_id=api.tenant.user_ids["account_manager"],
    ).values_list("body", flat=True)
    assert len(bodies) == 2
    for body in bodies:
        assert str(body).endswith(f"\nFix: {FIX_WITHOUT_AMOUNT}")


async def test_signals_ordered_by_kind(api: Api) -> None:
    today = amsterdam_today()
    client_id = await create_client(api, "Acme BV")
    start = (today - timedelta(days=400)).isoformat()
    # The renewal ended first, so a scan in end date order lists it first.
    await create_contract(
        api,
        client_id,
        {
            "name": "Not renewed",
            "startDate": start,
            "endDate": (today - timedelta(days=20)).isoformat(),
            "autoRenewal": True,
        },
    )
    await create_contract(
        api,
        client_id,
        {
            "name": "Ended",
            "startDate": start,
            "endDate": (today - timedelta(days=10)).isoformat(),
        },
    )
    await create_contract(
        api, client_id, {"name": "Licence", "stage": "DRAFT", "amount": "1512.50"}
    )

    data = await api.data(SIGNALS)

    kinds = [s["kind"] for s in data["qualitySignals"]["signals"]]
    assert kinds == [
        "PAST_END_DATE",
        "RENEWAL_NOT_RECORDED",
        "AMOUNT_LOOKS_VAT_INCLUSIVE",
    ]


ZERO_COMPLETENESS = """
query {
  contractCompleteness(first: 20) {
    nodes {
      contract { name }
      missing { field }
      suspicious { kind reason fields }
    }
  }
}
"""


async def test_zero_amount_suspicious_not_missing(api: Api) -> None:
    client_id = await create_client(api, "Acme BV")
    owner = {"ownerId": user_id(api.tenant, "account_manager")}
    await create_contract(api, client_id, {**owner, "name": "Zero", "amount": "0.00"})
    await create_contract(
        api, client_id, {**owner, "name": "Paid", "amount": "1000.00"}
    )

    admin = await api.data(ZERO_COMPLETENESS)
    manager = await api.data(ZERO_COMPLETENESS, role="account_manager")

    nodes = {n["contract"]["name"]: n for n in admin["contractCompleteness"]["nodes"]}
    assert nodes["Zero"]["suspicious"] == [
        {
            "kind": "ZERO_AMOUNT",
            "reason": "The amount of contract 'Zero' is zero, which usually means "
            "that it was never entered.",
            "fields": ["AMOUNT"],
        }
    ]
    assert nodes["Paid"]["suspicious"] == []
    assert "AMOUNT" not in [m["field"] for m in nodes["Zero"]["missing"]]
    manager_nodes = manager["contractCompleteness"]["nodes"]
    assert len(manager_nodes) == 2
    for node in manager_nodes:
        assert node["suspicious"] == []
