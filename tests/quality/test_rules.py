"""Required-field rules: managing them, and enforcing them on contract writes."""

from __future__ import annotations

from contractgql.ids import decode_id
from contractgql.models import AuditLog, AuditOutbox, Contract
from tests.conftest import Api
from tests.graphql.helpers import (
    CREATE_CONTRACT,
    UPDATE_CONTRACT,
    contract_input,
    create_client,
    create_contract,
)
from tests.quality.helpers import (
    CREATE_RULE,
    DELETE_RULE,
    LIST_RULES,
    UPDATE_RULE,
    add_signed_document,
    create_rule,
    create_type,
)

NOTICE = {"count": 3, "unit": "MONTHS"}


async def test_rule_lifecycle_as_admin(api: Api) -> None:
    type_id = await create_type(api, "Service subscription")

    rule = await create_rule(
        api,
        {
            "name": "Subscriptions",
            "contractTypeId": type_id,
            "fields": ["NOTICE_PERIOD", "OWNER"],
        },
    )
    updated = await api.data(
        UPDATE_RULE,
        {"id": rule["id"], "input": {"stages": ["SIGNED"]}, "version": 1},
    )
    deleted = await api.data(DELETE_RULE, {"id": rule["id"]})
    listed = await api.data(LIST_RULES)
    with_deleted = await api.data(LIST_RULES, {"includeArchived": True})

    assert rule["fields"] == ["NOTICE_PERIOD", "OWNER"]
    assert rule["stages"] == ["DRAFT", "SIGNED"]
    assert rule["contractType"]["name"] == "Service subscription"
    assert rule["version"] == 1
    assert updated["updateRequiredFieldRule"]["record"]["stages"] == ["SIGNED"]
    assert updated["updateRequiredFieldRule"]["record"]["version"] == 2
    assert deleted["deleteRequiredFieldRule"]["record"]["archivedAt"] is not None
    assert listed["requiredFieldRules"]["totalCount"] == 0
    assert with_deleted["requiredFieldRules"]["totalCount"] == 1
    entity = {"entity_type": "RequiredFieldRule"}
    recorded = [
        *await AuditLog.filter(**entity)
        .order_by("id")
        .values_list("action", "entity_id"),
        *await AuditOutbox.filter(**entity)
        .order_by("id")
        .values_list("action", "entity_id"),
    ]
    pk = decode_id(rule["id"])[1]
    assert [action for action, entity_id in recorded if entity_id == pk] == [
        "required_field_rule.create",
        "required_field_rule.update",
        "required_field_rule.archive",
    ]


async def test_rule_update_with_stale_version(api: Api) -> None:
    rule = await create_rule(api, {"name": "Owners", "fields": ["OWNER"]})
    await api.data(UPDATE_RULE, {"id": rule["id"], "input": {"name": "Owner"}})

    error = await api.error(
        UPDATE_RULE, {"id": rule["id"], "input": {"name": "X"}, "version": 1}
    )

    assert error["extensions"]["code"] == "CONFLICT"


async def test_rule_input_errors(api: Api) -> None:
    data = await api.data(CREATE_RULE, {"input": {"name": " ", "fields": []}})

    errors = data["createRequiredFieldRule"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("name", "REQUIRED"),
        ("fields", "REQUIRED"),
    ]


async def test_rule_creation_as_account_manager(api: Api) -> None:
    error = await api.error(
        CREATE_RULE,
        {"input": {"name": "Owners", "fields": ["OWNER"]}},
        role="account_manager",
    )

    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_rule_blocks_create_of_its_type_only(api: Api) -> None:
    client_id = await create_client(api)
    subscription = await create_type(api, "Service subscription")
    licence = await create_type(api, "Licence")
    await create_rule(
        api,
        {
            "name": "Subscriptions",
            "contractTypeId": subscription,
            "fields": ["NOTICE_PERIOD", "OWNER"],
        },
    )

    rejected = await api.data(
        CREATE_CONTRACT,
        {"input": contract_input(client_id, {"contractTypeId": subscription})},
    )
    other_type = await create_contract(api, client_id, {"contractTypeId": licence})
    untyped = await create_contract(api, client_id)
    accepted = await create_contract(
        api, client_id, {"contractTypeId": subscription, "noticePeriod": NOTICE}
    )

    errors = rejected["createContract"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("noticePeriod", "REQUIRED_BY_RULE")
    ]
    assert "'Subscriptions'" in errors[0]["message"]
    assert rejected["createContract"]["contract"] is None
    assert other_type["noticePeriod"] is None
    assert untyped["noticePeriod"] is None
    assert accepted["noticePeriod"] == {"count": 3, "unit": "MONTHS"}


async def test_rule_on_existing_contract_guards_only_its_fields(api: Api) -> None:
    client_id = await create_client(api)
    old = await create_contract(api, client_id, {"stage": "DRAFT"})
    await create_rule(
        api,
        {"name": "Notice", "fields": ["NOTICE_PERIOD"], "stages": ["SIGNED"]},
    )
    await create_rule(api, {"name": "Numbers", "fields": ["NUMBER"]})

    renamed = await api.data(
        UPDATE_CONTRACT, {"id": old["id"], "input": {"name": "Hosting 2027"}}
    )
    signed = await api.data(
        UPDATE_CONTRACT, {"id": old["id"], "input": {"stage": "SIGNED"}}
    )
    cleared = await api.data(
        UPDATE_CONTRACT, {"id": old["id"], "input": {"number": "  "}}
    )
    fixed = await api.data(
        UPDATE_CONTRACT,
        {
            "id": old["id"],
            "input": {"stage": "SIGNED", "noticePeriod": NOTICE, "number": "C-1"},
        },
    )

    assert renamed["updateContract"]["errors"] == []
    assert renamed["updateContract"]["contract"]["name"] == "Hosting 2027"
    assert [(e["field"], e["code"]) for e in signed["updateContract"]["errors"]] == [
        ("noticePeriod", "REQUIRED_BY_RULE"),
        ("number", "REQUIRED_BY_RULE"),
    ]
    assert [(e["field"], e["code"]) for e in cleared["updateContract"]["errors"]] == [
        ("number", "REQUIRED_BY_RULE")
    ]
    assert fixed["updateContract"]["errors"] == []
    assert fixed["updateContract"]["contract"]["stage"] == "SIGNED"


