"""Demo data: an organization with one user per role and the ACT contracts register."""

from __future__ import annotations

import logging
from pathlib import Path

from tortoise.functions import Count

from contractgql import db
from contractgql.accounts import create_user, get_or_create_organization
from contractgql.config import Settings
from contractgql.importexport.importer import ImportOptions, import_file
from contractgql.models import (
    Contract,
    ContractType,
    Organization,
    Project,
    ProjectMember,
    Tag,
    User,
)
from contractgql.security.policy import ROLES

logger = logging.getLogger(__name__)

ORGANIZATION = "Demo Company"
PASSWORD = "demo-password"
REGISTER = Path(__file__).resolve().parent / "au_act_contracts_2025.csv"
# The ACT register has no notice periods; the demo assumes this one for every row.
NOTICE_PERIOD = (3, "months")
CONTRACT_TYPES = {
    "Maintenance contract": [(3, "months"), (1, "months")],
    "Licence agreement": [(3, "months"), (1, "months")],
    "Service subscription": [(2, "months"), (2, "weeks")],
    "Project contract": [(1, "months")],
}
TAGS = {
    "strategic client": "#2563eb",
    "renewal chance": "#16a34a",
    "cancellation risk": "#dc2626",
}


PROJECT = "Demo support"


async def _ensure_staff_project(organization: Organization) -> None:
    """Make the project_staff user a member of a project for the busiest client.

    Project staff see only the contracts of the clients of their projects, so without
    one the demo user would see none.
    """
    if await Project.filter(organization_id=organization.id, name=PROJECT).exists():
        return
    busiest = (
        await Contract.filter(organization_id=organization.id)
        .group_by("client_id")
        .annotate(total=Count("id"))
        .order_by("-total", "client_id")
        .first()
        .values_list("client_id", flat=True)
    )
    staff = await User.filter(email=demo_email("project_staff")).first()
    if busiest is None or staff is None:
        return
    project = await Project.create(
        organization_id=organization.id, client_id=busiest, name=PROJECT
    )
    await ProjectMember.create(project_id=project.id, user_id=staff.id)


def demo_email(role: str) -> str:
    return f"{role.replace('_', '-')}@demo.example"


async def ensure_demo(settings: Settings) -> None:
    """Create the demo organization, users and contracts unless they exist."""
    if settings.is_sqlite:
        await db.migrate(settings)
    await db.connect(settings)
    try:
        organization = await get_or_create_organization(ORGANIZATION)
        for role in ROLES:
            if not await User.filter(email=demo_email(role)).exists():
                name = f"Demo {role.replace('_', ' ')}"
                await create_user(
                    organization, demo_email(role), name, [role], PASSWORD
                )
        for name, offsets in CONTRACT_TYPES.items():
            await ContractType.get_or_create(
                organization_id=organization.id,
                name=name,
                defaults={
                    "reminder_offsets": [{"count": c, "unit": u} for c, u in offsets]
                },
            )
        for name, color in TAGS.items():
            await Tag.get_or_create(
                organization_id=organization.id, name=name, defaults={"color": color}
            )

        if not await Contract.filter(organization_id=organization.id).exists():
            options = ImportOptions(currency="AUD", default_notice_period=NOTICE_PERIOD)
            report = await import_file(REGISTER, organization, options)
            logger.info(
                "Loaded the demo register: %d contracts, %d rows rejected",
                report.count("created"),
                report.count("rejected"),
            )
        await _ensure_staff_project(organization)
    finally:
        await db.disconnect()
    logger.info(
        "Demo users: %s, password %r",
        ", ".join(demo_email(role) for role in ROLES),
        PASSWORD,
    )
