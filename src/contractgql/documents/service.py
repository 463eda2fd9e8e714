"""Upload, version, delete and authorise downloads of documents.

A document belongs to exactly one contract, client or project of the caller's
organization. Reading it needs what reading that record needs, so the documents of
a contract that the caller cannot see do not exist for them. Uploading and
deleting need the permission to change that record. Every change writes an audit
event in the transaction of the change.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from tortoise.expressions import F, Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from contractgql.audit import record_change, record_event, snapshot
from contractgql.config import Settings
from contractgql.documents.indexing import initial_status, note_new_version
from contractgql.documents.naming import (
    file_extension,
    generated_name,
    sanitize_file_name,
)
from contractgql.documents.sniffing import (
    SUPPORTED_LABEL,
    FileType,
    UnknownContent,
    sniff,
    type_for_extension,
)
from contractgql.documents.storage import DocumentStorage, DocumentTooLarge, storage_for
from contractgql.errors import FieldError, NotFound, ValidationError
from contractgql.ids import encode_id
from contractgql.models import (
    Client,
    Contract,
    Document,
    DocumentKind,
    DocumentVersion,
    Project,
    Sensitivity,
)
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer
from contractgql.services.contracts import get_visible_contract, require_contract_write
from contractgql.services.records import get_record

# Files that one multipart request may carry.
MAX_FILES_PER_REQUEST = 10
TARGETS = ("contract_id", "client_id", "project_id")


@dataclass(frozen=True)
class IncomingFile:
    """An uploaded file: the name the client sent and its content in chunks."""

    name: str | None
    chunks: AsyncIterable[bytes]


@dataclass(frozen=True)
class Parent:
    """The record a document belongs to, and its client's name for file names."""

    column: str
    pk: int
    client_name: str


def document_storage(settings: Settings) -> DocumentStorage:
    return storage_for(settings.resolved_document_dir)


def visible_documents(viewer: Viewer) -> QuerySet[Document]:
    """Return the documents that are not deleted and whose record the viewer may see."""
    contracts = visible_contracts(viewer).values("id")
    return Document.filter(
        organization_id=viewer.organization_id, deleted_at__isnull=True
    ).filter(Q(contract_id__isnull=True) | Q(contract_id__in=Subquery(contracts)))


async def upload_document(
    viewer: Viewer,
    settings: Settings,
    target: dict[str, int | None],
    kind: DocumentKind,
    file: IncomingFile,
) -> Document:
    """Create a document with `file` as its version 1."""
    chosen = [name for name in TARGETS if target.get(name) is not None]
    if len(chosen) != 1:
        raise ValidationError(
            [
                FieldError(
                    "contract_id",
                    "invalid_target",
                    "A document belongs to exactly one record: give one of "
                    f"contractId, clientId or projectId, not {len(chosen)}.",
                )
            ]
        )
    column = chosen[0]
    pk = target[column]
    assert pk is not None
    parent = await _writable_parent(viewer, column, pk)
    # NOTE: a file stays stored when the transaction below fails, and nothing
    # removes files that no version refers to yet.
    name, stored, file_type = await _store(settings, file)
    parent_column: dict[str, Any] = {column: pk}

    async with in_transaction():
        document = await Document.create(
            organization_id=viewer.organization_id,
            kind=kind,
            name=name,
            last_version_number=1,
            created_by_id=viewer.user_id,
            updated_by_id=viewer.user_id,
            **parent_column,
        )
        version = await _create_version(
            viewer, document, parent, 1, name, stored, file_type
        )
        after = _document_values(document, version)
        await record_change(viewer, "document.create", document, None, after)
    return document


