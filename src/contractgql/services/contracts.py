"""Creating, changing, linking and archiving contracts."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from contractgql.audit import record_change, snapshot
from contractgql.audit.outbox import creation_batch_json, snapshot_of_columns
from contractgql.domain.dates import Period, notice_deadline
from contractgql.domain.money import (
    MoneyError,
    from_minor_units,
    to_minor_units,
    validate_currency,
)
from contractgql.errors import NotFound, PermissionDenied
from contractgql.ids import encode_id
from contractgql.models import (
    Client,
    ContactPerson,
    Contract,
    ContractStage,
    ContractType,
    ContractWatcher,
    CustomFieldEntity,
    Project,
    Service,
    Tag,
    User,
)
from contractgql.quality.choices import check_vat_rate
from contractgql.quality.rules import enforce_rules
from contractgql.security.fields import protected_inputs, require_writable
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer
from contractgql.services.custom_fields import validate_custom_fields
from contractgql.services.records import reminder_offsets_column
from contractgql.services.references import check_reference, check_references
from contractgql.services.validation import Validator
from contractgql.services.versions import (
    archive_with_version,
    camel_case,
    changed_columns,
    changed_links,
    check_version,
    claim_version,
)

logger = logging.getLogger(__name__)

# Input keys that are links, handled apart from the contract's own columns.
LINK_FIELDS = ("project_ids", "service_ids", "tag_ids")
MAX_DESCRIPTION_LENGTH = 20_000
# Fields that may be left out of an update but not set to null.
REQUIRED_WHEN_GIVEN = (
    "client_id",
    "stage",
    "sensitivity",
    "payment_frequency",
    "currency",
)
# How far up a parent chain the cycle check looks before it gives up.
MAX_PARENT_DEPTH = 100
BASIS_POINTS = Decimal(100)
# GraphQL input names of the columns whose name differs from the input's.
CONTRACT_FIELD_NAMES = {
    "amount_minor": "amount",
    "vat_rate_bp": "vatRate",
    "indexation_bp": "indexation",
    "notice_count": "noticePeriod",
    "notice_unit": "noticePeriod",
    "renewal_term_count": "renewalTerm",
    "renewal_term_unit": "renewalTerm",
}


@dataclass(frozen=True)
class ContractLinks:
    project_ids: list[int] | None = None
    service_ids: list[int] | None = None
    tag_ids: list[int] | None = None
    watcher_ids: list[int] | None = None


async def create_contract(viewer: Viewer, values: dict[str, Any]) -> Contract:
    """Validate `values` and insert a contract with its links in one transaction.

    The creator becomes the owner unless the input names one, so that a draft marked
    confidential stays visible to whoever made it.
    """
    _prepare_new_contract(viewer, values)
    validator = Validator()
    columns = await _validate(validator, viewer, values, current=None)
    await enforce_rules(validator, viewer, columns, current=None)
    validator.raise_if_any()

    async with in_transaction():
        contract = build_contract(viewer, columns)
        await _save_unique(contract, values)
        await _replace_links(contract, _links(values))
        after = creation_snapshot(contract, values)
        await record_change(viewer, "contract.create", contract, None, after)
    return contract


def check_new_contract(
    validator: Validator, viewer: Viewer, values: dict[str, Any]
) -> dict[str, Any]:
    """Check the values of a new contract without reading the database.

    Adds an error to `validator` per invalid field and returns the column values
    to write. The caller checks references (client, type, owner, links) and
    custom fields: the bulk import checks them against the references it loaded.
    Raises PermissionDenied like `create_contract`.
    """
    _prepare_new_contract(viewer, values)
    return _check_fields(validator, values, current=None)


def _prepare_new_contract(viewer: Viewer, values: dict[str, Any]) -> None:
    """Fill in the default owner and currency, then check the create permission."""
    if viewer.user_id is not None:
        values.setdefault("owner_id", viewer.user_id)
    _check_create_permission(viewer, values)
    values.setdefault("currency", viewer.default_currency)


def build_contract(viewer: Viewer, columns: dict[str, Any], **extra: Any) -> Contract:
    """Return an unsaved contract of the viewer's organization with its deadline set.

    `extra` sets further columns, such as a preallocated id.
    """
    contract = Contract(
        organization_id=viewer.organization_id,
        created_by_id=viewer.user_id,
        updated_by_id=viewer.user_id,
        **columns,
        **extra,
    )
    contract.notice_deadline = _deadline(contract)
    return contract


def creation_snapshot(contract: Contract, values: dict[str, Any]) -> dict[str, Any]:
    """Return the audited values of a new contract, links from `values` included."""
    return snapshot(contract, **_given_links(values))


def creation_snapshot_of_columns(
    columns: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    """Return creation_snapshot() of a contract inserted with these column values."""
    return snapshot_of_columns(Contract, columns, **_given_links(values))


def creation_batch_of_contracts(
    contracts: list[tuple[int, dict[str, Any], dict[str, Any]]],
) -> str:
    """Return the JSON text of the changes of one batch event creating contracts.

    Each contract is (id, column values, input values), and each record of the
    batch contains the values of creation_snapshot_of_columns() of that contract.
    """
    return creation_batch_json(
        Contract,
        [(pk, columns, _given_links(values)) for pk, columns, values in contracts],
    )


async def update_contract(
    viewer: Viewer,
    contract_id: int,
    values: dict[str, Any],
    expected_version: int | None = None,
) -> Contract:
    """Apply the given fields to a contract; fields left out keep their value.

    Raises Conflict, and changes nothing, when `expected_version` is given and is
    not the stored version.
    """
    contract = await get_visible_contract(viewer, contract_id)
    _check_update_permission(viewer, contract, values)
    validator = Validator()
    columns = await _validate(validator, viewer, values, current=contract)
    await enforce_rules(validator, viewer, columns, current=contract)

    async def changed(stored: Contract) -> list[str]:
        names = changed_columns(stored, columns, CONTRACT_FIELD_NAMES)
        names += await changed_links(
            stored,
            [
                ("projectIds", "projects", values.get("project_ids")),
                ("serviceIds", "services", values.get("service_ids")),
                ("tagIds", "tags", values.get("tag_ids")),
            ],
        )
        return sorted(names)

    await check_version(contract, "Contract", expected_version, changed)
    validator.raise_if_any()

    async with in_transaction():
        # The claim holds the row until the transaction ends, so the contract read
        # after it is the one this update changes, also under concurrent updates:
        # the audit's old values and the notice deadline come from it.
        await claim_version(contract, "Contract", expected_version, changed)
        await contract.refresh_from_db()
        before = snapshot(contract, **await _stored_links(contract, values))
        for name, value in columns.items():
            setattr(contract, name, value)
        contract.notice_deadline = _deadline(contract)
        contract.updated_by_id = viewer.user_id
        # Only the columns that the request sets are written, so that concurrent
        # updates of other columns without an expected version are kept.
        # NOTE: merged custom field values are computed from the contract as read
        # before the transaction, so without an expected version a concurrent
        # change of another custom field can be lost.
        written = [*columns, "notice_deadline", "updated_by_id", "updated_at"]
        await _save_unique(contract, values, written)
        await _replace_links(contract, _links(values))
        after = snapshot(contract, **_given_links(values))
        await record_change(viewer, "contract.update", contract, before, after)
    if not SCHEDULE_COLUMNS.isdisjoint(columns):
        await reschedule(viewer, contract.id)
    return contract


# Columns that a contract's reminder schedule depends on.
SCHEDULE_COLUMNS = frozenset(
    {
        "start_date",
        "end_date",
        "notice_count",
        "notice_unit",
        "auto_renewal",
        "reminder_offsets",
        "contract_type_id",
        "stage",
    }
)


async def reschedule(viewer: Viewer, contract_id: int) -> None:
    """Bring the contract's reminders in line with its changed dates at once.

    The scheduled scans would do the same at their next run, so a failure here is
    logged and left to them.
    """
    from contractgql.jobs.scans import scan_organization

    try:
        await scan_organization(
            viewer.organization_id, viewer.today, contract_ids=[contract_id]
        )
    except Exception:
        logger.exception(
            "Rescheduling the reminders of contract %s failed; the next scan retries",
            contract_id,
        )


async def archive_contract(viewer: Viewer, contract_id: int) -> Contract:
    contract = await get_visible_contract(viewer, contract_id)
    _check_update_permission(viewer, contract, {})
    if contract.archived_at is None and await archive_with_version(
        viewer, contract, "contract.archive"
    ):
        # Archived contracts get no reminders: cancel the pending ones at once.
        await reschedule(viewer, contract.id)
    return contract


async def change_links(
    viewer: Viewer,
    contract_id: int,
    add: ContractLinks,
    remove: ContractLinks,
    expected_version: int | None = None,
) -> Contract:
    """Add and remove the projects, services, tags and watchers of a contract.

    Raises Conflict, and changes nothing, when `expected_version` is given and is
    not the stored version.
    """
    contract = await get_visible_contract(viewer, contract_id)
    _check_update_permission(viewer, contract, {})

    async def changed(stored: Contract) -> list[str]:
        return await _changed_link_lists(stored, add, remove)

    await check_version(contract, "Contract", expected_version, changed)
    validator = Validator()
    org = viewer.organization_id
    await check_references(
        validator, Project, org, "add.project_ids", add.project_ids, "Project"
    )
    await check_references(
        validator, Service, org, "add.service_ids", add.service_ids, "Service"
    )
    await check_references(validator, Tag, org, "add.tag_ids", add.tag_ids, "Tag")
    for user_id in sorted(set(add.watcher_ids or [])):
        await check_reference(
            validator,
            User,
            org,
            "add.watcher_ids",
            user_id,
            "User",
            extra={"is_active": True},
        )
    validator.raise_if_any()

    async with in_transaction():
        await claim_version(contract, "Contract", expected_version, changed)
        # Read after the claim, which holds the row, so that concurrent changes of
        # the links each record the lists they changed.
        before = await _link_snapshot(contract)
        for relation, model, added, removed in (
            (contract.projects, Project, add.project_ids, remove.project_ids),
            (contract.services, Service, add.service_ids, remove.service_ids),
            (contract.tags, Tag, add.tag_ids, remove.tag_ids),
        ):
            if removed:
                rows = await model.filter(id__in=removed, organization_id=org)
                if rows:
                    await relation.remove(*rows)
            if added:
                rows = await model.filter(id__in=added, organization_id=org)
                await relation.add(*rows)
        await _change_watchers(contract, add.watcher_ids, remove.watcher_ids)
        contract.updated_by_id = viewer.user_id
        await contract.save(update_fields=["updated_by_id", "updated_at"])
        after = await _link_snapshot(contract)
        await record_change(viewer, "contract.links", contract, before, after)
    return contract


async def _link_snapshot(contract: Contract) -> dict[str, Any]:
    """Return the contract's links as audited values: sorted lists of global ids."""
    watchers: list[int] = await ContractWatcher.filter(
        contract_id=contract.id
    ).values_list("user_id", flat=True)  # type: ignore[assignment]
    links = {"watchers": [encode_id("User", pk) for pk in sorted(watchers)]}
    for name, relation in (
        ("projects", contract.projects),
        ("services", contract.services),
        ("tags", contract.tags),
    ):
        ids: list[int] = await relation.all().values_list("id", flat=True)  # type: ignore[assignment]
        label = relation.remote_model.__name__
        links[name] = [encode_id(label, pk) for pk in sorted(ids)]
    return links


