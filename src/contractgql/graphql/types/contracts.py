"""The Contract type, its computed figures and its status."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from contractgql.domain.dates import Period, PeriodUnit, earliest_end_with_notice_on
from contractgql.domain.money import (
    PaymentFrequency,
    from_minor_units,
    monthly_recurring,
    present,
    total_contract_value,
)
from contractgql.domain.status import contract_status
from contractgql.graphql.context import Info
from contractgql.graphql.relay import Connection, Node
from contractgql.graphql.types.activity import ActivityConnection, activity_connection
from contractgql.graphql.types.audit import AuditEntryNode, history_connection
from contractgql.graphql.types.common import (
    CREATED_BY_DESCRIPTION,
    JSON,
    UPDATED_BY_DESCRIPTION,
    ContractStageEnum,
    ContractStatusEnum,
    PaymentFrequencyEnum,
    PeriodType,
    SensitivityEnum,
    period_type,
)
from contractgql.graphql.types.documents import documents_of
from contractgql.graphql.types.workflow import (
    ContractEventType,
    NoticePartyEnum,
    ReminderNode,
    TaskNode,
    workflow_loaders,
)
from contractgql.ids import encode_id
from contractgql.models import ContractStage
from contractgql.security.viewer import Viewer
from contractgql.services.notice import (
    NoticeParty,
    TermError,
    Terms,
    notice_effective_end,
)

if TYPE_CHECKING:
    from contractgql.graphql.types.catalog import (
        ContractTypeNode,
        ProjectNode,
        ServiceNode,
        TagNode,
    )
    from contractgql.graphql.types.clients import ClientNode, ContactPersonNode
    from contractgql.graphql.types.documents import DocumentNode
    from contractgql.graphql.types.notes import NoteNode
    from contractgql.graphql.types.users import UserNode

DocumentRef = Annotated[
    "DocumentNode", strawberry.lazy("contractgql.graphql.types.documents")
]
ClientRef = Annotated[
    "ClientNode", strawberry.lazy("contractgql.graphql.types.clients")
]
ContactRef = Annotated[
    "ContactPersonNode", strawberry.lazy("contractgql.graphql.types.clients")
]
UserRef = Annotated["UserNode", strawberry.lazy("contractgql.graphql.types.users")]
NoteRef = Annotated["NoteNode", strawberry.lazy("contractgql.graphql.types.notes")]
TypeRef = Annotated[
    "ContractTypeNode", strawberry.lazy("contractgql.graphql.types.catalog")
]
TagRef = Annotated["TagNode", strawberry.lazy("contractgql.graphql.types.catalog")]
ProjectRef = Annotated[
    "ProjectNode", strawberry.lazy("contractgql.graphql.types.catalog")
]
ServiceRef = Annotated[
    "ServiceNode", strawberry.lazy("contractgql.graphql.types.catalog")
]


def _financial(name: str, description: str) -> Any:
    # The policy decides which fields are protected, and the installed policy adds
    # the permission to the description (graphql/protection.py).
    return strawberry.field(description=description)


# Columns that a page of contracts reads; every ContractNode is built from these.
CONTRACT_COLUMNS = (
    "id",
    "client_id",
    "contract_type_id",
    "owner_id",
    "contact_id",
    "parent_id",
    "created_by_id",
    "updated_by_id",
    "number",
    "name",
    "description",
    "stage",
    "sensitivity",
    "start_date",
    "end_date",
    "signed_date",
    "notice_deadline",
    "payment_frequency",
    "amount_minor",
    "currency",
    "vat_rate_bp",
    "indexation_bp",
    "renewal_price_agreement",
    "auto_renewal",
    "renewal_term_count",
    "renewal_term_unit",
    "notice_count",
    "notice_unit",
    "notice_to_month_end",
    "notice_date",
    "notice_party",
    "reminder_offsets",
    "custom_fields",
    "created_at",
    "updated_at",
    "version",
    "archived_at",
)


@strawberry.type(name="Contract", description="A contract with a client.")
class ContractNode(Node):
    pk: strawberry.Private[int]
    client_pk: strawberry.Private[int]
    contract_type_pk: strawberry.Private[int | None]
    owner_pk: strawberry.Private[int | None]
    contact_pk: strawberry.Private[int | None]
    parent_pk: strawberry.Private[int | None]
    created_by_pk: strawberry.Private[int | None]
    updated_by_pk: strawberry.Private[int | None]
    preloaded: strawberry.Private[dict[str, Any]]
    # The facts that noticeEffectiveEnd needs, when notice was recorded.
    terms: strawberry.Private[Terms | None]

    number: str | None = strawberry.field(
        description="Contract number, unique within the organization when given."
    )
    name: str
    description: str | None
    stage: ContractStageEnum  # type: ignore[valid-type]
    status: ContractStatusEnum  # type: ignore[valid-type]
    sensitivity: SensitivityEnum  # type: ignore[valid-type]
    start_date: date
    end_date: date | None = strawberry.field(
        description="Last day the contract is in force (inclusive); null if open-ended."
    )
    signed_date: date | None
    notice_deadline: date | None = strawberry.field(
        description="Last day on which notice still ends the contract on its end date."
    )
    days_until_end: int | None = strawberry.field(
        description="Days from today (organization's timezone) to the end date; "
        "negative once it has passed."
    )
    days_until_notice_deadline: int | None = strawberry.field(
        description="Days from today to the notice deadline; negative once it passed."
    )
    earliest_end_with_notice_today: date | None = strawberry.field(
        description="For open-ended contracts: the earliest end date that notice given "
        "today would reach."
    )
    notice_period: PeriodType | None
    notice_to_month_end: bool = strawberry.field(
        description="Whether notice on an open-ended contract runs to a month end."
    )
    notice_date: date | None = strawberry.field(
        description="The day notice that ends the contract was given or received."
    )
    notice_party: NoticePartyEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The party that gave the notice."
    )
    reminder_offsets: list[PeriodType] | None = strawberry.field(
        description="Reminder offsets that replace the contract type's. Null when "
        "the type's, or the default of 3 months and 1 month, apply."
    )
    auto_renewal: bool
    renewal_term: PeriodType | None = strawberry.field(
        description="Length of each renewal; null means the original term length."
    )
    payment_frequency: PaymentFrequencyEnum  # type: ignore[valid-type]
    currency: str = strawberry.field(description="ISO 4217 currency code.")
    amount: Decimal | None = _financial(
        "amount", "Amount per billing period, excluding VAT."
    )
    vat_rate: Decimal | None = _financial("vatRate", "VAT rate in percent.")
    indexation: Decimal | None = _financial(
        "indexation", "Yearly price indexation in percent, applied at renewal."
    )
    renewal_price_agreement: str | None = _financial(
        "renewalPriceAgreement", "Agreed terms for the price at renewal."
    )
    mrr: Decimal | None = _financial(
        "mrr",
        "Monthly recurring revenue: the amount per period over its months; 0 for "
        "one-off contracts.",
    )
    arr: Decimal | None = _financial("arr", "Annual recurring revenue: 12 × MRR.")
    total_contract_value: Decimal | None = _financial(
        "totalContractValue",
        "Amount × billing periods in the term (a started period "
        "counts in full); null for open-ended recurring contracts.",
    )
    custom_fields: JSON = strawberry.field(
        description="Custom field values keyed by the definition's key."
    )
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Incremented on every change.")
    archived_at: datetime | None

    @strawberry.field
    def client(self, info: Info) -> ClientRef:
        return self.preloaded.get("client") or info.context.loaders.client(
            self.client_pk
        )

    @strawberry.field
    def owner(self, info: Info) -> UserRef | None:
        return _one(self, info, "owner", self.owner_pk, "user")

    @strawberry.field(description="The client's contact person for this contract.")
    def contact(self, info: Info) -> ContactRef | None:
        return _one(self, info, "contact", self.contact_pk, "contact")

    @strawberry.field
    def contract_type(self, info: Info) -> TypeRef | None:
        return _one(self, info, "contract_type", self.contract_type_pk, "contract_type")

    @strawberry.field(description="The master contract this contract falls under.")
    def parent(self, info: Info) -> ContractNode | None:
        return _one(self, info, "parent", self.parent_pk, "contract")

    @strawberry.field(description=CREATED_BY_DESCRIPTION)
    def created_by(self, info: Info) -> UserRef | None:
        return _one(self, info, "created_by", self.created_by_pk, "user")

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return _one(self, info, "updated_by", self.updated_by_pk, "user")

    @strawberry.field
    def tags(self, info: Info) -> list[TagRef]:
        return _many(self, info, "tags")

    @strawberry.field
    def projects(self, info: Info) -> list[ProjectRef]:
        return _many(self, info, "projects")

    @strawberry.field
    def services(self, info: Info) -> list[ServiceRef]:
        return _many(self, info, "services")

    @strawberry.field(description="Contracts whose parent is this contract.")
    def children(self, info: Info) -> list[ContractNode]:
        return _many(self, info, "children")

    @strawberry.field(description="Notes on this contract, newest first.")
    def notes(self, info: Info) -> list[NoteRef]:
        return info.context.loaders.notes("contract", self.pk)

    @strawberry.field(
        description="Documents of this contract that are not deleted, newest first."
    )
    def documents(self, info: Info) -> list[DocumentRef]:
        return documents_of(info, "contract_id", self.pk)

    @strawberry.field(
        description="Recorded changes of this contract, newest first. Protected "
        "fields that you may not read show their name with null values."
    )
    async def history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEntryNode]:
        return await history_connection(info, "Contract", self.pk, first, after)

    @strawberry.field(
        description="Notes, recorded changes, reminders and tasks of this contract, "
        "newest first."
    )
    async def activity(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ActivityConnection:
        return await activity_connection(info, "Contract", self.pk, first, after)

    @strawberry.field(description="Users who follow this contract.")
    def watchers(self, info: Info) -> list[UserRef]:
        return _many(self, info, "watchers")

    @strawberry.field(
        description="The end date that the recorded notice ends the contract on: the "
        "end date when notice came on or before the notice deadline, else the end "
        "of the following term, or of a later one when the terms are shorter than "
        "the notice period. Null without notice."
    )
    def notice_effective_end(self, info: Info) -> date | None:
        terms = self.terms
        if terms is None or self.notice_date is None:
            return None
        if terms.auto_renewal and terms.renewal_term is None and terms.end_date:
            # The length of the first term decides the following term's end.
            return _effective_end_after_renewals(info, self.pk, terms, self.notice_date)
        return _effective_end(terms, self.notice_date)

    @strawberry.field(description="Reminders on this contract, by due date.")
    def reminders(self, info: Info) -> list[ReminderNode]:
        return workflow_loaders(info).contract_reminders.load(self.pk)

    @strawberry.field(
        description="Renewal workflow tasks on this contract, by due date."
    )
    def tasks(self, info: Info) -> list[TaskNode]:
        return workflow_loaders(info).contract_tasks.load(self.pk)

    @strawberry.field(
        description="Renewals, expiries and recorded notice, oldest first. Their "
        "amounts and indexation are null for callers who may not read the "
        "contract's amount and indexation."
    )
    def events(self, info: Info) -> list[ContractEventType]:
        return workflow_loaders(info).contract_events.load(self.pk)


def _effective_end(terms: Terms, notice_date: date) -> date | None:
    try:
        return notice_effective_end(terms, notice_date)
    except TermError:
        return None


async def _effective_end_after_renewals(
    info: Info, contract_pk: int, terms: Terms, notice_date: date
) -> date | None:
    first_end = await workflow_loaders(info).first_end.load(contract_pk)
    return _effective_end(dataclasses.replace(terms, first_end=first_end), notice_date)


def _one(node: ContractNode, info: Info, name: str, pk: int | None, loader: str) -> Any:
    if pk is None:
        return None
    if name in node.preloaded:
        return node.preloaded[name]
    return getattr(info.context.loaders, loader)(pk)


def _many(node: ContractNode, info: Info, name: str) -> Any:
    if name in node.preloaded:
        return node.preloaded[name]
    return info.context.loaders.contract_links(name, node.pk)


# Columns of the facts that a contract's renewals and notice depend on.
_TERM_COLUMNS = (
    "start_date",
    "end_date",
    "notice_date",
    "auto_renewal",
    "renewal_term_count",
    "renewal_term_unit",
    "notice_count",
    "notice_unit",
    "notice_to_month_end",
)
# Node fields (snake_case) and the columns besides `id` that they are built from.
# A relation needs its foreign key, or only `id` when it is a list.
_FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": (),
    "number": ("number",),
    "name": ("name",),
    "description": ("description",),
    "stage": ("stage",),
    "status": ("stage", "start_date", "end_date"),
    "sensitivity": ("sensitivity",),
    "start_date": ("start_date",),
    "end_date": ("end_date",),
    "signed_date": ("signed_date",),
    "notice_deadline": ("notice_deadline",),
    "days_until_end": ("end_date",),
    "days_until_notice_deadline": ("notice_deadline",),
    "earliest_end_with_notice_today": (
        "end_date",
        "notice_count",
        "notice_unit",
        "notice_to_month_end",
    ),
    "notice_period": ("notice_count", "notice_unit"),
    "notice_to_month_end": ("notice_to_month_end",),
    "notice_date": ("notice_date",),
    "notice_party": ("notice_party",),
    "notice_effective_end": _TERM_COLUMNS,
    "reminder_offsets": ("reminder_offsets",),
    "auto_renewal": ("auto_renewal",),
    "renewal_term": ("renewal_term_count", "renewal_term_unit"),
    "payment_frequency": ("payment_frequency",),
    "currency": ("currency",),
    "amount": ("amount_minor", "currency"),
    "vat_rate": ("vat_rate_bp",),
    "indexation": ("indexation_bp",),
    "renewal_price_agreement": ("renewal_price_agreement",),
    "mrr": ("amount_minor", "currency", "payment_frequency"),
    "arr": ("amount_minor", "currency", "payment_frequency"),
    "total_contract_value": (
        "amount_minor",
        "currency",
        "payment_frequency",
        "start_date",
        "end_date",
    ),
    "custom_fields": ("custom_fields",),
    "created_at": ("created_at",),
    "updated_at": ("updated_at",),
    "version": ("version",),
    "archived_at": ("archived_at",),
    "__typename": (),
    "client": ("client_id",),
    "owner": ("owner_id",),
    "contact": ("contact_id",),
    "contract_type": ("contract_type_id",),
    "parent": ("parent_id",),
    "created_by": ("created_by_id",),
    "updated_by": ("updated_by_id",),
    "tags": (),
    "projects": (),
    "services": (),
    "children": (),
    "notes": (),
    "documents": (),
    "watchers": (),
    "reminders": (),
    "tasks": (),
    "events": (),
    "history": (),
    "activity": (),
}
ALL_CONTRACT_FIELDS = frozenset(_FIELD_COLUMNS)
_FINANCIAL_FIELDS = (
    "amount",
    "vat_rate",
    "indexation",
    "renewal_price_agreement",
    "mrr",
    "arr",
    "total_contract_value",
)
_GRAPHQL_NAMES = {name: to_camel_case(name) for name in _FIELD_COLUMNS}
# Fields that contract_node computes from the columns, None until it does.
_COMPUTED_FIELDS: dict[str, Any] = dict.fromkeys(
    (
        "stage",
        "status",
        "days_until_end",
        "days_until_notice_deadline",
        "earliest_end_with_notice_today",
        "notice_period",
        "notice_party",
        "reminder_offsets",
        "renewal_term",
        "payment_frequency",
        *_FINANCIAL_FIELDS,
    )
)
# Fields whose value is the column of the same name, as it is.
_COPIED_FIELDS = (
    "number",
    "name",
    "description",
    "sensitivity",
    "start_date",
    "end_date",
    "signed_date",
    "notice_deadline",
    "notice_to_month_end",
    "notice_date",
    "auto_renewal",
    "currency",
    "custom_fields",
    "created_at",
    "updated_at",
    "version",
    "archived_at",
)


def contract_columns(fields: AbstractSet[str]) -> tuple[str, ...]:
    """Return the columns that `contract_node` needs to build `fields`.

    A name that this module does not know, such as a field added to ContractNode
    later, selects every column.
    """
    if not fields <= ALL_CONTRACT_FIELDS:
        return CONTRACT_COLUMNS
    needed = {"id"}
    for name in fields:
        needed.update(_FIELD_COLUMNS[name])
    return tuple(column for column in CONTRACT_COLUMNS if column in needed)


def contract_node(
    row: dict[str, Any],
    viewer: Viewer,
    fields: AbstractSet[str] = ALL_CONTRACT_FIELDS,
) -> ContractNode:
    """Build a node from a row, hiding what the viewer may not read.

    The row must have the columns of `contract_columns(fields)`. Only `fields` are
    computed, and the node's other fields are None, so the node may serve only a
    selection within `fields`.
    """
    today = viewer.today
    end: date | None = row.get("end_date")
    deadline: date | None = row.get("notice_deadline")
    # Columns that `fields` do not need are missing from the row.
    get: Callable[[str], Any] = row.get
    values = dict(_COMPUTED_FIELDS)
    for name in _COPIED_FIELDS:
        values[name] = get(name)
    if "stage" in fields:
        values["stage"] = ContractStage(row["stage"])
    if "status" in fields:
        values["status"] = contract_status(row["stage"], row["start_date"], end, today)
    if "days_until_end" in fields and end is not None:
        values["days_until_end"] = (end - today).days
    if "days_until_notice_deadline" in fields and deadline is not None:
        values["days_until_notice_deadline"] = (deadline - today).days
    if "earliest_end_with_notice_today" in fields and end is None:
        values["earliest_end_with_notice_today"] = _earliest_end(row, today)
    if "notice_period" in fields:
        values["notice_period"] = period_type(row["notice_count"], row["notice_unit"])
    if "renewal_term" in fields:
        values["renewal_term"] = period_type(
            row["renewal_term_count"], row["renewal_term_unit"]
        )
    if "payment_frequency" in fields:
        values["payment_frequency"] = PaymentFrequency(row["payment_frequency"])
    if "notice_party" in fields and row["notice_party"] is not None:
        values["notice_party"] = NoticeParty(row["notice_party"])
    if "reminder_offsets" in fields and row["reminder_offsets"]:
        values["reminder_offsets"] = [
            period_type(offset["count"], offset["unit"])
            for offset in row["reminder_offsets"]
        ]
    terms = None
    if "notice_effective_end" in fields and row["notice_date"] is not None:
        terms = _terms(row)
    if not fields.isdisjoint(_FINANCIAL_FIELDS):
        values.update(_figures(row, fields))
    if viewer.fields.hidden:
        _hide(values, viewer)
    return ContractNode(
        id=strawberry.ID(encode_id("Contract", row["id"])),
        pk=row["id"],
        client_pk=get("client_id"),
        contract_type_pk=get("contract_type_id"),
        owner_pk=get("owner_id"),
        contact_pk=get("contact_id"),
        parent_pk=get("parent_id"),
        created_by_pk=get("created_by_id"),
        updated_by_pk=get("updated_by_id"),
        preloaded={},
        terms=terms,
        **values,
    )


def _terms(row: dict[str, Any]) -> Terms:
    return Terms(
        start_date=row["start_date"],
        end_date=row["end_date"],
        first_end=None,
        renewal_term=_period(row["renewal_term_count"], row["renewal_term_unit"]),
        notice_period=_period(row["notice_count"], row["notice_unit"]),
        notice_to_month_end=row["notice_to_month_end"],
        auto_renewal=row["auto_renewal"],
    )


def _period(count: int | None, unit: str | None) -> Period | None:
    if count is None or unit is None:
        return None
    return Period(count, PeriodUnit(unit))


def _hide(values: dict[str, Any], viewer: Viewer) -> None:
    """Blank the fields that the viewer may not read, for every use of the node."""
    for name in values:
        if not viewer.fields.may_read("Contract", _GRAPHQL_NAMES[name]):
            values[name] = None


def _earliest_end(row: dict[str, Any], today: date) -> date:
    notice = None
    if row["notice_count"] is not None and row["notice_unit"] is not None:
        notice = Period(row["notice_count"], PeriodUnit(row["notice_unit"]))
    return earliest_end_with_notice_on(today, notice, row["notice_to_month_end"])


def _figures(row: dict[str, Any], fields: AbstractSet[str]) -> dict[str, Any]:
    """Return the financial fields among `fields`; the caller hides what it must."""
    figures: dict[str, Any] = {}
    if "vat_rate" in fields:
        figures["vat_rate"] = _percent(row["vat_rate_bp"])
    if "indexation" in fields:
        figures["indexation"] = _percent(row["indexation_bp"])
    if "renewal_price_agreement" in fields:
        figures["renewal_price_agreement"] = row["renewal_price_agreement"]
    amount_minor = row.get("amount_minor")
    if amount_minor is None:
        return figures

    currency = row["currency"]
    if "amount" in fields:
        figures["amount"] = from_minor_units(amount_minor, currency)
    if "mrr" in fields or "arr" in fields:
        mrr = monthly_recurring(
            amount_minor, PaymentFrequency(row["payment_frequency"])
        )
        figures["mrr"] = present(mrr, currency)
        figures["arr"] = present(mrr * 12, currency)
    if "total_contract_value" in fields:
        total = total_contract_value(
            amount_minor,
            PaymentFrequency(row["payment_frequency"]),
            row["start_date"],
            row["end_date"],
        )
        figures["total_contract_value"] = (
            None if total is None else from_minor_units(total, currency)
        )
    return figures


def _percent(basis_points: int | None) -> Decimal | None:
    return None if basis_points is None else Decimal(basis_points).scaleb(-2)
