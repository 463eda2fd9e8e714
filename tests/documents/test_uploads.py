"""Uploading documents over real multipart requests to the ASGI app."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import ClientDisconnect

from contractgql.documents.storage import TEMPORARY_PREFIX
from contractgql.documents.uploads import CSRF_MESSAGE
from contractgql.models import AuditLog, AuditOutbox, Document, DocumentVersion
from tests.conftest import Api
from tests.documents.conftest import MAX_BODY_BYTES, MAX_DOCUMENT_BYTES
from tests.documents.helpers import (
    CONTRACT_DOCUMENTS,
    UPLOAD_DOCUMENT,
    docx_bytes,
    eml_bytes,
    multipart,
    odt_bytes,
    pdf_bytes,
    png_bytes,
    post_upload,
    stored_files,
    upload,
    upload_version,
)
from tests.graphql.helpers import (
    amsterdam_today,
    create_client,
    create_contract,
    join_client,
    user_id,
)


async def _contract(api: Api, fields: dict[str, Any] | None = None) -> str:
    client_id = await create_client(api, "Müller & Söhne B.V.")
    contract = await create_contract(api, client_id, fields)
    contract_id: str = contract["id"]
    return contract_id


async def _audit_actions(organization_id: int) -> list[tuple[str, str, int | None]]:
    """Return (action, entity type, actor) of every audit event, recorded or not."""
    events: list[tuple[str, str, int | None]] = []
    for model in (AuditLog, AuditOutbox):
        rows = await model.filter(organization_id=organization_id).order_by("id")
        events += [(row.action, row.entity_type, row.actor_id) for row in rows]
    return events


async def test_upload_download_round_trip(docs: Api, document_dir: Path) -> None:
    contract_id = await _contract(docs)
    content = pdf_bytes()

    payload = await upload(docs, {"contractId": contract_id}, "signed.pdf", content)

    assert payload["errors"] == []
    document = payload["document"]
    assert document["kind"] == "SIGNED_CONTRACT"
    assert document["name"] == "signed.pdf"
    assert document["createdBy"]["id"] == user_id(docs.tenant, "admin")
    [version] = document["versions"]
    assert document["latestVersion"] == {"id": version["id"], "number": 1}
    assert version["number"] == 1
    assert version["fileName"] == "signed.pdf"
    today = amsterdam_today().isoformat()
    assert version["downloadName"] == f"Contract_Muller-Sohne-B-V_v1_{today}.pdf"
    assert version["contentType"] == "application/pdf"
    assert version["size"] == len(content)
    assert version["sha256"] == hashlib.sha256(content).hexdigest()
    assert version["downloadUrl"] == f"/documents/{version['id']}"

    response = await docs.client.get(
        version["downloadUrl"],
        headers={"Authorization": f"Bearer {docs.tenant.tokens['admin']}"},
    )
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{version["downloadName"]}"'
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    sha = version["sha256"]
    assert stored_files(document_dir) == [document_dir / sha[:2] / sha]

    listed = await docs.data(CONTRACT_DOCUMENTS, {"id": contract_id})
    assert [item["id"] for item in listed["node"]["documents"]] == [document["id"]]
    actions = await _audit_actions(docs.tenant.organization.id)
    assert ("document.create", "Document", docs.tenant.user_ids["admin"]) in actions


@pytest.mark.parametrize(
    ("name", "content", "content_type", "extension"),
    [
        (
            "terms.docx",
            docx_bytes(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        ("letter.odt", odt_bytes(), "application/vnd.oasis.opendocument.text", "odt"),
        ("scan.png", png_bytes(), "image/png", "png"),
        ("mail.eml", eml_bytes(), "message/rfc822", "eml"),
        ("no-extension", pdf_bytes(), "application/pdf", "pdf"),
    ],
)
async def test_upload_recognises_types(
    docs: Api, name: str, content: bytes, content_type: str, extension: str
) -> None:
    client_id = await create_client(docs, "Acme")

    payload = await upload(
        docs, {"clientId": client_id}, name, content, kind="CORRESPONDENCE"
    )

    assert payload["errors"] == []
    [version] = payload["document"]["versions"]
    assert version["contentType"] == content_type
    assert version["downloadName"].startswith("Correspondence_Acme_v1_")
    assert version["downloadName"].endswith(f".{extension}")
    assert version["fileName"].endswith(f".{extension}")


async def test_upload_to_project(docs: Api) -> None:
    client_id = await create_client(docs, "Acme")
    project_id = await join_client(docs, client_id, "project_staff")

    payload = await upload(
        docs, {"projectId": project_id}, "quote.pdf", pdf_bytes(), kind="QUOTE"
    )

    assert payload["errors"] == []
    assert payload["document"]["versions"][0]["downloadName"].startswith("Quote_Acme_")


async def test_file_lying_about_type(docs: Api, document_dir: Path) -> None:
    contract_id = await _contract(docs)

    payload = await upload(
        docs, {"contractId": contract_id}, "contract.pdf", png_bytes()
    )

    assert payload["document"] is None
    [error] = payload["errors"]
    assert error["field"] == "file"
    assert error["code"] == "TYPE_MISMATCH"
    assert "'contract.pdf'" in error["message"]
    assert "extension .pdf (PDF document)" in error["message"]
    assert "PNG image" in error["message"]
    assert "rename it to .png" in error["message"]
    assert stored_files(document_dir) == []
    assert (
        await Document.filter(organization_id=docs.tenant.organization.id).count() == 0
    )


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("setup.exe", b"MZ\x90\x00", "extension .exe"),
        ("notes.pdf", b"just some text\n", "matches no supported file type"),
        (
            "archive.docx",
            odt_bytes(),
            "extension .docx (Word document (DOCX)), but its content is of the "
            "type OpenDocument text (ODT)",
        ),
    ],
)
async def test_upload_rejects_unsupported_files(
    docs: Api, document_dir: Path, name: str, content: bytes, expected: str
) -> None:
    contract_id = await _contract(docs)

    payload = await upload(docs, {"contractId": contract_id}, name, content)

    [error] = payload["errors"]
    assert error["field"] == "file"
    assert expected in error["message"]
    assert stored_files(document_dir) == []


async def test_file_name_sanitised(docs: Api) -> None:
    contract_id = await _contract(docs)

    payload = await upload(
        docs, {"contractId": contract_id}, "..\\..\\etc/CON.pdf", pdf_bytes()
    )

    assert payload["errors"] == []
    assert payload["document"]["versions"][0]["fileName"] == "_CON.pdf"


async def test_oversized_file_rejected(docs: Api, document_dir: Path) -> None:
    contract_id = await _contract(docs)
    content = pdf_bytes() + b"%" * MAX_DOCUMENT_BYTES

    payload = await upload(docs, {"contractId": contract_id}, "big.pdf", content)

    [error] = payload["errors"]
    assert error["code"] == "TOO_LARGE"
    assert f"maximum of {MAX_DOCUMENT_BYTES} bytes" in error["message"]
    assert "CONTRACTGQL_MAX_DOCUMENT_BYTES" in error["message"]
    assert stored_files(document_dir) == []
    assert (
        await Document.filter(organization_id=docs.tenant.organization.id).count() == 0
    )


async def test_oversized_request_rejected(docs: Api, document_dir: Path) -> None:
    contract_id = await _contract(docs)
    content = pdf_bytes() + b"%" * (MAX_DOCUMENT_BYTES + MAX_BODY_BYTES)

    response = await post_upload(
        docs.client,
        docs.tenant.tokens["admin"],
        UPLOAD_DOCUMENT,
        {"input": {"contractId": contract_id, "kind": "OTHER", "file": None}},
        {"0": ("big.pdf", ["variables.input.file"], content)},
    )

    assert response.status_code == 413
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "upload a smaller file" in error["message"]
    assert stored_files(document_dir) == []


async def test_json_body_limit_unchanged(docs: Api) -> None:
    """Only multipart uploads get the larger limit, not JSON requests."""
    response = await docs.client.post(
        "/graphql",
        json={"query": "{ viewer { roles } }", "padding": "x" * MAX_BODY_BYTES},
        headers={"Authorization": f"Bearer {docs.tenant.tokens['admin']}"},
    )

    assert response.status_code == 413


async def test_upload_cut_off_stores_nothing(
    docs: Api, document_app: Any, document_dir: Path
) -> None:
    contract_id = await _contract(docs)
    request = httpx.Request(
        "POST",
        "http://test/graphql",
        headers={
            "Authorization": f"Bearer {docs.tenant.tokens['admin']}",
            "Apollo-Require-Preflight": "true",
        },
        **multipart(
            UPLOAD_DOCUMENT,
            {"input": {"contractId": contract_id, "kind": "OTHER", "file": None}},
            {"0": ("cut.pdf", ["variables.input.file"], pdf_bytes() * 50)},
        ),
    )
    body = request.read()
    messages = [
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in request.headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    with pytest.raises(ClientDisconnect):
        await document_app(scope, receive, send)

    assert stored_files(document_dir) == []
    assert (
        await Document.filter(organization_id=docs.tenant.organization.id).count() == 0
    )


async def test_csrf_header_required(docs: Api, document_dir: Path) -> None:
    contract_id = await _contract(docs)

    response = await post_upload(
        docs.client,
        docs.tenant.tokens["admin"],
        UPLOAD_DOCUMENT,
        {"input": {"contractId": contract_id, "kind": "OTHER", "file": None}},
        {"0": ("a.pdf", ["variables.input.file"], pdf_bytes())},
        csrf=False,
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"] == CSRF_MESSAGE
    assert stored_files(document_dir) == []


async def test_x_requested_with_accepted(docs: Api) -> None:
    contract_id = await _contract(docs)

    response = await docs.client.post(
        "/graphql",
        headers={
            "Authorization": f"Bearer {docs.tenant.tokens['admin']}",
            "X-Requested-With": "XMLHttpRequest",
        },
        **multipart(
            UPLOAD_DOCUMENT,
            {"input": {"contractId": contract_id, "kind": "OTHER", "file": None}},
            {"0": ("a.pdf", ["variables.input.file"], pdf_bytes())},
        ),
    )

    assert response.status_code == 200
    assert response.json()["data"]["uploadDocument"]["errors"] == []


async def test_too_many_files_rejected(docs: Api, document_dir: Path) -> None:
    contract_id = await _contract(docs)
    files = {str(index): (f"{index}.png", [], png_bytes(index)) for index in range(11)}
    files["0"] = ("0.png", ["variables.input.file"], png_bytes(0))

    response = await post_upload(
        docs.client,
        docs.tenant.tokens["admin"],
        UPLOAD_DOCUMENT,
        {"input": {"contractId": contract_id, "kind": "OTHER", "file": None}},
        files,
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"] == (
        "The multipart request was rejected: Too many files. Maximum number of "
        "files is 10. Send at most 10 files in one request."
    )
    assert stored_files(document_dir) == []


async def test_upload_needs_login(docs: Api) -> None:
    contract_id = await _contract(docs)

    response = await post_upload(
        docs.client,
        None,
        UPLOAD_DOCUMENT,
        {"input": {"contractId": contract_id, "kind": "OTHER", "file": None}},
        {"0": ("a.pdf", ["variables.input.file"], pdf_bytes())},
    )

    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_upload_needs_one_target(docs: Api) -> None:
    contract_id = await _contract(docs)
    client_id = await create_client(docs, "Other")

    payload = await upload(
        docs, {"contractId": contract_id, "clientId": client_id}, "a.pdf", pdf_bytes()
    )

    [error] = payload["errors"]
    assert error["code"] == "INVALID_TARGET"
    assert "not 2" in error["message"]


async def test_file_variable_must_be_upload(docs: Api) -> None:
    contract_id = await _contract(docs)

    body = await docs.post(
        UPLOAD_DOCUMENT,
        {"input": {"contractId": contract_id, "kind": "OTHER", "file": "text"}},
        role="admin",
    )

    [error] = body["data"]["uploadDocument"]["errors"]
    assert error["code"] == "NOT_A_FILE"


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("sales", "FORBIDDEN"),
        ("account_manager", "FORBIDDEN"),
        ("project_staff", "NOT_FOUND"),
        ("integrator", "FORBIDDEN"),
        ("finance", "FORBIDDEN"),
    ],
)
async def test_upload_needs_contract_write(
    docs: Api, document_dir: Path, role: str, code: str
) -> None:
    contract_id = await _contract(docs)

    response = await post_upload(
        docs.client,
        docs.tenant.tokens[role],
        UPLOAD_DOCUMENT,
        {"input": {"contractId": contract_id, "kind": "OTHER", "file": None}},
        {"0": ("a.pdf", ["variables.input.file"], pdf_bytes())},
    )

    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert stored_files(document_dir) == []


async def test_upload_allowed_for_owner_and_client_writer(docs: Api) -> None:
    owner = user_id(docs.tenant, "account_manager")
    contract_id = await _contract(docs, {"ownerId": owner})
    client_id = await create_client(docs, "Sales Client")

    by_owner = await upload(
        docs, {"contractId": contract_id}, "a.pdf", pdf_bytes(), role="account_manager"
    )
    by_sales = await upload(
        docs, {"clientId": client_id}, "b.pdf", pdf_bytes(), role="sales"
    )

    assert by_owner["errors"] == []
    assert by_sales["errors"] == []


async def test_confidential_contract_hidden_from_uploader(docs: Api) -> None:
    contract_id = await _contract(docs, {"sensitivity": "CONFIDENTIAL"})

    response = await post_upload(
        docs.client,
        docs.tenant.tokens["sales"],
        UPLOAD_DOCUMENT,
        {"input": {"contractId": contract_id, "kind": "OTHER", "file": None}},
        {"0": ("a.pdf", ["variables.input.file"], pdf_bytes())},
    )

    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_new_version_keeps_old_ones(docs: Api) -> None:
    contract_id = await _contract(docs)
    first = await upload(docs, {"contractId": contract_id}, "v1.pdf", pdf_bytes("one"))
    document_id = first["document"]["id"]

    second = await upload_version(docs, document_id, "v2.docx", docx_bytes())

    assert second["errors"] == []
    assert second["version"]["number"] == 2
    assert second["version"]["downloadName"].startswith("Contract_Muller-Sohne-B-V_v2_")
    assert second["version"]["downloadName"].endswith(".docx")
    assert second["document"]["latestVersion"] == {"number": 2}
    assert second["document"]["version"] == 2
    stored = await DocumentVersion.filter(
        document__organization_id=docs.tenant.organization.id
    ).order_by("number")
    assert [version.number for version in stored] == [1, 2]
    actions = await _audit_actions(docs.tenant.organization.id)
    assert ("document.version", "Document", docs.tenant.user_ids["admin"]) in actions


async def test_new_version_rejects_lying_file(docs: Api) -> None:
    contract_id = await _contract(docs)
    first = await upload(docs, {"contractId": contract_id}, "v1.pdf", pdf_bytes())

    second = await upload_version(docs, first["document"]["id"], "v2.png", pdf_bytes())

    assert second["version"] is None
    assert second["errors"][0]["code"] == "TYPE_MISMATCH"


async def test_concurrent_versions_get_distinct_numbers(docs: Api) -> None:
    contract_id = await _contract(docs)
    first = await upload(docs, {"contractId": contract_id}, "v1.pdf", pdf_bytes("v1"))
    document_id = first["document"]["id"]
    contents = [pdf_bytes(f"version {index}") for index in range(2, 8)]

    results = await asyncio.gather(
        *(
            upload_version(docs, document_id, f"v{index}.pdf", content)
            for index, content in enumerate(contents, start=2)
        )
    )

    numbers = sorted(result["version"]["number"] for result in results)
    assert numbers == [2, 3, 4, 5, 6, 7]
    by_number = {result["version"]["number"]: result["version"] for result in results}
    token = docs.tenant.tokens["admin"]
    downloaded = set()
    for number in numbers:
        response = await docs.client.get(
            f"/documents/{by_number[number]['id']}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        downloaded.add(response.content)
    assert downloaded == set(contents)


async def test_same_content_stored_once(docs: Api, document_dir: Path) -> None:
    contract_id = await _contract(docs)
    content = pdf_bytes()

    await upload(docs, {"contractId": contract_id}, "a.pdf", content)
    await upload(docs, {"contractId": contract_id}, "b.pdf", content)

    files = stored_files(document_dir)
    assert len(files) == 1
    assert not any(path.name.startswith(TEMPORARY_PREFIX) for path in files)


@pytest.mark.parametrize(
    ("files_map", "message"),
    [
        (
            '["variables.input.file"]',
            "The multipart field 'map' must be a JSON object from file part names "
            'to lists of paths, such as {"0": ["variables.input.file"]}.',
        ),
        (
            '{"0": "variables.input.file"}',
            "The map entry of the file part '0' must be a list of paths such as "
            '["variables.input.file"].',
        ),
        (
            '{"0": [7]}',
            "The map entry of the file part '0' must be a list of paths such as "
            '["variables.input.file"].',
        ),
        (
            '{"1": ["variables.input.file"]}',
            "The map names the file part '1', which the request lacks.",
        ),
        (
            '{"0": ["variables.missing.file"]}',
            "The map path 'variables.missing.file' does not name a place in the "
            "operations: name a variable that is null, such as "
            "'variables.input.file'.",
        ),
        (
            '{"0": ["variables.input.kind.file"]}',
            "The map path 'variables.input.kind.file' does not name a place in the "
            "operations: name a variable that is null, such as "
            "'variables.input.file'.",
        ),
        (
            '{"0": ["variables.input.tags.x"]}',
            "The map path 'variables.input.tags.x' does not name a place in the "
            "operations: name a variable that is null, such as "
            "'variables.input.file'.",
        ),
        ("{not json", "Unable to parse request body as JSON"),
    ],
)
async def test_invalid_map_rejected(
    docs: Api, document_dir: Path, files_map: str, message: str
) -> None:
    contract_id = await _contract(docs)
    variables = {
        "input": {"contractId": contract_id, "kind": "OTHER", "file": None, "tags": []}
    }
    arguments = multipart(UPLOAD_DOCUMENT, variables, {"0": ("a.pdf", [], pdf_bytes())})
    arguments["data"]["map"] = files_map

    response = await docs.client.post(
        "/graphql",
        headers={
            "Authorization": f"Bearer {docs.tenant.tokens['admin']}",
            "Apollo-Require-Preflight": "true",
        },
        **arguments,
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]
    }
    assert stored_files(document_dir) == []


async def test_operations_must_be_object(docs: Api) -> None:
    response = await docs.client.post(
        "/graphql",
        headers={"Apollo-Require-Preflight": "true"},
        data={"operations": "[1, 2]", "map": "{}"},
        files={"0": ("a.pdf", pdf_bytes(), "application/pdf")},
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"] == (
        "The multipart field 'operations' must be a JSON object with a `query` string."
    )