def _given_links(values: dict[str, Any]) -> dict[str, Any]:
    """Return the links an input sets, as audited values."""
    links = {}
    for field, label in (
        ("project_ids", "Project"),
        ("service_ids", "Service"),
        ("tag_ids", "Tag"),
    ):
        if values.get(field) is not None:
            ids = sorted(set(values[field]))
            name = field.removesuffix("_ids") + "s"
            links[name] = [encode_id(label, pk) for pk in ids]
    return links


async def _stored_links(contract: Contract, values: dict[str, Any]) -> dict[str, Any]:
    """Return the stored links of the kinds that the input sets."""
    given = _given_links(values)
    if not given:
        return {}
    stored = await _link_snapshot(contract)
    return {name: stored[name] for name in given}


async def _changed_link_lists(
    stored: Contract, add: ContractLinks, remove: ContractLinks
) -> list[str]:
    """Return the GraphQL paths, such as add.tagIds, of the lists that would change
    the stored links: an added id not yet linked, or a removed id still linked."""
    watchers = await ContractWatcher.filter(contract_id=stored.id).values_list(
        "user_id", flat=True
    )
    linked = {"watcher_ids": set(watchers)}
    for field, relation in (
        ("project_ids", stored.projects),
        ("service_ids", stored.services),
        ("tag_ids", stored.tags),
    ):
        linked[field] = set(await relation.all().values_list("id", flat=True))
    names = []
    for prefix, links, adding in (("add", add, True), ("remove", remove, False)):
        for field, ids in linked.items():
            requested = set(getattr(links, field) or [])
            if (requested - ids) if adding else (requested & ids):
                names.append(f"{prefix}.{camel_case(field)}")
    return names


