"""The Contract type, its computed figures and its status."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

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
from contractgql.graphql.relay import Node
from contractgql.graphql.types.common import (
    JSON,
    ContractStageEnum,
    ContractStatusEnum,
    PaymentFrequencyEnum,
    PeriodType,
    SensitivityEnum,
    period_type,
)
from contractgql.ids import encode_id
from contractgql.models import ContractStage
from contractgql.security.fields import may_read_field, protected_description
from contractgql.security.viewer import Viewer

if TYPE_CHECKING:
    from contractgql.graphql.types.catalog import (
        ContractTypeNode,
        ProjectNode,
        ServiceNode,
        TagNode,
    )
    from contractgql.graphql.types.clients import ClientNode, ContactPersonNode
    from contractgql.graphql.types.notes import NoteNode
    from contractgql.graphql.types.users import UserNode

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
    return strawberry.field(
        description=protected_description(description, "Contract", name)
    )


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

    @strawberry.field
    def created_by(self, info: Info) -> UserRef | None:
        return _one(self, info, "created_by", self.created_by_pk, "user")

    @strawberry.field
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

    @strawberry.field(description="Users who follow this contract.")
    def watchers(self, info: Info) -> list[UserRef]:
        return _many(self, info, "watchers")


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


def contract_node(row: dict[str, Any], viewer: Viewer) -> ContractNode:
    """Build a node from a CONTRACT_COLUMNS row, hiding what the viewer may not read."""
    today = viewer.today
    end: date | None = row["end_date"]
    deadline: date | None = row["notice_deadline"]
    notice = period_type(row["notice_count"], row["notice_unit"])
    figures = _figures(row) if may_read_field(viewer, "Contract", "amount") else {}
    return ContractNode(
        id=strawberry.ID(encode_id("Contract", row["id"])),
        pk=row["id"],
        client_pk=row["client_id"],
        contract_type_pk=row["contract_type_id"],
        owner_pk=row["owner_id"],
        contact_pk=row["contact_id"],
        parent_pk=row["parent_id"],
        created_by_pk=row["created_by_id"],
        updated_by_pk=row["updated_by_id"],
        preloaded={},
        number=row["number"],
        name=row["name"],
        description=row["description"],
        stage=ContractStage(row["stage"]),
        status=contract_status(row["stage"], row["start_date"], end, today),
        sensitivity=row["sensitivity"],
        start_date=row["start_date"],
        end_date=end,
        signed_date=row["signed_date"],
        notice_deadline=deadline,
        days_until_end=(end - today).days if end else None,
        days_until_notice_deadline=(deadline - today).days if deadline else None,
        earliest_end_with_notice_today=_earliest_end(row, today)
        if end is None
        else None,
        notice_period=notice,
        notice_to_month_end=row["notice_to_month_end"],
        auto_renewal=row["auto_renewal"],
        renewal_term=period_type(row["renewal_term_count"], row["renewal_term_unit"]),
        payment_frequency=PaymentFrequency(row["payment_frequency"]),
        currency=row["currency"],
        amount=figures.get("amount"),
        vat_rate=figures.get("vat_rate"),
        indexation=figures.get("indexation"),
        renewal_price_agreement=figures.get("renewal_price_agreement"),
        mrr=figures.get("mrr"),
        arr=figures.get("arr"),
        total_contract_value=figures.get("total_contract_value"),
        custom_fields=row["custom_fields"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        archived_at=row["archived_at"],
    )


def _earliest_end(row: dict[str, Any], today: date) -> date:
    notice = None
    if row["notice_count"] is not None and row["notice_unit"] is not None:
        notice = Period(row["notice_count"], PeriodUnit(row["notice_unit"]))
    return earliest_end_with_notice_on(today, notice, row["notice_to_month_end"])


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    """Return the financial fields of a row; call only for viewers who may read them."""
    currency = row["currency"]
    amount_minor = row["amount_minor"]
    figures: dict[str, Any] = {
        "vat_rate": _percent(row["vat_rate_bp"]),
        "indexation": _percent(row["indexation_bp"]),
        "renewal_price_agreement": row["renewal_price_agreement"],
    }
    if amount_minor is None:
        return figures

    frequency = PaymentFrequency(row["payment_frequency"])
    mrr = monthly_recurring(amount_minor, frequency)
    total = total_contract_value(
        amount_minor, frequency, row["start_date"], row["end_date"]
    )
    figures["amount"] = from_minor_units(amount_minor, currency)
    figures["mrr"] = present(mrr, currency)
    figures["arr"] = present(mrr * 12, currency)
    figures["total_contract_value"] = (
        None if total is None else from_minor_units(total, currency)
    )
    return figures


def _percent(basis_points: int | None) -> Decimal | None:
    return None if basis_points is None else Decimal(basis_points).scaleb(-2)
