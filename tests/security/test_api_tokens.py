"""API tokens: scopes, storage, revocation, expiry and their GraphQL management."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from contractgql.config import Settings
from contractgql.ids import decode_id, encode_id
from contractgql.models import ApiToken, Reminder, ReminderKind, Task, User
from contractgql.security.api_tokens import SCOPE_PERMISSIONS
from contractgql.security.policy import PERMISSIONS
from tests.conftest import Api, make_tenant
from tests.graphql.helpers import (
    FINANCIAL_FIELDS,
    assert_cannot_learn,
    create_client,
    create_contract,
    read_contract,
    user_id,
)

TOKEN_FIELDS = """
  id name prefix scopes expiresAt revokedAt lastUsedAt createdAt status
  user { id email } createdBy { id }
"""
CREATE_USER = """
mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) { record { id } errors { field code message } }
}
"""
CREATE_TOKEN = f"""
mutation CreateToken($input: CreateApiTokenInput!) {{
  createApiToken(input: $input) {{
    record {{ {TOKEN_FIELDS} }} secret errors {{ field code message }}
  }}
}}
"""
REVOKE_TOKEN = f"""
mutation RevokeToken($id: ID!) {{
  revokeApiToken(id: $id) {{ record {{ {TOKEN_FIELDS} }} errors {{ code }} }}
}}
"""
LIST_TOKENS = f"""
query Tokens($userId: ID, $includeRevoked: Boolean! = false) {{
  apiTokens(userId: $userId, includeRevoked: $includeRevoked) {{
    totalCount nodes {{ {TOKEN_FIELDS} }}
  }}
}}
"""
DEACTIVATE_USER = """
mutation Deactivate($id: ID!) {
  deactivateUser(id: $id) { record { isActive } errors { code } }
}
"""
REACTIVATE_USER = """
mutation Reactivate($id: ID!) {
  reactivateUser(id: $id) { record { isActive } errors { code } }
}
"""
VIEWER = "query { viewer { roles permissions user { email } } }"
CONTRACTS = "query { contracts { totalCount } }"

# What a reader allowed to see financial fields gets for FINANCIAL_VALUES. MRR is
# 7345.67 / 3 = 2448.5566…, ARR is 12 × MRR, and the 2026 term has 4 quarters.
FINANCIAL_VALUES = {
    "amount": "7345.67",
    "paymentFrequency": "QUARTERLY",
    "vatRate": "21",
    "indexation": "3.25",
    "renewalPriceAgreement": "CPI plus 1.5 percent",
    "endDate": "2026-12-31",
}
FINANCIAL_OUTPUT = {
    "amount": "7345.67",
    "vatRate": "21.00",
    "indexation": "3.25",
    "renewalPriceAgreement": "CPI plus 1.5 percent",
    "mrr": "2448.56",
    "arr": "29382.68",
    "totalContractValue": "29382.68",
}
INVALID_MESSAGE = (
    "The API token is invalid or has been revoked: send the whole token as "
    "'Authorization: Bearer cgql_...', or ask an administrator for a new one."
)
INACTIVE_MESSAGE = (
    "The account behind this API token is deactivated or no longer exists: ask an "
    "administrator."
)


async def create_service_account(
    api: Api, roles: list[str], email: str | None = None
) -> str:
    """Create a service account as admin and return its global id."""
    suffix = decode_id(user_id(api.tenant, "admin"))[1]
    email = email or f"robot-{'-'.join(roles)}-{suffix}@example.com"
    data = await api.data(
        CREATE_USER,
        {
            "input": {
                "email": email,
                "name": "Robot",
                "roles": roles,
                "isServiceAccount": True,
            }
        },
    )
    payload = data["createUser"]
    assert payload["errors"] == []
    account_id: str = payload["record"]["id"]
    return account_id


async def create_token(
    api: Api,
    account_id: str,
    scopes: list[str],
    *,
    name: str = "ERP export",
    expires_at: str | None = None,
) -> dict[str, Any]:
    """Create a token as admin and return the payload: `record` and `secret`."""
    token_input: dict[str, Any] = {"userId": account_id, "name": name, "scopes": scopes}
    if expires_at is not None:
        token_input["expiresAt"] = expires_at
    data = await api.data(CREATE_TOKEN, {"input": token_input})
    payload: dict[str, Any] = data["createApiToken"]
    assert payload["errors"] == [], payload["errors"]
    return payload


async def token_for(api: Api, roles: list[str], scopes: list[str]) -> str:
    """Create a service account with `roles` and a token with `scopes`.

    The token is registered under a name that Api.post accepts as a role, and that
    name is returned.
    """
    account_id = await create_service_account(api, roles)
    payload = await create_token(api, account_id, scopes)
    name = f"token:{'+'.join(roles)}:{'+'.join(scopes)}"
    api.tenant.tokens[name] = payload["secret"]
    return name


async def post_with(
    client: httpx.AsyncClient, token: str, document: str = VIEWER
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": document},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["data"] is None
    assert len(body["errors"]) == 1, body["errors"]
    error: dict[str, Any] = body["errors"][0]
    return error


async def financial_contract(api: Api) -> str:
    client_id = await create_client(api)
    contract = await create_contract(api, client_id, FINANCIAL_VALUES)
    contract_id: str = contract["id"]
    return contract_id


# --- Scopes ---------------------------------------------------------------------------


def test_scopes_grant_only_known_read_permissions() -> None:
    for scope, permissions in SCOPE_PERMISSIONS.items():
        assert permissions <= PERMISSIONS, scope
        assert all(p.endswith(":read") for p in permissions), scope


@pytest.mark.parametrize(
    ("roles", "scopes", "permissions"),
    [
        (["integrator"], ["READ"], ["contract:read"]),
        (["integrator"], ["READ_FINANCIAL"], ["contract:read"]),
        (
            ["finance"],
            ["READ"],
            ["contract.confidential:read", "contract:read"],
        ),
        (
            ["finance"],
            ["READ_FINANCIAL"],
            ["contract.confidential:read", "contract.financial:read", "contract:read"],
        ),
        (
            ["admin"],
            ["READ", "READ_FINANCIAL"],
            ["contract.confidential:read", "contract.financial:read", "contract:read"],
        ),
        (["project_staff"], ["READ_FINANCIAL"], []),
    ],
)
async def test_token_permissions_are_scopes_within_roles(
    api: Api, roles: list[str], scopes: list[str], permissions: list[str]
) -> None:
    name = await token_for(api, roles, scopes)

    data = await api.data(VIEWER, role=name)

    assert data["viewer"]["permissions"] == permissions
    assert data["viewer"]["roles"] == roles


async def test_read_scope_hides_financial_fields(api: Api) -> None:
    contract_id = await financial_contract(api)
    for roles in (["integrator"], ["finance"]):
        name = await token_for(api, roles, ["READ"])
        for field in FINANCIAL_FIELDS:
            await assert_cannot_learn(
                api, name, contract_id, field, FINANCIAL_OUTPUT[field]
            )


async def test_financial_scope_shows_financial_fields(api: Api) -> None:
    contract_id = await financial_contract(api)
    name = await token_for(api, ["finance"], ["READ_FINANCIAL"])

    contract = await read_contract(api, contract_id, role=name)

    assert contract is not None
    assert contract["name"] == "Hosting"
    for field, value in FINANCIAL_OUTPUT.items():
        assert contract[field] == value, field


async def test_financial_scope_needs_financial_role(api: Api) -> None:
    contract_id = await financial_contract(api)
    name = await token_for(api, ["integrator"], ["READ_FINANCIAL"])

    contract = await read_contract(api, contract_id, role=name)

    assert contract is not None
    assert contract["name"] == "Hosting"
    for field in FINANCIAL_FIELDS:
        assert contract[field] is None, field


async def test_token_sees_only_own_organization(api: Api, settings: Settings) -> None:
    other = Api(api.client, await make_tenant(settings))
    await financial_contract(other)
    await financial_contract(api)
    name = await token_for(api, ["finance"], ["READ_FINANCIAL"])

    data = await api.data(CONTRACTS, role=name)

    assert data["contracts"]["totalCount"] == 1


# --- Mutations with a token -----------------------------------------------------------


async def _records(api: Api) -> dict[str, str]:
    """Create one record of each kind as admin and return their ids."""
    client_id = await create_client(api)
    contract = await create_contract(api, client_id, {"endDate": "2026-12-31"})
    records = await api.data(
        """
        mutation Setup($client: ID!) {
          tag: createTag(input: {name: "t"}) { record { id } }
          service: createService(input: {name: "s"}) { record { id } }
          type: createContractType(input: {name: "c"}) { record { id } }
          field: createCustomFieldDefinition(input: {
            entity: CONTRACT, key: "k", label: "K", kind: TEXT
          }) { record { id } }
          project: createProject(input: {clientId: $client, name: "p"}) {
            record { id }
          }
          contact: createContactPerson(input: {clientId: $client, name: "n"}) {
            record { id }
          }
          note: createNote(input: {body: "b", clientId: $client}) { record { id } }
          rule: createRequiredFieldRule(input: {
            name: "r", fields: [OWNER], stages: [CANCELLED]
          }) { record { id } }
        }
        """,
        {"client": client_id},
    )
    ids = {name: payload["record"]["id"] for name, payload in records.items()}
    account_id = await create_service_account(api, ["integrator"])
    token = await create_token(api, account_id, ["READ"])
    ids.update(
        client=client_id,
        contract=contract["id"],
        user=user_id(api.tenant, "sales"),
        account=account_id,
        token=token["record"]["id"],
        task=await _open_task(api, contract["id"]),
        noticed=await _contract_with_notice(api, client_id),
    )
    ids.update(await _pending_entry(api, contract["id"], ids["project"]))
    return ids


async def _pending_entry(api: Api, contract_id: str, project_id: str) -> dict[str, str]:
    """Link the project to the contract, cap its hours and store an entry past it."""
    data = await api.data(
        """
        mutation Entry($contract: ID!, $project: ID!) {
          changeContractLinks(id: $contract, add: {projectIds: [$project]}) {
            errors { code }
          }
          setContractCap(contractId: $contract, unit: HOURS, period: MONTH,
                         limit: "1") { cap { id } errors { code } }
          createTimeEntry(input: {projectId: $project, contractId: $contract,
                                  date: "2026-03-02", hours: "2", description: "X"},
                          overrun: REQUEST_APPROVAL) {
            entry { id status } errors { code }
          }
        }
        """,
        {"contract": contract_id, "project": project_id},
    )
    assert data["createTimeEntry"]["entry"]["status"] == "PENDING_APPROVAL"
    return {
        "cap": data["setContractCap"]["cap"]["id"],
        "entry": data["createTimeEntry"]["entry"]["id"],
    }


async def _contract_with_notice(api: Api, client_id: str) -> str:
    """Create a contract with recorded notice, for withdrawNotice to remove."""
    contract = await create_contract(api, client_id, {"endDate": "2026-12-31"})
    data = await api.data(
        """
        mutation Notice($id: ID!) {
          recordNotice(contractId: $id, party: CLIENT, date: "2026-02-01") {
            errors { code }
          }
        }
        """,
        {"id": contract["id"]},
    )
    assert data["recordNotice"]["errors"] == []
    contract_id: str = contract["id"]
    return contract_id


async def _open_task(api: Api, contract_id: str) -> str:
    """Insert a reminder and an open task on the contract, as the scans would."""
    organization_id = api.tenant.organization.id
    contract_pk = decode_id(contract_id)[1]
    reminder = await Reminder.create(
        organization_id=organization_id,
        contract_id=contract_pk,
        kind=ReminderKind.END,
        anchor_date=date(2026, 12, 31),
        offset_count=1,
        offset_unit="months",
        due_date=date(2026, 11, 30),
    )
    task = await Task.create(
        organization_id=organization_id,
        contract_id=contract_pk,
        reminder_id=reminder.id,
        step=0,
        title="Call the client",
        due_date=date(2026, 11, 30),
    )
    return encode_id("Task", task.id)


# Every mutation but `login`, which needs no authentication, with arguments that the
# admin could use successfully.
MUTATIONS: dict[str, tuple[str, str]] = {
    "createContract": (
        'createContract(input: {name: "X", clientId: $client, '
        'startDate: "2026-01-01", stage: DRAFT})',
        "contract { id }",
    ),
    "updateContract": (
        'updateContract(id: $contract, input: {name: "X"})',
        "errors { code }",
    ),
    "archiveContract": ("archiveContract(id: $contract)", "errors { code }"),
    "changeContractLinks": (
        "changeContractLinks(id: $contract, add: {tagIds: [$tag]})",
        "errors { code }",
    ),
    "setContractParent": (
        "setContractParent(id: $contract, parentId: null)",
        "errors { code }",
    ),
    "createClient": ('createClient(input: {name: "X"})', "errors { code }"),
    "updateClient": (
        'updateClient(id: $client, input: {name: "X"})',
        "errors { code }",
    ),
    "archiveClient": ("archiveClient(id: $client)", "errors { code }"),
    "createContactPerson": (
        'createContactPerson(input: {clientId: $client, name: "X"})',
        "errors { code }",
    ),
    "updateContactPerson": (
        'updateContactPerson(id: $contact, input: {name: "X"})',
        "errors { code }",
    ),
    "archiveContactPerson": ("archiveContactPerson(id: $contact)", "errors { code }"),
    "createProject": (
        'createProject(input: {clientId: $client, name: "X"})',
        "errors { code }",
    ),
    "updateProject": (
        'updateProject(id: $project, input: {name: "X"})',
        "errors { code }",
    ),
    "setProjectMembers": (
        "setProjectMembers(projectId: $project, userIds: [$user])",
        "errors { code }",
    ),
    "archiveProject": ("archiveProject(id: $project)", "errors { code }"),
    "createService": ('createService(input: {name: "X"})', "errors { code }"),
    "updateService": (
        'updateService(id: $service, input: {name: "X"})',
        "errors { code }",
    ),
    "archiveService": ("archiveService(id: $service)", "errors { code }"),
    "createTag": ('createTag(input: {name: "X"})', "errors { code }"),
    "updateTag": ('updateTag(id: $tag, input: {name: "X"})', "errors { code }"),
    "archiveTag": ("archiveTag(id: $tag)", "errors { code }"),
    "createContractType": ('createContractType(input: {name: "X"})', "errors { code }"),
    "updateContractType": (
        'updateContractType(id: $type, input: {name: "X"})',
        "errors { code }",
    ),
    "archiveContractType": ("archiveContractType(id: $type)", "errors { code }"),
    "createRequiredFieldRule": (
        'createRequiredFieldRule(input: {name: "X", fields: [NUMBER]})',
        "errors { code }",
    ),
    "updateRequiredFieldRule": (
        'updateRequiredFieldRule(id: $rule, input: {name: "X"})',
        "errors { code }",
    ),
    "deleteRequiredFieldRule": (
        "deleteRequiredFieldRule(id: $rule)",
        "errors { code }",
    ),
    "setVatRates": ('setVatRates(rates: ["21", "9", "0"])', "errors { code }"),
    "createCustomFieldDefinition": (
        'createCustomFieldDefinition(input: {entity: CLIENT, key: "x", '
        'label: "X", kind: TEXT})',
        "errors { code }",
    ),
    "updateCustomFieldDefinition": (
        'updateCustomFieldDefinition(id: $field, input: {label: "X"})',
        "errors { code }",
    ),
    "archiveCustomFieldDefinition": (
        "archiveCustomFieldDefinition(id: $field)",
        "errors { code }",
    ),
    "createNote": (
        'createNote(input: {body: "X", clientId: $client})',
        "errors { code }",
    ),
    "updateNote": ('updateNote(id: $note, body: "X")', "errors { code }"),
    "archiveNote": ("archiveNote(id: $note)", "errors { code }"),
    "reloadPolicy": ("reloadPolicy", "source"),
    "createUser": (
        'createUser(input: {email: "x@example.com", name: "X", roles: ["sales"], '
        'password: "long-enough-password"})',
        "errors { code }",
    ),
    "deactivateUser": ("deactivateUser(id: $user)", "errors { code }"),
    "reactivateUser": ("reactivateUser(id: $user)", "errors { code }"),
    "setUserRoles": ('setUserRoles(id: $user, roles: ["admin"])', "errors { code }"),
    "createApiToken": (
        'createApiToken(input: {userId: $account, name: "X", scopes: [READ]})',
        "secret",
    ),
    "revokeApiToken": ("revokeApiToken(id: $token)", "errors { code }"),
    "recordNotice": (
        'recordNotice(contractId: $contract, party: CLIENT, date: "2026-02-01")',
        "errors { code }",
    ),
    "withdrawNotice": ("withdrawNotice(contractId: $noticed)", "errors { code }"),
    "renewContract": ("renewContract(contractId: $contract)", "errors { code }"),
    "completeTask": ("completeTask(id: $task)", "errors { code }"),
    "markNotificationsRead": ("markNotificationsRead(ids: [])", "errors { code }"),
    "markAllNotificationsRead": ("markAllNotificationsRead", "errors { code }"),
    "createTimeEntry": (
        "createTimeEntry(input: {projectId: $project, contractId: $contract, "
        'date: "2026-03-03", hours: "0.5", description: "X"})',
        "errors { code }",
    ),
    "updateTimeEntry": (
        'updateTimeEntry(id: $entry, input: {description: "Y"}, '
        "overrun: REQUEST_APPROVAL)",
        "errors { code }",
    ),
    "approveTimeEntry": ("approveTimeEntry(id: $entry)", "errors { code }"),
    "deleteTimeEntry": ("deleteTimeEntry(id: $entry)", "errors { code }"),
    "setContractCap": (
        'setContractCap(contractId: $contract, unit: HOURS, period: YEAR, limit: "9")',
        "errors { code }",
    ),
    "deleteContractCap": ("deleteContractCap(id: $cap)", "errors { code }"),
    "setCapWarningPercent": ("setCapWarningPercent(percent: 75)", "errors { code }"),
    "createCalendarFeed": ("createCalendarFeed", "errors { code }"),
    "revokeCalendarFeed": ("revokeCalendarFeed", "errors { code }"),
    # Uploads need multipart requests. A token is rejected before the file and
    # the ids are read, so these calls use placeholders, and tests/documents
    # runs the mutations as users.
    "uploadDocument": (
        'uploadDocument(input: {contractId: $contract, kind: OTHER, file: "x"})',
        "errors { code }",
    ),
    "uploadDocumentVersion": (
        f'uploadDocumentVersion(documentId: "{encode_id("Document", 1)}", file: "x")',
        "errors { code }",
    ),
    "deleteDocument": (
        f'deleteDocument(id: "{encode_id("Document", 1)}")',
        "errors { code }",
    ),
    "createDownloadLink": (
        f'createDownloadLink(versionId: "{encode_id("DocumentVersion", 1)}")',
        "errors { code }",
    ),
    "createDocumentTemplate": (
        'createDocumentTemplate(input: {name: "X", file: "x"})',
        "errors { code }",
    ),
    "renderDocumentTemplate": (
        f'renderDocumentTemplate(templateId: "{encode_id("DocumentTemplate", 1)}", '
        "contractId: $contract, kind: OTHER)",
        "errors { code }",
    ),
    "startImport": ('startImport(input: {file: "x"})', "errors { code }"),
    "cancelImport": (
        f'cancelImport(id: "{encode_id("ImportJob", 1)}")',
        "errors { code }",
    ),
}
# Mutations of MUTATIONS whose placeholders only a token's rejection can pass.
DOCUMENT_MUTATIONS = {
    "uploadDocument",
    "uploadDocumentVersion",
    "deleteDocument",
    "createDownloadLink",
    "createDocumentTemplate",
    "renderDocumentTemplate",
    "startImport",
    "cancelImport",
}
MUTATION_VARIABLES = (
    "client",
    "contract",
    "contact",
    "project",
    "service",
    "tag",
    "type",
    "field",
    "note",
    "user",
    "account",
    "token",
    "task",
    "noticed",
    "entry",
    "cap",
    "rule",
)


def _attempt(name: str, ids: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Return the document and variables that run mutation `name` of MUTATIONS."""
    call, selection = MUTATIONS[name]
    used = [v for v in MUTATION_VARIABLES if f"${v}" in call]
    declared = ", ".join(f"${v}: ID!" for v in used)
    signature = f"({declared})" if declared else ""
    document = f"mutation Attempt{signature} {{ {call} {{ {selection} }} }}"
    return document, {v: ids[v] for v in used}