async def _change_watchers(
    contract: Contract, added: list[int] | None, removed: list[int] | None
) -> None:
    if removed:
        await ContractWatcher.filter(
            contract_id=contract.id, user_id__in=removed
        ).delete()
    for user_id in sorted(set(added or [])):
        await ContractWatcher.get_or_create(contract_id=contract.id, user_id=user_id)


async def get_visible_contract(viewer: Viewer, contract_id: int) -> Contract:
    """Return a contract the viewer may see, or raise NotFound."""
    contract = await visible_contracts(viewer).filter(id=contract_id).first()
    if contract is None:
        raise NotFound(
            f"Contract {encode_id('Contract', contract_id)!r} was not found: check "
            "the id, or ask the contract's owner to share it with you."
        )
    return contract


def require_contract_write(viewer: Viewer, contract: Contract) -> None:
    """Raise PermissionDenied unless the viewer may change `contract`.

    Any contract needs 'contract:write'. Account managers may change the contracts
    they own, and sales may change drafts.
    """
    _check_update_permission(viewer, contract, {})


def _check_create_permission(viewer: Viewer, values: dict[str, Any]) -> None:
    if (
        viewer.may("contract:write")
        or (
            viewer.may("contract.draft:write")
            and values.get("stage") == ContractStage.DRAFT
        )
        or viewer.may("contract.own:write")
        and values.get("owner_id") == viewer.user_id
    ):
        pass
    else:
        raise PermissionDenied(_create_denied_message(viewer))
    require_writable(viewer, "Contract", values)


