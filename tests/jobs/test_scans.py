"""Reminder scans on the real database: exact rows, idempotence, dates and races.

Each test builds its own organization. A contract ending 2027-06-30 with one month's
notice has its notice deadline on 2027-05-31, so the default offsets of 3 months and
1 month make reminders due on 2027-02-28 and 2027-04-30.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from typing import Any

import pytest
from tortoise.expressions import F

from contractgql.config import Settings
from contractgql.jobs import scans
from contractgql.jobs.scans import (
    ScanError,
    scan_all,
    scan_organization,
    settle_contracts,
)
from contractgql.models import (
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractStage,
    ContractWatcher,
    Notification,
    Reminder,
    ReminderStatus,
    Sensitivity,
    Task,
)
from contractgql.services.records import _unsettle_contracts_of_type
from tests.conftest import BACKEND, QueryCounter
from tests.jobs.factory import (
    AMOUNT_TEXTS,
    World,
    add_user,
    make_contract,
    make_contracts,
    make_type,
    make_world,
    notification_rows,
    reminder_rows,
    snapshot,
    task_rows,
)

DEADLINE = date(2027, 5, 31)
THREE_MONTHS_DUE = date(2027, 2, 28)
ONE_MONTH_DUE = date(2027, 4, 30)
WORKFLOW = [
    {"title": "Contact the client", "assignee": "owner", "days_after": 0},
    {"title": "Send the renewal quote", "assignee": "sales", "days_after": 14},
]
NOTICE: dict[str, Any] = {"notice_count": 1, "notice_unit": "months"}


@pytest.fixture
async def world(scratch: Settings) -> World:
    return await make_world()


async def test_scan_creates_reminder_task_notifications(world: World) -> None:
    contract_type = await make_type(world, workflow=WORKFLOW)
    contract = await make_contract(
        world, number="C-7", contract_type_id=contract_type.id, **NOTICE
    )

    report = await scan_organization(world.organization.id, THREE_MONTHS_DUE)

    reminder = await Reminder.get(contract_id=contract.id)
    task = await Task.get(contract_id=contract.id)
    org = world.organization.id
    assert await reminder_rows(org) == [
        (
            contract.id,
            "notice",
            DEADLINE,
            3,
            "months",
            THREE_MONTHS_DUE,
            False,
            "pending",
        )
    ]
    assert await task_rows(org) == [
        (
            contract.id,
            THREE_MONTHS_DUE,
            0,
            "Contact the client",
            world.owner.id,
            THREE_MONTHS_DUE,
            "open",
        )
    ]
    reminder_title = "Notice deadline 2027-05-31: C-7 Hosting"
    reminder_body = (
        "The last day to give notice on contract C-7 Hosting with Acme Hosting B.V. "
        "is 2027-05-31."
    )
    task_body = (
        "Contact the client, for contract C-7 Hosting with Acme Hosting B.V., is due "
        "on 2027-02-28."
    )
    assert await notification_rows(org) == sorted(
        [
            (
                world.owner.id,
                contract.id,
                "reminder",
                f"reminder:{reminder.id}",
                reminder_title,
                reminder_body,
            ),
            (
                world.watcher.id,
                contract.id,
                "reminder",
                f"reminder:{reminder.id}",
                reminder_title,
                reminder_body,
            ),
            (
                world.owner.id,
                contract.id,
                "task",
                f"task:{task.id}",
                "New task: Contact the client",
                task_body,
            ),
        ]
    )
    assert report.reminders_created == 1
    assert report.late == 0
    assert report.tasks_created == 1
    assert report.notifications_created == 3
    assert report.cancelled == 0


async def test_notifications_omit_amounts(world: World) -> None:
    contract_type = await make_type(world, workflow=WORKFLOW)
    await make_contract(
        world,
        number="C-8",
        contract_type_id=contract_type.id,
        indexation_bp=350,
        vat_rate_bp=2100,
        renewal_price_agreement="Price plus 3.5% each year",
        **NOTICE,
    )

    await scan_organization(world.organization.id, ONE_MONTH_DUE)

    notifications = await Notification.filter(
        organization_id=world.organization.id
    ).values_list("title", "body")
    # Owner and watcher of each reminder, and the owner of the one task.
    assert len(notifications) == 5
    for title, body in notifications:
        for forbidden in (*AMOUNT_TEXTS, "3.5", "21%", "2100", "Price plus", "EUR"):
            assert forbidden not in title
            assert forbidden not in body


async def test_second_scan_changes_nothing(world: World) -> None:
    contract_type = await make_type(world, workflow=WORKFLOW)
    for number in range(3):
        await make_contract(
            world, number=f"C-{number}", contract_type_id=contract_type.id, **NOTICE
        )
    await scan_organization(world.organization.id, ONE_MONTH_DUE)
    first = await snapshot(world.organization.id)

    report = await scan_organization(world.organization.id, ONE_MONTH_DUE)

    assert await snapshot(world.organization.id) == first
    assert len(first["reminders"]) == 6
    # One workflow per contract's term, however many of its reminders are due.
    assert len(first["tasks"]) == 3
    assert len(first["notifications"]) == 15
    assert report.reminders_created == 0
    assert report.tasks_created == 0
    assert report.notifications_created == 0
    assert report.cancelled == 0


async def test_catch_up_after_ten_skipped_days(world: World) -> None:
    # Offsets of 20, 15, 10 and 5 days before a notice deadline of 2027-05-31 are due
    # on 05-11, 05-16, 05-21 and 05-26. Scans run on 05-10 and then on 05-20 only.
    offsets = [{"count": days, "unit": "days"} for days in (20, 15, 10, 5)]
    contract = await make_contract(world, reminder_offsets=offsets, **NOTICE)
    org = world.organization.id

    await scan_organization(org, date(2027, 5, 10))
    assert await reminder_rows(org) == []

    report = await scan_organization(org, date(2027, 5, 20))

    assert await reminder_rows(org) == [
        (
            contract.id,
            "notice",
            DEADLINE,
            15,
            "days",
            date(2027, 5, 16),
            True,
            "pending",
        ),
        (
            contract.id,
            "notice",
            DEADLINE,
            20,
            "days",
            date(2027, 5, 11),
            True,
            "pending",
        ),
    ]
    assert report.reminders_created == 2
    assert report.late == 2

    await scan_organization(org, date(2027, 5, 21))

    rows = await reminder_rows(org)
    assert len(rows) == 3
    assert (
        contract.id,
        "notice",
        DEADLINE,
        10,
        "days",
        date(2027, 5, 21),
        False,
        "pending",
    ) in rows


async def test_passed_anchor_creates_nothing(world: World) -> None:
    # The deadline 2027-05-31 has passed by 06-05, so its reminders are never created,
    # even though no scan ran while they were due.
    await make_contract(world, **NOTICE)

    report = await scan_organization(world.organization.id, date(2027, 6, 5))

    assert await reminder_rows(world.organization.id) == []
    assert report.reminders_created == 0


async def test_missed_notice_alert_once(world: World) -> None:
    contract = await make_contract(world, auto_renewal=True, **NOTICE)
    org = world.organization.id

    await scan_organization(org, date(2027, 6, 3))
    await scan_organization(org, date(2027, 6, 20))

    assert await reminder_rows(org) == [
        (
            contract.id,
            "missed_notice",
            DEADLINE,
            0,
            "days",
            date(2027, 6, 1),
            True,
            "pending",
        )
    ]
    bodies = await Notification.filter(organization_id=org).values_list(
        "body", flat=True
    )
    assert len(bodies) == 2
    assert "renews automatically after 2027-06-30" in bodies[0]


DEADLINE_2028 = date(2028, 5, 31)


async def _edit(contract_id: int, **changes: Any) -> None:
    """Change a contract as the services do, which increment its version."""
    await Contract.filter(id=contract_id).update(version=F("version") + 1, **changes)


async def test_settled_contract_waits_for_its_next_scan_date(world: World) -> None:
    contract = await make_contract(world, **NOTICE)
    org = world.organization.id

    first = await scan_organization(org, THREE_MONTHS_DUE)
    settled = await Contract.get(id=contract.id)
    between = await scan_organization(org, date(2027, 3, 15))
    # The scans of 30 April to 2 May were missed: the next one catches up.
    caught_up = await scan_organization(org, date(2027, 5, 3))
    done = await Contract.get(id=contract.id)

    assert (first.contracts, first.reminders_created) == (1, 1)
    assert (settled.scanned_version, settled.next_scan_on) == (1, ONE_MONTH_DUE)
    assert (between.contracts, between.reminders_created) == (0, 0)
    assert (caught_up.contracts, caught_up.reminders_created, caught_up.late) == (
        1,
        1,
        1,
    )
    # Without auto-renewal no alert follows the deadline, so nothing is left due.
    assert done.next_scan_on is None
    assert sorted(row[5] for row in await reminder_rows(org)) == [
        THREE_MONTHS_DUE,
        ONE_MONTH_DUE,
    ]


async def test_full_scan_plans_settled_contracts(world: World) -> None:
    contract = await make_contract(world, **NOTICE)
    org = world.organization.id
    await scan_organization(org, THREE_MONTHS_DUE)
    # A change made in the database by hand keeps the version, so only a full scan
    # sees it.
    await Contract.filter(id=contract.id).update(notice_date=date(2027, 3, 1))

    skipped = await scan_organization(org, date(2027, 3, 2))
    full = await scan_organization(org, date(2027, 3, 2), full=True)

    assert (skipped.contracts, skipped.cancelled) == (0, 0)
    assert (full.contracts, full.cancelled) == (1, 1)
    assert (await Contract.get(id=contract.id)).next_scan_on is None


async def test_one_workflow_per_term(world: World) -> None:
    contract_type = await make_type(world, workflow=WORKFLOW)
    contract = await make_contract(world, contract_type_id=contract_type.id, **NOTICE)
    org = world.organization.id

    first = await scan_organization(org, THREE_MONTHS_DUE)
    second = await scan_organization(org, ONE_MONTH_DUE)

    assert (first.reminders_created, first.tasks_created) == (1, 1)
    # The 1-month reminder of the same deadline notifies owner and watcher only.
    assert (second.reminders_created, second.tasks_created) == (1, 0)
    assert second.notifications_created == 2
    assert await Task.filter(contract_id=contract.id).values_list(
        "reminder__offset_count", "status"
    ) == [(3, "open")]


async def test_changed_offsets_keep_the_reminders_of_the_same_deadline(
    world: World,
) -> None:
    contract_type = await make_type(world, workflow=WORKFLOW)
    contract = await make_contract(world, contract_type_id=contract_type.id, **NOTICE)
    org = world.organization.id
    await scan_organization(org, ONE_MONTH_DUE)

    await _edit(contract.id, reminder_offsets=[{"count": 2, "unit": "months"}])
    report = await scan_organization(org, date(2027, 5, 1))

    assert (report.cancelled, report.reminders_created, report.tasks_created) == (
        0,
        1,
        0,
    )
    assert sorted(
        await Reminder.filter(contract_id=contract.id).values_list(
            "offset_count", "status", "late"
        )
    ) == [(1, "pending", False), (2, "pending", True), (3, "pending", True)]
    assert await Task.filter(contract_id=contract.id).values_list("status") == [
        ("open",)
    ]


async def test_long_term_rule_counts_the_current_term(world: World) -> None:
    # Six-month terms since 2024: the current term runs from 2027-01-01 to
    # 2027-06-30, too short for a 6-month reminder, which would be due before it.
    contract = await make_contract(
        world,
        start_date=date(2024, 1, 1),
        end_date=date(2027, 6, 30),
        renewal_term_count=6,
        renewal_term_unit="months",
        auto_renewal=True,
    )
    await ContractEvent.create(
        organization_id=world.organization.id,
        contract_id=contract.id,
        kind=ContractEventKind.RENEWED,
        term_end=date(2024, 6, 30),
        new_end_date=date(2024, 12, 31),
        occurred_on=date(2024, 7, 1),
    )

    report = await scan_organization(world.organization.id, date(2027, 1, 4))

    assert report.reminders_created == 0
    settled = await Contract.get(id=contract.id)
    assert settled.next_scan_on == date(2027, 3, 30)


async def test_offsets_changed_during_a_scan_are_not_settled(world: World) -> None:
    contract_type = await make_type(world)
    contract = await make_contract(world, contract_type_id=contract_type.id, **NOTICE)
    org = world.organization.id
    await scan_organization(org, THREE_MONTHS_DUE)
    read = await Contract.get(id=contract.id)

    # The type's offsets change after a scan read the contract and before it
    # records what it planned with the old offsets.
    await _unsettle_contracts_of_type(contract_type.id)
    await settle_contracts(
        [(read.id, read.version, ONE_MONTH_DUE, read.scanned_version)]
    )
    after_first = await Contract.get(id=contract.id)
    await _unsettle_contracts_of_type(contract_type.id)
    after_second = await Contract.get(id=contract.id)

    assert read.scanned_version == 1
    assert after_first.scanned_version == -1
    assert after_second.scanned_version == -2
    report = await scan_organization(org, THREE_MONTHS_DUE)
    assert report.contracts == 1


async def test_end_date_change_reschedules(world: World) -> None:
    # Starting in 2027 keeps the term under 24 months after the change, so no
    # 6-month reminder is added.
    contract = await make_contract(world, start_date=date(2027, 1, 1), **NOTICE)
    org = world.organization.id
    await scan_organization(org, THREE_MONTHS_DUE)

    # The end moves a year later: the deadline becomes 2028-05-31, so the reminder for
    # 2027-05-31 is cancelled. On 2028-02-29 the 3-month reminder for the new deadline
    # is due and created on time.
    await _edit(contract.id, end_date=date(2028, 6, 30), notice_deadline=DEADLINE_2028)
    report = await scan_organization(org, date(2027, 3, 1))

    assert report.cancelled == 1
    assert await reminder_rows(org) == [
        (
            contract.id,
            "notice",
            DEADLINE,
            3,
            "months",
            THREE_MONTHS_DUE,
            False,
            "cancelled",
        )
    ]

    await scan_organization(org, date(2028, 2, 29))

    assert await reminder_rows(org) == [
        (
            contract.id,
            "notice",
            DEADLINE,
            3,
            "months",
            THREE_MONTHS_DUE,
            False,
            "cancelled",
        ),
        (
            contract.id,
            "notice",
            date(2028, 5, 31),
            3,
            "months",
            date(2028, 2, 29),
            False,
            "pending",
        ),
    ]


async def test_end_date_changed_back_restores(world: World) -> None:
    contract = await make_contract(world, start_date=date(2027, 1, 1), **NOTICE)
    org = world.organization.id
    await scan_organization(org, THREE_MONTHS_DUE)
    await _edit(contract.id, end_date=date(2028, 6, 30))
    await scan_organization(org, date(2027, 3, 1))
    await _edit(contract.id, end_date=date(2027, 6, 30))

    report = await scan_organization(org, date(2027, 3, 2))

    assert report.restored == 1
    assert report.reminders_created == 0
    assert await reminder_rows(org) == [
        (
            contract.id,
            "notice",
            DEADLINE,
            3,
            "months",
            THREE_MONTHS_DUE,
            False,
            "pending",
        )
    ]
    assert await Notification.filter(organization_id=org).count() == 2


async def test_recorded_notice_cancels_pending(world: World) -> None:
    contract = await make_contract(world, **NOTICE)
    org = world.organization.id
    await scan_organization(org, date(2027, 3, 1))
    await _edit(contract.id, notice_date=date(2027, 3, 5), notice_party="client")

    report = await scan_organization(org, date(2027, 3, 6))

    assert report.cancelled == 1
    statuses: list[Any] = await Reminder.filter(organization_id=org).values_list(
        "status", flat=True
    )
    assert statuses == [ReminderStatus.CANCELLED]


async def test_archived_contract_cancels_pending(world: World) -> None:
    archived = await make_contract(world, number="C-1", **NOTICE)
    cancelled = await make_contract(world, number="C-2", **NOTICE)
    org = world.organization.id
    await scan_organization(org, date(2027, 3, 1))
    await _edit(archived.id, archived_at=datetime.now(UTC))
    await _edit(cancelled.id, stage=ContractStage.CANCELLED)

    report = await scan_organization(org, date(2027, 3, 2))
    again = await scan_organization(org, date(2027, 3, 3))

    assert report.cancelled == 2
    assert [row[-1] for row in await reminder_rows(org)] == ["cancelled", "cancelled"]
    # Both are settled, so the next scan reads neither.
    assert (again.contracts, again.cancelled) == (0, 0)
    assert await Contract.filter(organization_id=org).values_list(
        "scanned_version", "next_scan_on"
    ) == [(2, None), (2, None)]


async def test_inactive_contracts_are_handled_in_batches(world: World) -> None:
    ids = await make_contracts(world, 5, **NOTICE)
    org = world.organization.id
    await scan_organization(org, date(2027, 3, 1))
    for contract_id in ids:
        await _edit(contract_id, stage=ContractStage.CANCELLED)

    report = await scan_organization(org, date(2027, 3, 2), batch_size=2)

    assert report.cancelled == 5
    assert await Contract.filter(organization_id=org, scanned_version=2).count() == 5


async def test_rescheduling_one_inactive_contract_cancels_its_reminders(
    world: World,
) -> None:
    contract = await make_contract(world, **NOTICE)
    other = await make_contract(world, **NOTICE)
    org = world.organization.id
    await scan_organization(org, date(2027, 3, 1))
    await _edit(contract.id, stage=ContractStage.CANCELLED)
    await _edit(other.id, stage=ContractStage.CANCELLED)

    report = await scan_organization(org, date(2027, 3, 2), contract_ids=[contract.id])

    assert report.cancelled == 1
    assert sorted(
        await Reminder.filter(organization_id=org).values_list("contract_id", "status")
    ) == [(contract.id, "cancelled"), (other.id, "pending")]


@pytest.mark.parametrize(
    ("end_date", "notice", "expected_dues"),
    [
        # Month ends: deadline 2027-05-31, 3 months before clamps to February's end.
        (date(2027, 6, 30), NOTICE, [date(2027, 2, 28), date(2027, 4, 30)]),
        # Leap day as the anchor: end 2028-02-29 without notice.
        (date(2028, 2, 29), {}, [date(2027, 11, 29), date(2028, 1, 29)]),
        # Leap day as the deadline: end 2028-03-31 with 1 month's notice.
        (date(2028, 3, 31), NOTICE, [date(2027, 11, 29), date(2028, 1, 29)]),
        # Leap day as a due date: deadline 2028-05-29, 3 months before.
        (date(2028, 6, 29), NOTICE, [date(2028, 2, 29), date(2028, 4, 29)]),
    ],
)
async def test_month_end_and_leap_day(
    world: World,
    end_date: date,
    notice: dict[str, Any],
    expected_dues: list[date],
) -> None:
    await make_contract(world, start_date=date(2027, 1, 1), end_date=end_date, **notice)
    org = world.organization.id
    for due in expected_dues:
        before = await Reminder.filter(organization_id=org).count()
        await scan_organization(org, date.fromordinal(due.toordinal() - 1))
        assert await Reminder.filter(organization_id=org).count() == before

        await scan_organization(org, due)

        late: list[Any] = await Reminder.filter(
            organization_id=org, due_date=due
        ).values_list("late", flat=True)
        assert late == [False]
    assert await Reminder.filter(organization_id=org).count() == len(expected_dues)


@pytest.mark.parametrize(
    ("before", "after", "local_day"),
    [
        # 2027-03-28 is the last Sunday of March: clocks go from 02:00 CET to 03:00
        # CEST, so the next local midnight (of 03-29) is at 22:00 UTC.
        (
            datetime(2027, 3, 28, 21, 59, 59, tzinfo=UTC),
            datetime(2027, 3, 28, 22, 0, 0, tzinfo=UTC),
            date(2027, 3, 29),
        ),
        # The midnight that starts that Sunday is still CET, at 23:00 UTC.
        (
            datetime(2027, 3, 27, 22, 59, 59, tzinfo=UTC),
            datetime(2027, 3, 27, 23, 0, 0, tzinfo=UTC),
            date(2027, 3, 28),
        ),
        # 2027-10-31 is the last Sunday of October: its midnight is still CEST, at
        # 22:00 UTC the evening before.
        (
            datetime(2027, 10, 30, 21, 59, 59, tzinfo=UTC),
            datetime(2027, 10, 30, 22, 0, 0, tzinfo=UTC),
            date(2027, 10, 31),
        ),
        # After clocks go back at 01:00 UTC, the next midnight (of 11-01) is CET, at
        # 23:00 UTC.
        (
            datetime(2027, 10, 31, 22, 59, 59, tzinfo=UTC),
            datetime(2027, 10, 31, 23, 0, 0, tzinfo=UTC),
            date(2027, 11, 1),
        ),
    ],
)
async def test_dst_flips_local_date(
    scratch: Settings, before: datetime, after: datetime, local_day: date
) -> None:
    world = await make_world("Europe/Amsterdam")
    # A reminder 10 days before a deadline 10 days after `local_day` is due that day.
    deadline = date.fromordinal(local_day.toordinal() + 10)
    contract = await make_contract(
        world,
        start_date=date(2027, 1, 1),
        end_date=deadline,
        reminder_offsets=[{"count": 10, "unit": "days"}],
    )
    await scan_all(before)

    assert await Reminder.filter(contract_id=contract.id).count() == 0

    await scan_all(after)

    due = await Reminder.filter(contract_id=contract.id).values_list("due_date", "late")
    assert due == [(local_day, False)]


async def test_each_organization_own_date(scratch: Settings) -> None:
    # At 2027-03-01 03:00 UTC it is already 03-01 in Amsterdam but still 02-28 in
    # New York, where the reminder due 03-01 must wait.
    amsterdam = await make_world("Europe/Amsterdam")
    new_york = await make_world("America/New_York")
    offsets = [{"count": 10, "unit": "days"}]
    for world in (amsterdam, new_york):
        await make_contract(world, end_date=date(2027, 3, 11), reminder_offsets=offsets)
    moment = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)

    await scan_all(moment)

    assert await Reminder.filter(organization_id=amsterdam.organization.id).count() == 1
    assert await Reminder.filter(organization_id=new_york.organization.id).count() == 0


async def test_concurrent_scans_insert_once(world: World) -> None:
    contract_type = await make_type(world, workflow=WORKFLOW)
    await make_contracts(world, 300, contract_type_id=contract_type.id, **NOTICE)
    org = world.organization.id

    reports = await asyncio.gather(
        *(scan_organization(org, ONE_MONTH_DUE, batch_size=50) for _ in range(4)),
        scan_all(datetime(2027, 4, 30, 12, 0, tzinfo=UTC)),
    )

    rows = await snapshot(org)
    assert len(rows["reminders"]) == 600
    assert len({row[1:5] for row in rows["reminders"]}) == 600
    # One task per contract: both reminders belong to the same term.
    assert len(rows["tasks"]) == 300
    assert len({row[1] for row in rows["tasks"]}) == 300
    # The owner of each reminder and of each task. The contracts from
    # make_contracts have no watchers.
    assert len(rows["notifications"]) == 900
    assert len({row[1:] for row in rows["notifications"]}) == 900
    org_reports = reports[:4]
    assert sum(report.reminders_created for report in org_reports) <= 600


async def test_role_assignee_must_see_contract(world: World) -> None:
    # The first sales user (make_world's watcher, lowest id) may not see a confidential
    # contract it does not watch, so that task goes to a later sales user who watches
    # it. The normal contract's task goes to the first sales user.
    watching_sales = await add_user(world, "watching_sales", ["sales"])
    workflow = [{"title": "Call the client", "assignee": "sales", "days_after": 3}]
    contract_type = await make_type(world, workflow=workflow)
    confidential = await make_contract(
        world,
        number="C-1",
        contract_type_id=contract_type.id,
        sensitivity=Sensitivity.CONFIDENTIAL,
        watched=False,
        **NOTICE,
    )
    await ContractWatcher.create(contract=confidential, user=watching_sales)
    normal = await make_contract(
        world, number="C-2", contract_type_id=contract_type.id, watched=False, **NOTICE
    )

    await scan_organization(world.organization.id, THREE_MONTHS_DUE)

    tasks = await Task.filter(organization_id=world.organization.id).values_list(
        "contract_id", "assignee_id", "due_date"
    )
    assert sorted(tasks) == [
        (confidential.id, watching_sales.id, date(2027, 3, 3)),
        (normal.id, world.watcher.id, date(2027, 3, 3)),
    ]
    assert world.watcher.id < watching_sales.id


async def test_unseen_role_leaves_task_unassigned(world: World) -> None:
    await add_user(world, "staff", ["project_staff"])
    workflow = [{"title": "Check the scope", "assignee": "project_staff"}]
    contract_type = await make_type(world, workflow=workflow)
    contract = await make_contract(
        world, contract_type_id=contract_type.id, watched=False, **NOTICE
    )

    await scan_organization(world.organization.id, THREE_MONTHS_DUE)

    task = await Task.get(contract_id=contract.id)
    assert task.assignee_id is None
    sources: list[Any] = await Notification.filter(contract_id=contract.id).values_list(
        "source", flat=True
    )
    assert sources == [f"reminder:{task.reminder_id}"]


async def test_inactive_owner_gets_nothing(world: World) -> None:
    contract_type = await make_type(world, workflow=WORKFLOW)
    contract = await make_contract(world, contract_type_id=contract_type.id, **NOTICE)
    world.owner.is_active = False
    await world.owner.save()

    await scan_organization(world.organization.id, THREE_MONTHS_DUE)

    task = await Task.get(contract_id=contract.id)
    assert task.assignee_id is None
    users = await Notification.filter(contract_id=contract.id).values_list(
        "user_id", flat=True
    )
    assert users == [world.watcher.id]


async def test_invalid_offsets_skip_contract(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    broken = await make_contract(
        world,
        number="C-1",
        reminder_offsets=[{"count": -1, "unit": "months"}],
        **NOTICE,
    )
    valid = await make_contract(world, number="C-2", **NOTICE)

    with caplog.at_level(logging.WARNING, logger="contractgql.jobs.scans"):
        report = await scan_organization(world.organization.id, THREE_MONTHS_DUE)

    assert report.skipped_contracts == 1
    contracts = await Reminder.filter(
        organization_id=world.organization.id
    ).values_list("contract_id", flat=True)
    assert contracts == [valid.id]
    assert f"Contract {broken.id} of organization" in caplog.text


async def test_invalid_workflow_skips_its_contracts(world: World) -> None:
    contract_type = await make_type(
        world, workflow=[{"title": "Call", "assignee": "nobody"}]
    )
    await make_contract(world, contract_type_id=contract_type.id, **NOTICE)

    report = await scan_organization(world.organization.id, THREE_MONTHS_DUE)

    assert report.skipped_contracts == 1
    assert await Reminder.filter(organization_id=world.organization.id).count() == 0


async def test_open_ended_review_reminder(world: World) -> None:
    contract = await make_contract(world, end_date=None, start_date=date(2024, 2, 29))

    await scan_organization(world.organization.id, date(2027, 1, 28))

    assert await reminder_rows(world.organization.id) == [
        (
            contract.id,
            "review",
            date(2027, 2, 28),
            1,
            "months",
            date(2027, 1, 28),
            False,
            "pending",
        )
    ]


async def test_batches_use_constant_statements(
    world: World, count_queries: QueryCounter
) -> None:
    await make_contracts(world, 250, **NOTICE)
    org = world.organization.id

    await scan_organization(org, ONE_MONTH_DUE, batch_size=100)
    writes = len(count_queries.statements)
    count_queries.statements.clear()
    await scan_organization(org, ONE_MONTH_DUE, batch_size=100)
    settled = len(count_queries.statements)
    count_queries.statements.clear()
    await scan_organization(org, ONE_MONTH_DUE, batch_size=100, full=True)
    full = len(count_queries.statements)

    # Users and inactive contracts once, then per batch of 100: contracts, the
    # types' rules, stored reminders, and when writing watchers plus the reminder,
    # task (none here) and notification inserts, and the contracts' scan dates. At
    # the end, two statements make the tasks follow their reminders' status.
    # PostgreSQL adds one read of the reminders table's row estimate.
    assert writes <= 2 + 3 * 8 + 2 + (BACKEND == "postgres")
    # The scan after it finds every contract settled with one read.
    assert settled == 2 + 1 + 2
    # A full scan reads every batch again and writes nothing: what it plans is
    # what the first scan recorded.
    assert full == 2 + 3 * 3 + 2
    assert await Reminder.filter(organization_id=org).count() == 500


async def test_scan_all_calls_renewals(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, date]] = []

    async def renew_and_expire(organization_id: int, today: date) -> object:
        calls.append((organization_id, today))
        return None

    monkeypatch.setattr(scans, "renewal_job", lambda: renew_and_expire)

    await scan_all(datetime(2027, 2, 27, 23, 30, tzinfo=UTC))

    assert (world.organization.id, date(2027, 2, 28)) in calls


async def test_failed_organization_raises_after_others(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = await make_world()
    await make_contract(other, **NOTICE)

    async def renew_and_expire(organization_id: int, today: date) -> object:
        if organization_id == world.organization.id:
            raise RuntimeError("renewal failed")
        return None

    monkeypatch.setattr(scans, "renewal_job", lambda: renew_and_expire)

    with pytest.raises(ScanError) as raised:
        await scan_all(datetime(2027, 2, 28, 12, 0, tzinfo=UTC))

    assert raised.value.report.failed_organizations == [world.organization.id]
    assert await Reminder.filter(organization_id=other.organization.id).count() == 1


async def test_failed_batch_leaves_no_rows(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The notification insert fails after the reminders and tasks of the batch were
    # inserted in the same transaction, as when the database connection drops.
    contract_type = await make_type(world, workflow=WORKFLOW)
    contract = await make_contract(world, contract_type_id=contract_type.id, **NOTICE)
    org = world.organization.id
    real_insert = scans.insert_ignoring_conflicts

    async def failing_insert(connection: Any, table: str, *args: Any) -> Any:
        if table == "notifications":
            raise ConnectionError("connection lost")
        return await real_insert(connection, table, *args)

    monkeypatch.setattr(scans, "insert_ignoring_conflicts", failing_insert)
    with pytest.raises(ConnectionError):
        await scan_organization(org, THREE_MONTHS_DUE)

    assert await Reminder.filter(organization_id=org).count() == 0
    assert await Task.filter(organization_id=org).count() == 0

    monkeypatch.setattr(scans, "insert_ignoring_conflicts", real_insert)
    report = await scan_organization(org, THREE_MONTHS_DUE)

    assert report.reminders_created == 1
    assert await Task.filter(contract_id=contract.id).count() == 1
    assert await Notification.filter(contract_id=contract.id).count() == 3


class _Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


async def test_scan_sends_due_digests(
    scratch: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    from tests.jobs.conftest import free_port

    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    for name, value in {
        "CONTRACTGQL_SMTP_HOST": "127.0.0.1",
        "CONTRACTGQL_SMTP_PORT": str(port),
        "CONTRACTGQL_SMTP_TLS": "none",
        "CONTRACTGQL_SMTP_FROM": "Contracts <contracts@example.com>",
    }.items():
        monkeypatch.setenv(name, value)
    world = await make_world("Europe/Amsterdam")
    await make_contract(
        world,
        name="Digest hosting",
        start_date=date(2026, 1, 1),
        end_date=date(2027, 6, 30),
        reminder_offsets=[{"count": 1, "unit": "months"}],
    )
    # 08:00 in Amsterdam on the reminder's due date, after the digest hour of 7.
    moment = datetime(2027, 5, 30, 6, 0, tzinfo=UTC)

    try:
        await scan_all(moment)
        await scan_all(moment)
    finally:
        controller.stop()

    # Other tests' organizations share the scratch database and get digests too.
    ours = {world.owner.email, world.watcher.email, world.finance.email}
    mails = [(to, body) for rcpts, body in inbox.messages for to in rcpts if to in ours]
    assert sorted(to for to, _ in mails) == sorted(
        [world.owner.email, world.watcher.email]
    )
    assert all("Digest hosting" in body for _, body in mails)
