"""The renewal scan: renew auto-renewing contracts and record expiries.

It reads the organization's signed, unarchived contracts whose end date has passed,
in batches by id. An auto-renewing contract that no notice ends gets one term per
missed term until its end date is today or later, each with a `renewed` event. Every
other one gets one `expired` event for its last term, and its status turns EXPIRED
from the dates alone. Running the scan twice, or on two workers at once, renews each
term and records each expiry exactly once (see `services.notice.renew_term`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date

from contractgql.models import (
    Contract,
    ContractEvent,
    ContractEventKind,
    ContractStage,
)
from contractgql.services.notice import (
    TermError,
    contract_terms,
    first_ends,
    notice_ends_term,
    record_expiry,
    renew_term,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# The maximum number of terms that one run adds to one contract. A contract with a
# renewal term of days and an end date years ago catches up over several runs.
MAX_TERMS_PER_RUN = 500


@dataclass
class RenewalReport:
    """Counts of the changes that one scan of one organization made."""

    # Contracts that got at least one new term, and the terms added in all.
    contracts_renewed: int = 0
    terms_renewed: int = 0
    # Contracts whose last term got its `expired` event in this run.
    expired: int = 0
    # Contracts left unchanged because their next term could not be computed or
    # stored. Each is logged with its id and the reason.
    failed: int = 0


async def renew_and_expire(organization_id: int, today: date) -> RenewalReport:
    """Renew or expire every contract of the organization whose end date passed.

    `today` is the organization's local date: contracts ending before it are due.
    """
    started = time.perf_counter()
    report = RenewalReport()
    last_id = 0
    while True:
        contracts = (
            await Contract.filter(
                organization_id=organization_id,
                stage=ContractStage.SIGNED,
                archived_at=None,
                end_date__lt=today,
                id__gt=last_id,
            )
            .order_by("id")
            .limit(BATCH_SIZE)
        )
        if not contracts:
            break
        last_id = contracts[-1].id
        await _settle_batch(contracts, today, report)
        if len(contracts) < BATCH_SIZE:
            break

    logger.info(
        "Renewal scan of organization %s for %s took %.2f s: %d contracts renewed "
        "for %d terms, %d expired, %d failed",
        organization_id,
        today.isoformat(),
        time.perf_counter() - started,
        report.contracts_renewed,
        report.terms_renewed,
        report.expired,
        report.failed,
    )
    return report


async def _settle_batch(
    contracts: list[Contract], today: date, report: RenewalReport
) -> None:
    ids = [contract.id for contract in contracts]
    expired_terms = set(
        await ContractEvent.filter(
            contract_id__in=ids, kind=ContractEventKind.EXPIRED
        ).values_list("contract_id", "term_end")
    )
    renewed_before = await first_ends(ids)
    for contract in contracts:
        # Contracts that expired in an earlier run stay in the batch, because
        # their end date stays in the past: skipping them here costs no statement.
        if (contract.id, contract.end_date) in expired_terms:
            continue
        try:
            await _settle(contract, renewed_before.get(contract.id), today, report)
        except TermError as error:
            report.failed += 1
            logger.error(
                "Contract %s of organization %s was not renewed: %s",
                contract.id,
                contract.organization_id,
                error,
            )


async def _settle(
    contract: Contract, first_end: date | None, today: date, report: RenewalReport
) -> None:
    """Renew `contract` term by term until it runs through today, or expire it."""
    renewed = 0
    current: Contract | None = contract
    for _ in range(MAX_TERMS_PER_RUN):
        if current is None or current.end_date is None or current.end_date >= today:
            break
        terms = contract_terms(current, first_end)
        if notice_ends_term(terms, current.notice_date):
            if await record_expiry(current):
                report.expired += 1
            break
        event = await renew_term(current, terms, today, created_by_id=None)
        if event is None:
            # Another worker or a user changed the contract: go on from its state.
            current = await Contract.filter(
                id=contract.id, stage=ContractStage.SIGNED, archived_at=None
            ).first()
            first_end = (await first_ends([contract.id])).get(contract.id)
            continue
        renewed += 1
        first_end = first_end or event.term_end
    else:
        logger.warning(
            "Contract %s of organization %s is still behind after %d terms, and "
            "the next run continues",
            contract.id,
            contract.organization_id,
            MAX_TERMS_PER_RUN,
        )
    if renewed:
        report.contracts_renewed += 1
        report.terms_renewed += renewed
