"""Documents and their versions, and the `documents` field of their records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.dataloader import DataLoader

from contractgql.documents.links import DOWNLOAD_PATH
from contractgql.documents.service import get_visible_document, get_visible_version
from contractgql.errors import NotFound
from contractgql.graphql.context import Context, Info
from contractgql.graphql.relay import Node
from contractgql.graphql.types.common import (
    CREATED_BY_DESCRIPTION,
    UPDATED_BY_DESCRIPTION,
)
from contractgql.ids import encode_id
from contractgql.models import (
    Document,
    DocumentKind,
    DocumentTemplate,
    DocumentVersion,
    TextStatus,
)
from contractgql.security.viewer import Viewer

if TYPE_CHECKING:
    from contractgql.graphql.types.users import UserNode

UserRef = Annotated["UserNode", strawberry.lazy("contractgql.graphql.types.users")]

DocumentKindEnum = strawberry.enum(
    DocumentKind,
    name="DocumentKind",
    description="What a document is: the signed contract, a quote, an addendum, "
    "general terms, correspondence or something else.",
)

TextStatusEnum = strawberry.enum(
    TextStatus,
    name="TextStatus",
    description="How far the text extraction of a document version got, for the "
    "search in documents: PENDING until a job extracts it, DONE when the text is "
    "searchable, NO_TEXT for files without a text layer (such as scanned PDFs), "
    "FAILED when the file could not be read (see textError) and UNSUPPORTED for "
    "types other than PDF and DOCX.",
)


@strawberry.type(
    name="DocumentVersion",
    description="One uploaded file of a document. Versions are numbered from 1 and "
    "are kept when a newer one is uploaded.",
)
class DocumentVersionNode(Node):
    pk: strawberry.Private[int]
    created_by_pk: strawberry.Private[int | None]
    number: int
    file_name: str = strawberry.field(
        description="The file name as uploaded, without folders or unsafe characters."
    )
    download_name: str = strawberry.field(
        description="The name that downloads get, such as "
        "Contract_Acme-BV_v2_2026-05-01.pdf."
    )
    content_type: str = strawberry.field(
        description="The media type recognised from the file's content."
    )
    size: int = strawberry.field(description="Size in bytes.")
    sha256: str = strawberry.field(description="SHA-256 digest of the content, in hex.")
    created_at: datetime
    text_status: TextStatusEnum = strawberry.field(  # type: ignore[valid-type]
        description="Whether the text of this version is searchable."
    )
    text_error: str | None = strawberry.field(
        description="Why the text extraction failed, when textStatus is FAILED."
    )

    @strawberry.field(description="The user who uploaded this version.")
    def created_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.created_by_pk)

    @strawberry.field(
        description="Path of the download, relative to the server's address. It "
        "needs the same Authorization header as /graphql. For a link without the "
        "header, call createDownloadLink."
    )
    def download_url(self) -> str:
        return DOWNLOAD_PATH.format(version_id=self.id)


@strawberry.type(
    name="Document",
    description="A file of a contract, client or project, with all its versions.",
)
class DocumentNode(Node):
    pk: strawberry.Private[int]
    created_by_pk: strawberry.Private[int | None]
    updated_by_pk: strawberry.Private[int | None]
    kind: DocumentKindEnum  # type: ignore[valid-type]
    name: str = strawberry.field(description="The file name of the first upload.")
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(
        description="Incremented by each new version and by the deletion."
    )

    @strawberry.field(description=CREATED_BY_DESCRIPTION)
    def created_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.created_by_pk)

    @strawberry.field(description=UPDATED_BY_DESCRIPTION)
    def updated_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.updated_by_pk)

    @strawberry.field(description="All versions, oldest first.")
    def versions(self, info: Info) -> list[DocumentVersionNode]:
        return document_loaders(info).versions.load(self.pk)

    @strawberry.field(description="The version with the highest number.")
    async def latest_version(self, info: Info) -> DocumentVersionNode | None:
        versions = await document_loaders(info).versions.load(self.pk)
        return versions[-1] if versions else None


def load_user(info: Info, pk: int | None) -> Awaitable[UserNode | None] | None:
    return None if pk is None else info.context.loaders.user(pk)


def document_node(document: Document) -> DocumentNode:
    return DocumentNode(
        id=strawberry.ID(encode_id("Document", document.id)),
        pk=document.id,
        created_by_pk=document.created_by_id,
        updated_by_pk=document.updated_by_id,
        kind=document.kind,
        name=document.name,
        created_at=document.created_at,
        updated_at=document.updated_at,
        version=document.version,
    )


def version_node(version: DocumentVersion) -> DocumentVersionNode:
    return DocumentVersionNode(
        id=strawberry.ID(encode_id("DocumentVersion", version.id)),
        pk=version.id,
        created_by_pk=version.created_by_id,
        number=version.number,
        file_name=version.file_name,
        download_name=version.generated_name,
        content_type=version.content_type,
        size=version.size,
        sha256=version.sha256,
        created_at=version.created_at,
        text_status=version.text_status,
        text_error=version.text_error,
    )


class DocumentLoaders:
    """Batch loaders of one request: documents by record, versions by document.

    Callers pass records that the viewer may see, so the loaders only limit the
    documents to the viewer's organization and leave out deleted ones.
    """

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self.documents = DataLoader(self._load_documents)
        self.versions = DataLoader(self._load_versions)

    async def _load_documents(
        self, keys: list[tuple[str, int]]
    ) -> list[list[DocumentNode]]:
        by_column: defaultdict[str, list[int]] = defaultdict(list)
        for column, pk in keys:
            by_column[column].append(pk)
        found: defaultdict[tuple[str, int], list[DocumentNode]] = defaultdict(list)
        for column, pks in by_column.items():
            rows = await Document.filter(
                organization_id=self.organization_id,
                deleted_at__isnull=True,
                **{f"{column}__in": pks},
            ).order_by("-created_at", "-id")
            for row in rows:
                found[(column, getattr(row, column))].append(document_node(row))
        return [found[key] for key in keys]

    async def _load_versions(self, keys: list[int]) -> list[list[DocumentVersionNode]]:
        rows = await DocumentVersion.filter(
            organization_id=self.organization_id, document_id__in=keys
        ).order_by("document_id", "number")
        found: defaultdict[int, list[DocumentVersionNode]] = defaultdict(list)
        for row in rows:
            found[row.document_id].append(version_node(row))
        return [found[key] for key in keys]


def document_loaders(info: Info) -> DocumentLoaders:
    """Return the request's document loaders, created on first use."""
    context: Context = info.context
    # Kept on the context object, which lives exactly as long as the request.
    loaders: DocumentLoaders | None = getattr(context, "_document_loaders", None)
    if loaders is None:
        loaders = DocumentLoaders(context.viewer.organization_id)
        context._document_loaders = loaders  # type: ignore[attr-defined]
    return loaders


