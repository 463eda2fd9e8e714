"""DOCX templates: upload, checks at upload, rendering and financial placeholders."""

from __future__ import annotations

import io
from typing import Any

import docx
import httpx
import pytest

from tests.conftest import Api
from tests.documents.helpers import CSRF_HEADER, multipart, pdf_bytes, post_upload
from tests.graphql.helpers import FIELD_ERRORS, create_client, create_contract

CREATE_TEMPLATE = f"""
mutation Create($input: CreateDocumentTemplateInput!) {{
  createDocumentTemplate(input: $input) {{
    template {{ id name fileName placeholders }}
    {FIELD_ERRORS}
  }}
}}
"""
RENDER = f"""
mutation Render($template: ID!, $contract: ID!, $document: ID) {{
  renderDocumentTemplate(
    templateId: $template, contractId: $contract, kind: CORRESPONDENCE,
    documentId: $document
  ) {{
    version {{ id number downloadUrl contentType textStatus }}
    document {{ id kind }}
    {FIELD_ERRORS}
  }}
}}
"""
TEMPLATES = "query { documentTemplates { id name placeholders } }"


def template_docx(*lines: str) -> bytes:
    """Return a Word document with one paragraph per line, built with python-docx."""
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def docx_text(content: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(content)).paragraphs)


