"""Notifications about a contract's renewal, expiry and recorded notice."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from contractgql.models import (
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractWatcher,
    Notification,
    User,
)

NOTIFICATION_KIND = "contract_event"
MAX_TITLE_LENGTH = 300


async def notify_event(contract: Contract, event: ContractEvent) -> int:
    """Notify the contract's active owner and watchers of `event`; return how many.

    Call it in the transaction that creates the event. The unique (user, source) key
    keeps a second call from notifying anyone twice. Messages carry names and dates,
    never an amount.
    """
    watcher_ids: list[int] = await ContractWatcher.filter(
        contract_id=contract.id
    ).values_list("user_id", flat=True)  # type: ignore[assignment]
    candidates = set(watcher_ids)
    if contract.owner_id is not None:
        candidates.add(contract.owner_id)
    recipients = await User.filter(
        id__in=sorted(candidates),
        organization_id=contract.organization_id,
        is_active=True,
    ).values_list("id", flat=True)

    title, body = _message(contract, event)
    created = 0
    for user_id in sorted(recipients):
        try:
            await Notification.create(
                organization_id=contract.organization_id,
                user_id=user_id,
                contract_id=contract.id,
                kind=NOTIFICATION_KIND,
                source=f"event:{event.id}",
                title=title[:MAX_TITLE_LENGTH],
                body=body,
            )
        except IntegrityError:
            continue
        created += 1
    return created


def _message(contract: Contract, event: ContractEvent) -> tuple[str, str]:
    label = f"{contract.name} ({contract.number})" if contract.number else contract.name
    if event.kind is ContractEventKind.RENEWED:
        new_end = event.new_end_date.isoformat() if event.new_end_date else "open"
        return (
            f"Contract renewed: {label}",
            f"Contract {label!r} renewed for the term after {event.term_end}. The "
            f"new term ends on {new_end}.",
        )
    if event.kind is ContractEventKind.EXPIRED:
        return (
            f"Contract expired: {label}",
            f"Contract {label!r} ended on {event.term_end} and was not renewed.",
        )
    party = "given" if event.kind is ContractEventKind.NOTICE_GIVEN else "received"
    ends = event.new_end_date.isoformat() if event.new_end_date else "unknown"
    return (
        f"Notice {party}: {label}",
        f"Notice on contract {label!r} was {party} on {event.occurred_on}. The "
        f"contract ends on {ends}.",
    )
