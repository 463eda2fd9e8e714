"""Mutations on documents: upload, new versions, deletion and download links.

Files arrive as `Upload` values of a multipart request that follows the GraphQL
multipart request specification, which the GraphQL app accepts when it carries
a CSRF header (see contractgql.documents.uploads).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from starlette.datastructures import UploadFile
from strawberry import UNSET
from strawberry.file_uploads import Upload

from contractgql.documents import service, template_service
from contractgql.documents.links import LinkSigner
from contractgql.documents.service import IncomingFile
from contractgql.documents.storage import CHUNK_SIZE
from contractgql.errors import FieldError, PermissionDenied, ValidationError
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id, input_values
from contractgql.graphql.types.common import FieldErrorType, field_errors
from contractgql.graphql.types.documents import (
    DocumentKindEnum,
    DocumentNode,
    DocumentTemplateNode,
    DocumentVersionNode,
    document_node,
    template_node,
    version_node,
)
from contractgql.models import Document, DocumentKind, User
from contractgql.security.viewer import Viewer

FILE_DESCRIPTION = (
    "The file, as a part of a multipart request (GraphQL multipart request "
    "specification): PDF, DOCX, XLSX, ODT, PNG, JPEG or EML, at most "
    "CONTRACTGQL_MAX_DOCUMENT_BYTES bytes (25 MiB unless configured)."
)


@strawberry.input(
    description="A new document. Give exactly one of contractId, clientId and "
    "projectId: the record that the document belongs to."
)
class UploadDocumentInput:
    kind: DocumentKindEnum  # type: ignore[valid-type]
    file: Upload = strawberry.field(description=FILE_DESCRIPTION)
    contract_id: strawberry.ID | None = UNSET
    client_id: strawberry.ID | None = UNSET
    project_id: strawberry.ID | None = UNSET


@strawberry.type(description="The document, or the reasons its input was invalid.")
class DocumentPayload:
    document: DocumentNode | None
    errors: list[FieldErrorType]


@strawberry.type(description="The new version, or the reasons it was rejected.")
class DocumentVersionPayload:
    version: DocumentVersionNode | None
    document: DocumentNode | None
    errors: list[FieldErrorType]


@strawberry.type(description="A download link that works without a login.")
class DownloadLinkPayload:
    url: str | None = strawberry.field(
        description="Absolute URL of the download, signed for the caller."
    )
    expires_at: datetime | None
    errors: list[FieldErrorType]


@strawberry.input(description="A new DOCX document template.")
class CreateDocumentTemplateInput:
    name: str = strawberry.field(description="A name such as 'Renewal letter'.")
    file: Upload = strawberry.field(
        description="The DOCX file with Jinja placeholders, such as "
        "{{ client.name }}, as a part of a multipart request."
    )


@strawberry.type(description="The template, or the reasons it was rejected.")
class DocumentTemplatePayload:
    template: DocumentTemplateNode | None
    errors: list[FieldErrorType]


@strawberry.type
class DocumentMutations:
    @strawberry.mutation(
        description="Upload a file as version 1 of a new document of a contract, "
        "client or project. Needs the permission to change that record."
    )
    async def upload_document(
        self, info: Info, input: UploadDocumentInput
    ) -> DocumentPayload:
        viewer = info.context.viewer
        _require_user(viewer, "upload documents")
        try:
            values = input_values(input)
            file = _incoming(values.pop("file"), "file")
            target = {name: values.get(name) for name in service.TARGETS}
            document = await service.upload_document(
                viewer,
                info.context.services.settings,
                target,
                DocumentKind(values["kind"]),
                file,
            )
        except ValidationError as error:
            return DocumentPayload(document=None, errors=field_errors(error.errors))
        finally:
            await _close(input.file)
        return DocumentPayload(document=await _document(document.id), errors=[])

    @strawberry.mutation(
        description="Upload a file as the next version of a document. Earlier "
        "versions are kept."
    )
    async def upload_document_version(
        self,
        info: Info,
        document_id: strawberry.ID,
        file: Annotated[Upload, strawberry.argument(description=FILE_DESCRIPTION)],
    ) -> DocumentVersionPayload:
        viewer = info.context.viewer
        _require_user(viewer, "upload documents")
        try:
            pk = decode_typed_id(document_id, "Document", "documentId")
            version = await service.upload_version(
                viewer,
                info.context.services.settings,
                pk,
                _incoming(file, "file"),
            )
        except ValidationError as error:
            return DocumentVersionPayload(
                version=None, document=None, errors=field_errors(error.errors)
            )
        finally:
            await _close(file)
        return DocumentVersionPayload(
            version=version_node(version),
            document=await _document(version.document_id),
            errors=[],
        )

    @strawberry.mutation(
        description="Delete a document: it disappears from every list and its "
        "downloads stop, but its versions stay stored for the audit trail."
    )
    async def delete_document(self, info: Info, id: strawberry.ID) -> DocumentPayload:
        viewer = info.context.viewer
        _require_user(viewer, "delete documents")
        pk = decode_typed_id(id, "Document")
        document = await service.delete_document(viewer, pk)
        return DocumentPayload(document=document_node(document), errors=[])

    @strawberry.mutation(
        description="Upload a DOCX template with Jinja placeholders. Needs "
        "'contract_type:write'. A file that is not a Word document, has a Jinja "
        "syntax error or uses unknown placeholders is rejected with a message that "
        "names the problem."
    )
    async def create_document_template(
        self, info: Info, input: CreateDocumentTemplateInput
    ) -> DocumentTemplatePayload:
        viewer = info.context.viewer
        _require_user(viewer, "upload document templates")
        try:
            template = await template_service.create_template(
                viewer,
                info.context.services.settings,
                input.name,
                _incoming(input.file, "file"),
            )
        except ValidationError as error:
            return DocumentTemplatePayload(
                template=None, errors=field_errors(error.errors)
            )
        finally:
            await _close(input.file)
        return DocumentTemplatePayload(template=template_node(template), errors=[])

    @strawberry.mutation(
        description="Fill a template with a contract's client, contact, contract "
        "and owner data and store the DOCX as a document of the contract: a new "
        "document, or the next version of documentId. Needs the permission to "
        "change the contract. A template with protected financial placeholders is "
        "rejected, naming them, for roles that may not read those fields."
    )
    async def render_document_template(
        self,
        info: Info,
        template_id: strawberry.ID,
        contract_id: strawberry.ID,
        kind: DocumentKindEnum,  # type: ignore[valid-type]
        document_id: strawberry.ID | None = None,
    ) -> DocumentVersionPayload:
        viewer = info.context.viewer
        _require_user(viewer, "render document templates")
        template_pk = decode_typed_id(template_id, "DocumentTemplate", "templateId")
        contract_pk = decode_typed_id(contract_id, "Contract", "contractId")
        document_pk = (
            None
            if document_id is None
            else decode_typed_id(document_id, "Document", "documentId")
        )
        try:
            version = await template_service.render_for_contract(
                viewer,
                info.context.services.settings,
                template_pk,
                contract_pk,
                DocumentKind(kind),
                document_pk,
            )
        except ValidationError as error:
            return DocumentVersionPayload(
                version=None, document=None, errors=field_errors(error.errors)
            )
        return DocumentVersionPayload(
            version=version_node(version),
            document=await _document(version.document_id),
            errors=[],
        )

    @strawberry.mutation(
        description="Create a signed link to download a document version without "
        "the Authorization header. It expires after CONTRACTGQL_DOWNLOAD_LINK_TTL "
        "seconds (5 minutes unless configured) and stops working when you lose "
        "access to the document."
    )
    async def create_download_link(
        self, info: Info, version_id: strawberry.ID
    ) -> DownloadLinkPayload:
        viewer = info.context.viewer
        _require_user(viewer, "create download links")
        settings = info.context.services.settings
        pk = decode_typed_id(version_id, "DocumentVersion", "versionId")
        version, _ = await service.get_visible_version(viewer, pk)
        assert viewer.user_id is not None, "GraphQL callers are always users"
        signer = LinkSigner(settings.resolved_secret_key())
        # Links die with the user's login tokens, when the account is deactivated.
        user = await User.get(id=viewer.user_id).only("id", "token_generation")
        url, expires_at = signer.link(
            _base_url(info),
            version.id,
            viewer.user_id,
            user.token_generation,
            settings.download_link_ttl,
        )
        return DownloadLinkPayload(url=url, expires_at=expires_at, errors=[])


def _incoming(value: Any, field: str) -> IncomingFile:
    """Wrap an uploaded file. A value that is not a file is reported when the
    service reads it, after the checks of the ids and permissions."""
    if not isinstance(value, UploadFile):
        return IncomingFile(None, _not_a_file(field))
    return IncomingFile(value.filename, _chunks(value))


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    await upload.seek(0)
    while chunk := await upload.read(CHUNK_SIZE):
        yield chunk


async def _not_a_file(field: str) -> AsyncIterator[bytes]:
    raise ValidationError(
        [
            FieldError(
                field,
                "not_a_file",
                f"{field} is not an uploaded file: send the request as "
                "multipart/form-data with the file in a part that the `map` field "
                "assigns to this variable.",
            )
        ]
    )
    yield b""  # Unreachable, but makes this function an async generator.


def _require_user(viewer: Viewer, action: str) -> None:
    """Reject API tokens, which may only read, before any other check."""
    if viewer.api_token:
        raise PermissionDenied(
            f"API tokens may only read, so this token cannot {action}. Download "
            "with GET /documents/<version id> and the token in the Authorization "
            "header, or log in as a user."
        )


async def _close(value: Any) -> None:
    """Close an uploaded file, which deletes Starlette's temporary copy."""
    if isinstance(value, UploadFile):
        await value.close()


async def _document(pk: int) -> DocumentNode:
    return document_node(await Document.get(id=pk))


def _base_url(info: Info) -> str:
    public_url = info.context.services.settings.public_url
    if public_url is not None:
        return public_url
    request = info.context.request
    return str(request.base_url)
