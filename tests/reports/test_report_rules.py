"""Rules under the reports: SQL that must match Python, record rules and bad input."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contractgql.db import Statement
from contractgql.domain.money import PaymentFrequency, billing_periods
from contractgql.models import (
    Client,
    Contract,
    ContractWatcher,
    Project,
    ProjectMember,
    Sensitivity,
    Tag,
    User,
)
from contractgql.reports.revenue import risk_tag_ids
from contractgql.reports.sql import billing_periods_sql
from contractgql.security.policy import ROLES
from contractgql.security.records import (
    visible_contracts,
    visible_contracts_condition,
)
from contractgql.security.viewer import Viewer, viewer_for
from tests.conftest import Api

COUNT = """
query Count($date: Date) {
  portfolio(referenceDate: $date) {
    totals { contractCount currencies { currency mrr arr totalContractValue } }
  }
}
"""
AT_RISK = """
query AtRisk($period: ReportPeriodInput!) {
  revenueAtRisk(period: $period) { period { from to } }
}
"""
FORECAST = """
query Forecast($quarters: Int) {
  renewalForecast(quarters: $quarters) { quarters { label } }
}
"""
# Terms whose billing periods need care: month ends, a leap day, a one-day term,
# a term that ends the day before its start's day in a later month.
EDGE_TERMS = [
    (date(2027, 1, 31), date(2027, 2, 27)),
    (date(2027, 1, 31), date(2027, 2, 28)),
    (date(2028, 1, 31), date(2028, 2, 29)),
    (date(2027, 2, 15), date(2028, 2, 29)),
    (date(2027, 3, 1), date(2028, 2, 29)),
    (date(2027, 6, 30), date(2027, 6, 30)),
    (date(2027, 5, 31), date(2027, 5, 31)),
    (date(2027, 1, 15), date(2027, 2, 14)),
    (date(2027, 1, 15), date(2027, 2, 15)),
    (date(2025, 7, 1), date(2027, 6, 30)),
    (date(2026, 8, 31), date(2027, 2, 28)),
]


def _random_terms(count: int) -> list[tuple[date, date]]:
    rng = random.Random(20_270_229)
    terms = []
    for _ in range(count):
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 4 * 366))
        terms.append((start, start + timedelta(days=rng.randrange(0, 5 * 366))))
    return terms


async def test_billing_periods_sql_matches_python(api: Api) -> None:
    terms = EDGE_TERMS + _random_terms(150)
    frequencies = [f for f in PaymentFrequency if f.months is not None]
    db = Contract._meta.db
    expected = []
    for frequency in frequencies:
        statement = Statement(db)
        cast = "CAST({} AS date)" if statement.postgres else "{}"
        rows = []
        for start, end in terms:
            values = (
                statement.parameter(frequency.value),
                cast.format(statement.parameter(start)),
                cast.format(statement.parameter(end)),
            )
            rows.append(
                f"SELECT {values[0]} AS payment_frequency, {values[1]} AS start_date, "
                f"{values[2]} AS end_date"
            )
        periods = billing_periods_sql(statement, "c.start_date", "c.end_date")
        sql = f"SELECT {periods} AS periods FROM ({' UNION ALL '.join(rows)}) c"
        found = [
            row["periods"]
            for row in await db.execute_query_dict(sql, statement.parameters)
        ]
        expected = [billing_periods(frequency, start, end) for start, end in terms]
        assert found == expected, frequency


async def test_visibility_condition_matches_orm(api: Api, app: Any) -> None:
    """Every role sees the same contracts through the SQL condition and the ORM."""
    tenant = api.tenant
    organization = tenant.organization
    acme = await Client.create(organization=organization, name="Acme")
    globex = await Client.create(organization=organization, name="Globex")
    project = await Project.create(organization=organization, client=acme, name="P")
    await ProjectMember.create(
        project=project, user_id=tenant.user_ids["project_staff"]
    )
    common = {
        "organization": organization,
        "currency": "EUR",
        "start_date": date(2027, 1, 1),
    }
    await Contract.create(client=acme, name="normal acme", **common)
    await Contract.create(client=globex, name="normal globex", **common)
    await Contract.create(
        client=acme, name="confidential", sensitivity=Sensitivity.CONFIDENTIAL, **common
    )
    owned = await Contract.create(
        client=globex,
        name="owned",
        sensitivity=Sensitivity.CONFIDENTIAL,
        owner_id=tenant.user_ids["sales"],
        **common,
    )
    watched = await Contract.create(
        client=globex, name="watched", sensitivity=Sensitivity.CONFIDENTIAL, **common
    )
    await ContractWatcher.create(
        contract=watched, user_id=tenant.user_ids["project_staff"]
    )
    assert owned.id

    seen = {}
    for role in ROLES:
        viewer = await _viewer(api, app, role)
        statement = Statement(Contract._meta.db)
        organization_param = statement.parameter(organization.id)
        condition = visible_contracts_condition(viewer, statement, "c")
        rows = await Contract._meta.db.execute_query_dict(
            f"SELECT c.name FROM contracts c WHERE c.organization_id = "
            f"{organization_param} AND {condition}",
            statement.parameters,
        )
        through_sql = sorted(row["name"] for row in rows)
        through_orm = sorted(
            await visible_contracts(viewer).values_list("name", flat=True)
        )
        assert through_sql == through_orm, role
        seen[role] = through_sql
    assert seen["finance"] == [
        "confidential",
        "normal acme",
        "normal globex",
        "owned",
        "watched",
    ]
    assert seen["sales"] == ["normal acme", "normal globex", "owned"]
    assert seen["project_staff"] == ["normal acme", "watched"]


async def _viewer(api: Api, app: Any, role: str) -> Viewer:
    user = await User.get(id=api.tenant.user_ids[role]).prefetch_related("organization")
    return viewer_for(user, app.state.services.policy)


@pytest.mark.parametrize("role", ["project_staff", "integrator"])
async def test_portfolio_counts_for_limited_roles(api: Api, role: str) -> None:
    tenant = api.tenant
    organization = tenant.organization
    acme = await Client.create(organization=organization, name="Acme")
    globex = await Client.create(organization=organization, name="Globex")
    project = await Project.create(organization=organization, client=acme, name="P")
    await ProjectMember.create(
        project=project, user_id=tenant.user_ids["project_staff"]
    )
    for client in (acme, globex):
        await Contract.create(
            organization=organization,
            client=client,
            name=f"{client.name} hosting",
            currency="EUR",
            payment_frequency=PaymentFrequency.MONTHLY,
            amount_minor=12_345,
            start_date=date(2027, 1, 1),
        )
    data = await api.data(COUNT, {"date": "2027-06-01"}, role=role)
    totals = data["portfolio"]["totals"]
    # Project staff see the contracts of their project's client only.
    assert totals["contractCount"] == (1 if role == "project_staff" else 2)
    assert totals["currencies"] == [
        {
            "currency": "EUR",
            "mrr": None,
            "arr": None,
            "totalContractValue": None,
        }
    ]


async def test_period_end_before_start(api: Api) -> None:
    period = {"from": "2027-03-01", "to": "2027-01-31"}
    error = await api.error(AT_RISK, {"period": period}, role="finance")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "The period ends on 2027-01-31, before it starts on 2027-03-01: swap 'from' "
        "and 'to', or pick a later end date."
    )


async def test_period_preset_with_dates(api: Api) -> None:
    period = {"preset": "NEXT_QUARTER", "from": "2027-03-01"}
    error = await api.error(AT_RISK, {"period": period}, role="finance")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "NEXT_QUARTER" in error["message"]


async def test_period_unknown_preset(api: Api) -> None:
    period = {"preset": "NEXT_YEAR"}
    error = await api.error(AT_RISK, {"period": period}, role="finance")
    assert "NEXT_YEAR" in error["message"]
    assert "ReportPeriodPreset" in error["message"]


async def test_period_preset_resolves_today(api: Api) -> None:
    data = await api.data(AT_RISK, {"period": {"preset": "NEXT_30_DAYS"}}, role="sales")
    period = data["revenueAtRisk"]["period"]
    start = date.fromisoformat(period["from"])
    assert date.fromisoformat(period["to"]) - start == timedelta(days=29)


async def test_forecast_quarters_out_of_range(api: Api) -> None:
    error = await api.error(FORECAST, {"quarters": 13}, role="finance")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not 13" in error["message"]


async def test_reports_need_login(api: Api) -> None:
    error = await api.error(COUNT, {}, role=None)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_risk_tags_match_names(api: Api) -> None:
    organization = api.tenant.organization
    risk = await Tag.create(organization=organization, name="Cancellation RISK")
    await Tag.create(organization=organization, name="Strategic")
    await Tag.create(
        organization=organization,
        name="churn risk",
        archived_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    found = await risk_tag_ids(organization.id, ["cancellation risk", "Churn Risk"])
    # Case does not matter, and the archived tag does not count.
    assert found == [risk.id]
    assert await risk_tag_ids(organization.id, []) == []


@pytest.mark.parametrize("role", ["finance", "sales"])
async def test_portfolio_amount_beyond_64_bits(api: Api, role: str) -> None:
    organization = api.tenant.organization
    client = await Client.create(organization=organization, name="Huge")
    await Contract.create(
        organization=organization,
        client=client,
        name="Mistyped amount",
        currency="EUR",
        payment_frequency=PaymentFrequency.MONTHLY,
        amount_minor=9_223_372_036_854_775_807,
        start_date=date(2027, 1, 1),
        end_date=date(2027, 12, 31),
    )
    error = await api.error(COUNT, {"date": "2027-06-01"}, role=role)
    assert error["extensions"]["code"] == "OUT_OF_RANGE"
    assert error["message"].startswith(
        "A sum in this report passes the 64-bit integer range of the database"
    )


@pytest.mark.parametrize("role", ["finance", "sales"])
async def test_portfolio_sum_beyond_64_bits(api: Api, role: str) -> None:
    organization = api.tenant.organization
    client = await Client.create(organization=organization, name="Huge")
    for name in ("First half", "Second half"):
        # Each ARR is 2**62 cents and fits, but their sum is 2**63.
        await Contract.create(
            organization=organization,
            client=client,
            name=name,
            currency="EUR",
            payment_frequency=PaymentFrequency.YEARLY,
            amount_minor=2**62,
            start_date=date(2027, 1, 1),
            end_date=date(2027, 12, 31),
        )
    error = await api.error(COUNT, {"date": "2027-06-01"}, role=role)
    assert error["extensions"]["code"] == "OUT_OF_RANGE"
    assert error["message"].startswith(
        "A sum in this report passes the 64-bit integer range of the database"
    )
