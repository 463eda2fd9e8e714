"""Search inside documents: text extraction and the contracts search."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import uuid
from pathlib import Path
from typing import Any

import pytest

from contractgql.config import Settings
from contractgql.documents import text as text_module
from contractgql.documents.indexing import extract_pending, extract_version
from contractgql.documents.text import extract_text
from contractgql.jobs.scheduler import run_text_sweeps
from contractgql.models import DocumentText, DocumentVersion, TextStatus
from tests.conftest import Api
from tests.documents.helpers import (
    DELETE_DOCUMENT,
    docx_bytes,
    pdf_bytes,
    png_bytes,
    upload,
    upload_version,
)
from tests.graphql.helpers import create_client, create_contract

SEARCH = """
query Search($search: String!) {
  contracts(first: 50, filter: {search: $search}) { edges { node { id } } }
}
"""
VERSION_TEXT = """
query Version($id: ID!) {
  node(id: $id) { ... on DocumentVersion { textStatus textError } }
}
"""


def unique_word() -> str:
    return "zq" + uuid.uuid4().hex[:12]


def blank_pdf() -> bytes:
    """Return a one-page PDF with an empty content stream, like a scan's."""
    return pdf_bytes("").replace(b"BT /F1 12 Tf 72 720 Td () Tj ET", b"")


async def found(api: Api, word: str, role: str = "admin") -> list[str]:
    data = await api.data(SEARCH, {"search": word}, role=role)
    return [edge["node"]["id"] for edge in data["contracts"]["edges"]]


async def new_contract(api: Api, fields: dict[str, Any] | None = None) -> str:
    client_id = await create_client(api, f"Client {uuid.uuid4().hex[:6]}")
    contract = await create_contract(api, client_id, fields)
    contract_id: str = contract["id"]
    return contract_id


async def reset_latest_version(api: Api, attempts: int = 0) -> int:
    """Make the tenant's newest version pending again, without its text."""
    version = (
        await DocumentVersion.filter(organization_id=api.tenant.organization.id)
        .order_by("-id")
        .first()
    )
    assert version is not None
    await DocumentText.filter(version_id=version.id).delete()
    await DocumentVersion.filter(id=version.id).update(
        text_status=TextStatus.PENDING, text_attempts=attempts, text_error=None
    )
    return version.id


async def text_status(api: Api, version_id: str) -> dict[str, Any]:
    data = await api.data(VERSION_TEXT, {"id": version_id})
    node: dict[str, Any] = data["node"]
    return node


async def test_pdf_word_found_by_search(docs: Api) -> None:
    word = unique_word()
    contract_id = await new_contract(docs)
    other_id = await new_contract(docs)
    await upload(docs, {"contractId": other_id}, "other.pdf", pdf_bytes("Nothing"))

    payload = await upload(
        docs, {"contractId": contract_id}, "signed.pdf", pdf_bytes(f"Terms {word}")
    )

    version_id = payload["document"]["latestVersion"]["id"]
    assert await text_status(docs, version_id) == {
        "textStatus": "DONE",
        "textError": None,
    }
    assert await found(docs, word) == [contract_id]
    assert await found(docs, word.upper()) == [contract_id]


async def test_blank_pdf_gets_no_text(docs: Api) -> None:
    contract_id = await new_contract(docs)

    payload = await upload(docs, {"contractId": contract_id}, "scan.pdf", blank_pdf())

    version_id = payload["document"]["latestVersion"]["id"]
    assert await text_status(docs, version_id) == {
        "textStatus": "NO_TEXT",
        "textError": None,
    }


async def test_docx_word_found_by_search(docs: Api) -> None:
    word = unique_word()
    contract_id = await new_contract(docs)

    payload = await upload(
        docs,
        {"contractId": contract_id},
        "terms.docx",
        docx_bytes(f"General terms {word}"),
        kind="GENERAL_TERMS",
    )

    version_id = payload["document"]["latestVersion"]["id"]
    assert (await text_status(docs, version_id))["textStatus"] == "DONE"
    assert await found(docs, word) == [contract_id]


async def test_other_types_unsupported(docs: Api) -> None:
    contract_id = await new_contract(docs)

    payload = await upload(docs, {"contractId": contract_id}, "scan.png", png_bytes())

    version_id = payload["document"]["latestVersion"]["id"]
    assert (await text_status(docs, version_id))["textStatus"] == "UNSUPPORTED"


async def test_damaged_pdf_fails_with_error(docs: Api) -> None:
    contract_id = await new_contract(docs)
    content = b"%PDF-1.4\n" + b"garbage " * 50

    payload = await upload(docs, {"contractId": contract_id}, "broken.pdf", content)

    status = await text_status(docs, payload["document"]["latestVersion"]["id"])
    assert status["textStatus"] == "FAILED"
    assert status["textError"]


