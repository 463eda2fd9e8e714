"""Organizations, users and contracts for the scan tests, written through the ORM."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contractgql.models import (
    Client,
    Contract,
    ContractType,
    ContractWatcher,
    Notification,
    Organization,
    Reminder,
    Task,
    User,
)

# Shown in the tests that check notifications never contain financial values.
AMOUNT_MINOR = 1_234_567
AMOUNT_TEXTS = ("12345.67", "12,345.67", "12.345,67", "1234567", "12345")


@dataclass
class World:
    """An organization with an owner, a watcher, a finance user and one client."""

    organization: Organization
    owner: User
    watcher: User
    finance: User
    client: Client
    users: dict[str, User] = field(default_factory=dict)


async def make_world(timezone: str = "Europe/Amsterdam") -> World:
    suffix = uuid.uuid4().hex[:10]
    organization = await Organization.create(name=f"Scan {suffix}", timezone=timezone)
    users = {}
    for name, roles in (
        ("owner", ["account_manager"]),
        ("watcher", ["sales"]),
        ("finance", ["finance"]),
    ):
        users[name] = await User.create(
            organization=organization,
            email=f"{name}-{suffix}@example.com",
            name=name.title(),
            roles=roles,
        )
    client = await Client.create(organization=organization, name="Acme Hosting B.V.")
    return World(
        organization,
        users["owner"],
        users["watcher"],
        users["finance"],
        client,
        users,
    )


async def add_user(world: World, name: str, roles: list[str], **values: Any) -> User:
    user = await User.create(
        organization=world.organization,
        email=f"{name}-{uuid.uuid4().hex[:10]}@example.com",
        name=name.title(),
        roles=roles,
        **values,
    )
    world.users[name] = user
    return user


async def make_type(
    world: World,
    offsets: list[dict[str, Any]] | None = None,
    workflow: list[dict[str, Any]] | None = None,
) -> ContractType:
    return await ContractType.create(
        organization=world.organization,
        name=f"Type {uuid.uuid4().hex[:8]}",
        reminder_offsets=offsets or [],
        renewal_workflow=workflow or [],
    )


def contract_values(world: World, **values: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "organization_id": world.organization.id,
        "client_id": world.client.id,
        "owner_id": world.owner.id,
        "name": "Hosting",
        "currency": "EUR",
        "amount_minor": AMOUNT_MINOR,
        "start_date": date(2026, 1, 1),
        "end_date": date(2027, 6, 30),
    }
    return {**defaults, **values}


async def make_contract(world: World, watched: bool = True, **values: Any) -> Contract:
    contract = await Contract.create(**contract_values(world, **values))
    if watched:
        await ContractWatcher.create(contract=contract, user=world.watcher)
    return contract


async def make_contracts(world: World, count: int, **values: Any) -> list[int]:
    """Insert `count` contracts without watchers in bulk; return their ids.

    They are numbered on from the organization's contract count, C-1 for the first.
    """
    query = Contract.filter(organization_id=world.organization.id)
    before = set(await query.values_list("id", flat=True))
    await Contract.bulk_create(
        [
            Contract(**contract_values(world, number=f"C-{index}", **values))
            for index in range(len(before) + 1, len(before) + count + 1)
        ],
        batch_size=500,
    )
    ids: list[Any] = await query.order_by("id").values_list("id", flat=True)
    return [contract_id for contract_id in ids if contract_id not in before]


async def reminder_rows(organization_id: int) -> list[tuple[Any, ...]]:
    """Return the organization's reminders as sorted (contract, kind, anchor, ...)."""
    rows = await Reminder.filter(organization_id=organization_id).values_list(
        "contract_id",
        "kind",
        "anchor_date",
        "offset_count",
        "offset_unit",
        "due_date",
        "late",
        "status",
    )
    return sorted(
        (c, str(k.value), a, n, u, d, bool(late), str(s.value))
        for c, k, a, n, u, d, late, s in rows
    )


async def task_rows(organization_id: int) -> list[tuple[Any, ...]]:
    rows = await Task.filter(organization_id=organization_id).values_list(
        "contract_id",
        "reminder__due_date",
        "step",
        "title",
        "assignee_id",
        "due_date",
        "status",
    )
    return sorted((*row[:-1], str(row[-1].value)) for row in rows)


async def notification_rows(organization_id: int) -> list[tuple[Any, ...]]:
    rows = await Notification.filter(organization_id=organization_id).values_list(
        "user_id", "contract_id", "kind", "source", "title", "body"
    )
    return sorted(rows)


async def snapshot(organization_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Return every reminder, task and notification row of the organization."""
    reminders = await Reminder.filter(organization_id=organization_id).values_list(
        "id", "contract_id", "kind", "anchor_date", "offset_count", "due_date", "late"
    )
    tasks = await Task.filter(organization_id=organization_id).values_list(
        "id", "reminder_id", "step", "assignee_id", "due_date"
    )
    notifications = await Notification.filter(
        organization_id=organization_id
    ).values_list("id", "user_id", "source")
    return {
        "reminders": sorted(reminders),
        "tasks": sorted(tasks),
        "notifications": sorted(notifications),
    }
