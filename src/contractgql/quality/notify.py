"""Notifying owners of the data quality signals about their contracts.

Once per local day of each organization, from CONTRACTGQL_DIGEST_HOUR, the scans
turn each signal into an in-app notification for the owner of its contract, so
the next e-mail digest lists it too. A signal about duplicate clients goes to
the owners of the signed contracts of both clients. A user gets each signal once:
the notification's source is the signal's key, unique per user, and a changed
situation (such as a new end date) has a new key. Owners who may not see the
contract, or may not read amounts for a financial signal, get nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from contractgql.config import Settings
from contractgql.jobs.inserts import insert_ignoring_conflicts
from contractgql.models import (
    Contract,
    ContractStage,
    Notification,
    Organization,
    QualityNotificationRun,
    User,
)
from contractgql.quality.signals import (
    FINANCIAL_KINDS,
    Signal,
    SignalKind,
    SignalOptions,
    signals_for,
)
from contractgql.security.policy import PERMISSIONS, Policy
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import system_viewer, viewer_for

logger = logging.getLogger(__name__)

NOTIFICATION_KIND = "data_quality"
TITLES = {
    SignalKind.PAST_END_DATE: "Contract past its end date",
    SignalKind.RENEWAL_NOT_RECORDED: "Renewal not recorded",
    SignalKind.NO_RECENT_ACTIVITY: "Notice deadline near, no recent activity",
    SignalKind.AMOUNT_LOOKS_VAT_INCLUSIVE: "Amount looks VAT-inclusive",
    SignalKind.ZERO_AMOUNT: "Amount is zero",
    SignalKind.DUPLICATE_CLIENT: "Possible duplicate client",
}


async def notify_quality_signals(
    now: datetime, settings: Settings, policy: Policy
) -> int:
    """Notify the signals of each organization whose day's run is due; return the
    number of notifications created."""
    created = 0
    for organization in await Organization.all().order_by("id"):
        local = now.astimezone(ZoneInfo(organization.timezone))
        if local.hour < settings.digest_hour:
            continue
        try:
            async with in_transaction():
                await QualityNotificationRun.create(
                    organization_id=organization.id, day=local.date()
                )
        except IntegrityError:
            continue
        options = SignalOptions(
            settings.quality_quiet_days, settings.quality_deadline_days
        )
        viewer = system_viewer(organization, PERMISSIONS)
        signals = await signals_for(viewer, options)
        count = await _notify(organization.id, signals, policy, now)
        logger.info(
            "Data quality of organization %s: %d signals, %d notifications created",
            organization.id,
            len(signals),
            count,
        )
        created += count
    return created


async def _notify(
    organization_id: int, signals: list[Signal], policy: Policy, now: datetime
) -> int:
    recipients = await _recipients(signals)
    users = (
        await User.filter(
            id__in=sorted({user for users in recipients.values() for user in users}),
            organization_id=organization_id,
            is_active=True,
            is_service_account=False,
        )
        .select_related("organization")
        .order_by("id")
    )
    rows = []
    for user in users:
        viewer = viewer_for(user, policy)
        may_read_amounts = viewer.fields.may_read("Contract", "amount")
        mine = [
            signal
            for signal in signals
            if user.id in recipients.get(signal.key, ())
            and (may_read_amounts or signal.kind not in FINANCIAL_KINDS)
        ]
        contract_ids = [s.contract_id for s in mine if s.contract_id is not None]
        visible_ids: list[int] = await (  # type: ignore[assignment]
            visible_contracts(viewer)
            .filter(id__in=contract_ids)
            .values_list("id", flat=True)
        )
        visible = set(visible_ids)
        for signal in mine:
            if signal.contract_id is not None and signal.contract_id not in visible:
                continue
            rows.append(
                (
                    organization_id,
                    user.id,
                    signal.contract_id,
                    NOTIFICATION_KIND,
                    f"quality:{signal.key}"[:100],
                    TITLES[signal.kind],
                    f"{signal.reason}\nFix: {signal.fix_for(may_read_amounts)}",
                    now,
                )
            )
    if not rows:
        return 0
    inserted = await insert_ignoring_conflicts(
        Notification._meta.db,
        "notifications",
        (
            "organization_id",
            "user_id",
            "contract_id",
            "kind",
            "source",
            "title",
            "body",
            "created_at",
        ),
        rows,
        returning=("id",),
    )
    return len(inserted)


async def _recipients(signals: list[Signal]) -> dict[str, set[int]]:
    """Map each signal's key to the users it goes to."""
    recipients: dict[str, set[int]] = defaultdict(set)
    client_ids = set()
    for signal in signals:
        if signal.owner_id is not None:
            recipients[signal.key].add(signal.owner_id)
        if signal.client_id is not None:
            client_ids.update({signal.client_id, signal.other_client_id})
    if not client_ids:
        return recipients
    owners: dict[int, set[int]] = defaultdict(set)
    for row in await Contract.filter(
        client_id__in=sorted(i for i in client_ids if i is not None),
        stage=ContractStage.SIGNED,
        archived_at=None,
        owner_id__isnull=False,
    ).values("client_id", "owner_id"):
        owners[row["client_id"]].add(row["owner_id"])
    for signal in signals:
        for client_id in (signal.client_id, signal.other_client_id):
            if client_id is not None:
                recipients[signal.key] |= owners.get(client_id, set())
    return recipients
