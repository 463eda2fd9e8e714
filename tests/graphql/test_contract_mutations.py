"""Changing contracts: validation errors, write permissions and unchanged rejects."""

from __future__ import annotations

from typing import Any

import pytest

from contractgql.ids import encode_id
from tests.conftest import Api
from tests.graphql.helpers import (
    ARCHIVE_CONTRACT,
    CREATE_CONTRACT,
    UPDATE_CONTRACT,
    contract_input,
    create_client,
    create_contract,
    create_tag,
    listed_names,
    read_contract,
    user_id,
)

SET_PARENT = """
mutation SetParent($id: ID!, $parentId: ID) {
  setContractParent(id: $id, parentId: $parentId) {
    contract { id parent { id } }
    errors { field code message }
  }
}
"""
CHANGE_LINKS = """
mutation ChangeLinks($id: ID!, $add: ContractLinksInput, $remove: ContractLinksInput) {
  changeContractLinks(id: $id, add: $add, remove: $remove) {
    contract { tags { name } }
    errors { field code message }
  }
}
"""
CREATE_CUSTOM_FIELD = """
mutation CreateCustomField($input: CustomFieldDefinitionInput!) {
  createCustomFieldDefinition(input: $input) { record { id } errors { field code } }
}
"""
CONTRACT_PARENT = """
query ContractParent($id: ID!) { node(id: $id) { ... on Contract { parent { id } } } }
"""

FINANCIAL_INPUTS = [
    ("amount", "999.99"),
    ("vatRate", "9"),
    ("indexation", "4.5"),
    ("renewalPriceAgreement", "Prices follow CPI"),
]


async def _create_payload(
    api: Api, client_id: str, fields: dict[str, Any], *, role: str = "admin"
) -> dict[str, Any]:
    data = await api.data(
        CREATE_CONTRACT, {"input": contract_input(client_id, fields)}, role=role
    )
    payload: dict[str, Any] = data["createContract"]
    return payload


async def _update_payload(
    api: Api, contract_id: str, fields: dict[str, Any], *, role: str = "admin"
) -> dict[str, Any]:
    data = await api.data(
        UPDATE_CONTRACT, {"id": contract_id, "input": fields}, role=role
    )
    payload: dict[str, Any] = data["updateContract"]
    return payload


def _single_error(payload: dict[str, Any]) -> dict[str, Any]:
    """Return the one field error of a rejected mutation payload."""
    assert payload["contract"] is None
    assert len(payload["errors"]) == 1, payload["errors"]
    error: dict[str, Any] = payload["errors"][0]
    return error


async def _assert_create_rejected(
    api: Api, fields: dict[str, Any], field: str, code: str, value: str
) -> None:
    """Create with `fields` and expect one error on `field` that names `value`."""
    client_id = await create_client(api)

    error = _single_error(await _create_payload(api, client_id, fields))

    assert error["field"] == field
    assert error["code"] == code
    assert value in error["message"]
    assert await listed_names(api, {"includeArchived": True}) == []


# --- Validation on create -------------------------------------------------------------


async def test_end_before_start_rejected(api: Api) -> None:
    fields = {"startDate": "2027-01-01", "endDate": "2026-12-31"}

    await _assert_create_rejected(
        api, fields, "endDate", "END_BEFORE_START", "2026-12-31"
    )


async def test_end_before_start_names_start(api: Api) -> None:
    client_id = await create_client(api)
    fields = {"startDate": "2027-01-01", "endDate": "2026-12-31"}

    error = _single_error(await _create_payload(api, client_id, fields))

    assert "2027-01-01" in error["message"]


async def test_end_on_start_day_accepted(api: Api) -> None:
    client_id = await create_client(api)

    contract = await create_contract(
        api, client_id, {"startDate": "2027-01-01", "endDate": "2027-01-01"}
    )

    assert contract["endDate"] == "2027-01-01"


async def test_blank_name_rejected(api: Api) -> None:
    await _assert_create_rejected(api, {"name": "   "}, "name", "REQUIRED", "Name")


async def test_unknown_currency_rejected(api: Api) -> None:
    fields = {"currency": "XYZ", "amount": "10.00"}

    await _assert_create_rejected(api, fields, "currency", "UNKNOWN_CURRENCY", "'XYZ'")


