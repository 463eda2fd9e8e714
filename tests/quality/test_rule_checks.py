"""Duplicate and deleted required-field rules, version conflicts, and which rules a
contract type change re-checks."""

from __future__ import annotations

from contractgql.ids import decode_id
from contractgql.models import RequiredFieldRule
from tests.conftest import Api
from tests.graphql.helpers import UPDATE_CONTRACT, create_client, create_contract
from tests.quality.helpers import (
    CREATE_RULE,
    DELETE_RULE,
    UPDATE_RULE,
    create_rule,
    create_type,
)


def _codes(payload: dict[str, object]) -> list[tuple[str, str]]:
    errors = payload["errors"]
    assert isinstance(errors, list)
    return [(e["field"], e["code"]) for e in errors]


async def test_duplicate_rule_rejected(api: Api) -> None:
    type_id = await create_type(api, "Licence")
    first = await create_rule(
        api,
        {"name": "Licences", "contractTypeId": type_id, "fields": ["OWNER", "NUMBER"]},
    )
    other_stages = await create_rule(
        api,
        {
            "name": "Signed licences",
            "contractTypeId": type_id,
            "fields": ["OWNER", "NUMBER"],
            "stages": ["SIGNED"],
        },
    )

    duplicate = await api.data(
        CREATE_RULE,
        {
            "input": {
                "name": "Copy",
                "contractTypeId": type_id,
                "fields": ["NUMBER", "OWNER"],
                "stages": ["SIGNED", "DRAFT"],
            }
        },
    )
    made_duplicate = await api.data(
        UPDATE_RULE,
        {"id": other_stages["id"], "input": {"stages": ["DRAFT", "SIGNED"]}},
    )

    message = (
        f"Rule 'Licences' ({first['id']}) already requires these fields for the "
        "same contract type and stages: change that rule instead."
    )
    for payload in (
        duplicate["createRequiredFieldRule"],
        made_duplicate["updateRequiredFieldRule"],
    ):
        assert _codes(payload) == [("fields", "DUPLICATE")]
        assert payload["errors"][0]["message"] == message
        assert payload["record"] is None
    stored = await RequiredFieldRule.filter(
        organization_id=api.tenant.organization.id
    ).count()
    assert stored == 2


async def test_same_fields_other_type_accepted(api: Api) -> None:
    type_id = await create_type(api, "Licence")
    await create_rule(api, {"name": "All", "fields": ["OWNER"]})

    scoped = await create_rule(
        api, {"name": "Licences", "contractTypeId": type_id, "fields": ["OWNER"]}
    )

    assert scoped["name"] == "Licences"


async def test_rule_conflict_names_input_fields(api: Api) -> None:
    rule = await create_rule(api, {"name": "Owners", "fields": ["OWNER"]})
    await api.data(UPDATE_RULE, {"id": rule["id"], "input": {"name": "Owner"}})

    error = await api.error(
        UPDATE_RULE,
        {"id": rule["id"], "input": {"fields": ["NUMBER"]}, "version": 1},
    )

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["changedFields"] == ["fields"]
    assert error["extensions"]["currentVersion"] == 2


async def test_deleted_rule_not_found(api: Api) -> None:
    rule = await create_rule(api, {"name": "Owners", "fields": ["OWNER"]})
    await api.data(DELETE_RULE, {"id": rule["id"]})

    updated = await api.error(
        UPDATE_RULE, {"id": rule["id"], "input": {"name": "Owner"}}
    )
    deleted_again = await api.error(DELETE_RULE, {"id": rule["id"]})

    message = (
        f"Required-field rule {rule['id']!r} was deleted, so it can no longer be "
        "changed: list the current rules with requiredFieldRules."
    )
    for error in (updated, deleted_again):
        assert error["extensions"]["code"] == "NOT_FOUND"
        assert error["message"] == message
    stored = await RequiredFieldRule.get(id=decode_id(rule["id"])[1])
    assert stored.name == "Owners"
    assert stored.version == 2


async def test_type_change_checks_new_type_rules(api: Api) -> None:
    client_id = await create_client(api)
    subscription = await create_type(api, "Service subscription")
    licence = await create_type(api, "Licence")
    # Signed before the rules existed, so it has no signed document.
    contract = await create_contract(api, client_id, {"contractTypeId": licence})
    await create_rule(
        api,
        {"name": "Signed copy", "fields": ["SIGNED_DOCUMENT"], "stages": ["SIGNED"]},
    )
    await create_rule(
        api,
        {
            "name": "Subscriptions",
            "contractTypeId": subscription,
            "fields": ["NOTICE_PERIOD"],
        },
    )

    to_subscription = await api.data(
        UPDATE_CONTRACT,
        {"id": contract["id"], "input": {"contractTypeId": subscription}},
    )
    untyped = await api.data(
        UPDATE_CONTRACT, {"id": contract["id"], "input": {"contractTypeId": None}}
    )

    assert _codes(to_subscription["updateContract"]) == [
        ("noticePeriod", "REQUIRED_BY_RULE")
    ]
    assert untyped["updateContract"]["errors"] == []
    assert untyped["updateContract"]["contract"]["stage"] == "SIGNED"
