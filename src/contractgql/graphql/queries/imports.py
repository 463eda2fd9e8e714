"""Queries for import jobs: one job, and the organization's jobs newest first."""

from __future__ import annotations

from typing import Any

import strawberry

from contractgql.graphql.context import Info
from contractgql.graphql.inputs import decode_typed_id
from contractgql.graphql.relay import Connection, SortKey, paginate
from contractgql.graphql.types.imports import (
    ImportJobNode,
    ImportStatusEnum,
    import_job_by_id,
    import_job_node,
)
from contractgql.importexport import jobs
from contractgql.models import ImportJob


@strawberry.type
class ImportQueries:
    @strawberry.field(
        description="An import job of the organization, with live counts while it "
        "runs, or null when the organization has no such job. Needs "
        "'contract:write'."
    )
    async def import_job(self, info: Info, id: strawberry.ID) -> ImportJobNode | None:
        viewer = info.context.viewer
        return await import_job_by_id(
            viewer, info.context.services.settings, decode_typed_id(id, "ImportJob")
        )

    @strawberry.field(
        description="Import jobs of the organization, newest first. Needs "
        "'contract:write'."
    )
    async def import_jobs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: ImportStatusEnum | None = None,
    ) -> Connection[ImportJobNode]:
        viewer = info.context.viewer
        jobs.require_import_permission(viewer)
        settings = info.context.services.settings
        scope = ImportJob.filter(organization_id=viewer.organization_id)
        query = scope if status is None else scope.filter(status=status.value)

        async def build(rows: list[dict[str, Any]]) -> list[ImportJobNode]:
            found = await ImportJob.filter(id__in=[row["id"] for row in rows])
            by_id = {job.id: job for job in found}
            return [
                await import_job_node(viewer, settings, by_id[row["id"]])
                for row in rows
            ]

        return await paginate(
            query,
            scope,
            key=SortKey("id", "id"),
            descending=True,
            first=first,
            after=after,
            max_page_size=settings.max_page_size,
            columns=("id",),
            build=build,
        )