async def upload_version(
    viewer: Viewer, settings: Settings, document_id: int, file: IncomingFile
) -> DocumentVersion:
    """Add `file` as the next version of a document, keeping the earlier ones."""
    document = await get_visible_document(viewer, document_id)
    parent = await _writable_parent(viewer, *_parent_key(document))
    name, stored, file_type = await _store(settings, file)

    async with in_transaction():
        # The UPDATE locks the row until the transaction ends (on SQLite, the
        # database), so concurrent uploads read consecutive numbers after it.
        updated = await Document.filter(id=document.id, deleted_at__isnull=True).update(
            last_version_number=F("last_version_number") + 1,
            version=F("version") + 1,
            updated_by_id=viewer.user_id,
            updated_at=datetime.now(UTC),
        )
        if not updated:
            raise _document_not_found(document_id)
        document = await Document.get(id=document.id)
        number = document.last_version_number
        previous = await DocumentVersion.filter(
            document_id=document.id, number=number - 1
        ).first()
        before = {
            **_document_values(document, previous),
            "lastVersionNumber": number - 1,
        }
        version = await _create_version(
            viewer,
            document,
            parent,
            number,
            name,
            stored,
            file_type,
        )
        after = _document_values(document, version)
        await record_change(viewer, "document.version", document, before, after)
    return version


async def delete_document(viewer: Viewer, document_id: int) -> Document:
    """Mark a document deleted. Its versions and files stay, for the audit trail."""
    document = await get_visible_document(viewer, document_id)
    await _writable_parent(viewer, *_parent_key(document))
    async with in_transaction():
        now = datetime.now(UTC)
        updated = await Document.filter(id=document.id, deleted_at__isnull=True).update(
            deleted_at=now,
            deleted_by_id=viewer.user_id,
            updated_by_id=viewer.user_id,
            updated_at=now,
            version=F("version") + 1,
        )
        if not updated:
            raise _document_not_found(document_id)
        document = await Document.get(id=document.id)
        after = _document_values(document, None)
        before = {**after, "deletedAt": None, "deletedBy": None}
        await record_change(viewer, "document.delete", document, before, after)
    return document


async def get_visible_document(viewer: Viewer, document_id: int) -> Document:
    document = await visible_documents(viewer).filter(id=document_id).first()
    if document is None:
        raise _document_not_found(document_id)
    return document


async def get_visible_version(
    viewer: Viewer, version_id: int
) -> tuple[DocumentVersion, Document]:
    """Return a version of a visible document, or raise NotFound."""
    version = await DocumentVersion.filter(
        id=version_id, organization_id=viewer.organization_id
    ).first()
    document = None
    if version is not None:
        document = (
            await visible_documents(viewer).filter(id=version.document_id).first()
        )
    if version is None or document is None:
        raise NotFound(
            f"Document version {encode_id('DocumentVersion', version_id)!r} was not "
            "found: check the id. Versions of deleted documents and of contracts "
            "that you cannot see are not found either."
        )
    return version, document


async def record_download(
    viewer: Viewer, version: DocumentVersion, document: Document
) -> bool:
    """Write a document.download audit event when the document's contract is
    confidential, and return whether it did."""
    if document.contract_id is None:
        return False
    confidential = await Contract.filter(
        id=document.contract_id, sensitivity=Sensitivity.CONFIDENTIAL
    ).exists()
    if not confidential:
        return False
    await record_event(
        viewer.organization_id,
        viewer.user_id,
        "document.download",
        "Document",
        document.id,
        None,
        {
            "documentVersion": encode_id("DocumentVersion", version.id),
            "number": version.number,
            "contract": encode_id("Contract", document.contract_id),
        },
    )
    return True


async def _writable_parent(viewer: Viewer, column: str, pk: int) -> Parent:
    """Return the record a document belongs to, after checking that the viewer
    may change it. A contract that the viewer cannot see raises NotFound."""
    if column == "contract_id":
        contract = await get_visible_contract(viewer, pk)
        require_contract_write(viewer, contract)
        client = await Client.get(id=contract.client_id)
        return Parent(column, pk, client.name)
    if column == "client_id":
        client = await get_record(viewer, Client, pk, "Client")
        viewer.require("client:write", "change the documents of a client")
        return Parent(column, pk, client.name)
    project = await get_record(viewer, Project, pk, "Project")
    viewer.require("project:write", "change the documents of a project")
    client = await Client.get(id=project.client_id)
    return Parent(column, pk, client.name)


