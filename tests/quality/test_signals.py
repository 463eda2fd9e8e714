"""Stale-data signals: each fires on its own contract of a small portfolio and
nowhere else, is hidden where its fields are, and reaches the owner once."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contractgql.config import Settings
from contractgql.ids import decode_id
from contractgql.models import Client, Contract, Note, Notification
from contractgql.quality.notify import notify_quality_signals
from contractgql.quality.signals import normalize_client_name, vat_inclusive_reason
from contractgql.security.policy import Policy
from tests.conftest import Api
from tests.graphql.helpers import (
    amsterdam_today,
    create_client,
    create_contract,
    user_id,
)
from tests.quality.helpers import SIGNALS

MONTH = {"count": 1, "unit": "MONTHS"}


async def _portfolio(api: Api) -> dict[str, str]:
    """Create one contract per signal, and controls that must raise none."""
    today = amsterdam_today()
    client_id = await create_client(api, "Acme BV")
    manager = user_id(api.tenant, "account_manager")
    finance = user_id(api.tenant, "finance")
    ids: dict[str, str] = {}

    async def add(name: str, fields: dict[str, object]) -> None:
        contract = await create_contract(
            api, client_id, {"name": name, "ownerId": manager, **fields}
        )
        ids[name] = contract["id"]

    start = (today - timedelta(days=400)).isoformat()
    ended = (today - timedelta(days=10)).isoformat()
    soon = (today + timedelta(days=45)).isoformat()
    await add("Ended", {"startDate": start, "endDate": ended})
    await add(
        "Not renewed", {"startDate": start, "endDate": ended, "autoRenewal": True}
    )
    await add("Quiet", {"startDate": start, "endDate": soon, "noticePeriod": MONTH})
    await add("Noted", {"startDate": start, "endDate": soon, "noticePeriod": MONTH})
    await add("Fresh", {"startDate": start, "endDate": soon, "noticePeriod": MONTH})
    draft = {"stage": "DRAFT"}
    await add("Support", {**draft, "startDate": "2025-01-01", "amount": "1000.00"})
    await add(
        "Support",
        {**draft, "startDate": "2026-01-01", "amount": "1210.00", "ownerId": finance},
    )
    await add("Licence", {**draft, "amount": "1512.50"})
    await add("Round licence", {**draft, "amount": "1250.00"})

    long_ago = datetime.now(UTC) - timedelta(days=200)
    quiet_ids = [decode_id(ids[name])[1] for name in ("Quiet", "Noted")]
    await Contract.filter(id__in=quiet_ids).update(updated_at=long_ago)
    await Note.create(
        organization_id=api.tenant.organization.id,
        contract_id=quiet_ids[1],
        body="Client wants to renew.",
    )
    return ids


async def _duplicate_clients(api: Api) -> None:
    org = api.tenant.organization.id
    await Client.create(organization_id=org, name="Globex B.V.")
    await Client.create(organization_id=org, name="globex bv")
    await Client.create(organization_id=org, name="Initech", coc_number="12345678")
    await Client.create(organization_id=org, name="Intech", coc_number="12 345 678")
    await Client.create(organization_id=org, name="Umbrella Corporation")
    await Client.create(organization_id=org, name="Hooli")
    # Similar strings, but the numbers name different companies.
    await Client.create(organization_id=org, name="Wayne Enterprises 12")
    await Client.create(organization_id=org, name="Wayne Enterprises 13")


def _kinds_by_contract(signals: list[dict[str, object]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for signal in signals:
        contract = signal["contract"]
        if isinstance(contract, dict):
            found[str(contract["name"])].append(str(signal["kind"]))
    return dict(found)


async def test_each_signal_fires_once_as_admin(api: Api) -> None:
    await _portfolio(api)
    await _duplicate_clients(api)

    data = await api.data(SIGNALS)

    signals = data["qualitySignals"]["signals"]
    assert _kinds_by_contract(signals) == {
        "Ended": ["PAST_END_DATE"],
        "Not renewed": ["RENEWAL_NOT_RECORDED"],
        "Quiet": ["NO_RECENT_ACTIVITY"],
        "Support": ["AMOUNT_LOOKS_VAT_INCLUSIVE"],
        "Licence": ["AMOUNT_LOOKS_VAT_INCLUSIVE"],
    }
    duplicates = [
        (s["client"]["name"], s["otherClient"]["name"])
        for s in signals
        if s["kind"] == "DUPLICATE_CLIENT"
    ]
    assert duplicates == [("Globex B.V.", "globex bv"), ("Initech", "Intech")]
    assert data["qualitySignals"]["totalCount"] == 7
    support = next(s for s in signals if s["contract"]["name"] == "Support")
    assert support["reason"] == (
        "The amount of contract 'Support' is exactly 21% more than the previous "
        "term's, as if 21% VAT were added."
    )
    assert support["fields"] == ["AMOUNT"]
    initech = next(
        s for s in signals if s["client"] and s["client"]["name"] == "Initech"
    )
    assert "the same chamber-of-commerce number" in initech["reason"]


async def test_financial_signals_hidden_from_account_manager(api: Api) -> None:
    await _portfolio(api)

    data = await api.data(SIGNALS, role="account_manager")
    asked = await api.data(
        SIGNALS, {"kinds": ["AMOUNT_LOOKS_VAT_INCLUSIVE"]}, role="account_manager"
    )

    kinds = {s["kind"] for s in data["qualitySignals"]["signals"]}
    assert kinds == {"PAST_END_DATE", "RENEWAL_NOT_RECORDED", "NO_RECENT_ACTIVITY"}
    assert asked["qualitySignals"]["totalCount"] == 0


async def test_quiet_days_argument(api: Api) -> None:
    await _portfolio(api)

    longer = await api.data(
        SIGNALS, {"kinds": ["NO_RECENT_ACTIVITY"], "quietDays": 365}
    )
    shorter = await api.data(SIGNALS, {"kinds": ["NO_RECENT_ACTIVITY"], "quietDays": 1})
    invalid = await api.error(SIGNALS, {"quietDays": 0})

    assert longer["qualitySignals"]["totalCount"] == 0
    assert sorted(_kinds_by_contract(shorter["qualitySignals"]["signals"])) == ["Quiet"]
    assert invalid["extensions"]["code"] == "BAD_USER_INPUT"


async def test_completeness_lists_suspicious_values(api: Api) -> None:
    await _portfolio(api)

    data = await api.data(
        "query { contractCompleteness(first: 20) { nodes { contract { name } "
        "suspicious { kind } } } }"
    )

    suspicious = {
        node["contract"]["name"]: [s["kind"] for s in node["suspicious"]]
        for node in data["contractCompleteness"]["nodes"]
        if node["suspicious"]
    }
    assert suspicious == {
        "Ended": ["PAST_END_DATE"],
        "Not renewed": ["RENEWAL_NOT_RECORDED"],
        "Quiet": ["NO_RECENT_ACTIVITY"],
        "Support": ["AMOUNT_LOOKS_VAT_INCLUSIVE"],
        "Licence": ["AMOUNT_LOOKS_VAT_INCLUSIVE"],
    }


async def test_owner_notified_once_per_signal(api: Api, settings: Settings) -> None:
    await _portfolio(api)
    policy = Policy.load(settings.policy_dir)
    noon = datetime.combine(
        amsterdam_today(), time(12), tzinfo=ZoneInfo("Europe/Amsterdam")
    )
    mine = Notification.filter(organization_id=api.tenant.organization.id)

    # The first run also notifies the organizations of other tests.
    await notify_quality_signals(noon, settings, policy)
    again = await notify_quality_signals(noon + timedelta(hours=1), settings, policy)

    rows = await mine.order_by("id").values("user_id", "kind", "title")
    manager = api.tenant.user_ids["account_manager"]
    finance = api.tenant.user_ids["finance"]
    assert again == 0
    assert sorted((r["user_id"], r["title"]) for r in rows) == sorted(
        [
            (manager, "Contract past its end date"),
            (manager, "Renewal not recorded"),
            (manager, "Notice deadline near, no recent activity"),
            (finance, "Amount looks VAT-inclusive"),
        ]
    )
    assert {r["kind"] for r in rows} == {"data_quality"}


def test_vat_inclusive_reason_cases() -> None:
    rates = [900, 2100]

    assert vat_inclusive_reason(121000, 100000, rates, "EUR") is not None
    assert vat_inclusive_reason(109000, 100000, rates, "EUR") is not None
    assert vat_inclusive_reason(102000, 100000, rates, "EUR") is None
    assert vat_inclusive_reason(151250, None, rates, "EUR") is not None
    assert vat_inclusive_reason(125000, None, rates, "EUR") is None
    assert vat_inclusive_reason(121000, None, rates, "EUR") is None
    assert vat_inclusive_reason(121, None, rates, "JPY") is None
    assert vat_inclusive_reason(0, None, rates, "EUR") is None


def test_client_names_normalised() -> None:
    assert normalize_client_name("Globex B.V.") == "globex"
    assert normalize_client_name("ACME Holding BV") == "acme"
    assert normalize_client_name("The Company") == "the company"
