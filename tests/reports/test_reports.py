"""The portfolio reports over a small portfolio whose figures are computed by hand.

The portfolio. Amounts are per billing period and exclude VAT. Acme and Globex are
clients, Maintenance and Licence contract types, "risk" the tag Cancellation Risk.

- C1: Acme, Maintenance, EUR 1000.00 monthly, 2027-01-01 to 2027-12-31, no
  auto-renewal, 6 months' notice, tags risk and Strategic, owner the account
  manager, VAT 21%.
- C2: Acme, Licence, EUR 1000.00 quarterly, 2026-07-01 to 2027-06-30,
  auto-renewal, 1 month's notice, tag risk, owner the account manager, VAT 9%.
- C3: Globex, Maintenance, USD 1200.01 yearly, from 2025-03-01, open-ended.
- C4: Globex, no type, USD 500.00 one-off, 2027-06-01 to 2027-06-30, VAT 0%.
- C5: Acme, Licence, EUR 1000.00 quarterly, 2027-02-15 to 2028-02-29 (a leap
  day), 1 month's notice.
- C6: Globex, Maintenance, EUR 200.00 monthly, 2026-01-01 to 2026-12-31.
- C7: Globex, Maintenance, EUR 100.00 monthly, 2027-07-01 to 2027-09-30.
- C8: Globex, Maintenance, EUR 5000.00 monthly, 2027-01-01 to 2027-12-31,
  confidential, owner the admin, auto-renewal, 2 months' notice given 2027-05-01.
- C9: Acme, Maintenance, EUR 9999.00 monthly, a draft.
- C10: Acme, Maintenance, EUR 100.00 monthly, 2025-07-01 to 2026-06-30,
  auto-renewal with 10% indexation: the scan of 2026-07-01 renews it to
  2027-06-30 at 110.00.
- C11: Acme, Maintenance, EUR 600.00 half-yearly, 2026-04-01 to 2027-03-31.

The scan of 2027-06-01 records the expiry of C6 and C11.
Renewal history after the two scans: Maintenance has 1 renewed term (C10) and 2
ended ones (C6, C11), a rate of 1/3. Licence and contracts without a type have none.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import pytest_asyncio

from contractgql.domain.dates import Period, PeriodUnit, notice_deadline
from contractgql.domain.money import PaymentFrequency
from contractgql.jobs.renewals import renew_and_expire
from contractgql.models import (
    Client,
    Contract,
    ContractStage,
    ContractType,
    Sensitivity,
    Tag,
)
from tests.conftest import Api

PORTFOLIO = """
query Portfolio($date: Date, $groupBy: PortfolioGrouping) {
  portfolio(referenceDate: $date, groupBy: $groupBy) {
    referenceDate groupBy
    totals { ...figures }
    groups { id name figures { ...figures } }
  }
}
fragment figures on PortfolioFigures {
  contractCount
  currencies { currency contractCount mrr arr totalContractValue }
}
"""
FIGURES = "contractCount currencies { currency contractCount mrr arr }"
ENDING = f"""
query Ending($period: ReportPeriodInput!) {{
  contractsEnding(period: $period) {{
    period {{ from to }}
    ending {{ {FIGURES} }}
    noticeDeadlines {{ {FIGURES} }}
  }}
}}
"""
AT_RISK = f"""
query AtRisk($period: ReportPeriodInput!) {{
  revenueAtRisk(period: $period) {{
    period {{ from to }}
    riskTags
    ending {{ {FIGURES} }}
    atRisk {{ {FIGURES} }}
    noAutoRenewal {{ {FIGURES} }}
    noticeGiven {{ {FIGURES} }}
    riskTagged {{ {FIGURES} }}
  }}
}}
"""
FORECAST = """
query Forecast($from: Date, $quarters: Int) {
  renewalForecast(from: $from, quarters: $quarters) {
    quarters {
      label period { from to } endingCount committedCount atRiskCount
      currencies {
        currency endingCount committedCount atRiskCount endingMrr committedMrr
        atRiskMrr expectedRenewedMrr expectedLostMrr
      }
    }
    renewalRates { contractTypeName renewedTerms endedTerms rate }
  }
}
"""
CHURN = """
query Churn($period: ReportPeriodInput!) {
  churn(period: $period) {
    period { from to }
    startingCount lostCount churnRate
    currencies {
      currency startingCount lostCount startingMrr lostMrr revenueChurnRate
    }
  }
}
"""
FINANCIAL_ROLES = ("admin", "management", "finance")
COUNT_ONLY_ROLES = ("sales", "account_manager")


def _notice(count: int, unit: PeriodUnit) -> dict[str, Any]:
    return {"notice_count": count, "notice_unit": unit}


@pytest_asyncio.fixture
async def portfolio(api: Api) -> dict[str, int]:
    """Create the portfolio of the module docstring and run the two scans."""
    organization = api.tenant.organization
    org = organization.id
    acme = await Client.create(organization=organization, name="Acme")
    globex = await Client.create(organization=organization, name="Globex")
    maintenance = await ContractType.create(
        organization=organization, name="Maintenance"
    )
    licence = await ContractType.create(organization=organization, name="Licence")
    risk = await Tag.create(organization=organization, name="Cancellation Risk")
    strategic = await Tag.create(organization=organization, name="Strategic")
    manager = api.tenant.user_ids["account_manager"]
    admin = api.tenant.user_ids["admin"]

    specs: dict[str, dict[str, Any]] = {
        "C1": dict(
            client=acme,
            contract_type=maintenance,
            currency="EUR",
            payment_frequency=PaymentFrequency.MONTHLY,
            amount_minor=100_000,
            vat_rate_bp=2100,
            start_date=date(2027, 1, 1),
            end_date=date(2027, 12, 31),
            owner_id=manager,
            **_notice(6, PeriodUnit.MONTHS),
        ),
        "C2": dict(
            client=acme,
            contract_type=licence,
            currency="EUR",
            payment_frequency=PaymentFrequency.QUARTERLY,
            amount_minor=100_000,
            vat_rate_bp=900,
            start_date=date(2026, 7, 1),
            end_date=date(2027, 6, 30),
            auto_renewal=True,
            owner_id=manager,
            **_notice(1, PeriodUnit.MONTHS),
        ),
        "C3": dict(
            client=globex,
            contract_type=maintenance,
            currency="USD",
            payment_frequency=PaymentFrequency.YEARLY,
            amount_minor=120_001,
            start_date=date(2025, 3, 1),
            end_date=None,
        ),
        "C4": dict(
            client=globex,
            contract_type=None,
            currency="USD",
            payment_frequency=PaymentFrequency.ONE_OFF,
            amount_minor=50_000,
            vat_rate_bp=0,
            start_date=date(2027, 6, 1),
            end_date=date(2027, 6, 30),
        ),
        "C5": dict(
            client=acme,
            contract_type=licence,
            currency="EUR",
            payment_frequency=PaymentFrequency.QUARTERLY,
            amount_minor=100_000,
            start_date=date(2027, 2, 15),
            end_date=date(2028, 2, 29),
            **_notice(1, PeriodUnit.MONTHS),
        ),
        "C6": dict(
            client=globex,
            contract_type=maintenance,
            currency="EUR",
            payment_frequency=PaymentFrequency.MONTHLY,
            amount_minor=20_000,
            start_date=date(2026, 1, 1),
            end_date=date(2026, 12, 31),
        ),
        "C7": dict(
            client=globex,
            contract_type=maintenance,
            currency="EUR",
            payment_frequency=PaymentFrequency.MONTHLY,
            amount_minor=10_000,
            start_date=date(2027, 7, 1),
            end_date=date(2027, 9, 30),
        ),
        "C8": dict(
            client=globex,
            contract_type=maintenance,
            currency="EUR",
            payment_frequency=PaymentFrequency.MONTHLY,
            amount_minor=500_000,
            start_date=date(2027, 1, 1),
            end_date=date(2027, 12, 31),
            sensitivity=Sensitivity.CONFIDENTIAL,
            owner_id=admin,
            auto_renewal=True,
            notice_date=date(2027, 5, 1),
            notice_party="client",
            **_notice(2, PeriodUnit.MONTHS),
        ),
        "C9": dict(
            client=acme,
            contract_type=maintenance,
            currency="EUR",
            payment_frequency=PaymentFrequency.MONTHLY,
            amount_minor=999_900,
            start_date=date(2027, 1, 1),
            end_date=date(2027, 12, 31),
            stage=ContractStage.DRAFT,
        ),
        "C10": dict(
            client=acme,
            contract_type=maintenance,
            currency="EUR",
            payment_frequency=PaymentFrequency.MONTHLY,
            amount_minor=10_000,
            start_date=date(2025, 7, 1),
            end_date=date(2026, 6, 30),
            auto_renewal=True,
            indexation_bp=1000,
        ),
        "C11": dict(
            client=acme,
            contract_type=maintenance,
            currency="EUR",
            payment_frequency=PaymentFrequency.HALF_YEARLY,
            amount_minor=60_000,
            start_date=date(2026, 4, 1),
            end_date=date(2027, 3, 31),
        ),
    }
    ids = {}
    for name, values in specs.items():
        if values.get("notice_count") is not None and values["end_date"] is not None:
            values["notice_deadline"] = notice_deadline(
                values["end_date"],
                Period(values["notice_count"], values["notice_unit"]),
            )
        contract = await Contract.create(organization_id=org, name=name, **values)
        ids[name] = contract.id
    c1 = await Contract.get(id=ids["C1"])
    await c1.tags.add(risk, strategic)
    c2 = await Contract.get(id=ids["C2"])
    await c2.tags.add(risk)

    # C10 renews to 2027-06-30 at 110.00. C6 and C11 expire at the second scan.
    await renew_and_expire(org, date(2026, 7, 1))
    await renew_and_expire(org, date(2027, 6, 1))
    return ids


def _currencies(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["currency"]: entry for entry in figures["currencies"]}


async def test_scans_built_history(api: Api, portfolio: dict[str, int]) -> None:
    c10 = await Contract.get(id=portfolio["C10"])
    assert c10.end_date == date(2027, 6, 30)
    assert c10.amount_minor == 11_000
    c5 = await Contract.get(id=portfolio["C5"])
    # End 2028-02-29 with 1 month's notice: (2028-03-01 - 1 month) - 1 day.
    assert c5.notice_deadline == date(2028, 1, 31)


@pytest.mark.parametrize("role", FINANCIAL_ROLES)
async def test_portfolio_totals_as_finance(
    api: Api, portfolio: dict[str, int], role: str
) -> None:
    data = await api.data(PORTFOLIO, {"date": "2027-06-15"}, role=role)
    report = data["portfolio"]
    assert report["referenceDate"] == "2027-06-15"
    assert report["groupBy"] == "NONE"
    assert report["groups"] == []
    # In force on 2027-06-15: C1, C2, C5, C8, C10 (EUR) and C3, C4 (USD). C6 and
    # C11 ended, C7 starts later and C9 is a draft.
    assert report["totals"]["contractCount"] == 7
    eur = _currencies(report["totals"])["EUR"]
    assert eur["contractCount"] == 5
    # MRR in cents: C1 100000 + C2 100000/3 + C5 100000/3 + C8 500000 + C10 11000
    # = 677666.666... -> 6776.67 (rounding C2 and C5 first would give 6776.66).
    assert eur["mrr"] == "6776.67"
    # ARR: 12 x 677666.666... = 8132000 cents.
    assert eur["arr"] == "81320.00"
    # Total value in cents: C1 12 x 100000 + C2 4 x 100000 + C5 5 x 100000
    # (2027-02-15..2028-02-29 covers 13 started months, so 5 quarters)
    # + C8 12 x 500000 + C10 24 x 11000 (2025-07-01..2027-06-30 at the
    # current amount) = 1200000 + 400000 + 500000 + 6000000 + 264000 = 8364000.
    assert eur["totalContractValue"] == "83640.00"
    usd = _currencies(report["totals"])["USD"]
    assert usd["contractCount"] == 2
    # C3 120001 / 12 = 10000.0833 cents; the one-off C4 adds nothing.
    assert usd["mrr"] == "100.00"
    assert usd["arr"] == "1200.01"
    # The open-ended C3 adds nothing; the one-off C4 adds its 500.00.
    assert usd["totalContractValue"] == "500.00"


async def test_portfolio_in_earlier_term(api: Api, portfolio: dict[str, int]) -> None:
    data = await api.data(PORTFOLIO, {"date": "2026-03-01"}, role="finance")
    totals = data["portfolio"]["totals"]
    # In force on 2026-03-01: C6, C10 in its first term, and C3.
    assert totals["contractCount"] == 3
    eur = _currencies(totals)["EUR"]
    assert eur["contractCount"] == 2
    # C6 20000 + C10 10000, the amount before the renewal's indexation.
    assert eur["mrr"] == "300.00"
    assert eur["arr"] == "3600.00"
    # C6 12 x 20000 + C10 12 x 10000 over its first term to 2026-06-30.
    assert eur["totalContractValue"] == "3600.00"
    usd = _currencies(totals)["USD"]
    assert usd["mrr"] == "100.00"
    assert usd["totalContractValue"] == "0.00"


async def test_portfolio_end_date_inclusive(
    api: Api, portfolio: dict[str, int]
) -> None:
    on_end = await api.data(PORTFOLIO, {"date": "2027-03-31"}, role="finance")
    after_end = await api.data(PORTFOLIO, {"date": "2027-04-01"}, role="finance")
    # C11 ends on 2027-03-31 and is in force that whole day. On 2027-03-31 the
    # EUR contracts are C1, C2, C5, C8, C10, C11; a day later C11 is gone.
    assert _currencies(on_end["portfolio"]["totals"])["EUR"]["contractCount"] == 6
    assert _currencies(after_end["portfolio"]["totals"])["EUR"]["contractCount"] == 5
    # C11 adds 60000 / 6 = 10000 cents of MRR: 6776.67 + 100.00.
    assert _currencies(on_end["portfolio"]["totals"])["EUR"]["mrr"] == "6876.67"


@pytest.mark.parametrize("role", COUNT_ONLY_ROLES)
async def test_portfolio_counts_only_without_financial(
    api: Api, portfolio: dict[str, int], role: str
) -> None:
    data = await api.data(
        PORTFOLIO, {"date": "2027-06-15", "groupBy": "CLIENT"}, role=role
    )
    report = data["portfolio"]
    # The confidential C8 does not exist for these roles.
    assert report["totals"]["contractCount"] == 6
    for figures in [report["totals"], *(g["figures"] for g in report["groups"])]:
        for entry in figures["currencies"]:
            assert entry["mrr"] is None
            assert entry["arr"] is None
            assert entry["totalContractValue"] is None
    counts = {g["name"]: g["figures"]["contractCount"] for g in report["groups"]}
    assert counts == {"Acme": 4, "Globex": 2}


async def test_portfolio_by_client(api: Api, portfolio: dict[str, int]) -> None:
    data = await api.data(
        PORTFOLIO, {"date": "2027-06-15", "groupBy": "CLIENT"}, role="finance"
    )
    groups = data["portfolio"]["groups"]
    assert [group["name"] for group in groups] == ["Acme", "Globex"]
    acme = _currencies(groups[0]["figures"])
    # C1 100000 + C2 100000/3 + C5 100000/3 + C10 11000 = 177666.67 cents.
    assert acme["EUR"]["contractCount"] == 4
    assert acme["EUR"]["mrr"] == "1776.67"
    # 1200000 + 400000 + 500000 + 264000.
    assert acme["EUR"]["totalContractValue"] == "23640.00"
    globex = _currencies(groups[1]["figures"])
    assert globex["EUR"]["mrr"] == "5000.00"
    assert globex["USD"]["contractCount"] == 2
    assert globex["USD"]["mrr"] == "100.00"


GROUP_PAGE = """
query Page($first: Int!, $offset: Int!) {
  portfolio(referenceDate: "2027-06-15", groupBy: CLIENT) {
    groupCount
    groups(first: $first, offset: $offset) { name figures { contractCount } }
  }
}
"""


async def test_portfolio_group_pages(api: Api, portfolio: dict[str, int]) -> None:
    data = await api.data(GROUP_PAGE, {"first": 1, "offset": 1}, role="finance")
    report = data["portfolio"]
    assert report["groupCount"] == 2
    # Globex: C3, C4 and C8.
    assert report["groups"] == [{"name": "Globex", "figures": {"contractCount": 3}}]


async def test_portfolio_group_page_too_large(
    api: Api, portfolio: dict[str, int]
) -> None:
    error = await api.error(GROUP_PAGE, {"first": 1001, "offset": 0}, role="finance")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "'first' is 1001: ask for 1 to 1000 groups a page."


async def test_portfolio_by_type(api: Api, portfolio: dict[str, int]) -> None:
    data = await api.data(
        PORTFOLIO, {"date": "2027-06-15", "groupBy": "CONTRACT_TYPE"}, role="finance"
    )
    groups = {group["name"]: group for group in data["portfolio"]["groups"]}
    assert list(groups) == ["Licence", "Maintenance", None]
    # C2 and C5: 100000/3 + 100000/3 = 66666.67 cents, summed before rounding.
    assert _currencies(groups["Licence"]["figures"])["EUR"]["mrr"] == "666.67"
    maintenance = _currencies(groups["Maintenance"]["figures"])
    # C1 100000 + C8 500000 + C10 11000.
    assert maintenance["EUR"]["mrr"] == "6110.00"
    assert maintenance["USD"]["mrr"] == "100.00"
    untyped = _currencies(groups[None]["figures"])
    assert groups[None]["id"] is None
    assert untyped["USD"]["mrr"] == "0.00"
    assert untyped["USD"]["totalContractValue"] == "500.00"


async def test_portfolio_by_tag(api: Api, portfolio: dict[str, int]) -> None:
    data = await api.data(
        PORTFOLIO, {"date": "2027-06-15", "groupBy": "TAG"}, role="finance"
    )
    report = data["portfolio"]
    groups = {group["name"]: group for group in report["groups"]}
    assert list(groups) == ["Cancellation Risk", "Strategic", None]
    # C1 100000 + C2 100000/3 = 133333.33 cents.
    assert _currencies(groups["Cancellation Risk"]["figures"])["EUR"]["mrr"] == (
        "1333.33"
    )
    assert _currencies(groups["Strategic"]["figures"])["EUR"]["mrr"] == "1000.00"
    # Untagged: C5 100000/3 + C8 500000 + C10 11000 = 544333.33 cents.
    assert _currencies(groups[None]["figures"])["EUR"]["mrr"] == "5443.33"
    # C1 is in two tag groups but counts once in the totals.
    assert report["totals"]["contractCount"] == 7
    assert _currencies(report["totals"])["EUR"]["mrr"] == "6776.67"


@pytest.mark.parametrize("group_by", ["CLIENT", "CONTRACT_TYPE", "TAG", "OWNER"])
async def test_portfolio_grouped_totals_exact(
    api: Api, portfolio: dict[str, int], group_by: str
) -> None:
    data = await api.data(
        PORTFOLIO, {"date": "2027-06-15", "groupBy": group_by}, role="finance"
    )
    totals = data["portfolio"]["totals"]
    # The same figures as test_portfolio_totals_as_finance, whatever the grouping.
    assert totals["contractCount"] == 7
    eur = _currencies(totals)["EUR"]
    assert eur["contractCount"] == 5
    assert eur["mrr"] == "6776.67"
    assert eur["arr"] == "81320.00"
    assert eur["totalContractValue"] == "83640.00"
    usd = _currencies(totals)["USD"]
    assert usd["contractCount"] == 2
    assert usd["arr"] == "1200.01"
    assert usd["totalContractValue"] == "500.00"


async def test_portfolio_by_tag_archived(api: Api, portfolio: dict[str, int]) -> None:
    strategic = await Tag.get(
        organization_id=api.tenant.organization.id, name="Strategic"
    )
    strategic.archived_at = datetime(2027, 1, 1, tzinfo=UTC)
    await strategic.save()

    data = await api.data(
        PORTFOLIO, {"date": "2027-06-15", "groupBy": "TAG"}, role="finance"
    )
    report = data["portfolio"]
    groups = {group["name"]: group for group in report["groups"]}
    # C1 keeps only Cancellation Risk; no contract is left in Strategic.
    assert list(groups) == ["Cancellation Risk", None]
    risk = _currencies(groups["Cancellation Risk"]["figures"])["EUR"]
    assert risk["contractCount"] == 2
    assert risk["mrr"] == "1333.33"
    # C1 1200000 + C2 400000 cents.
    assert risk["totalContractValue"] == "16000.00"
    assert groups[None]["figures"]["contractCount"] == 5
    assert report["totals"]["contractCount"] == 7
    assert _currencies(report["totals"])["EUR"]["totalContractValue"] == "83640.00"


async def test_portfolio_by_client_earlier_term(
    api: Api, portfolio: dict[str, int]
) -> None:
    data = await api.data(
        PORTFOLIO, {"date": "2026-03-01", "groupBy": "CLIENT"}, role="finance"
    )
    groups = {group["name"]: group for group in data["portfolio"]["groups"]}
    assert list(groups) == ["Acme", "Globex"]
    acme = _currencies(groups["Acme"]["figures"])
    # C10 in its first term: 10000 a month, 12 months to 2026-06-30.
    assert acme["EUR"]["contractCount"] == 1
    assert acme["EUR"]["mrr"] == "100.00"
    assert acme["EUR"]["totalContractValue"] == "1200.00"
    globex = _currencies(groups["Globex"]["figures"])
    # C6: 20000 a month for 12 months; C3 is open-ended.
    assert globex["EUR"]["mrr"] == "200.00"
    assert globex["EUR"]["totalContractValue"] == "2400.00"
    assert globex["USD"]["mrr"] == "100.00"
    assert globex["USD"]["totalContractValue"] == "0.00"


async def test_portfolio_by_tag_earlier_term(
    api: Api, portfolio: dict[str, int]
) -> None:
    data = await api.data(
        PORTFOLIO, {"date": "2026-03-01", "groupBy": "TAG"}, role="finance"
    )
    report = data["portfolio"]
    # C6, C10 and C3 are in force and untagged.
    assert [group["name"] for group in report["groups"]] == [None]
    untagged = _currencies(report["groups"][0]["figures"])["EUR"]
    assert untagged["contractCount"] == 2
    assert untagged["mrr"] == "300.00"
    assert untagged["totalContractValue"] == "3600.00"
    assert report["totals"]["contractCount"] == 3
    assert _currencies(report["totals"])["EUR"]["totalContractValue"] == "3600.00"


async def test_portfolio_by_owner(api: Api, portfolio: dict[str, int]) -> None:
    data = await api.data(
        PORTFOLIO, {"date": "2027-06-15", "groupBy": "OWNER"}, role="finance"
    )
    groups = {group["name"]: group for group in data["portfolio"]["groups"]}
    assert list(groups) == ["Account Manager", "Admin", None]
    # C1 100000 + C2 100000/3.
    assert _currencies(groups["Account Manager"]["figures"])["EUR"]["mrr"] == (
        "1333.33"
    )
    assert _currencies(groups["Admin"]["figures"])["EUR"]["mrr"] == "5000.00"


async def test_contracts_ending_in_june(api: Api, portfolio: dict[str, int]) -> None:
    period = {"from": "2027-06-01", "to": "2027-06-30"}
    data = await api.data(ENDING, {"period": period}, role="finance")
    report = data["contractsEnding"]
    assert report["period"] == period
    # C2, C4 and the renewed C10 end on 2027-06-30.
    assert report["ending"]["contractCount"] == 3
    eur = _currencies(report["ending"])["EUR"]
    # C2 100000/3 + C10 11000 = 44333.33 cents; ARR 12 x that = 532000 cents.
    assert eur["mrr"] == "443.33"
    assert eur["arr"] == "5320.00"
    assert _currencies(report["ending"])["USD"]["mrr"] == "0.00"
    # Only C1's notice deadline is in June: 2027-12-31 with 6 months' notice.
    assert report["noticeDeadlines"]["contractCount"] == 1
    assert _currencies(report["noticeDeadlines"])["EUR"]["mrr"] == "1000.00"


async def test_contracts_ending_leap_year(api: Api, portfolio: dict[str, int]) -> None:
    period = {"from": "2028-01-01", "to": "2028-03-31"}
    data = await api.data(ENDING, {"period": period}, role="sales")
    report = data["contractsEnding"]
    # C5 ends on 2028-02-29 and its notice deadline is 2028-01-31.
    assert report["ending"]["contractCount"] == 1
    assert report["noticeDeadlines"]["contractCount"] == 1
    assert _currencies(report["ending"])["EUR"]["mrr"] is None


async def test_revenue_at_risk_fourth_quarter(
    api: Api, portfolio: dict[str, int]
) -> None:
    period = {"from": "2027-10-01", "to": "2027-12-31"}
    data = await api.data(AT_RISK, {"period": period}, role="finance")
    report = data["revenueAtRisk"]
    assert report["riskTags"] == ["cancellation risk"]
    # C1 does not renew and has the risk tag; C8's notice came before its
    # deadline 2027-10-31. Both are at risk: 100000 + 500000 cents a month.
    assert report["atRisk"]["contractCount"] == 2
    assert _currencies(report["atRisk"])["EUR"]["mrr"] == "6000.00"
    assert _currencies(report["atRisk"])["EUR"]["arr"] == "72000.00"
    assert _currencies(report["noAutoRenewal"])["EUR"]["mrr"] == "1000.00"
    assert _currencies(report["noticeGiven"])["EUR"]["mrr"] == "5000.00"
    assert _currencies(report["riskTagged"])["EUR"]["mrr"] == "1000.00"


async def test_revenue_at_risk_as_sales(api: Api, portfolio: dict[str, int]) -> None:
    period = {"from": "2027-10-01", "to": "2027-12-31"}
    data = await api.data(AT_RISK, {"period": period}, role="sales")
    report = data["revenueAtRisk"]
    # C8 is confidential: sales sees C1 only, and no amount.
    assert report["ending"]["contractCount"] == 1
    assert report["atRisk"]["contractCount"] == 1
    assert report["noticeGiven"]["contractCount"] == 0
    assert _currencies(report["atRisk"])["EUR"]["mrr"] is None
    assert _currencies(report["atRisk"])["EUR"]["arr"] is None


async def test_revenue_at_risk_june(api: Api, portfolio: dict[str, int]) -> None:
    period = {"from": "2027-06-01", "to": "2027-06-30"}
    data = await api.data(AT_RISK, {"period": period}, role="finance")
    report = data["revenueAtRisk"]
    # C2 renews automatically but has the risk tag, C4 does not renew, and C10
    # renews with nothing against it.
    assert report["ending"]["contractCount"] == 3
    assert report["atRisk"]["contractCount"] == 2
    assert _currencies(report["atRisk"])["EUR"]["mrr"] == "333.33"
    assert _currencies(report["atRisk"])["USD"]["mrr"] == "0.00"


async def test_renewal_forecast_as_finance(api: Api, portfolio: dict[str, int]) -> None:
    data = await api.data(
        FORECAST, {"from": "2027-06-01", "quarters": 3}, role="finance"
    )
    forecast = data["renewalForecast"]
    assert forecast["renewalRates"] == [
        # C2 ends in 2027-Q2 at risk, and Licence has no history.
        {
            "contractTypeName": "Licence",
            "renewedTerms": 0,
            "endedTerms": 0,
            "rate": None,
        },
        # C10 renewed once; C6 and C11 ended: 1 / 3.
        {
            "contractTypeName": "Maintenance",
            "renewedTerms": 1,
            "endedTerms": 2,
            "rate": "0.3333",
        },
        # C4, without a type, ends in 2027-Q2 at risk.
        {
            "contractTypeName": None,
            "renewedTerms": 0,
            "endedTerms": 0,
            "rate": None,
        },
    ]
    q2, q3, q4 = forecast["quarters"]
    assert q2["label"] == "2027-Q2"
    assert q2["period"] == {"from": "2027-06-01", "to": "2027-06-30"}
    assert (q2["endingCount"], q2["committedCount"], q2["atRiskCount"]) == (3, 1, 2)
    eur = _currencies(q2)["EUR"]
    # C10 (11000) is committed; C2 (100000/3) is at risk and its type Licence
    # has no history, so it is weighted 0.
    assert eur["endingMrr"] == "443.33"
    assert eur["committedMrr"] == "110.00"
    assert eur["atRiskMrr"] == "333.33"
    assert eur["expectedRenewedMrr"] == "110.00"
    assert eur["expectedLostMrr"] == "333.33"

    assert q3["period"] == {"from": "2027-07-01", "to": "2027-09-30"}
    eur = _currencies(q3)["EUR"]
    # C7 (10000) is at risk, weighted 1/3: 3333.33 cents expected, 6666.67 lost.
    assert eur["atRiskMrr"] == "100.00"
    assert eur["expectedRenewedMrr"] == "33.33"
    assert eur["expectedLostMrr"] == "66.67"

    assert q4["label"] == "2027-Q4"
    eur = _currencies(q4)["EUR"]
    # C1 (100000) and C8 (500000), both at risk: 600000 / 3 = 200000 cents.
    assert eur["endingCount"] == 2
    assert eur["expectedRenewedMrr"] == "2000.00"
    assert eur["expectedLostMrr"] == "4000.00"


async def test_forecast_lists_type_without_history(
    api: Api, portfolio: dict[str, int]
) -> None:
    data = await api.data(
        FORECAST, {"from": "2028-01-01", "quarters": 1}, role="finance"
    )
    forecast = data["renewalForecast"]
    # Only C5 (Licence, no auto-renewal) ends in 2028-Q1. Licence has no history,
    # so it is listed with rate null and its at-risk MRR (100000/3) is weighted 0.
    assert forecast["renewalRates"] == [
        {
            "contractTypeName": "Licence",
            "renewedTerms": 0,
            "endedTerms": 0,
            "rate": None,
        },
        {
            "contractTypeName": "Maintenance",
            "renewedTerms": 1,
            "endedTerms": 2,
            "rate": "0.3333",
        },
    ]
    [quarter] = forecast["quarters"]
    assert (quarter["endingCount"], quarter["atRiskCount"]) == (1, 1)
    eur = _currencies(quarter)["EUR"]
    assert eur["atRiskMrr"] == "333.33"
    assert eur["expectedRenewedMrr"] == "0.00"
    assert eur["expectedLostMrr"] == "333.33"


async def test_renewal_forecast_as_sales(api: Api, portfolio: dict[str, int]) -> None:
    data = await api.data(FORECAST, {"from": "2027-06-01", "quarters": 3}, role="sales")
    forecast = data["renewalForecast"]
    rates = {r["contractTypeName"]: r["rate"] for r in forecast["renewalRates"]}
    assert rates == {"Licence": None, "Maintenance": "0.3333", None: None}
    q4 = forecast["quarters"][2]
    # C8 is confidential, so only C1 remains.
    assert q4["endingCount"] == 1
    assert q4["atRiskCount"] == 1
    for quarter in forecast["quarters"]:
        for entry in quarter["currencies"]:
            for name in (
                "endingMrr",
                "committedMrr",
                "atRiskMrr",
                "expectedRenewedMrr",
                "expectedLostMrr",
            ):
                assert entry[name] is None, (quarter["label"], name)


async def test_churn_first_half(api: Api, portfolio: dict[str, int]) -> None:
    period = {"from": "2027-01-01", "to": "2027-06-30"}
    data = await api.data(CHURN, {"period": period}, role="finance")
    report = data["churn"]
    # In force on 2027-01-01: C1, C2, C8, C10, C11 (EUR) and C3 (USD). C11
    # expired on 2027-03-31; C2 and C10 end on 2027-06-30 but have not expired.
    assert report["startingCount"] == 6
    assert report["lostCount"] == 1
    # 1 / 6 = 0.16666... rounds half up to 0.1667.
    assert report["churnRate"] == "0.1667"
    eur = _currencies(report)["EUR"]
    assert eur["startingCount"] == 5
    # 100000 + 100000/3 + 500000 + 11000 + 60000/6 = 654333.33 cents.
    assert eur["startingMrr"] == "6543.33"
    assert eur["lostMrr"] == "100.00"
    # 10000 / (1963000/3) = 30000/1963000 = 0.0152827... -> 0.0153.
    assert eur["revenueChurnRate"] == "0.0153"
    usd = _currencies(report)["USD"]
    assert usd["lostCount"] == 0
    assert usd["revenueChurnRate"] == "0.0000"


async def test_churn_as_sales(api: Api, portfolio: dict[str, int]) -> None:
    period = {"from": "2027-01-01", "to": "2027-06-30"}
    data = await api.data(CHURN, {"period": period}, role="sales")
    report = data["churn"]
    # Without the confidential C8: 5 in force, 1 lost.
    assert report["startingCount"] == 5
    assert report["churnRate"] == "0.2000"
    for entry in report["currencies"]:
        assert entry["startingMrr"] is None
        assert entry["lostMrr"] is None
        assert entry["revenueChurnRate"] is None
