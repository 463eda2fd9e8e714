"""Upload DOCX templates and render them into documents of a contract.

Uploading a template needs 'contract_type:write', the permission that manages
the organization's contract setup (admins in the shipped policy). Every user of
the organization may list the templates. Rendering needs the permission to
change the contract, like uploading a document, and the permission to read
every protected Contract field that the template uses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from tortoise.transactions import in_transaction

from contractgql.audit import record_change, snapshot
from contractgql.config import Settings
from contractgql.documents import service
from contractgql.documents.naming import file_extension, sanitize_file_name
from contractgql.documents.service import IncomingFile, document_storage
from contractgql.documents.sniffing import DOCX
from contractgql.documents.storage import StoredFileMissing
from contractgql.documents.templates import (
    ProtectedFieldRead,
    TemplateInvalid,
    inspect_template,
    protected_placeholders,
    render_template,
    template_context,
)
from contractgql.errors import FieldError, NotFound, ValidationError
from contractgql.ids import encode_id
from contractgql.models import DocumentKind, DocumentTemplate, DocumentVersion
from contractgql.security.viewer import Viewer
from contractgql.services.contracts import get_visible_contract, require_contract_write

logger = logging.getLogger(__name__)

TEMPLATE_PERMISSION = "contract_type:write"
MAX_TEMPLATE_NAME = 200


async def create_template(
    viewer: Viewer, settings: Settings, name: str, file: IncomingFile
) -> DocumentTemplate:
    """Check and store a DOCX template. Raises ValidationError naming the problem."""
    viewer.require(TEMPLATE_PERMISSION, "upload document templates")
    name = name.strip()
    if not name or len(name) > MAX_TEMPLATE_NAME:
        raise ValidationError(
            [
                FieldError(
                    "name",
                    "invalid_name",
                    f"The template name is empty or longer than {MAX_TEMPLATE_NAME} "
                    "characters: give a name such as 'Renewal letter'.",
                )
            ]
        )
    content = await _read_all(file, settings.max_document_bytes)
    file_name = sanitize_file_name(file.name)
    extension = file_extension(file_name)
    if extension is not None and extension != DOCX.extension:
        raise _file_error(
            "unsupported_type",
            f"The template {file_name!r} is not a DOCX file: upload a Word document "
            "(.docx) with placeholders such as {{ client.name }}.",
        )
    try:
        placeholders = await asyncio.to_thread(inspect_template, content)
    except TemplateInvalid as error:
        raise _file_error("invalid_template", f"{file_name!r}: {error}") from None

    stored = await document_storage(settings).put(
        _single(content), max_bytes=settings.max_document_bytes
    )
    async with in_transaction():
        template = await DocumentTemplate.create(
            organization_id=viewer.organization_id,
            name=name,
            file_name=file_name,
            size=stored.size,
            sha256=stored.sha256,
            placeholders=placeholders,
            created_by_id=viewer.user_id,
        )
        await record_change(
            viewer, "document_template.create", template, None, snapshot(template)
        )
    return template


async def render_for_contract(
    viewer: Viewer,
    settings: Settings,
    template_id: int,
    contract_id: int,
    kind: DocumentKind,
    document_id: int | None,
) -> DocumentVersion:
    """Render a template for a contract and store it as a document version.

    Without `document_id` the result is version 1 of a new document of the
    contract, otherwise the next version of that document, which must belong to
    the same contract.
    """
    template = await get_template(viewer, template_id)
    contract = await get_visible_contract(viewer, contract_id)
    require_contract_write(viewer, contract)
    if document_id is not None:
        document = await service.get_visible_document(viewer, document_id)
        if document.contract_id != contract.id:
            raise ValidationError(
                [
                    FieldError(
                        "documentId",
                        "wrong_contract",
                        f"Document {encode_id('Document', document_id)!r} does not "
                        "belong to this contract: give a document of "
                        f"{encode_id('Contract', contract_id)!r}, or none for a new "
                        "document.",
                    )
                ]
            )

    denied = protected_placeholders(viewer, list(template.placeholders))
    if denied:
        raise _protected_error(denied)
    try:
        content = b"".join(
            [chunk async for chunk in document_storage(settings).read(template.sha256)]
        )
    except StoredFileMissing:
        logger.error(
            "The file %s of document template %d is missing from the document storage",
            template.sha256,
            template.id,
        )
        raise ValidationError(
            [
                FieldError(
                    "templateId",
                    "file_missing",
                    "The template's file is missing from the document storage: ask "
                    f"an administrator to restore {template.sha256} from a backup, "
                    "or upload the template again.",
                )
            ]
        ) from None
    reads: set[str] = set()
    context = await template_context(viewer, contract, reads)
    try:
        rendered = await asyncio.to_thread(render_template, content, context, reads)
    except ProtectedFieldRead as error:
        raise _protected_error(error.names) from None
    except TemplateInvalid as error:
        raise ValidationError(
            [FieldError("templateId", "render_failed", str(error))]
        ) from None

    file = IncomingFile(f"{template.name}.docx", _single(rendered))
    if document_id is None:
        created = await service.upload_document(
            viewer, settings, {"contract_id": contract.id}, kind, file
        )
        version = await DocumentVersion.get(document_id=created.id, number=1)
    else:
        version = await service.upload_version(viewer, settings, document_id, file)
    return version


async def get_template(viewer: Viewer, template_id: int) -> DocumentTemplate:
    template = await DocumentTemplate.filter(
        id=template_id, organization_id=viewer.organization_id
    ).first()
    if template is None:
        raise NotFound(
            f"Document template {encode_id('DocumentTemplate', template_id)!r} was "
            "not found: check the id with the documentTemplates query."
        )
    return template


def _protected_error(names: list[str]) -> ValidationError:
    return ValidationError(
        [
            FieldError(
                "templateId",
                "protected_fields",
                f"The template uses {', '.join(names)}, which your role may not "
                "read, so it was not rendered: ask a user whose role reads financial "
                "fields to render it, or use a template without these placeholders.",
            )
        ]
    )


async def _read_all(file: IncomingFile, max_bytes: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in file.chunks:
        size += len(chunk)
        if size > max_bytes:
            raise _file_error(
                "too_large",
                f"The template is larger than the maximum of {max_bytes} bytes.",
            )
        parts.append(chunk)
    return b"".join(parts)


async def _single(content: bytes) -> AsyncIterator[bytes]:
    yield content


def _file_error(code: str, message: str) -> ValidationError:
    return ValidationError([FieldError("file", code, message)])
