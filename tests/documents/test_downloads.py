"""Downloads by role, signed links, and soft deletion of documents."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from contractgql.config import Settings
from contractgql.documents.links import LinkSigner
from contractgql.ids import decode_id, encode_id
from contractgql.models import AuditLog, AuditOutbox, Document, User
from contractgql.security.policy import ROLES
from tests.conftest import Api
from tests.documents.helpers import (
    CONTRACT_DOCUMENTS,
    CREATE_LINK,
    DELETE_DOCUMENT,
    pdf_bytes,
    upload,
)
from tests.graphql.helpers import (
    UPDATE_CONTRACT,
    create_client,
    create_contract,
    join_client,
)

# Status of GET /documents/<id> for each role on a normal and on a confidential
# contract, both owned by the admin and without watchers. Project staff are not
# members of a project of the client.
EXPECTED_STATUS = {
    "admin": (200, 200),
    "management": (200, 200),
    "finance": (200, 200),
    "account_manager": (200, 404),
    "sales": (200, 404),
    "project_staff": (404, 404),
    "integrator": (200, 404),
}


async def _document(
    api: Api, fields: dict[str, Any] | None = None, content: bytes | None = None
) -> tuple[str, dict[str, Any], bytes]:
    """Upload a PDF to a new contract; return the contract id, the document and
    the content."""
    client_id = await create_client(api, "Acme")
    contract = await create_contract(api, client_id, fields)
    content = content or pdf_bytes()
    payload = await upload(api, {"contractId": contract["id"]}, "a.pdf", content)
    assert payload["errors"] == []
    return contract["id"], payload["document"], content


async def _download_events(organization_id: int) -> list[tuple[int | None, int]]:
    """Return (actor, document) of every document.download audit event."""
    events = []
    for model in (AuditLog, AuditOutbox):
        rows = await model.filter(
            organization_id=organization_id, action="document.download"
        )
        events += [(row.actor_id, row.entity_id) for row in rows]
    return events


def test_status_table_covers_every_role() -> None:
    assert set(EXPECTED_STATUS) == set(ROLES)


@pytest.mark.parametrize("role", sorted(EXPECTED_STATUS))
async def test_download_status_per_role(docs: Api, role: str) -> None:
    _, normal, content = await _document(docs)
    _, confidential, _ = await _document(docs, {"sensitivity": "CONFIDENTIAL"})
    headers = {"Authorization": f"Bearer {docs.tenant.tokens[role]}"}

    statuses = []
    for document in (normal, confidential):
        url = document["versions"][0]["downloadUrl"]
        response = await docs.client.get(url, headers=headers)
        statuses.append(response.status_code)
        if response.status_code == 200:
            assert response.content == content
        else:
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "NOT_FOUND"
            assert "was not found" in error["message"]

    assert tuple(statuses) == EXPECTED_STATUS[role]


async def test_download_needs_login(docs: Api) -> None:
    _, document, _ = await _document(docs)

    response = await docs.client.get(document["versions"][0]["downloadUrl"])

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "not logged in" in response.json()["errors"][0]["message"]


async def test_download_of_other_id_types_not_found(docs: Api) -> None:
    _, document, _ = await _document(docs)
    headers = {"Authorization": f"Bearer {docs.tenant.tokens['admin']}"}

    by_document_id = await docs.client.get(
        f"/documents/{document['id']}", headers=headers
    )
    malformed = await docs.client.get("/documents/not-an-id", headers=headers)

    assert by_document_id.status_code == 404
    assert malformed.status_code == 404


async def test_project_member_downloads(docs: Api) -> None:
    client_id = await create_client(docs, "Acme")
    await join_client(docs, client_id, "project_staff")
    contract = await create_contract(docs, client_id)
    payload = await upload(docs, {"contractId": contract["id"]}, "a.pdf", pdf_bytes())
    url = payload["document"]["versions"][0]["downloadUrl"]

    response = await docs.client.get(
        url, headers={"Authorization": f"Bearer {docs.tenant.tokens['project_staff']}"}
    )

    assert response.status_code == 200


async def test_confidential_download_audited(docs: Api) -> None:
    _, confidential, _ = await _document(docs, {"sensitivity": "CONFIDENTIAL"})
    _, normal, _ = await _document(docs)
    headers = {"Authorization": f"Bearer {docs.tenant.tokens['finance']}"}

    for document in (confidential, normal):
        response = await docs.client.get(
            document["versions"][0]["downloadUrl"], headers=headers
        )
        assert response.status_code == 200

    _, confidential_pk = decode_id(confidential["id"])
    events = await _download_events(docs.tenant.organization.id)
    assert events == [(docs.tenant.user_ids["finance"], confidential_pk)]


async def test_other_organization_gets_not_found(docs: Api, settings: Settings) -> None:
    from tests.conftest import make_tenant

    _, document, _ = await _document(docs)
    other = await make_tenant(settings)

    response = await docs.client.get(
        document["versions"][0]["downloadUrl"],
        headers={"Authorization": f"Bearer {other.tokens['admin']}"},
    )

    assert response.status_code == 404


async def _link(api: Api, version_id: str, role: str = "admin") -> str:
    data = await api.data(CREATE_LINK, {"versionId": version_id}, role=role)
    payload = data["createDownloadLink"]
    assert payload["errors"] == []
    url: str = payload["url"]
    return url


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_signed_link_downloads_without_header(docs: Api) -> None:
    _, document, content = await _document(docs, {"sensitivity": "CONFIDENTIAL"})
    version_id = document["versions"][0]["id"]

    url = await _link(docs, version_id, role="finance")
    response = await docs.client.get(_relative(url))

    assert url.startswith(f"http://test/documents/{version_id}?")
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-disposition"].startswith("attachment; ")
    _, document_pk = decode_id(document["id"])
    events = await _download_events(docs.tenant.organization.id)
    assert events == [(docs.tenant.user_ids["finance"], document_pk)]


async def test_signed_link_expired(docs: Api, document_settings: Settings) -> None:
    _, document, _ = await _document(docs)
    version_id = document["versions"][0]["id"]
    _, version_pk = decode_id(version_id)
    signer = LinkSigner(document_settings.resolved_secret_key())
    url, _ = signer.link(
        "http://test", version_pk, docs.tenant.user_ids["admin"], 0, -1
    )

    response = await docs.client.get(_relative(url))

    assert response.status_code == 403
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "LINK_EXPIRED"
    assert "expired" in error["message"]
    assert "createDownloadLink" in error["message"]


@pytest.mark.parametrize("part", ["signature", "expires", "user", "version"])
async def test_signed_link_tampered(docs: Api, part: str) -> None:
    _, document, _ = await _document(docs)
    _, other, _ = await _document(docs)
    url = await _link(docs, document["versions"][0]["id"])
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    path = parts.path
    if part == "signature":
        query["signature"] = query["signature"][::-1]
    elif part == "expires":
        query["expires"] = str(int(query["expires"]) + 3600)
    elif part == "user":
        from contractgql.ids import encode_id

        query["user"] = encode_id("User", docs.tenant.user_ids["finance"])
    else:
        path = f"/documents/{other['versions'][0]['id']}"

    response = await docs.client.get(f"{path}?{urlencode(query)}")

    assert response.status_code == 403
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "LINK_INVALID"
    assert "signature does not match" in error["message"]


async def test_signed_link_follows_access(docs: Api) -> None:
    contract_id, document, _ = await _document(docs)
    url = await _link(docs, document["versions"][0]["id"], role="sales")
    updated = await docs.data(
        UPDATE_CONTRACT, {"id": contract_id, "input": {"sensitivity": "CONFIDENTIAL"}}
    )
    assert updated["updateContract"]["errors"] == []

    response = await docs.client.get(_relative(url))

    assert response.status_code == 404


async def test_signed_link_of_deactivated_user(docs: Api) -> None:
    _, document, _ = await _document(docs)
    url = await _link(docs, document["versions"][0]["id"], role="finance")
    await User.filter(id=docs.tenant.user_ids["finance"]).update(is_active=False)

    response = await docs.client.get(_relative(url))

    assert response.status_code == 403
    assert "deactivated" in response.json()["errors"][0]["message"]


async def test_signed_link_stays_dead_after_reactivation(docs: Api) -> None:
    _, document, _ = await _document(docs)
    url = await _link(docs, document["versions"][0]["id"], role="finance")
    finance = docs.tenant.user_ids["finance"]
    before = await docs.client.get(_relative(url))
    for mutation in ("deactivateUser", "reactivateUser"):
        data = await docs.data(
            f"mutation($id: ID!) {{ {mutation}(id: $id) {{ errors {{ code }} }} }}",
            {"id": encode_id("User", finance)},
        )
        assert data[mutation]["errors"] == []

    after = await docs.client.get(_relative(url))

    assert before.status_code == 200
    assert after.status_code == 403
    assert after.json()["errors"][0]["extensions"]["code"] == "LINK_INVALID"


async def test_link_for_hidden_version_not_found(docs: Api) -> None:
    _, document, _ = await _document(docs, {"sensitivity": "CONFIDENTIAL"})

    error = await docs.error(
        CREATE_LINK, {"versionId": document["versions"][0]["id"]}, role="sales"
    )

    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_soft_delete_hides_and_audits(docs: Api) -> None:
    contract_id, document, _ = await _document(docs)
    url = document["versions"][0]["downloadUrl"]
    headers = {"Authorization": f"Bearer {docs.tenant.tokens['admin']}"}

    deleted = await docs.data(DELETE_DOCUMENT, {"id": document["id"]})

    assert deleted["deleteDocument"]["errors"] == []
    assert deleted["deleteDocument"]["document"]["version"] == 2
    listed = await docs.data(CONTRACT_DOCUMENTS, {"id": contract_id})
    assert listed["node"]["documents"] == []
    response = await docs.client.get(url, headers=headers)
    assert response.status_code == 404
    again = await docs.error(DELETE_DOCUMENT, {"id": document["id"]})
    assert again["extensions"]["code"] == "NOT_FOUND"
    _, pk = decode_id(document["id"])
    row = await Document.get(id=pk)
    assert row.deleted_at is not None
    assert row.deleted_by_id == docs.tenant.user_ids["admin"]
    events = []
    for model in (AuditLog, AuditOutbox):
        events += await model.filter(
            organization_id=docs.tenant.organization.id, action="document.delete"
        )
    [event] = events
    assert event.entity_type == "Document"
    assert event.entity_id == pk
    assert event.actor_id == docs.tenant.user_ids["admin"]
    assert "deletedAt" in {change["field"] for change in event.changes}


async def test_delete_needs_write_permission(docs: Api) -> None:
    _, document, _ = await _document(docs)

    error = await docs.error(DELETE_DOCUMENT, {"id": document["id"]}, role="finance")

    assert error["extensions"]["code"] == "FORBIDDEN"
    _, pk = decode_id(document["id"])
    assert (await Document.get(id=pk)).deleted_at is None


async def test_head_sends_headers_only(docs: Api) -> None:
    _, document, content = await _document(docs, {"sensitivity": "CONFIDENTIAL"})
    headers = {"Authorization": f"Bearer {docs.tenant.tokens['admin']}"}

    response = await docs.client.head(
        document["versions"][0]["downloadUrl"], headers=headers
    )

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(content))
    assert await _download_events(docs.tenant.organization.id) == []