async def test_only_latest_version_searched(docs: Api) -> None:
    old_word, new_word = unique_word(), unique_word()
    contract_id = await new_contract(docs)
    payload = await upload(
        docs, {"contractId": contract_id}, "v1.pdf", pdf_bytes(old_word)
    )
    assert await found(docs, old_word) == [contract_id]

    await upload_version(docs, payload["document"]["id"], "v2.pdf", pdf_bytes(new_word))

    assert await found(docs, old_word) == []
    assert await found(docs, new_word) == [contract_id]


async def test_deleted_document_not_searched(docs: Api) -> None:
    word = unique_word()
    contract_id = await new_contract(docs)
    payload = await upload(docs, {"contractId": contract_id}, "a.pdf", pdf_bytes(word))
    assert await found(docs, word) == [contract_id]

    await docs.data(DELETE_DOCUMENT, {"id": payload["document"]["id"]})

    assert await found(docs, word) == []


async def test_confidential_document_hidden(docs: Api) -> None:
    word = unique_word()
    contract_id = await new_contract(docs, {"sensitivity": "CONFIDENTIAL"})
    await upload(docs, {"contractId": contract_id}, "secret.pdf", pdf_bytes(word))

    assert await found(docs, word, role="admin") == [contract_id]
    assert await found(docs, word, role="finance") == [contract_id]
    # Sales and account managers read contracts, but not confidential ones.
    assert await found(docs, word, role="sales") == []
    assert await found(docs, word, role="account_manager") == []
    assert await found(docs, word, role="project_staff") == []


async def test_client_documents_not_matched(docs: Api) -> None:
    word = unique_word()
    client_id = await create_client(docs, "Acme")
    await create_contract(docs, client_id)

    await upload(docs, {"clientId": client_id}, "offer.pdf", pdf_bytes(word))

    assert await found(docs, word) == []


async def test_sweep_extracts_pending_versions(
    docs: Api, document_settings: Settings
) -> None:
    word = unique_word()
    contract_id = await new_contract(docs)
    await upload(docs, {"contractId": contract_id}, "a.pdf", pdf_bytes(word))
    # Reset the version as if its job had been lost.
    version_pk = await reset_latest_version(docs)
    assert await found(docs, word) == []

    assert await extract_pending(document_settings, limit=1000) >= 1

    assert await found(docs, word) == [contract_id]
    # A second run finds nothing left to do for the version.
    assert await extract_version(document_settings, version_pk) is None


async def test_extraction_given_up_after_attempts(
    docs: Api, document_settings: Settings
) -> None:
    contract_id = await new_contract(docs)
    await upload(docs, {"contractId": contract_id}, "a.pdf", pdf_bytes("x"))
    version_pk = await reset_latest_version(docs, attempts=3)

    assert await extract_version(document_settings, version_pk) is TextStatus.FAILED

    version = await DocumentVersion.get(id=version_pk)
    assert version.text_error is not None
    assert "3 times" in version.text_error


async def test_missing_file_fails(
    docs: Api, document_settings: Settings, document_dir: Path
) -> None:
    elsewhere = dataclasses.replace(
        document_settings, document_dir=document_dir / "elsewhere"
    )
    contract_id = await new_contract(docs)
    await upload(docs, {"contractId": contract_id}, "a.pdf", pdf_bytes("x"))
    version_pk = await reset_latest_version(docs)

    assert await extract_version(elsewhere, version_pk) is TextStatus.FAILED

    version = await DocumentVersion.get(id=version_pk)
    assert version.text_error is not None
    assert "missing" in version.text_error


def test_text_cut_at_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_module, "MAX_TEXT_CHARS", 10)

    extraction = extract_text(
        "application/pdf", io.BytesIO(pdf_bytes("abcdefghijklmnopqrstuvwxyz"))
    )

    assert extraction.status is TextStatus.DONE
    assert extraction.text == "abcdefghij"
    assert extraction.truncated


def test_docx_without_body_fails() -> None:
    content = docx_bytes().replace(b"word/document.xml", b"word/other___.xml")

    extraction = extract_text(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        io.BytesIO(content),
    )

    assert extraction.status is TextStatus.FAILED


async def test_in_process_sweep_extracts(
    docs: Api, document_settings: Settings
) -> None:
    word = unique_word()
    contract_id = await new_contract(docs)
    await upload(docs, {"contractId": contract_id}, "a.pdf", pdf_bytes(word))
    await reset_latest_version(docs)
    sleeps: list[float] = []

    async def stop_after_first(seconds: float) -> None:
        sleeps.append(seconds)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await run_text_sweeps(document_settings, 60.0, sleep=stop_after_first)

    assert sleeps == [60.0]
    assert await found(docs, word) == [contract_id]
