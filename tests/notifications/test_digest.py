"""Daily e-mail digests, sent to a real SMTP server (aiosmtpd) on 127.0.0.1.

Every run sends the digests of all users in the test database, so each test looks
only at the messages to its own tenant's addresses.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contractgql.config import Settings
from contractgql.ids import encode_id
from contractgql.models import Notification, Reminder, Task, User
from contractgql.notifications import send_daily_digests
from tests.conftest import Tenant
from tests.notifications.conftest import (
    AMOUNT,
    SMTP_LOGIN,
    MailSink,
    free_port,
    make_contract,
    make_notification,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# 08:30 in Amsterdam, after the default digest hour of 7.
MORNING = datetime(2030, 3, 11, 8, 30, tzinfo=AMSTERDAM)
SENDER = "Contracts <contracts@example.com>"
CONTRACT_URL = "https://crm.example.com/contracts/{id}"


def mail_settings(settings: Settings, port: int, **changes: object) -> Settings:
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_from": SENDER,
        "contract_url": CONTRACT_URL,
    }
    return dataclasses.replace(settings, **{**values, **changes})  # type: ignore[arg-type]


async def _emailed_at(*notifications: Notification) -> list[datetime | None]:
    rows = await Notification.filter(id__in=[n.id for n in notifications]).order_by(
        "id"
    )
    return [row.emailed_at for row in rows]


async def test_digest_message_exact(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    lease = await make_contract(tenant, "Office lease", number="L-1")
    reminder = await Reminder.create(
        organization_id=tenant.organization.id,
        contract_id=lease.id,
        kind="notice",
        anchor_date=date(2027, 3, 31),
        offset_count=3,
        offset_unit="months",
        due_date=date(2026, 12, 31),
    )
    await Task.create(
        organization_id=tenant.organization.id,
        contract_id=lease.id,
        reminder_id=reminder.id,
        step=0,
        title="Ask for a renewal quote",
        assignee_id=tenant.user_ids["sales"],
        due_date=date(2027, 1, 15),
    )
    first = await make_notification(
        tenant,
        "sales",
        "Notice deadline in 3 months",
        contract=lease,
        source=f"reminder:{reminder.id}",
        body="Decide whether to renew.\nGive notice by 2027-03-31.",
    )
    second = await make_notification(tenant, "sales", "Welcome", body="Hello there.")

    run = await send_daily_digests(MORNING, mail_settings(settings, port))

    mails = sink.to(tenant.emails["sales"])
    assert len(mails) == 1
    mail = mails[0]
    assert tenant.user_ids["sales"] in run.sent
    assert mail.mail_from == "contracts@example.com"
    assert mail.recipients == [tenant.emails["sales"]]
    assert mail.message["From"] == SENDER
    assert mail.message["To"] == f"Sales <{tenant.emails['sales']}>"
    assert mail.message["Subject"] == "2 new contract notifications, 2030-03-11"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message.get_content_type() == "text/plain"
    link = CONTRACT_URL.replace("{id}", encode_id("Contract", lease.id))
    assert mail.message.get_content() == (
        "Hello Sales,\n"
        "\n"
        f"You have 2 new notifications in {tenant.organization.name}:\n"
        "\n"
        "1. Notice deadline in 3 months\n"
        "   Decide whether to renew.\n"
        "   Give notice by 2027-03-31.\n"
        "   Contract: Office lease (L-1)\n"
        "   Client: Acme Ltd\n"
        "   Notice deadline: 2027-03-31\n"
        "   End date: 2027-06-30\n"
        "   Task: Ask for a renewal quote, due 2027-01-15\n"
        f"   Link: {link}\n"
        "\n"
        "2. Welcome\n"
        "   Hello there.\n"
        "\n"
        "You get this e-mail at most once a day, when you have new notifications.\n"
    )
    assert await _emailed_at(first, second) == [MORNING, MORNING]


async def test_one_digest_per_local_day(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    configured = mail_settings(settings, port)
    first = await make_notification(tenant, "sales", "First")
    await send_daily_digests(MORNING, configured)
    later = await make_notification(tenant, "sales", "Later the same day")

    # 23:59 the same day in Amsterdam: no second digest.
    same_day = await send_daily_digests(
        datetime(2030, 3, 11, 23, 59, tzinfo=AMSTERDAM), configured
    )
    # 07:00 the next day: the later notification only.
    next_day = await send_daily_digests(
        datetime(2030, 3, 12, 7, 0, tzinfo=AMSTERDAM), configured
    )

    mails = sink.to(tenant.emails["sales"])
    assert [mail.message["Subject"] for mail in mails] == [
        "1 new contract notification, 2030-03-11",
        "1 new contract notification, 2030-03-12",
    ]
    assert "Later the same day" in mails[1].message.get_content()
    assert "First" not in mails[1].message.get_content()
    assert tenant.user_ids["sales"] not in same_day.sent
    assert tenant.user_ids["sales"] in next_day.sent
    assert await _emailed_at(first, later) == [
        MORNING,
        datetime(2030, 3, 12, 7, 0, tzinfo=AMSTERDAM),
    ]


async def test_local_day_follows_timezone(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    configured = mail_settings(settings, port)
    tenant.organization.timezone = "Australia/Sydney"
    await tenant.organization.save()
    await make_notification(tenant, "sales", "First")
    # 22:00 UTC on 10 March is 09:00 on 11 March in Sydney.
    await send_daily_digests(datetime(2030, 3, 10, 22, 0, tzinfo=UTC), configured)
    await make_notification(tenant, "sales", "Second")

    # 12:00 UTC on 11 March is 23:00 on 11 March in Sydney: the same local day.
    same_day = await send_daily_digests(
        datetime(2030, 3, 11, 12, 0, tzinfo=UTC), configured
    )
    # 14:00 UTC on 11 March is 01:00 on 12 March, before the digest hour.
    too_early = await send_daily_digests(
        datetime(2030, 3, 11, 14, 0, tzinfo=UTC), configured
    )
    # 21:00 UTC on 11 March is 08:00 on 12 March in Sydney.
    next_day = await send_daily_digests(
        datetime(2030, 3, 11, 21, 0, tzinfo=UTC), configured
    )

    user_id = tenant.user_ids["sales"]
    assert user_id not in same_day.sent
    assert user_id not in too_early.sent
    assert user_id in next_day.sent
    assert [mail.message["Subject"] for mail in sink.to(tenant.emails["sales"])] == [
        "1 new contract notification, 2030-03-11",
        "1 new contract notification, 2030-03-12",
    ]


async def test_before_digest_hour_nothing_sent(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    notification = await make_notification(tenant, "sales", "Early")

    run = await send_daily_digests(
        datetime(2030, 3, 11, 6, 59, tzinfo=AMSTERDAM), mail_settings(settings, port)
    )

    assert tenant.user_ids["sales"] not in run.sent
    assert sink.to(tenant.emails["sales"]) == []
    assert await _emailed_at(notification) == [None]


async def test_concurrent_runs_send_once(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    configured = mail_settings(settings, port)
    roles = ["admin", "finance", "sales"]
    for role in roles:
        for index in range(3):
            await make_notification(tenant, role, f"{role} {index}")

    runs = await asyncio.gather(
        *(send_daily_digests(MORNING, configured) for _ in range(4))
    )

    for role in roles:
        mails = sink.to(tenant.emails[role])
        assert len(mails) == 1, role
        assert mails[0].message["Subject"] == "3 new contract notifications, 2030-03-11"
        senders = [run for run in runs if tenant.user_ids[role] in run.sent]
        assert len(senders) == 1, role


async def test_inactive_and_service_accounts_skipped(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    await User.filter(id=tenant.user_ids["sales"]).update(is_active=False)
    await User.filter(id=tenant.user_ids["integrator"]).update(is_service_account=True)
    inactive = await make_notification(tenant, "sales", "To a deactivated user")
    service = await make_notification(tenant, "integrator", "To a service account")

    await send_daily_digests(MORNING, mail_settings(settings, port))

    assert sink.to(tenant.emails["sales"]) == []
    assert sink.to(tenant.emails["integrator"]) == []
    assert await _emailed_at(inactive, service) == [None, None]


async def test_email_off_without_host(settings: Settings, tenant: Tenant) -> None:
    notification = await make_notification(tenant, "sales", "No e-mail")

    run = await send_daily_digests(MORNING, settings)

    assert settings.smtp_host is None
    assert run.sent == []
    assert await _emailed_at(notification) == [None]


async def test_unreachable_server_releases_rows(
    settings: Settings, tenant: Tenant
) -> None:
    # Nothing listens on a port that was free a moment ago.
    notification = await make_notification(tenant, "sales", "Server is down")

    run = await send_daily_digests(MORNING, mail_settings(settings, free_port()))

    assert tenant.user_ids["sales"] in run.failed
    assert await _emailed_at(notification) == [None]


async def test_rejected_recipient_released_others_sent(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    sink.rejected.add(tenant.emails["sales"])
    rejected = await make_notification(tenant, "sales", "Bounces")
    accepted = await make_notification(tenant, "finance", "Arrives")

    run = await send_daily_digests(MORNING, mail_settings(settings, port))

    assert tenant.user_ids["sales"] in run.failed
    assert tenant.user_ids["finance"] in run.sent
    assert await _emailed_at(rejected, accepted) == [None, MORNING]
    assert len(sink.to(tenant.emails["finance"])) == 1


async def test_hidden_contract_left_out(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    secret = await make_contract(tenant, "Secret merger", confidential=True)
    await make_notification(tenant, "sales", "About something", contract=secret)

    await send_daily_digests(MORNING, mail_settings(settings, port))

    body = sink.to(tenant.emails["sales"])[0].message.get_content()
    assert "About something" in body
    assert "Secret merger" not in body
    assert "Link:" not in body


@pytest.mark.parametrize(
    "role",
    ["admin", "management", "finance", "account_manager", "sales", "project_staff"],
)
async def test_digest_has_no_financial_values(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int], role: str
) -> None:
    sink, port = smtp_server
    contract = await make_contract(tenant, "Hosting", owner_role=role)
    await make_notification(tenant, role, "Hosting ends", contract=contract)

    await send_daily_digests(MORNING, mail_settings(settings, port))

    mails = sink.to(tenant.emails[role])
    assert len(mails) == 1
    message = mails[0].message
    # The Message-ID header holds random digits that may contain the amount's.
    del message["Message-ID"]
    text = message.as_string()
    assert "Contract: Hosting" in message.get_content()
    assert AMOUNT not in text
    assert "98765" not in text
    assert "2.5%" not in text


async def test_starttls_with_login(
    settings: Settings,
    tenant: Tenant,
    starttls_server: tuple[MailSink, int, Path],
) -> None:
    sink, port, cert = starttls_server
    configured = mail_settings(
        settings,
        port,
        smtp_tls="starttls",
        smtp_username=SMTP_LOGIN[0],
        smtp_password=SMTP_LOGIN[1],
        smtp_ca_file=str(cert),
    )
    await make_notification(tenant, "sales", "Over TLS")

    run = await send_daily_digests(MORNING, configured)

    mails = sink.to(tenant.emails["sales"])
    assert tenant.user_ids["sales"] in run.sent
    assert len(mails) == 1
    assert mails[0].tls is True
    assert mails[0].login == SMTP_LOGIN[0]
    assert mails[0].message["Subject"] == "1 new contract notification, 2030-03-11"


async def test_starttls_untrusted_certificate_fails(
    settings: Settings,
    tenant: Tenant,
    starttls_server: tuple[MailSink, int, Path],
) -> None:
    sink, port, _ = starttls_server
    # Without the test certificate as the trusted authority, verification fails.
    configured = mail_settings(settings, port, smtp_tls="starttls")
    notification = await make_notification(tenant, "sales", "Not over TLS")

    run = await send_daily_digests(MORNING, configured)

    assert tenant.user_ids["sales"] in run.failed
    assert sink.to(tenant.emails["sales"]) == []
    assert await _emailed_at(notification) == [None]


async def test_starttls_required_but_not_offered(
    settings: Settings, tenant: Tenant, smtp_server: tuple[MailSink, int]
) -> None:
    sink, port = smtp_server
    notification = await make_notification(tenant, "sales", "Needs TLS")

    run = await send_daily_digests(
        MORNING, mail_settings(settings, port, smtp_tls="starttls")
    )

    assert tenant.user_ids["sales"] in run.failed
    assert sink.to(tenant.emails["sales"]) == []
    assert await _emailed_at(notification) == [None]