def _parent_key(document: Document) -> tuple[str, int]:
    for column in TARGETS:
        value = getattr(document, column)
        if value is not None:
            return column, value
    raise AssertionError(f"Document {document.id} belongs to no record")


async def _store(settings: Settings, file: IncomingFile) -> tuple[str, Any, FileType]:
    """Stream the file into storage and return its sanitised name, the stored file
    and its sniffed type.

    Raises ValidationError, and stores nothing, when the file is too large or its
    type is not supported or does not match its name.
    """
    found: list[FileType] = []
    provisional = sanitize_file_name(file.name)
    extension = file_extension(provisional)
    claimed = None if extension is None else type_for_extension(extension)
    if extension is not None and claimed is None:
        raise _file_error(
            "unsupported_type",
            f"The file {provisional!r} has the extension .{extension}, which is not "
            f"supported: upload a {SUPPORTED_LABEL} file.",
        )

    def check(handle: BinaryIO) -> None:
        try:
            actual = sniff(handle)
        except UnknownContent as error:
            raise _file_error(
                "unsupported_type",
                f"The content of {provisional!r} matches no supported file type: "
                f"upload a {SUPPORTED_LABEL} file.",
            ) from error
        if claimed is not None and claimed != actual:
            raise _file_error(
                "type_mismatch",
                f"The file {provisional!r} has the extension .{extension} "
                f"({claimed.label}), but its content is of the type {actual.label}: "
                f"rename it to .{actual.extension} or upload the right file.",
            )
        found.append(actual)

    try:
        stored = await document_storage(settings).put(
            file.chunks, max_bytes=settings.max_document_bytes, check=check
        )
    except DocumentTooLarge:
        raise _file_error(
            "too_large",
            f"The file {provisional!r} is larger than the maximum of "
            f"{settings.max_document_bytes} bytes: upload a smaller file, or ask the "
            "operator to raise CONTRACTGQL_MAX_DOCUMENT_BYTES.",
        ) from None
    file_type = found[0]
    name = provisional
    if extension is None:
        name = sanitize_file_name(f"{provisional}.{file_type.extension}")
    return name, stored, file_type


async def _create_version(
    viewer: Viewer,
    document: Document,
    parent: Parent,
    number: int,
    file_name: str,
    stored: Any,
    file_type: FileType,
) -> DocumentVersion:
    version = await DocumentVersion.create(
        organization_id=viewer.organization_id,
        document_id=document.id,
        number=number,
        file_name=file_name,
        generated_name=generated_name(
            document.kind,
            parent.client_name,
            number,
            viewer.today,
            file_type.extension,
        ),
        content_type=file_type.content_type,
        size=stored.size,
        sha256=stored.sha256,
        created_by_id=viewer.user_id,
        text_status=initial_status(file_type.content_type),
    )
    note_new_version(version)
    return version


def _document_values(
    document: Document, version: DocumentVersion | None
) -> dict[str, Any]:
    if version is None:
        return snapshot(document)
    return snapshot(
        document,
        latest_version=encode_id("DocumentVersion", version.id),
        latest_file_name=version.file_name,
        latest_sha256=version.sha256,
        latest_size=version.size,
    )


def _file_error(code: str, message: str) -> ValidationError:
    return ValidationError([FieldError("file", code, message)])


def _document_not_found(document_id: int) -> NotFound:
    return NotFound(
        f"Document {encode_id('Document', document_id)!r} was not found: check the "
        "id. Deleted documents and the documents of contracts that you cannot see "
        "are not found either."
    )