def _check_sensitivity_change(
    viewer: Viewer, contract: Contract, values: dict[str, Any]
) -> None:
    """Reject a change of sensitivity by anyone but the owner or a contract editor.

    Marking a contract confidential hides it from most roles, so a user who may
    only edit drafts must not hide other people's drafts.
    """
    if "sensitivity" not in values or values["sensitivity"] == contract.sensitivity:
        return
    if viewer.may("contract:write") or contract.owner_id == viewer.user_id:
        return
    raise PermissionDenied(
        f"You may not change the sensitivity of contract "
        f"{encode_id('Contract', contract.id)!r}: only its owner or a role with "
        "'contract:write' may. Leave sensitivity out of the input."
    )


def _create_denied_message(viewer: Viewer) -> str:
    if viewer.may("contract.draft:write"):
        return (
            "Your roles allow you to create draft contracts only: set stage to DRAFT."
        )
    if viewer.may("contract.own:write"):
        return (
            "Your roles allow you to create contracts that you own only: set the "
            "owner to yourself."
        )
    return (
        "Your roles do not allow you to create contracts: it needs the "
        "'contract:write' permission. Ask an administrator for a role that has it."
    )


def _check_update_permission(
    viewer: Viewer, contract: Contract, values: dict[str, Any]
) -> None:
    require_writable(viewer, "Contract", values)
    _check_sensitivity_change(viewer, contract, values)
    other_fields = set(values) - protected_inputs(viewer, "Contract", values)
    if not other_fields and values:
        return
    if viewer.may("contract:write"):
        return
    owns_contract = contract.owner_id == viewer.user_id
    keeps_owner = values.get("owner_id", viewer.user_id) == viewer.user_id
    if viewer.may("contract.own:write") and owns_contract and keeps_owner:
        return
    if (
        viewer.may("contract.draft:write")
        and contract.stage is ContractStage.DRAFT
        and values.get("stage", ContractStage.DRAFT) == ContractStage.DRAFT
    ):
        return
    raise PermissionDenied(
        f"Your roles ({', '.join(sorted(viewer.roles)) or 'none'}) do not allow you "
        f"to change contract {encode_id('Contract', contract.id)!r}: editing any "
        "contract needs 'contract:write'; account managers may edit the contracts "
        "they own and sales may edit drafts."
    )