async def test_mutation_table_covers_schema(api: Api) -> None:
    data = await api.data('query { __type(name: "Mutation") { fields { name } } }')

    names = {field["name"] for field in data["__type"]["fields"]}

    assert names - {"login"} == set(MUTATIONS)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_mutation_rejected_with_token(api: Api, name: str) -> None:
    ids = await _records(api)
    token = await token_for(api, ["admin"], ["READ", "READ_FINANCIAL"])

    body = await api.post(*_attempt(name, ids), role=token)

    assert body["data"] is None
    assert len(body["errors"]) == 1, body["errors"]
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == [name]


# reloadPolicy is left out because it would reload the policy files for every test
# that runs after it in this process.
@pytest.mark.parametrize(
    "name", sorted(set(MUTATIONS) - {"reloadPolicy"} - DOCUMENT_MUTATIONS)
)
async def test_admin_may_run_mutation(api: Api, name: str) -> None:
    """The documents of the table are valid, so the token tests fail for the token."""
    ids = await _records(api)

    body = await api.post(*_attempt(name, ids), role="admin")

    assert "errors" not in body, body
    assert body["data"][name] is not None
    assert body["data"][name].get("errors", []) == []


# --- Storage and authentication -------------------------------------------------------


async def test_stored_hash_is_not_secret(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])

    payload = await create_token(api, account_id, ["READ"])

    secret = payload["secret"]
    assert re.fullmatch(r"cgql_[A-Za-z0-9_-]{43}", secret)
    stored = await ApiToken.get(id=decode_id(payload["record"]["id"])[1])
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.token_hash != secret
    assert stored.prefix == secret[:12]
    row = await ApiToken.filter(id=stored.id).values()
    assert secret not in json.dumps(row, default=str)


