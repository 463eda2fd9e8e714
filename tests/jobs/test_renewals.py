"""The renewal scan: new terms with exact indexation, catch-up, notice and races.

Contracts are created and read through the API. The scan runs for one organization
with a given date, as the workers run it, so the suite's shared database is safe.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import httpx
import pytest_asyncio

from contractgql.config import Settings
from contractgql.ids import decode_id
from contractgql.jobs.renewals import RenewalReport, renew_and_expire
from contractgql.models import (
    AuditLog,
    AuditOutbox,
    ContractEvent,
    ContractEventKind,
    Reminder,
    ReminderKind,
    Task,
    TaskStatus,
)
from tests.conftest import Api, make_tenant
from tests.graphql.helpers import create_client, create_contract

TERMS = """
query Terms($id: ID!) {
  node(id: $id) {
    ... on Contract {
      startDate endDate noticeDeadline amount version status
      noticeDate noticeParty noticeEffectiveEnd
      events {
        kind termEnd newEndDate occurredOn oldAmount newAmount indexation
        createdBy { id }
      }
    }
  }
}
"""
RECORD_NOTICE = """
mutation RecordNotice($contractId: ID!, $party: NoticeParty!, $date: Date!) {
  recordNotice(contractId: $contractId, party: $party, date: $date) {
    contract { noticeDate noticeParty noticeEffectiveEnd }
    errors { field code message }
  }
}
"""
ARCHIVE = """
mutation Archive($id: ID!) { archiveContract(id: $id) { contract { id } } }
"""


@pytest_asyncio.fixture
async def other_api(client: httpx.AsyncClient, settings: Settings) -> Api:
    """The API as callers of a second organization."""
    return Api(client, await make_tenant(settings))


async def _contract(api: Api, fields: dict[str, Any]) -> str:
    client_id = await create_client(api, "Renewal Client")
    contract = await create_contract(
        api,
        client_id,
        {
            "autoRenewal": True,
            "paymentFrequency": "MONTHLY",
            "currency": "EUR",
            **fields,
        },
    )
    contract_id: str = contract["id"]
    return contract_id


async def _terms(api: Api, contract_id: str, role: str = "finance") -> dict[str, Any]:
    data = await api.data(TERMS, {"id": contract_id}, role=role)
    node: dict[str, Any] = data["node"]
    return node


async def _run(api: Api, today: date) -> RenewalReport:
    return await renew_and_expire(api.tenant.organization.id, today)


async def test_renewal_indexes_amount_half_up(api: Api) -> None:
    # 12,345.70 × 1.05 is 12,962.985: half up gives .99, half to even would give .98.
    contract_id = await _contract(
        api,
        {
            "startDate": "2025-01-01",
            "endDate": "2025-12-31",
            "noticePeriod": {"count": 3, "unit": "MONTHS"},
            "amount": "12345.70",
            "indexation": "5",
        },
    )

    report = await _run(api, date(2026, 1, 15))

    assert report == RenewalReport(contracts_renewed=1, terms_renewed=1)
    terms = await _terms(api, contract_id)
    assert terms["endDate"] == "2026-12-31"
    assert terms["noticeDeadline"] == "2026-09-30"
    assert terms["amount"] == "12962.99"
    assert terms["version"] == 2
    assert terms["events"] == [
        {
            "kind": "RENEWED",
            "termEnd": "2025-12-31",
            "newEndDate": "2026-12-31",
            "occurredOn": "2026-01-01",
            "oldAmount": "12345.70",
            "newAmount": "12962.99",
            "indexation": "5.00",
            "createdBy": None,
        }
    ]


async def test_renewal_without_indexation_keeps_amount(api: Api) -> None:
    contract_id = await _contract(
        api,
        {"startDate": "2025-01-01", "endDate": "2025-12-31", "amount": "99.99"},
    )

    await _run(api, date(2026, 1, 1))

    terms = await _terms(api, contract_id)
    assert terms["amount"] == "99.99"
    assert terms["events"][0]["oldAmount"] == "99.99"
    assert terms["events"][0]["newAmount"] == "99.99"
    assert terms["events"][0]["indexation"] is None


async def test_catch_up_renews_each_missed_term(api: Api) -> None:
    contract_id = await _contract(
        api,
        {
            "startDate": "2023-01-01",
            "endDate": "2023-12-31",
            "amount": "100.00",
            "indexation": "2",
        },
    )

    report = await _run(api, date(2026, 6, 1))

    assert report.terms_renewed == 3
    assert report.contracts_renewed == 1
    terms = await _terms(api, contract_id)
    assert terms["endDate"] == "2026-12-31"
    # Each renewal rounds once: 104.04 × 1.02 is 106.1208, stored as 106.12.
    assert terms["amount"] == "106.12"
    assert terms["version"] == 4
    history = [
        (e["termEnd"], e["newEndDate"], e["occurredOn"], e["oldAmount"], e["newAmount"])
        for e in terms["events"]
    ]
    assert history == [
        ("2023-12-31", "2024-12-31", "2024-01-01", "100.00", "102.00"),
        ("2024-12-31", "2025-12-31", "2025-01-01", "102.00", "104.04"),
        ("2025-12-31", "2026-12-31", "2026-01-01", "104.04", "106.12"),
    ]


async def test_catch_up_keeps_first_term_length(api: Api) -> None:
    # A 3-month first term keeps renewing for 3 months, not for the 6 months from
    # the start date to the end of the first renewal.
    contract_id = await _contract(
        api, {"startDate": "2025-01-01", "endDate": "2025-03-31"}
    )

    await _run(api, date(2025, 10, 15))

    terms = await _terms(api, contract_id)
    ends = [event["newEndDate"] for event in terms["events"]]
    assert ends == ["2025-06-30", "2025-09-30", "2025-12-31"]


async def test_renewal_term_and_month_ends(api: Api) -> None:
    contract_id = await _contract(
        api,
        {
            "startDate": "2025-01-01",
            "endDate": "2025-02-28",
            "renewalTerm": {"count": 1, "unit": "MONTHS"},
        },
    )

    await _run(api, date(2025, 5, 1))

    terms = await _terms(api, contract_id)
    ends = [event["newEndDate"] for event in terms["events"]]
    assert ends == ["2025-03-31", "2025-04-30", "2025-05-31"]


async def test_second_run_changes_nothing(api: Api) -> None:
    contract_id = await _contract(
        api, {"startDate": "2024-01-01", "endDate": "2024-12-31"}
    )
    await _run(api, date(2026, 3, 1))
    before = await _terms(api, contract_id)

    report = await _run(api, date(2026, 3, 1))

    assert report == RenewalReport()
    assert await _terms(api, contract_id) == before


async def test_non_renewing_contract_expires_once(api: Api) -> None:
    contract_id = await _contract(
        api,
        {"startDate": "2025-01-01", "endDate": "2025-12-31", "autoRenewal": False},
    )

    first = await _run(api, date(2026, 1, 2))
    second = await _run(api, date(2026, 2, 2))

    assert first == RenewalReport(expired=1)
    assert second == RenewalReport()
    terms = await _terms(api, contract_id)
    assert terms["endDate"] == "2025-12-31"
    assert terms["version"] == 1
    assert [(e["kind"], e["termEnd"], e["occurredOn"]) for e in terms["events"]] == [
        ("EXPIRED", "2025-12-31", "2026-01-01")
    ]
    entity = {"entity_type": "Contract", "entity_id": decode_id(contract_id)[1]}
    audited = [
        *await AuditLog.filter(**entity)
        .order_by("sequence")
        .values_list("action", "actor_id", "changes"),
        *await AuditOutbox.filter(**entity)
        .order_by("id")
        .values_list("action", "actor_id", "changes"),
    ]
    assert audited[-1:] == [
        (
            "contract.expire",
            None,
            [{"field": "status", "old": "ACTIVE", "new": "EXPIRED"}],
        )
    ]


async def test_contract_not_due_on_its_last_day(api: Api) -> None:
    contract_id = await _contract(
        api, {"startDate": "2025-01-01", "endDate": "2025-12-31"}
    )

    report = await _run(api, date(2025, 12, 31))

    assert report == RenewalReport()
    assert (await _terms(api, contract_id))["events"] == []


async def test_notice_before_deadline_expires_at_end(api: Api) -> None:
    contract_id = await _contract(
        api,
        {
            "startDate": "2025-01-01",
            "endDate": "2025-12-31",
            "noticePeriod": {"count": 3, "unit": "MONTHS"},
        },
    )
    notice = await api.data(
        RECORD_NOTICE,
        {"contractId": contract_id, "party": "CLIENT", "date": "2025-09-30"},
    )
    assert notice["recordNotice"]["errors"] == []
    assert notice["recordNotice"]["contract"]["noticeEffectiveEnd"] == "2025-12-31"

    report = await _run(api, date(2026, 1, 5))

    assert report == RenewalReport(expired=1)
    terms = await _terms(api, contract_id)
    assert terms["endDate"] == "2025-12-31"
    kinds = [(e["kind"], e["termEnd"], e["newEndDate"]) for e in terms["events"]]
    assert kinds == [
        ("NOTICE_RECEIVED", "2025-12-31", "2025-12-31"),
        ("EXPIRED", "2025-12-31", None),
    ]


async def test_late_notice_renews_once_then_expires(api: Api) -> None:
    contract_id = await _contract(
        api,
        {
            "startDate": "2025-01-01",
            "endDate": "2025-12-31",
            "noticePeriod": {"count": 3, "unit": "MONTHS"},
            "amount": "200.00",
            "indexation": "1.5",
        },
    )
    notice = await api.data(
        RECORD_NOTICE,
        {"contractId": contract_id, "party": "ORGANIZATION", "date": "2025-10-01"},
    )
    assert notice["recordNotice"]["contract"]["noticeEffectiveEnd"] == "2026-12-31"

    renewed = await _run(api, date(2026, 1, 5))
    expired = await _run(api, date(2027, 1, 3))

    assert renewed == RenewalReport(contracts_renewed=1, terms_renewed=1)
    assert expired == RenewalReport(expired=1)
    terms = await _terms(api, contract_id)
    assert terms["endDate"] == "2026-12-31"
    assert terms["amount"] == "203.00"
    assert terms["noticeEffectiveEnd"] == "2026-12-31"
    kinds = [(e["kind"], e["termEnd"]) for e in terms["events"]]
    assert kinds == [
        ("NOTICE_GIVEN", "2025-12-31"),
        ("RENEWED", "2025-12-31"),
        ("EXPIRED", "2026-12-31"),
    ]


async def test_late_notice_on_short_term_runs_full_period(api: Api) -> None:
    # With monthly terms and 3 months' notice, notice on 15 October reaches the
    # first month end whose deadline is on or after it: 31 January.
    contract_id = await _contract(
        api,
        {
            "startDate": "2025-01-01",
            "endDate": "2025-10-31",
            "noticePeriod": {"count": 3, "unit": "MONTHS"},
            "renewalTerm": {"count": 1, "unit": "MONTHS"},
        },
    )
    notice = await api.data(
        RECORD_NOTICE,
        {"contractId": contract_id, "party": "CLIENT", "date": "2025-10-15"},
    )
    assert notice["recordNotice"]["contract"]["noticeEffectiveEnd"] == "2026-01-31"

    await _run(api, date(2026, 3, 1))

    terms = await _terms(api, contract_id)
    assert terms["endDate"] == "2026-01-31"
    assert [e["kind"] for e in terms["events"]] == [
        "NOTICE_RECEIVED",
        "RENEWED",
        "RENEWED",
        "RENEWED",
        "EXPIRED",
    ]


async def test_concurrent_runs_renew_each_term_once(api: Api) -> None:
    renewing = await _contract(
        api,
        {
            "startDate": "2023-01-01",
            "endDate": "2023-12-31",
            "amount": "100.00",
            "indexation": "2",
        },
    )
    ending = await _contract(
        api,
        {"startDate": "2025-01-01", "endDate": "2025-06-30", "autoRenewal": False},
    )

    reports = await asyncio.gather(
        _run(api, date(2026, 6, 1)),
        _run(api, date(2026, 6, 1)),
        _run(api, date(2026, 6, 1)),
    )

    assert sum(report.terms_renewed for report in reports) == 3
    assert sum(report.expired for report in reports) == 1
    assert sum(report.failed for report in reports) == 0
    terms = await _terms(api, renewing)
    assert terms["endDate"] == "2026-12-31"
    assert terms["amount"] == "106.12"
    assert terms["version"] == 4
    assert [e["termEnd"] for e in terms["events"]] == [
        "2023-12-31",
        "2024-12-31",
        "2025-12-31",
    ]
    assert [e["kind"] for e in (await _terms(api, ending))["events"]] == ["EXPIRED"]


async def test_scan_skips_drafts_archived_and_open_ended(api: Api) -> None:
    draft = await _contract(
        api,
        {"startDate": "2024-01-01", "endDate": "2024-12-31", "stage": "DRAFT"},
    )
    archived = await _contract(
        api, {"startDate": "2024-01-01", "endDate": "2024-12-31"}
    )
    await api.data(ARCHIVE, {"id": archived})
    open_ended = await _contract(api, {"startDate": "2024-01-01"})

    report = await _run(api, date(2026, 1, 1))

    assert report == RenewalReport()
    for contract_id in (draft, archived, open_ended):
        terms = await _terms(api, contract_id)
        assert terms["events"] == []
        assert terms["version"] in (1, 2)


async def test_scan_stays_in_its_organization(api: Api, other_api: Api) -> None:
    contract_id = await _contract(
        other_api, {"startDate": "2024-01-01", "endDate": "2024-12-31"}
    )

    report = await _run(api, date(2026, 1, 1))

    assert report == RenewalReport()
    assert (await _terms(other_api, contract_id))["events"] == []


async def test_event_conflict_is_counted_as_failed(api: Api) -> None:
    # A term that renewed before and whose end date was set back by hand is not
    # renewed a second time.
    contract_id = await _contract(
        api, {"startDate": "2025-01-01", "endDate": "2025-12-31"}
    )
    await _run(api, date(2026, 1, 2))
    update = """
    mutation Update($id: ID!) {
      updateContract(id: $id, input: {endDate: "2025-12-31"}) { errors { code } }
    }
    """
    await api.data(update, {"id": contract_id})

    report = await _run(api, date(2026, 1, 3))

    assert report == RenewalReport(failed=1)
    renewals = ContractEvent.filter(
        contract_id=decode_id(contract_id)[1], kind=ContractEventKind.RENEWED
    )
    assert await renewals.count() == 1


NOTIFICATIONS = """
query { notifications(first: 20) { nodes { kind title body contract { id } } } }
"""


async def test_events_notify_owner_once(api: Api) -> None:
    renewing = await _contract(
        api,
        {
            "name": "Hosting",
            "startDate": "2025-01-01",
            "endDate": "2025-12-31",
            "amount": "12345.70",
            "indexation": "5",
        },
    )
    ending = await _contract(
        api,
        {
            "name": "Licence",
            "startDate": "2025-01-01",
            "endDate": "2025-12-31",
            "autoRenewal": False,
        },
    )

    await _run(api, date(2026, 1, 2))
    await _run(api, date(2026, 1, 3))
    data = await api.data(NOTIFICATIONS, role="admin")

    received = sorted(
        (n["contract"]["id"], n["kind"], n["title"], n["body"])
        for n in data["notifications"]["nodes"]
    )
    assert received == sorted(
        [
            (
                renewing,
                "contract_event",
                "Contract renewed: Hosting",
                "Contract 'Hosting' renewed for the term after 2025-12-31. The new "
                "term ends on 2026-12-31.",
            ),
            (
                ending,
                "contract_event",
                "Contract expired: Licence",
                "Contract 'Licence' ended on 2025-12-31 and was not renewed.",
            ),
        ]
    )
    assert "12345" not in str(received)
    assert "12962" not in str(received)


async def test_notice_in_time_recorded_after_renewal_undoes_it(api: Api) -> None:
    # Deadline 2025-11-30. The scan renews on 2026-01-02, before anyone records
    # the client's notice of 2025-11-15, which ended the contract on 2025-12-31.
    contract_id = await _contract(
        api,
        {
            "startDate": "2025-01-01",
            "endDate": "2025-12-31",
            "noticePeriod": {"count": 1, "unit": "MONTHS"},
            "amount": "1000.00",
            "indexation": "5",
        },
    )
    renewed = await _run(api, date(2026, 1, 2))
    variables = {"contractId": contract_id, "party": "CLIENT", "date": "2025-11-15"}

    data = await api.data(RECORD_NOTICE, variables)
    terms = await _terms(api, contract_id)
    expired = await _run(api, date(2026, 1, 3))

    assert renewed == RenewalReport(contracts_renewed=1, terms_renewed=1)
    assert data["recordNotice"]["errors"] == []
    assert data["recordNotice"]["contract"]["noticeEffectiveEnd"] == "2025-12-31"
    assert (terms["endDate"], terms["amount"], terms["noticeDeadline"]) == (
        "2025-12-31",
        "1000.00",
        "2025-11-30",
    )
    assert [(e["kind"], e["termEnd"], e["newEndDate"]) for e in terms["events"]] == [
        ("NOTICE_RECEIVED", "2025-12-31", "2025-12-31")
    ]
    assert expired == RenewalReport(expired=1)
    # The request's recorder may have moved the event into the log already.
    notice = {
        "action": "contract.notice",
        "entity_type": "Contract",
        "entity_id": decode_id(contract_id)[1],
    }
    audited = [
        *await AuditOutbox.filter(**notice).values_list("changes"),
        *await AuditLog.filter(**notice).values_list("changes"),
    ]
    assert len(audited) == 1
    changed = {change["field"]: change for change in audited[0][0]}
    assert (changed["endDate"]["old"], changed["endDate"]["new"]) == (
        "2026-12-31",
        "2025-12-31",
    )
    assert (changed["amount"]["old"], changed["amount"]["new"]) == (
        "1050.00",
        "1000.00",
    )


async def test_late_notice_recorded_after_renewal_keeps_it(api: Api) -> None:
    contract_id = await _contract(
        api,
        {
            "startDate": "2025-01-01",
            "endDate": "2025-12-31",
            "noticePeriod": {"count": 1, "unit": "MONTHS"},
        },
    )
    await _run(api, date(2026, 1, 2))
    # After the deadline of the first term: notice ends the renewed one.
    variables = {"contractId": contract_id, "party": "CLIENT", "date": "2025-12-10"}

    data = await api.data(RECORD_NOTICE, variables)
    terms = await _terms(api, contract_id)

    assert data["recordNotice"]["contract"]["noticeEffectiveEnd"] == "2026-12-31"
    assert terms["endDate"] == "2026-12-31"
    assert [e["kind"] for e in terms["events"]] == ["NOTICE_RECEIVED", "RENEWED"]


WITHDRAW_NOTICE = """
mutation Withdraw($contractId: ID!) {
  withdrawNotice(contractId: $contractId) { errors { field code message } }
}
"""


async def test_withdrawn_notice_lets_an_expired_term_renew(api: Api) -> None:
    contract_id = await _contract(
        api,
        {
            "startDate": "2025-01-01",
            "endDate": "2025-12-31",
            "noticePeriod": {"count": 1, "unit": "MONTHS"},
            "amount": "1000.00",
            "indexation": "3",
        },
    )
    pk = decode_id(contract_id)[1]
    await _run(api, date(2026, 1, 2))
    # Work of the renewed term, which the notice below undoes.
    reminder = await Reminder.create(
        organization_id=api.tenant.organization.id,
        contract_id=pk,
        kind=ReminderKind.NOTICE,
        anchor_date=date(2026, 11, 30),
        offset_count=1,
        offset_unit="months",
        due_date=date(2026, 10, 30),
    )
    task = await Task.create(
        organization_id=api.tenant.organization.id,
        contract_id=pk,
        reminder_id=reminder.id,
        step=0,
        title="Review renewal",
        due_date=date(2026, 11, 6),
    )
    notice = {"contractId": contract_id, "party": "CLIENT", "date": "2025-11-15"}
    await api.data(RECORD_NOTICE, notice)
    expired = await _run(api, date(2026, 1, 3))

    withdrawn = await api.data(WITHDRAW_NOTICE, {"contractId": contract_id})
    renewed = await _run(api, date(2026, 1, 4))

    assert (await Task.get(id=task.id)).status == TaskStatus.CANCELLED
    assert expired == RenewalReport(expired=1)
    assert withdrawn["withdrawNotice"]["errors"] == []
    assert renewed == RenewalReport(contracts_renewed=1, terms_renewed=1)
    terms = await _terms(api, contract_id)
    assert (terms["endDate"], terms["amount"]) == ("2026-12-31", "1030.00")