async def _validate(
    validator: Validator,
    viewer: Viewer,
    values: dict[str, Any],
    current: Contract | None,
) -> dict[str, Any]:
    """Check every given field and return the column values to write."""
    columns = _check_fields(validator, values, current)
    await check_vat_rate(validator, viewer.organization_id, columns)
    await _check_contract_references(validator, viewer, values, current)
    creating = current is None
    if "custom_fields" in values:
        merged = dict(current.custom_fields) if current else {}
        changes = await validate_custom_fields(
            validator,
            viewer.organization_id,
            CustomFieldEntity.CONTRACT,
            values["custom_fields"] or {},
            creating=creating,
        )
        merged.update(changes)
        columns["custom_fields"] = {k: v for k, v in merged.items() if v is not None}
    elif creating:
        await validate_custom_fields(
            validator,
            viewer.organization_id,
            CustomFieldEntity.CONTRACT,
            {},
            creating=True,
        )
    return columns


def _check_fields(
    validator: Validator, values: dict[str, Any], current: Contract | None
) -> dict[str, Any]:
    """Check the fields that need no database read and return their columns."""
    creating = current is None
    validator.text(
        values, "name", max_length=300, required=creating or "name" in values
    )
    validator.text(values, "number", max_length=100)
    validator.text(values, "description", max_length=MAX_DESCRIPTION_LENGTH)
    validator.text(values, "renewal_price_agreement", max_length=MAX_DESCRIPTION_LENGTH)
    for field in ("start_date", "end_date", "signed_date"):
        validator.calendar_date(values, field)
    validator.period(values, "notice_period", minimum=0)
    validator.period(values, "renewal_term", minimum=1)
    if "custom_fields" in values and not isinstance(
        values["custom_fields"] or {}, dict
    ):
        validator.add(
            "custom_fields",
            "invalid_custom_fields",
            "Custom fields must be an object of key and value pairs, such as "
            '{"cost_centre": "R&D"}.',
        )
        values.pop("custom_fields")
    if creating and values.get("start_date") is None:
        validator.add("start_date", "required", "Start date is required.")
    if not creating and "start_date" in values and values["start_date"] is None:
        validator.add("start_date", "required", "Start date cannot be removed.")
    if creating and values.get("client_id") is None:
        validator.add("client_id", "required", "Client is required: pick a client.")
    for field in REQUIRED_WHEN_GIVEN:
        if field in values and values[field] is None:
            label = field.removesuffix("_id").replace("_", " ").capitalize()
            validator.add(
                field,
                "required",
                f"{label} cannot be empty: give a value or leave the field out.",
            )

    start = values.get("start_date", current.start_date if current else None)
    end = values.get("end_date", current.end_date if current else None)
    validator.date_order(start, end)

    columns = _plain_columns(values)
    if "reminder_offsets" in values:
        # An empty list, like null, falls back to the contract type's offsets.
        offsets = reminder_offsets_column(
            validator, "reminder_offsets", values["reminder_offsets"] or []
        )
        columns["reminder_offsets"] = offsets or None
    _money_columns(validator, values, current, columns)
    return columns