async def create_template(
    api: Api,
    name: str,
    content: bytes,
    *,
    role: str = "admin",
    file_name: str = "t.docx",
) -> dict[str, Any]:
    response = await api.client.post(
        "/graphql",
        headers={**CSRF_HEADER, "Authorization": f"Bearer {api.tenant.tokens[role]}"},
        **multipart(
            CREATE_TEMPLATE,
            {"input": {"name": name, "file": None}},
            {"0": (file_name, ["variables.input.file"], content)},
        ),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    payload: dict[str, Any] = body["data"]["createDocumentTemplate"]
    return payload


async def render(
    api: Api,
    template_id: str,
    contract_id: str,
    *,
    role: str = "admin",
    document_id: str | None = None,
) -> dict[str, Any]:
    data = await api.data(
        RENDER,
        {"template": template_id, "contract": contract_id, "document": document_id},
        role=role,
    )
    payload: dict[str, Any] = data["renderDocumentTemplate"]
    return payload


async def download(api: Api, url: str, role: str = "admin") -> httpx.Response:
    return await api.client.get(
        url, headers={"Authorization": f"Bearer {api.tenant.tokens[role]}"}
    )


async def test_render_fills_client_and_dates(docs: Api) -> None:
    client_id = await create_client(docs, "Smith & Sons B.V.")
    contract = await create_contract(docs, client_id, {"endDate": "2027-06-30"})
    created = await create_template(
        docs,
        "Renewal letter",
        template_docx(
            "Dear {{ client.name }},",
            "Your contract {{ contract.name }} ends on {{ contract.end_date }}.",
        ),
    )
    assert created["errors"] == []
    template = created["template"]
    assert template["placeholders"] == [
        "client.name",
        "contract.end_date",
        "contract.name",
    ]

    payload = await render(docs, template["id"], contract["id"])

    assert payload["errors"] == []
    assert payload["document"]["kind"] == "CORRESPONDENCE"
    version = payload["version"]
    assert version["number"] == 1
    assert version["contentType"].endswith("wordprocessingml.document")
    response = await download(docs, version["downloadUrl"])
    assert response.status_code == 200
    text = docx_text(response.content)
    assert "Dear Smith & Sons B.V.," in text
    assert "ends on 2027-06-30." in text
    listed = await docs.data(TEMPLATES)
    assert [item["name"] for item in listed["documentTemplates"]] == ["Renewal letter"]


async def test_render_as_new_version(docs: Api) -> None:
    client_id = await create_client(docs, "Acme")
    contract = await create_contract(docs, client_id)
    created = await create_template(docs, "Letter", template_docx("{{ client.name }}"))
    template_id = created["template"]["id"]
    first = await render(docs, template_id, contract["id"])

    second = await render(
        docs, template_id, contract["id"], document_id=first["document"]["id"]
    )

    assert second["errors"] == []
    assert second["document"]["id"] == first["document"]["id"]
    assert second["version"]["number"] == 2


async def test_financial_placeholder_by_allowed_role(docs: Api) -> None:
    client_id = await create_client(docs, "Acme")
    contract = await create_contract(
        docs, client_id, {"amount": "12500.00", "currency": "EUR"}
    )
    created = await create_template(
        docs,
        "Offer",
        template_docx("Price: {{ contract.amount }} {{ contract.currency }}"),
    )

    # Management reads financial fields and may change contracts. Finance reads
    # them too, but may not change contracts, so it cannot store the result.
    payload = await render(
        docs, created["template"]["id"], contract["id"], role="management"
    )

    assert payload["errors"] == []
    response = await download(docs, payload["version"]["downloadUrl"])
    assert "Price: 12500.00 EUR" in docx_text(response.content)


async def test_financial_placeholder_rejected_for_sales(docs: Api) -> None:
    client_id = await create_client(docs, "Acme")
    # Sales may change drafts, so only the financial placeholder stops it.
    contract = await create_contract(
        docs, client_id, {"amount": "12500.00", "currency": "EUR", "stage": "DRAFT"}
    )
    created = await create_template(
        docs, "Offer", template_docx("Price: {{ contract.amount }}")
    )
    name_only = await create_template(docs, "Name", template_docx("{{ client.name }}"))
    assert (
        await render(docs, name_only["template"]["id"], contract["id"], role="sales")
    )["errors"] == []

    payload = await render(
        docs, created["template"]["id"], contract["id"], role="sales"
    )

    assert payload["version"] is None
    [error] = payload["errors"]
    assert error["field"] == "templateId"
    assert "contract.amount" in error["message"]


async def test_aliased_financial_placeholder_rejected(docs: Api) -> None:
    client_id = await create_client(docs, "Acme")
    contract = await create_contract(
        docs, client_id, {"amount": "12500.00", "currency": "EUR", "stage": "DRAFT"}
    )
    created = await create_template(
        docs, "Alias", template_docx("{% set c = contract %}{{ c['mrr'] }}")
    )
    assert created["errors"] == []

    payload = await render(
        docs, created["template"]["id"], contract["id"], role="sales"
    )

    [error] = payload["errors"]
    assert "contract.amount" in error["message"]
    assert "contract.mrr" in error["message"]


async def test_syntax_error_rejected(docs: Api) -> None:
    payload = await create_template(
        docs, "Broken", template_docx("Dear {{ client.name }", "{% if x %}")
    )

    assert payload["template"] is None
    [error] = payload["errors"]
    assert error["field"] == "file"
    assert error["code"] == "INVALID_TEMPLATE"
    assert "syntax error" in error["message"]


async def test_unknown_placeholder_rejected(docs: Api) -> None:
    payload = await create_template(docs, "Typo", template_docx("{{ client.nmae }}"))

    [error] = payload["errors"]
    assert "client.nmae" in error["message"]


async def test_pdf_template_rejected(docs: Api) -> None:
    payload = await create_template(docs, "PDF", pdf_bytes(), file_name="offer.pdf")

    [error] = payload["errors"]
    assert error["code"] == "UNSUPPORTED_TYPE"

    renamed = await create_template(docs, "PDF", pdf_bytes(), file_name="offer.docx")

    [error] = renamed["errors"]
    assert error["code"] == "INVALID_TEMPLATE"
    assert "Word document" in error["message"]


async def test_template_upload_needs_permission(docs: Api) -> None:
    response = await post_upload(
        docs.client,
        docs.tenant.tokens["sales"],
        CREATE_TEMPLATE,
        {"input": {"name": "Letter", "file": None}},
        {"0": ("t.docx", ["variables.input.file"], template_docx("{{ client.name }}"))},
    )

    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_sandbox_blocks_internals(docs: Api) -> None:
    client_id = await create_client(docs, "Acme")
    contract = await create_contract(docs, client_id)
    created = await create_template(
        docs, "Probe", template_docx("{{ client.name.__class__.__mro__ }}")
    )

    assert created["errors"] == []
    payload = await render(docs, created["template"]["id"], contract["id"])
    if payload["errors"]:
        assert payload["version"] is None
        return
    response = await download(docs, payload["version"]["downloadUrl"])
    assert "class" not in docx_text(response.content)


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("{{ client.name|nosuchfilter }}", "unknown filter 'nosuchfilter'"),
        ("{% if client.name is nosuchtest %}x{% endif %}", "unknown test 'nosuchtest'"),
        ("{% include 'other.docx' %}", "{% include %}"),
        ("{% extends 'base' %}", "{% extends %}"),
    ],
)
async def test_constructs_that_cannot_render_rejected_at_upload(
    docs: Api, source: str, named: str
) -> None:
    payload = await create_template(docs, "Broken", template_docx(source))

    [error] = payload["errors"]
    assert error["code"] == "INVALID_TEMPLATE"
    assert named in error["message"]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 1/0 }}", "division by zero"),
        ("{% for i in range(1000000) %}x{% endfor %}", "Range too big"),
    ],
)
async def test_errors_while_rendering_named(
    docs: Api, source: str, reason: str
) -> None:
    client_id = await create_client(docs, "Acme")
    contract = await create_contract(docs, client_id)
    created = await create_template(docs, "Faulty", template_docx(source))
    assert created["errors"] == []

    payload = await render(docs, created["template"]["id"], contract["id"])

    [error] = payload["errors"]
    assert reason in error["message"]
    assert "Correct the template" in error["message"]