def documents_of(info: Info, column: str, pk: int) -> Awaitable[list[DocumentNode]]:
    """Load the documents of a contract, client or project that the caller may see."""
    return document_loaders(info).documents.load((column, pk))


async def document_by_id(viewer: Viewer, type_name: str, pk: int) -> Node | None:
    """Return a Document or DocumentVersion that the viewer may see, or None."""
    try:
        if type_name == "Document":
            return document_node(await get_visible_document(viewer, pk))
        version, _ = await get_visible_version(viewer, pk)
    except NotFound:
        return None
    return version_node(version)


@strawberry.type(
    name="DocumentTemplate",
    description="A DOCX template with Jinja placeholders, such as "
    "{{ client.name }}, that renderDocumentTemplate fills for a contract.",
)
class DocumentTemplateNode(Node):
    pk: strawberry.Private[int]
    created_by_pk: strawberry.Private[int | None]
    name: str
    file_name: str = strawberry.field(
        description="The file name as uploaded, without folders or unsafe characters."
    )
    size: int = strawberry.field(description="Size in bytes.")
    placeholders: list[str] = strawberry.field(
        description="The placeholders the template uses, such as contract.end_date."
    )
    created_at: datetime

    @strawberry.field(description="The user who uploaded the template.")
    def created_by(self, info: Info) -> UserRef | None:
        return load_user(info, self.created_by_pk)


def template_node(template: DocumentTemplate) -> DocumentTemplateNode:
    return DocumentTemplateNode(
        id=strawberry.ID(encode_id("DocumentTemplate", template.id)),
        pk=template.id,
        created_by_pk=template.created_by_id,
        name=template.name,
        file_name=template.file_name,
        size=template.size,
        placeholders=list(template.placeholders),
        created_at=template.created_at,
    )


async def template_by_id(viewer: Viewer, pk: int) -> DocumentTemplateNode | None:
    """Return a template of the viewer's organization, or None."""
    template = await DocumentTemplate.filter(
        id=pk, organization_id=viewer.organization_id
    ).first()
    return None if template is None else template_node(template)