_PLAIN_COLUMNS = (
    "name",
    "number",
    "description",
    "client_id",
    "contract_type_id",
    "owner_id",
    "contact_id",
    "parent_id",
    "stage",
    "sensitivity",
    "start_date",
    "end_date",
    "signed_date",
    "payment_frequency",
    "auto_renewal",
    "notice_to_month_end",
    "renewal_price_agreement",
)


def _plain_columns(values: dict[str, Any]) -> dict[str, Any]:
    columns = {name: values[name] for name in _PLAIN_COLUMNS if name in values}
    for flag in ("auto_renewal", "notice_to_month_end"):
        if flag in columns and columns[flag] is None:
            columns[flag] = False
    for field, prefix in (
        ("notice_period", "notice"),
        ("renewal_term", "renewal_term"),
    ):
        if field in values:
            period: Period | None = values[field]
            columns[f"{prefix}_count"] = period.count if period else None
            columns[f"{prefix}_unit"] = period.unit if period else None
    return columns


def _money_columns(
    validator: Validator,
    values: dict[str, Any],
    current: Contract | None,
    columns: dict[str, Any],
) -> None:
    currency = values.get("currency", current.currency if current else None)
    if "currency" in values and values["currency"] is None:
        return
    if "currency" in values:
        try:
            columns["currency"] = validate_currency((currency or "").strip().upper())
            currency = columns["currency"]
        except MoneyError as error:
            validator.add("currency", error.code, error.message)
            return

    amount = values.get("amount")
    if "amount" in values:
        columns["amount_minor"] = None
    elif "currency" in values and current is not None and current.amount_minor:
        # A new currency with the old amount must still fit the currency's decimals.
        stored = from_minor_units(current.amount_minor, current.currency)
        try:
            columns["amount_minor"] = to_minor_units(stored, currency or "")
        except MoneyError:
            validator.add(
                "currency",
                "amount_does_not_fit_currency",
                f"The stored amount has more decimal places than {currency} allows: "
                "give the amount in the new currency together with the currency.",
            )
        return
    if amount is not None and currency:
        try:
            columns["amount_minor"] = to_minor_units(amount, currency)
        except MoneyError as error:
            validator.add("amount", error.code, error.message)

    for field, column, low in (
        ("vat_rate", "vat_rate_bp", Decimal(0)),
        ("indexation", "indexation_bp", Decimal(-100)),
    ):
        if field in values:
            value = validator.percentage(values, field, low=low, high=Decimal(100))
            columns[column] = None if value is None else int(value * BASIS_POINTS)


async def _check_contract_references(
    validator: Validator,
    viewer: Viewer,
    values: dict[str, Any],
    current: Contract | None,
) -> None:
    org = viewer.organization_id
    client_id = values.get("client_id", current.client_id if current else None)
    await check_reference(
        validator, Client, org, "client_id", values.get("client_id"), "Client"
    )
    await check_reference(
        validator,
        ContractType,
        org,
        "contract_type_id",
        values.get("contract_type_id"),
        "Contract type",
        extra={"archived_at": None},
    )
    await check_reference(
        validator,
        User,
        org,
        "owner_id",
        values.get("owner_id"),
        "User",
        extra={"is_active": True},
    )
    if values.get("contact_id") is not None and client_id is not None:
        await check_reference(
            validator,
            ContactPerson,
            org,
            "contact_id",
            values["contact_id"],
            "Contact person of this client",
            extra={"client_id": client_id},
        )
    if values.get("parent_id") is not None:
        await _check_parent(validator, viewer, values["parent_id"], current)
    for field, model, label in (
        ("project_ids", Project, "Project"),
        ("service_ids", Service, "Service"),
        ("tag_ids", Tag, "Tag"),
    ):
        await check_references(validator, model, org, field, values.get(field), label)