async def test_token_listing_never_shows_secret(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    payload = await create_token(api, account_id, ["READ"], name="Reporting")
    secret = payload["secret"]
    digest = hashlib.sha256(secret.encode()).hexdigest()

    body = await api.post(LIST_TOKENS, {}, role="admin")
    fields = await api.data('query { __type(name: "ApiToken") { fields { name } } }')

    text = json.dumps(body)
    assert secret not in text
    assert digest not in text
    nodes = body["data"]["apiTokens"]["nodes"]
    assert [node["name"] for node in nodes] == ["Reporting"]
    assert nodes[0]["prefix"] == secret[:12]
    assert nodes[0]["status"] == "ACTIVE"
    assert nodes[0]["user"]["id"] == account_id
    assert nodes[0]["createdBy"] == {"id": user_id(api.tenant, "admin")}
    assert {field["name"] for field in fields["__type"]["fields"]} == {
        "id",
        "name",
        "prefix",
        "scopes",
        "expiresAt",
        "revokedAt",
        "lastUsedAt",
        "createdAt",
        "status",
        "user",
        "createdBy",
    }


async def test_unknown_token_rejected(client: httpx.AsyncClient, api: Api) -> None:
    unknown = "cgql_" + "A" * 43
    malformed = "cgql_short"

    for token in (unknown, malformed):
        error = only_error(await post_with(client, token))
        assert error["extensions"]["code"] == "UNAUTHENTICATED", token
        assert error["message"] == INVALID_MESSAGE, token


async def test_revoked_token_rejected_at_once(
    client: httpx.AsyncClient, api: Api
) -> None:
    account_id = await create_service_account(api, ["integrator"])
    payload = await create_token(api, account_id, ["READ"])
    before = await post_with(client, payload["secret"])

    revoked = await api.data(REVOKE_TOKEN, {"id": payload["record"]["id"]})
    again = await api.data(REVOKE_TOKEN, {"id": payload["record"]["id"]})
    after = only_error(await post_with(client, payload["secret"]))

    assert before["data"]["viewer"]["permissions"] == ["contract:read"]
    assert revoked["revokeApiToken"]["record"]["status"] == "REVOKED"
    revoked_at = revoked["revokeApiToken"]["record"]["revokedAt"]
    assert again["revokeApiToken"]["record"]["revokedAt"] == revoked_at
    assert after["extensions"]["code"] == "UNAUTHENTICATED"
    assert after["message"] == INVALID_MESSAGE


async def test_expired_token_rejected(client: httpx.AsyncClient, api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    payload = await create_token(api, account_id, ["READ"])
    expired_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    token_pk = decode_id(payload["record"]["id"])[1]
    await ApiToken.filter(id=token_pk).update(expires_at=expired_at)

    error = only_error(await post_with(client, payload["secret"]))
    listed = await api.data(LIST_TOKENS, {"userId": account_id})

    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == (
        "The API token expired at 2026-01-02T03:04:05Z: ask an administrator for a "
        "new one."
    )
    assert [node["status"] for node in listed["apiTokens"]["nodes"]] == ["EXPIRED"]


async def test_inactive_user_token_rejected_at_once(
    client: httpx.AsyncClient, api: Api
) -> None:
    account_id = await create_service_account(api, ["integrator"])
    payload = await create_token(api, account_id, ["READ"])
    before = await post_with(client, payload["secret"])

    await User.filter(id=decode_id(account_id)[1]).update(is_active=False)
    after = only_error(await post_with(client, payload["secret"]))

    assert "errors" not in before
    assert after["extensions"]["code"] == "UNAUTHENTICATED"
    assert after["message"] == INACTIVE_MESSAGE


async def test_deactivation_revokes_tokens(client: httpx.AsyncClient, api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    payload = await create_token(api, account_id, ["READ"])

    deactivated = await api.data(DEACTIVATE_USER, {"id": account_id})
    rejected = only_error(await post_with(client, payload["secret"]))
    reactivated = await api.data(REACTIVATE_USER, {"id": account_id})
    still_rejected = only_error(await post_with(client, payload["secret"]))
    listed = await api.data(LIST_TOKENS, {"userId": account_id, "includeRevoked": True})

    assert deactivated["deactivateUser"] == {
        "record": {"isActive": False},
        "errors": [],
    }
    assert rejected["message"] == INVALID_MESSAGE
    assert reactivated["reactivateUser"] == {"record": {"isActive": True}, "errors": []}
    assert still_rejected["message"] == INVALID_MESSAGE
    assert [node["status"] for node in listed["apiTokens"]["nodes"]] == ["REVOKED"]


async def test_last_use_written_once_a_minute(
    client: httpx.AsyncClient, api: Api
) -> None:
    account_id = await create_service_account(api, ["integrator"])
    payload = await create_token(api, account_id, ["READ"])
    token_pk = decode_id(payload["record"]["id"])[1]

    await post_with(client, payload["secret"])
    first = (await ApiToken.get(id=token_pk)).last_used_at
    await post_with(client, payload["secret"])
    second = (await ApiToken.get(id=token_pk)).last_used_at
    two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
    await ApiToken.filter(id=token_pk).update(last_used_at=two_minutes_ago)
    await post_with(client, payload["secret"])
    third = (await ApiToken.get(id=token_pk)).last_used_at

    assert payload["record"]["lastUsedAt"] is None
    assert first is not None
    assert second == first
    assert third is not None
    assert third > two_minutes_ago + timedelta(minutes=1)


async def test_login_token_still_accepted(api: Api) -> None:
    data = await api.data(VIEWER, role="finance")

    assert data["viewer"]["user"]["email"] == api.tenant.emails["finance"]


# --- Managing tokens ------------------------------------------------------------------


async def test_default_expiry_is_ninety_days(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    before = datetime.now(UTC)

    payload = await create_token(api, account_id, ["READ", "READ_FINANCIAL", "READ"])

    after = datetime.now(UTC)
    expires_at = datetime.fromisoformat(payload["record"]["expiresAt"])
    assert before + timedelta(days=90) <= expires_at <= after + timedelta(days=90)
    assert payload["record"]["scopes"] == ["READ", "READ_FINANCIAL"]
    assert payload["record"]["status"] == "ACTIVE"


async def test_given_expiry_is_kept(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    expires_at = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    payload = await create_token(
        api, account_id, ["READ"], expires_at=expires_at.isoformat()
    )

    assert datetime.fromisoformat(payload["record"]["expiresAt"]) == expires_at


async def _create_errors(api: Api, token_input: dict[str, Any]) -> list[dict[str, Any]]:
    data = await api.data(CREATE_TOKEN, {"input": token_input})
    payload = data["createApiToken"]
    assert payload["record"] is None
    assert payload["secret"] is None
    errors: list[dict[str, Any]] = payload["errors"]
    return errors


async def test_expiry_in_past_rejected(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])

    errors = await _create_errors(
        api,
        {
            "userId": account_id,
            "name": "Old",
            "scopes": ["READ"],
            "expiresAt": "2020-05-06T07:08:09Z",
        },
    )

    assert [(e["field"], e["code"]) for e in errors] == [("expiresAt", "IN_PAST")]
    assert "2020-05-06T07:08:09Z" in errors[0]["message"]


async def test_expiry_beyond_a_year_rejected(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    too_late = (datetime.now(UTC) + timedelta(days=366)).replace(microsecond=0)

    errors = await _create_errors(
        api,
        {
            "userId": account_id,
            "name": "Forever",
            "scopes": ["READ"],
            "expiresAt": too_late.isoformat(),
        },
    )

    assert [(e["field"], e["code"]) for e in errors] == [("expiresAt", "TOO_LATE")]
    assert too_late.isoformat().replace("+00:00", "Z") in errors[0]["message"]
    assert "365 days" in errors[0]["message"]


async def test_token_for_person_rejected(api: Api) -> None:
    person = user_id(api.tenant, "integrator")

    errors = await _create_errors(
        api, {"userId": person, "name": "Mine", "scopes": ["READ"]}
    )

    assert [(e["field"], e["code"]) for e in errors] == [
        ("userId", "NOT_SERVICE_ACCOUNT")
    ]
    assert api.tenant.emails["integrator"] in errors[0]["message"]
    assert await ApiToken.filter(user_id=api.tenant.user_ids["integrator"]).count() == 0


async def test_token_for_deactivated_account_rejected(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    await api.data(DEACTIVATE_USER, {"id": account_id})

    errors = await _create_errors(
        api, {"userId": account_id, "name": "Late", "scopes": ["READ"]}
    )

    assert [(e["field"], e["code"]) for e in errors] == [("userId", "USER_DEACTIVATED")]


async def test_token_for_other_organization_rejected(
    api: Api, settings: Settings
) -> None:
    other = Api(api.client, await make_tenant(settings))
    foreign = await create_service_account(other, ["integrator"])
    missing = encode_id("User", 2**62)

    foreign_errors = await _create_errors(
        api, {"userId": foreign, "name": "X", "scopes": ["READ"]}
    )
    missing_errors = await _create_errors(
        api, {"userId": missing, "name": "X", "scopes": ["READ"]}
    )

    assert [(e["field"], e["code"]) for e in foreign_errors] == [
        ("userId", "NOT_FOUND")
    ]
    assert [(e["field"], e["code"]) for e in missing_errors] == [
        ("userId", "NOT_FOUND")
    ]
    assert foreign_errors[0]["message"].replace(foreign, "<id>") == missing_errors[0][
        "message"
    ].replace(missing, "<id>")


async def test_token_user_of_other_type_rejected(api: Api) -> None:
    errors = await _create_errors(
        api, {"userId": encode_id("Tag", 1), "name": "X", "scopes": ["READ"]}
    )

    assert [(e["field"], e["code"]) for e in errors] == [("userId", "INVALID_ID")]


async def test_token_name_and_scopes_required(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])

    errors = await _create_errors(
        api, {"userId": account_id, "name": "  ", "scopes": []}
    )

    assert sorted((e["field"], e["code"]) for e in errors) == [
        ("name", "REQUIRED"),
        ("scopes", "REQUIRED"),
    ]


async def test_token_management_needs_user_manage(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    payload = await create_token(api, account_id, ["READ"])
    documents = [
        (
            CREATE_TOKEN,
            {"input": {"userId": account_id, "name": "X", "scopes": ["READ"]}},
        ),
        (REVOKE_TOKEN, {"id": payload["record"]["id"]}),
        (LIST_TOKENS, {}),
    ]

    for document, variables in documents:
        for role in ("finance", "management", "integrator"):
            error = await api.error(document, variables, role=role)
            assert error["extensions"]["code"] == "FORBIDDEN", (document, role)


async def test_revoke_other_organization_token_not_found(
    api: Api, settings: Settings
) -> None:
    other = Api(api.client, await make_tenant(settings))
    foreign_account = await create_service_account(other, ["integrator"])
    foreign = await create_token(other, foreign_account, ["READ"])

    error = await api.error(REVOKE_TOKEN, {"id": foreign["record"]["id"]})
    listed = await api.data(LIST_TOKENS, {"includeRevoked": True})
    still_works = await post_with(api.client, foreign["secret"])

    assert error["extensions"]["code"] == "NOT_FOUND"
    assert listed["apiTokens"]["totalCount"] == 0
    assert "errors" not in still_works


async def test_listing_hides_revoked_by_default(api: Api) -> None:
    account_id = await create_service_account(api, ["integrator"])
    kept = await create_token(api, account_id, ["READ"], name="Kept")
    gone = await create_token(api, account_id, ["READ"], name="Gone")
    await api.data(REVOKE_TOKEN, {"id": gone["record"]["id"]})

    default = await api.data(LIST_TOKENS, {})
    everything = await api.data(LIST_TOKENS, {"includeRevoked": True})

    assert [n["id"] for n in default["apiTokens"]["nodes"]] == [kept["record"]["id"]]
    assert [n["name"] for n in everything["apiTokens"]["nodes"]] == ["Gone", "Kept"]


async def test_node_shows_token_to_administrators_only(api: Api) -> None:
    account_id = await create_service_account(api, ["admin"])
    payload = await create_token(api, account_id, ["READ"], name="Node")
    api.tenant.tokens["token:admin"] = payload["secret"]
    document = "query Node($id: ID!) { node(id: $id) { ... on ApiToken { name } } }"
    variables = {"id": payload["record"]["id"]}

    admin = await api.data(document, variables)
    finance = await api.data(document, variables, role="finance")
    token = await api.data(document, variables, role="token:admin")

    assert admin["node"] == {"name": "Node"}
    assert finance["node"] is None
    assert token["node"] is None
