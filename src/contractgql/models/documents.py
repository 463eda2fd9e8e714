"""Documents attached to a contract, client or project, and their file versions."""

import enum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from contractgql.models import Client, Contract, Organization, Project, User


class DocumentKind(enum.StrEnum):
    SIGNED_CONTRACT = "signed_contract"
    QUOTE = "quote"
    ADDENDUM = "addendum"
    GENERAL_TERMS = "general_terms"
    CORRESPONDENCE = "correspondence"
    OTHER = "other"


class TextStatus(enum.StrEnum):
    """How far the text extraction of a document version got."""

    PENDING = "pending"
    DONE = "done"
    NO_TEXT = "no_text"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"


class Document(Model):
    """A document of one contract, client or project that groups its file versions.

    Deleting a document sets deleted_at and keeps its rows and files.
    """

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    contract: fields.ForeignKeyNullableRelation["Contract"] = fields.ForeignKeyField(
        "models.Contract",
        related_name="documents",
        null=True,
        on_delete=fields.RESTRICT,
    )
    contract_id: int | None
    client: fields.ForeignKeyNullableRelation["Client"] = fields.ForeignKeyField(
        "models.Client", related_name="documents", null=True, on_delete=fields.RESTRICT
    )
    client_id: int | None
    project: fields.ForeignKeyNullableRelation["Project"] = fields.ForeignKeyField(
        "models.Project",
        related_name="documents",
        null=True,
        on_delete=fields.RESTRICT,
    )
    project_id: int | None
    kind = fields.CharEnumField(DocumentKind, max_length=30)
    name = fields.CharField(max_length=255)
    # The number of the newest version. Uploads increment it in their transaction,
    # which locks the row, so concurrent uploads get consecutive numbers.
    last_version_number = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    updated_at = fields.DatetimeField(auto_now=True)
    updated_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    updated_by_id: int | None
    version = fields.IntField(default=1)
    deleted_at = fields.DatetimeField(null=True)
    deleted_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    deleted_by_id: int | None

    class Meta:
        table = "documents"


class DocumentVersion(Model):
    """One uploaded file of a document, numbered from 1 within the document.

    The file content is stored once per SHA-256 digest in the document storage.
    """

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    document: fields.ForeignKeyRelation[Document] = fields.ForeignKeyField(
        "models.Document", related_name="versions", on_delete=fields.RESTRICT
    )
    document_id: int
    number = fields.IntField()
    # The file name as uploaded, after sanitising.
    file_name = fields.CharField(max_length=255)
    # The name that downloads get, such as Contract_Acme-BV_v2_2026-05-01.pdf.
    generated_name = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=100)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    # The text extraction: its status, the error of a failed one, how many times it
    # started and when it finished. The text itself is a DocumentText row.
    text_status = fields.CharEnumField(
        TextStatus,
        max_length=20,
        default=TextStatus.PENDING,
        db_default="pending",
        db_index=True,
    )
    text_error = fields.CharField(max_length=1000, null=True)
    text_attempts = fields.IntField(default=0, db_default=0)
    text_extracted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "document_versions"
        unique_together = (("document", "number"),)


class DocumentText(Model):
    """The text extracted from one document version, for the search in documents.

    The document id and the version number are copies from the version, so the
    search can match the latest version of a document without another join.
    """

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    document: fields.ForeignKeyRelation[Document] = fields.ForeignKeyField(
        "models.Document", related_name="texts", on_delete=fields.RESTRICT
    )
    document_id: int
    version: fields.OneToOneRelation[DocumentVersion] = fields.OneToOneField(
        "models.DocumentVersion", related_name="text", on_delete=fields.RESTRICT
    )
    version_id: int
    version_number = fields.IntField()
    text = fields.TextField()
    # Whether the text was cut at the maximum length that extraction stores.
    truncated = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "document_texts"


class DocumentTemplate(Model):
    """A DOCX template of an organization, with Jinja placeholders.

    The file is stored once per SHA-256 digest in the document storage, like
    document versions.
    """

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation["Organization"] = fields.ForeignKeyField(
        "models.Organization", related_name=False, on_delete=fields.RESTRICT
    )
    organization_id: int
    name = fields.CharField(max_length=200)
    # The file name as uploaded, after sanitising.
    file_name = fields.CharField(max_length=255)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    # The placeholders the template uses, such as ["client.name"], sorted.
    placeholders: fields.JSONField[list[str]] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None

    class Meta:
        table = "document_templates"