async def test_negative_amount_rejected(api: Api) -> None:
    fields = {"amount": "-10.00"}

    await _assert_create_rejected(api, fields, "amount", "NEGATIVE_AMOUNT", "-10.00")


@pytest.mark.parametrize(
    ("currency", "amount"), [("EUR", "1.001"), ("JPY", "100.5"), ("BHD", "1.2345")]
)
async def test_too_many_decimals_rejected(api: Api, currency: str, amount: str) -> None:
    fields = {"currency": currency, "amount": amount}

    await _assert_create_rejected(api, fields, "amount", "TOO_MANY_DECIMALS", amount)


@pytest.mark.parametrize("amount", ["12,50", "twelve", "NaN"])
async def test_invalid_amount_rejected(api: Api, amount: str) -> None:
    await _assert_create_rejected(
        api, {"amount": amount}, "amount", "INVALID_AMOUNT", amount
    )


async def test_invalid_date_rejected(api: Api) -> None:
    client_id = await create_client(api)
    variables = {"input": contract_input(client_id, {"endDate": "2026-02-30"})}

    error = await api.error(CREATE_CONTRACT, variables)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "2026-02-30" in error["message"]
    assert await listed_names(api) == []


@pytest.mark.parametrize("vat_rate", ["150", "-1"])
async def test_vat_rate_out_of_range_rejected(api: Api, vat_rate: str) -> None:
    await _assert_create_rejected(
        api, {"vatRate": vat_rate}, "vatRate", "OUT_OF_RANGE", vat_rate
    )


@pytest.mark.parametrize("vat_rate", ["NaN", "Infinity", "21%", "twenty"])
async def test_vat_rate_not_a_number_rejected(api: Api, vat_rate: str) -> None:
    await _assert_create_rejected(
        api, {"vatRate": vat_rate}, "vatRate", "INVALID_PERCENTAGE", vat_rate
    )


async def test_missing_client_rejected(api: Api) -> None:
    missing = encode_id("Client", 2**62)
    client_id = await create_client(api)

    payload = await _create_payload(api, client_id, {"clientId": missing})

    error = _single_error(payload)
    assert error["field"] == "clientId"
    assert error["code"] == "NOT_FOUND"
    assert missing in error["message"]


async def test_all_errors_reported_together(api: Api) -> None:
    client_id = await create_client(api)
    fields = {"startDate": "2027-01-01", "endDate": "2026-12-31", "currency": "XYZ"}

    payload = await _create_payload(api, client_id, fields)

    assert payload["contract"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("endDate", "END_BEFORE_START"),
        ("currency", "UNKNOWN_CURRENCY"),
    ]


async def test_duplicate_number_rejected(api: Api) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id, {"name": "First", "number": "C-1"})

    error = _single_error(
        await _create_payload(api, client_id, {"name": "Second", "number": "C-1"})
    )

    assert error["field"] == "number"
    assert error["code"] == "DUPLICATE"
    assert "'C-1'" in error["message"]
    assert await listed_names(api) == ["First"]


async def _define_custom_field(
    api: Api, key: str, kind: str, *, required: bool = False
) -> None:
    definition = {
        "entity": "CONTRACT",
        "key": key,
        "label": key.replace("_", " ").title(),
        "kind": kind,
        "required": required,
    }
    data = await api.data(CREATE_CUSTOM_FIELD, {"input": definition})
    assert data["createCustomFieldDefinition"]["errors"] == []


async def test_custom_field_value_rejected(api: Api) -> None:
    await _define_custom_field(api, "cost_centre", "NUMBER")

    await _assert_create_rejected(
        api,
        {"customFields": {"cost_centre": "abc"}},
        "customFields.cost_centre",
        "INVALID_CUSTOM_FIELD_VALUE",
        "'abc'",
    )


async def test_unknown_custom_field_rejected(api: Api) -> None:
    await _define_custom_field(api, "cost_centre", "NUMBER")

    await _assert_create_rejected(
        api,
        {"customFields": {"colour": "red"}},
        "customFields.colour",
        "UNKNOWN_CUSTOM_FIELD",
        "'colour'",
    )


async def test_required_custom_field_rejected(api: Api) -> None:
    await _define_custom_field(api, "cost_centre", "NUMBER", required=True)

    await _assert_create_rejected(
        api, {}, "customFields.cost_centre", "REQUIRED", "'cost_centre'"
    )


