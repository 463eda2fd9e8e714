"""Mutations that start and cancel import jobs.

The file arrives as an `Upload` of a multipart request (GraphQL multipart request
specification) with a CSRF header, as document uploads do.
"""

from __future__ import annotations

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from contractgql.errors import FieldError, ValidationError
from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.mutations.documents import _chunks, _close, _require_user
from contractgql.graphql.types.common import FieldErrorType, field_errors
from contractgql.graphql.types.imports import (
    ImportFormatEnum,
    ImportJobNode,
    import_job_node,
)
from contractgql.importexport import jobs
from contractgql.importexport.value_mapping import (
    CHOICE_FIELDS,
    ValueMappings,
    normalize,
)
from contractgql.models import ImportFormat


@strawberry.input(description="A column of the file and the field it fills.")
class ColumnMappingInput:
    header: str = strawberry.field(description="The header as written in the file.")
    field: str = strawberry.field(
        description="An import field such as 'client' or 'amount'; '-' ignores the "
        "column. An unknown field (the error lists the valid ones), or a field that "
        "two columns name, rejects the input with an error in `errors`."
    )


@strawberry.input(
    description="A value of a choice column and the list value it stands for."
)
class ValueMappingInput:
    field: str = strawberry.field(
        description="A choice field such as 'contract_type' or 'payment_frequency'."
    )
    source: str = strawberry.field(
        description="The value as written in the file, compared without case."
    )
    target: str = strawberry.field(description="The list value to import instead.")


@strawberry.input(description="A file to import in the background.")
class StartImportInput:
    file: Upload = strawberry.field(
        description="The file, as a part of a multipart request: .csv or .xlsx for "
        "REGISTER, .json for DECP, at most CONTRACTGQL_MAX_DOCUMENT_BYTES bytes."
    )
    format: ImportFormatEnum = ImportFormatEnum.REGISTER
    currency: str | None = strawberry.field(
        default=None,
        description="ISO 4217 currency for rows without one; the organization's "
        "by default.",
    )
    create_types: bool = strawberry.field(
        default=False,
        description="Create contract types that do not exist yet instead of leaving "
        "the type empty.",
    )
    default_notice_period: str | None = strawberry.field(
        default=None,
        description="Notice period for rows without one, such as '3 months' or "
        "'3 mnd'.",
    )
    mapping: list[ColumnMappingInput] | None = strawberry.field(
        default=None, description="Columns whose header is not recognised."
    )
    value_mapping: list[ValueMappingInput] | None = strawberry.field(
        default=None,
        description="Values of choice columns that do not match a list value, "
        "such as 'Onderhoud' for the contract type 'Maintenance contract'.",
    )


@strawberry.type(description="The import job, or the reasons its input was invalid.")
class ImportJobPayload:
    job: ImportJobNode | None
    errors: list[FieldErrorType]


@strawberry.type
class ImportMutations:
    @strawberry.mutation(
        description="Upload a register or DECP file and import it in the background, "
        "in one transaction: all valid rows or, when the job fails or is cancelled, "
        "nothing. Needs 'contract:write'. Follow it with the importJob query."
    )
    async def start_import(
        self, info: Info, input: StartImportInput
    ) -> ImportJobPayload:
        viewer = info.context.viewer
        _require_user(viewer, "import contracts")
        jobs.require_import_permission(viewer)
        services = info.context.services
        try:
            file_format = ImportFormat(str(input.format.value))
            options = jobs.options_json(
                mapping={m.header: m.field for m in input.mapping or []},
                currency=input.currency,
                create_types=input.create_types,
                default_notice_period=input.default_notice_period,
                value_mappings=_value_mappings(input.value_mapping or []),
            )
            if not isinstance(input.file, UploadFile):
                raise ValidationError(
                    [
                        FieldError(
                            "file",
                            "not_a_file",
                            "file is not an uploaded file: send the request as "
                            "multipart/form-data with the file in a part that the "
                            "`map` field assigns to this variable.",
                        )
                    ]
                )
            file_name = input.file.filename or "import"
            path = await jobs.store_upload(
                services.settings, file_name, file_format, _chunks(input.file)
            )
        except ValidationError as error:
            return ImportJobPayload(job=None, errors=field_errors(error.errors))
        finally:
            await _close(input.file)

        job = await jobs.create_job(
            viewer, viewer.organization_id, file_name, path, file_format, options
        )
        await jobs.start_job(services.settings, lambda: services.policy, job)
        await job.refresh_from_db()
        return ImportJobPayload(
            job=await import_job_node(viewer, services.settings, job), errors=[]
        )

    @strawberry.mutation(
        description="Stop a queued or running import. It writes nothing: the rows "
        "written so far are rolled back. Its status becomes CANCELLED within a few "
        "hundred rows. A job that has already finished stays as it is, and "
        "`errors` contains the code ALREADY_FINISHED on the field 'id'."
    )
    async def cancel_import(self, info: Info, id: strawberry.ID) -> ImportJobPayload:
        viewer = info.context.viewer
        _require_user(viewer, "cancel imports")
        pk = decode_typed_id(id, "ImportJob")
        settings = info.context.services.settings
        try:
            job = await jobs.cancel_job(settings, viewer, pk)
        except jobs.JobAlreadyFinished as error:
            return ImportJobPayload(
                job=await import_job_node(viewer, settings, error.job),
                errors=field_errors(error.errors),
            )
        return ImportJobPayload(
            job=await import_job_node(viewer, settings, job), errors=[]
        )


def _value_mappings(items: list[ValueMappingInput]) -> ValueMappings:
    """Check the value mappings of a new job, raising ValidationError on a bad one."""
    mappings: ValueMappings = {}
    errors: list[FieldError] = []
    for item in items:
        field = item.field.strip()
        if field not in CHOICE_FIELDS:
            errors.append(
                FieldError(
                    "valueMapping",
                    "invalid",
                    f"field {item.field!r} has no fixed set of values: use one of "
                    f"{', '.join(CHOICE_FIELDS)}.",
                )
            )
        elif not item.source.strip() or not item.target.strip():
            errors.append(
                FieldError(
                    "valueMapping",
                    "invalid",
                    f"the mapping of {field} needs a source and a target value, "
                    f"got {item.source!r} and {item.target!r}.",
                )
            )
        else:
            targets = mappings.setdefault(field, {})
            targets[normalize(item.source)] = item.target.strip()
    if errors:
        raise ValidationError(errors)
    return mappings