async def _check_parent(
    validator: Validator, viewer: Viewer, parent_id: int, current: Contract | None
) -> None:
    parent = await visible_contracts(viewer).filter(id=parent_id).first()
    if parent is None:
        validator.add(
            "parent_id",
            "not_found",
            f"Parent contract {encode_id('Contract', parent_id)!r} was not found in "
            "your organization: pick an existing contract.",
        )
        return
    if current is None:
        return

    ancestor_id: int | None = parent_id
    for _ in range(MAX_PARENT_DEPTH):
        if ancestor_id is None:
            return
        if ancestor_id == current.id:
            validator.add(
                "parent_id",
                "parent_cycle",
                f"Contract {encode_id('Contract', parent_id)!r} cannot be the parent "
                "of this contract because it is this contract or one of its "
                "children: pick a contract outside this contract's tree.",
            )
            return
        parents = await Contract.filter(id=ancestor_id).values("parent_id")
        ancestor_id = parents[0]["parent_id"] if parents else None
    validator.add(
        "parent_id",
        "parent_chain_too_deep",
        f"The chain of parents above {encode_id('Contract', parent_id)!r} is deeper "
        f"than {MAX_PARENT_DEPTH} contracts: pick a parent closer to the top.",
    )


def _deadline(contract: Contract) -> Any:
    return deadline_of(contract.end_date, contract.notice_count, contract.notice_unit)


@functools.lru_cache(maxsize=4096)
def deadline_of(end_date: Any, notice_count: Any, notice_unit: Any) -> Any:
    """Return the notice deadline of a contract with these column values.

    Cached, because the rows of an import share a few end dates and notice periods.
    """
    notice = (
        Period(notice_count, notice_unit)
        if notice_count is not None and notice_unit is not None
        else None
    )
    return notice_deadline(end_date, notice)


async def _save_unique(
    contract: Contract, values: dict[str, Any], update_fields: list[str] | None = None
) -> None:
    """Save, turning a duplicate contract number into a validation error.

    NOTE: numbers are unique per organization, so a DUPLICATE reveals to the caller that
    the number exists even when its contract is confidential and hidden from them.
    """
    number = contract.number
    if number is not None:
        clash = Contract.filter(organization_id=contract.organization_id, number=number)
        if contract.id is not None:
            clash = clash.exclude(id=contract.id)
        if await clash.exists():
            _raise_duplicate_number(number)
    try:
        # A savepoint, because on PostgreSQL a failed statement aborts the whole
        # transaction, and the check below must still run in it.
        async with in_transaction():
            await contract.save(update_fields=update_fields)
    except IntegrityError:
        # Another request may have taken the number between the check and the save.
        if number is None:
            raise
        clash = Contract.filter(organization_id=contract.organization_id, number=number)
        if contract.id is not None:
            clash = clash.exclude(id=contract.id)
        if not await clash.exists():
            raise
        _raise_duplicate_number(number)


def _raise_duplicate_number(number: str) -> None:
    validator = Validator()
    validator.add(
        "number",
        "duplicate",
        f"Contract number {number!r} is already used by another contract in your "
        "organization: choose a different number.",
    )
    validator.raise_if_any()


def _links(values: dict[str, Any]) -> ContractLinks:
    return ContractLinks(
        project_ids=values.get("project_ids"),
        service_ids=values.get("service_ids"),
        tag_ids=values.get("tag_ids"),
    )


async def _replace_links(contract: Contract, links: ContractLinks) -> None:
    org = contract.organization_id
    for relation, model, ids in (
        (contract.projects, Project, links.project_ids),
        (contract.services, Service, links.service_ids),
        (contract.tags, Tag, links.tag_ids),
    ):
        if ids is None:
            continue
        await relation.clear()
        if ids:
            await relation.add(*await model.filter(id__in=ids, organization_id=org))