async def test_signed_document_rule_guards_signing(api: Api) -> None:
    client_id = await create_client(api)
    await create_rule(
        api,
        {"name": "Signed copy", "fields": ["SIGNED_DOCUMENT"], "stages": ["SIGNED"]},
    )

    signed_at_once = await api.data(
        CREATE_CONTRACT, {"input": contract_input(client_id)}
    )
    draft = await create_contract(api, client_id, {"stage": "DRAFT"})
    without_document = await api.data(
        UPDATE_CONTRACT, {"id": draft["id"], "input": {"stage": "SIGNED"}}
    )
    await add_signed_document(api, draft["id"])
    with_document = await api.data(
        UPDATE_CONTRACT, {"id": draft["id"], "input": {"stage": "SIGNED"}}
    )

    for payload in (
        signed_at_once["createContract"],
        without_document["updateContract"],
    ):
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [
            ("stage", "REQUIRED_BY_RULE")
        ]
    assert with_document["updateContract"]["errors"] == []
    assert with_document["updateContract"]["contract"]["stage"] == "SIGNED"


async def test_deleted_rule_stops_applying(api: Api) -> None:
    client_id = await create_client(api)
    rule = await create_rule(api, {"name": "Numbers", "fields": ["NUMBER"]})
    await api.data(DELETE_RULE, {"id": rule["id"]})

    contract = await create_contract(api, client_id)

    assert contract["number"] is None


async def test_vat_rate_must_be_organization_rate(api: Api) -> None:
    client_id = await create_client(api)

    rejected = await api.data(
        CREATE_CONTRACT, {"input": contract_input(client_id, {"vatRate": "19"})}
    )
    accepted = await create_contract(api, client_id, {"vatRate": "9"})

    errors = rejected["createContract"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("vatRate", "UNKNOWN_VAT_RATE")
    ]
    assert errors[0]["message"] == (
        "VAT rate 19% is not one of your organization's rates (0, 9, 21): pick one "
        "of them."
    )
    assert accepted["vatRate"] == "9.00"
    stored = await Contract.filter(organization_id=api.tenant.organization.id).count()
    assert stored == 1


SET_VAT_RATES = """
mutation SetVatRates($rates: [String!]!) {
  setVatRates(rates: $rates) { vatRates errors { field code message } }
}
"""
VIEWER_RATES = "query { viewer { organization { vatRates } } }"


async def test_vat_rates_replaced_as_admin(api: Api) -> None:
    client_id = await create_client(api)
    kept = await create_contract(api, client_id, {"vatRate": "9"})

    data = await api.data(SET_VAT_RATES, {"rates": ["10", "0", "10.0"]})
    viewer = await api.data(VIEWER_RATES, role="sales")
    allowed = await create_contract(api, client_id, {"vatRate": "10"})
    rejected = await api.data(
        CREATE_CONTRACT, {"input": contract_input(client_id, {"vatRate": "21"})}
    )

    assert data["setVatRates"] == {"vatRates": ["10", "0"], "errors": []}
    assert viewer["viewer"]["organization"]["vatRates"] == ["10", "0"]
    assert allowed["vatRate"] == "10.00"
    assert rejected["createContract"]["errors"][0]["code"] == "UNKNOWN_VAT_RATE"
    stored = await Contract.get(id=decode_id(kept["id"])[1])
    assert stored.vat_rate_bp == 900
    actions = await AuditOutbox.filter(
        organization_id=api.tenant.organization.id, entity_type="Organization"
    ).values_list("action", flat=True)
    logged = await AuditLog.filter(
        organization_id=api.tenant.organization.id, entity_type="Organization"
    ).values_list("action", flat=True)
    assert [*actions, *logged] == ["organization.vat_rates"]


async def test_vat_rates_input_errors(api: Api) -> None:
    empty = await api.data(SET_VAT_RATES, {"rates": []})
    invalid = await api.data(SET_VAT_RATES, {"rates": ["21", "abc", "150"]})

    assert [(e["field"], e["code"]) for e in empty["setVatRates"]["errors"]] == [
        ("rates", "REQUIRED")
    ]
    assert [(e["field"], e["code"]) for e in invalid["setVatRates"]["errors"]] == [
        ("rates.1", "INVALID_PERCENTAGE"),
        ("rates.2", "OUT_OF_RANGE"),
    ]
    viewer = await api.data(VIEWER_RATES)
    assert viewer["viewer"]["organization"]["vatRates"] == ["21", "9", "0"]


async def test_vat_rates_as_finance(api: Api) -> None:
    error = await api.error(SET_VAT_RATES, {"rates": ["21"]}, role="finance")

    assert error["extensions"]["code"] == "FORBIDDEN"
