"""Queries of required-field rules, contract completeness and quality signals."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry

from contractgql.config import MAX_QUALITY_DAYS
from contractgql.errors import InvalidArgument
from contractgql.graphql.context import Info
from contractgql.graphql.queries.contracts import apply_filter
from contractgql.graphql.queries.records import records_connection
from contractgql.graphql.relay import Connection, SortKey, paginate
from contractgql.graphql.types.filters import ContractFilter
from contractgql.graphql.types.quality import (
    RULE_COLUMNS,
    CompletenessGroup,
    CompletenessGrouping,
    ContractCompleteness,
    QualitySignal,
    RequiredFieldRuleNode,
    SignalKindEnum,
    completeness_type,
    group_type,
    rule_node,
    signal_type,
)
from contractgql.models import RequiredFieldRule
from contractgql.quality.completeness import (
    COMPLETENESS_COLUMNS,
    Checker,
    Grouping,
    summarize,
)
from contractgql.quality.signals import SignalOptions, signals_for
from contractgql.security.records import visible_contracts

# Contracts of the completeness report, oldest first, as the contracts connection
# orders them by default.
CREATED_ORDER = SortKey("created_at", "id")
# Signals one page of qualitySignals returns at most.
MAX_SIGNALS_PER_PAGE = 500


@strawberry.type(description="A page of data quality signals.")
class QualitySignalPage:
    total_count: int = strawberry.field(
        description="The number of signals on all pages."
    )
    signals: list[QualitySignal]


@strawberry.type
class QualityQueries:
    @strawberry.field(
        description="Required-field rules of the organization, by name. Every user "
        "may list them."
    )
    async def required_field_rules(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        include_archived: Annotated[
            bool, strawberry.argument(description="Include deleted rules.")
        ] = False,
    ) -> Connection[RequiredFieldRuleNode]:
        return await records_connection(
            info,
            RequiredFieldRule,
            RULE_COLUMNS,
            rule_node,
            first=first,
            after=after,
            include_archived=include_archived,
        )

    @strawberry.field(
        description="How complete each contract the caller may see is, with the "
        "fields it lacks, oldest contract first. `filter` works as on `contracts`; "
        "filter.missing lists the contracts that lack given fields."
    )
    async def contract_completeness(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContractFilter | None = None,
    ) -> Connection[ContractCompleteness]:
        viewer = info.context.viewer
        visible = visible_contracts(viewer)
        query = apply_filter(visible, filter or ContractFilter(), viewer)
        checker = await Checker.load(viewer)
        options = _signal_options(info, None, None)

        async def build(rows: list[dict[str, Any]]) -> list[ContractCompleteness]:
            results = await checker.check(rows)
            ids = [row["id"] for row in rows]
            signals = await signals_for(viewer, options, contract_ids=ids)
            contracts = await asyncio.gather(
                *(info.context.loaders.contract(pk) for pk in ids)
            )
            return [
                completeness_type(
                    contract,
                    result,
                    [s for s in signals if s.contract_id == result.contract_id],
                )
                for contract, result in zip(contracts, results, strict=True)
            ]

        return await paginate(
            query,
            visible,
            key=CREATED_ORDER,
            descending=False,
            first=first,
            after=after,
            max_page_size=info.context.services.settings.max_page_size,
            columns=COMPLETENESS_COLUMNS,
            build=build,
        )

    @strawberry.field(
        description="The share of complete contracts among those the caller may "
        "see, for the organization, per contract type or per owner. Reads every "
        "matching contract."
    )
    async def completeness_summary(
        self,
        info: Info,
        group_by: CompletenessGrouping = CompletenessGrouping.ORGANIZATION,
        filter: ContractFilter | None = None,
    ) -> list[CompletenessGroup]:
        viewer = info.context.viewer
        query = apply_filter(
            visible_contracts(viewer), filter or ContractFilter(), viewer
        )
        groups = await summarize(viewer, query, Grouping(group_by.value))
        return [group_type(group, group_by) for group in groups]

    @strawberry.field(
        description="Records that are probably out of date or wrong, about the "
        "contracts the caller may see and the organization's clients: contracts "
        "first, by kind, then duplicate clients."
    )
    async def quality_signals(
        self,
        info: Info,
        kinds: list[SignalKindEnum] | None = None,  # type: ignore[valid-type]
        quiet_days: Annotated[
            int | None,
            strawberry.argument(
                description="Days without a change or note after which a contract "
                "whose notice deadline is near is flagged; default "
                "CONTRACTGQL_QUALITY_QUIET_DAYS."
            ),
        ] = None,
        deadline_within_days: Annotated[
            int | None,
            strawberry.argument(
                description="How near a notice deadline counts as near, in days; "
                "default CONTRACTGQL_QUALITY_DEADLINE_DAYS."
            ),
        ] = None,
        first: int = 100,
        offset: int = 0,
    ) -> QualitySignalPage:
        if not 0 <= first <= MAX_SIGNALS_PER_PAGE:
            raise InvalidArgument(
                f"first={first} is out of range: request from 0 to "
                f"{MAX_SIGNALS_PER_PAGE} signals and page with offset."
            )
        if offset < 0:
            raise InvalidArgument(f"offset={offset} is negative: use 0 or more.")
        options = _signal_options(info, quiet_days, deadline_within_days)
        requested = frozenset(kinds) if kinds else None
        signals = await signals_for(info.context.viewer, options, requested)
        return QualitySignalPage(
            total_count=len(signals),
            signals=[signal_type(s) for s in signals[offset : offset + first]],
        )


def _signal_options(
    info: Info, quiet_days: int | None, deadline_days: int | None
) -> SignalOptions:
    settings = info.context.services.settings
    for name, value in (
        ("quietDays", quiet_days),
        ("deadlineWithinDays", deadline_days),
    ):
        if value is not None and not 1 <= value <= MAX_QUALITY_DAYS:
            raise InvalidArgument(
                f"{name}={value} is out of range: use from 1 to {MAX_QUALITY_DAYS} "
                "days."
            )
    return SignalOptions(
        quiet_days=quiet_days or settings.quality_quiet_days,
        deadline_days=deadline_days or settings.quality_deadline_days,
    )