async def test_custom_field_value_stored(api: Api) -> None:
    await _define_custom_field(api, "cost_centre", "NUMBER")
    client_id = await create_client(api)

    contract = await create_contract(
        api, client_id, {"customFields": {"cost_centre": 4100.5}}
    )

    assert contract["customFields"] == {"cost_centre": "4100.5"}


# --- Updates --------------------------------------------------------------------------


async def _contract(api: Api, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    client_id = await create_client(api)
    base = {
        "name": "Hosting",
        "number": "C-100",
        "startDate": "2026-01-01",
        "endDate": "2027-06-30",
        "noticePeriod": {"count": 1, "unit": "MONTHS"},
        "amount": "300.00",
        "paymentFrequency": "QUARTERLY",
        "vatRate": "21",
        "indexation": "2.5",
        "renewalPriceAgreement": "Fixed for the first term",
    }
    return await create_contract(api, client_id, {**base, **(fields or {})})


async def _assert_update_rejected(
    api: Api, before: dict[str, Any], fields: dict[str, Any], field: str, code: str
) -> None:
    """Update with `fields`, expect one error on `field` and the record unchanged."""
    error = _single_error(await _update_payload(api, before["id"], fields))

    assert error["field"] == field
    assert error["code"] == code
    assert await read_contract(api, before["id"]) == before


async def test_update_recomputes_notice_deadline(api: Api) -> None:
    before = await _contract(api)

    payload = await _update_payload(api, before["id"], {"endDate": "2027-12-31"})

    assert payload["errors"] == []
    assert payload["contract"]["noticeDeadline"] == "2027-11-30"
    assert payload["contract"]["version"] == before["version"] + 1
    assert await read_contract(api, before["id"]) == payload["contract"]


async def test_update_null_end_makes_open_ended(api: Api) -> None:
    before = await _contract(api)

    payload = await _update_payload(api, before["id"], {"endDate": None})

    assert payload["errors"] == []
    assert payload["contract"]["endDate"] is None
    assert payload["contract"]["noticeDeadline"] is None
    assert payload["contract"]["totalContractValue"] is None


async def test_update_end_before_start_unchanged(api: Api) -> None:
    before = await _contract(api)

    await _assert_update_rejected(
        api,
        before,
        {"name": "Renamed", "endDate": "2025-12-31"},
        "endDate",
        "END_BEFORE_START",
    )


async def test_update_start_after_end_unchanged(api: Api) -> None:
    before = await _contract(api)

    await _assert_update_rejected(
        api, before, {"startDate": "2027-07-01"}, "endDate", "END_BEFORE_START"
    )


async def test_update_duplicate_number_unchanged(api: Api) -> None:
    client_id = await create_client(api)
    await create_contract(api, client_id, {"name": "Other", "number": "C-200"})
    before = await _contract(api)

    await _assert_update_rejected(
        api, before, {"number": "C-200", "name": "Renamed"}, "number", "DUPLICATE"
    )


async def test_update_amount_too_many_decimals_unchanged(api: Api) -> None:
    before = await _contract(api)

    await _assert_update_rejected(
        api, before, {"amount": "1.005"}, "amount", "TOO_MANY_DECIMALS"
    )


async def test_currency_change_checks_stored_amount(api: Api) -> None:
    before = await _contract(api, {"amount": "12.34"})

    await _assert_update_rejected(
        api, before, {"currency": "JPY"}, "currency", "AMOUNT_DOES_NOT_FIT_CURRENCY"
    )


async def test_currency_error_hides_stored_amount(api: Api) -> None:
    before = await _contract(api, {"amount": "98765.43"})

    data = await api.data(
        UPDATE_CONTRACT, {"id": before["id"], "input": {"currency": "JPY"}}
    )

    message = data["updateContract"]["errors"][0]["message"]
    assert "98765" not in message
    assert "JPY" in message


@pytest.mark.parametrize("role", ["account_manager", "sales"])
async def test_currency_change_forbidden_without_finance(api: Api, role: str) -> None:
    before = await _contract(
        api, {"ownerId": encode_id("User", api.tenant.user_ids[role])}
    )

    error = await api.error(
        UPDATE_CONTRACT, {"id": before["id"], "input": {"currency": "JPY"}}, role=role
    )

    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "currency" in error["message"]


async def test_update_unknown_currency_unchanged(api: Api) -> None:
    before = await _contract(api)

    await _assert_update_rejected(
        api, before, {"currency": "ABC"}, "currency", "UNKNOWN_CURRENCY"
    )


@pytest.mark.parametrize(
    "field",
    ["name", "startDate", "clientId", "stage", "sensitivity", "paymentFrequency"],
)
async def test_update_required_field_null_unchanged(api: Api, field: str) -> None:
    before = await _contract(api)

    await _assert_update_rejected(api, before, {field: None}, field, "REQUIRED")


async def test_update_blank_name_unchanged(api: Api) -> None:
    before = await _contract(api)

    await _assert_update_rejected(api, before, {"name": " "}, "name", "REQUIRED")


async def test_parent_cycle_rejected(api: Api) -> None:
    parent = await _contract(api, {"number": "P-1"})
    child = await _contract(api, {"number": "P-2"})
    linked = await api.data(SET_PARENT, {"id": child["id"], "parentId": parent["id"]})
    assert linked["setContractParent"]["errors"] == []

    data = await api.data(SET_PARENT, {"id": parent["id"], "parentId": child["id"]})

    error = _single_error(data["setContractParent"])
    assert error["field"] == "parentId"
    assert error["code"] == "PARENT_CYCLE"
    assert child["id"] in error["message"]
    unchanged = await api.data(CONTRACT_PARENT, {"id": parent["id"]})
    assert unchanged["node"]["parent"] is None


async def test_own_parent_rejected(api: Api) -> None:
    before = await _contract(api)

    await _assert_update_rejected(
        api, before, {"parentId": before["id"]}, "parentId", "PARENT_CYCLE"
    )


async def test_archive_hides_from_list(api: Api) -> None:
    contract = await _contract(api)

    await api.data(ARCHIVE_CONTRACT, {"id": contract["id"]})

    stored = await read_contract(api, contract["id"])
    assert stored is not None
    assert stored["archivedAt"] is not None
    assert await listed_names(api) == []
    assert await listed_names(api, {"includeArchived": True}) == ["Hosting"]


async def test_change_links_adds_and_removes_tags(api: Api) -> None:
    contract = await _contract(api)
    urgent = await create_tag(api, "urgent")
    legacy = await create_tag(api, "legacy")

    added = await api.data(
        CHANGE_LINKS, {"id": contract["id"], "add": {"tagIds": [urgent, legacy]}}
    )
    removed = await api.data(
        CHANGE_LINKS, {"id": contract["id"], "remove": {"tagIds": [urgent]}}
    )

    assert added["changeContractLinks"]["contract"]["tags"] == [
        {"name": "legacy"},
        {"name": "urgent"},
    ]
    assert removed["changeContractLinks"]["contract"]["tags"] == [{"name": "legacy"}]


# --- Write permissions ----------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), FINANCIAL_INPUTS)
async def test_financial_update_forbidden_as_account_manager(
    api: Api, field: str, value: str
) -> None:
    owner = user_id(api.tenant, "account_manager")
    before = await _contract(api, {"ownerId": owner})

    body = await api.post(
        UPDATE_CONTRACT,
        {"id": before["id"], "input": {field: value}},
        role="account_manager",
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await read_contract(api, before["id"]) == before


@pytest.mark.parametrize(("field", "value"), FINANCIAL_INPUTS)
async def test_financial_create_forbidden_as_sales(
    api: Api, field: str, value: str
) -> None:
    client_id = await create_client(api)
    fields = {"stage": "DRAFT", field: value}

    body = await api.post(
        CREATE_CONTRACT, {"input": contract_input(client_id, fields)}, role="sales"
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await listed_names(api, {"includeArchived": True}) == []


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("amount", "999.99", "999.99"),
        ("vatRate", "9", "9.00"),
        ("indexation", "4.5", "4.50"),
        ("renewalPriceAgreement", "Prices follow CPI", "Prices follow CPI"),
    ],
)
async def test_financial_update_as_finance(
    api: Api, field: str, value: str, shown: str
) -> None:
    before = await _contract(api)

    payload = await _update_payload(api, before["id"], {field: value}, role="finance")

    assert payload["errors"] == []
    assert payload["contract"][field] == shown


async def test_own_contract_update_as_account_manager(api: Api) -> None:
    owner = user_id(api.tenant, "account_manager")
    before = await _contract(api, {"ownerId": owner})

    payload = await _update_payload(
        api, before["id"], {"name": "Renamed"}, role="account_manager"
    )

    assert payload["errors"] == []
    assert payload["contract"]["name"] == "Renamed"


async def test_other_contract_update_forbidden_as_account_manager(api: Api) -> None:
    before = await _contract(api, {"ownerId": user_id(api.tenant, "sales")})

    body = await api.post(
        UPDATE_CONTRACT,
        {"id": before["id"], "input": {"name": "Renamed"}},
        role="account_manager",
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await read_contract(api, before["id"]) == before


async def test_signed_create_forbidden_as_sales(api: Api) -> None:
    client_id = await create_client(api)

    body = await api.post(
        CREATE_CONTRACT,
        {"input": contract_input(client_id, {"stage": "SIGNED"})},
        role="sales",
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await listed_names(api) == []


async def test_draft_create_as_sales(api: Api) -> None:
    client_id = await create_client(api)

    contract = await create_contract(api, client_id, {"stage": "DRAFT"}, role="sales")

    assert contract["stage"] == "DRAFT"
    assert contract["amount"] is None


async def test_draft_signing_forbidden_as_sales(api: Api) -> None:
    client_id = await create_client(api)
    before = await create_contract(api, client_id, {"stage": "DRAFT"})

    body = await api.post(
        UPDATE_CONTRACT,
        {"id": before["id"], "input": {"stage": "SIGNED"}},
        role="sales",
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await read_contract(api, before["id"]) == before


async def _assert_create_forbidden(api: Api, role: str) -> None:
    client_id = await create_client(api)

    body = await api.post(
        CREATE_CONTRACT, {"input": contract_input(client_id)}, role=role
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await listed_names(api) == []


async def test_create_forbidden_as_project_staff(api: Api) -> None:
    await _assert_create_forbidden(api, "project_staff")


async def test_create_forbidden_as_integrator(api: Api) -> None:
    await _assert_create_forbidden(api, "integrator")


async def test_own_create_as_account_manager(api: Api) -> None:
    client_id = await create_client(api)
    owner = user_id(api.tenant, "account_manager")

    contract = await create_contract(
        api, client_id, {"ownerId": owner}, role="account_manager"
    )

    assert contract["owner"] == {"id": owner}


async def test_create_owned_by_creator_as_account_manager(api: Api) -> None:
    client_id = await create_client(api)

    contract = await create_contract(api, client_id, role="account_manager")

    assert contract["owner"] == {"id": user_id(api.tenant, "account_manager")}


async def test_create_for_other_owner_forbidden_as_account_manager(api: Api) -> None:
    client_id = await create_client(api)
    fields = {"ownerId": user_id(api.tenant, "sales")}

    body = await api.post(
        CREATE_CONTRACT,
        {"input": contract_input(client_id, fields)},
        role="account_manager",
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await listed_names(api) == []


async def test_hide_others_draft_forbidden_as_sales(api: Api) -> None:
    client_id = await create_client(api)
    draft = await create_contract(api, client_id, {"stage": "DRAFT"})

    body = await api.post(
        UPDATE_CONTRACT,
        {"id": draft["id"], "input": {"sensitivity": "CONFIDENTIAL"}},
        role="sales",
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["message"] == (
        f"You may not change the sensitivity of contract {draft['id']!r}: only its "
        "owner or a role with 'contract:write' may. Leave sensitivity out of the "
        "input."
    )
    assert await listed_names(api, role="sales") == ["Hosting"]


async def test_hide_own_draft_as_sales(api: Api) -> None:
    client_id = await create_client(api)
    draft = await create_contract(api, client_id, {"stage": "DRAFT"}, role="sales")

    data = await api.data(
        UPDATE_CONTRACT,
        {"id": draft["id"], "input": {"sensitivity": "CONFIDENTIAL"}},
        role="sales",
    )

    assert data["updateContract"]["errors"] == []
    assert await listed_names(api, role="sales") == ["Hosting"]
    assert await listed_names(api, role="account_manager") == []
