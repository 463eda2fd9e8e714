"""Files built by hand, and multipart upload requests for the document tests."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Api
from tests.graphql.helpers import FIELD_ERRORS

CSRF_HEADER = {"Apollo-Require-Preflight": "true"}

DOCUMENT_FIELDS = """
  id kind name version createdAt updatedAt createdBy { id } updatedBy { id }
  versions { id number fileName downloadName contentType size sha256 createdAt
             createdBy { id } downloadUrl }
  latestVersion { id number }
"""
UPLOAD_DOCUMENT = f"""
mutation Upload($input: UploadDocumentInput!) {{
  uploadDocument(input: $input) {{ document {{ {DOCUMENT_FIELDS} }} {FIELD_ERRORS} }}
}}
"""
UPLOAD_VERSION = f"""
mutation UploadVersion($documentId: ID!, $file: Upload!) {{
  uploadDocumentVersion(documentId: $documentId, file: $file) {{
    version {{ id number fileName downloadName contentType size sha256 }}
    document {{ id version latestVersion {{ number }} }}
    {FIELD_ERRORS}
  }}
}}
"""
DELETE_DOCUMENT = f"""
mutation Delete($id: ID!) {{
  deleteDocument(id: $id) {{ document {{ id version }} {FIELD_ERRORS} }}
}}
"""
CREATE_LINK = f"""
mutation Link($versionId: ID!) {{
  createDownloadLink(versionId: $versionId) {{ url expiresAt {FIELD_ERRORS} }}
}}
"""
CONTRACT_DOCUMENTS = """
query ContractDocuments($id: ID!) {
  node(id: $id) { ... on Contract { documents { id name latestVersion { id } } } }
}
"""


def pdf_bytes(text: str = "Signed contract") -> bytes:
    """Return a minimal valid one-page PDF with a cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    output = io.BytesIO()
    output.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(output.tell())
        output.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = output.tell()
    output.write(b"xref\n0 %d\n" % (len(objects) + 1))
    output.write(b"0000000000 65535 f \n")
    for offset in offsets:
        output.write(b"%010d 00000 n \n" % offset)
    output.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, xref)
    )
    return output.getvalue()


def docx_bytes(text: str = "General terms") -> bytes:
    """Return a minimal Word document built with zipfile."""
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        "</Types>"
    )
    relationships = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
        '.org/officeDocument/2006/relationships/officeDocument" '
        'Target="word/document.xml"/></Relationships>'
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
        f'2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body>'
        "</w:document>"
    )
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", relationships)
        archive.writestr("word/document.xml", document)
    return output.getvalue()


def odt_bytes() -> bytes:
    """Return a minimal OpenDocument text: `mimetype` first and uncompressed."""
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr(
            "mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED
        )
        archive.writestr("content.xml", "<office:document-content/>")
    return output.getvalue()


def png_bytes(red: int = 255) -> bytes:
    """Return a valid 1x1 pixel RGB PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, 0, 0]))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def eml_bytes() -> bytes:
    return (
        b"From: Alice <alice@example.com>\r\n"
        b"To: Bob <bob@example.com>\r\n"
        b"Subject: Renewal\r\n"
        b"Date: Mon, 4 May 2026 10:00:00 +0200\r\n"
        b"\r\n"
        b"Shall we renew?\r\n"
    )


def multipart(
    query: str,
    variables: dict[str, Any],
    files: dict[str, tuple[str, list[str], bytes]],
) -> dict[str, Any]:
    """Return httpx arguments for a request of the GraphQL multipart spec.

    `files` maps a part name to (file name, variable paths, content).
    """
    return {
        "data": {
            "operations": json.dumps({"query": query, "variables": variables}),
            "map": json.dumps({part: paths for part, (_, paths, _) in files.items()}),
        },
        "files": {
            part: (name, content, "application/octet-stream")
            for part, (name, _, content) in files.items()
        },
    }


async def post_upload(
    client: httpx.AsyncClient,
    token: str | None,
    query: str,
    variables: dict[str, Any],
    files: dict[str, tuple[str, list[str], bytes]],
    *,
    csrf: bool = True,
) -> httpx.Response:
    headers = dict(CSRF_HEADER) if csrf else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post(
        "/graphql", headers=headers, **multipart(query, variables, files)
    )


async def upload(
    api: Api,
    target: dict[str, str],
    name: str,
    content: bytes,
    *,
    kind: str = "SIGNED_CONTRACT",
    role: str = "admin",
    client: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    """Upload a document and return the uploadDocument payload."""
    variables = {"input": {**target, "kind": kind, "file": None}}
    response = await post_upload(
        client or api.client,
        api.tenant.tokens[role],
        UPLOAD_DOCUMENT,
        variables,
        {"0": (name, ["variables.input.file"], content)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"]["uploadDocument"]
    return payload


async def upload_version(
    api: Api,
    document_id: str,
    name: str,
    content: bytes,
    *,
    role: str = "admin",
    client: httpx.AsyncClient | None = None,
) -> dict[str, Any]:
    response = await post_upload(
        client or api.client,
        api.tenant.tokens[role],
        UPLOAD_VERSION,
        {"documentId": document_id, "file": None},
        {"0": (name, ["variables.file"], content)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"]["uploadDocumentVersion"]
    return payload


def stored_files(root: Path) -> list[Path]:
    """Return every file under the document folder, temporary ones included."""
    if not root.exists():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file())
