"""Project membership, which decides the contracts that project staff see."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from contractgql.audit import record_change
from contractgql.ids import encode_id
from contractgql.models import Project, ProjectMember, User
from contractgql.security.viewer import Viewer
from contractgql.services.records import PROJECTS, get_record
from contractgql.services.validation import Validator
from contractgql.services.versions import check_version, claim_version

MAX_MEMBERS = 500


async def set_members(
    viewer: Viewer,
    project_id: int,
    user_ids: list[int],
    expected_version: int | None = None,
) -> Project:
    """Make `user_ids` the project's members, adding and removing as needed.

    Raises Conflict, and changes nothing, when `expected_version` is given and is
    not the stored version.
    """
    viewer.require(PROJECTS.write_permission, "change the members of a project")
    project: Project = await get_record(viewer, Project, project_id, "Project")
    requested = sorted(set(user_ids))

    async def changed(stored: Project) -> list[str]:
        members: list[int] = await ProjectMember.filter(
            project_id=stored.id
        ).values_list("user_id", flat=True)  # type: ignore[assignment]
        return [] if set(members) == set(requested) else ["userIds"]

    await check_version(project, "Project", expected_version, changed)
    validator = Validator()
    if len(requested) > MAX_MEMBERS:
        validator.add(
            "user_ids",
            "too_many",
            f"{len(requested)} members were given: a project has at most "
            f"{MAX_MEMBERS}.",
        )
    validator.raise_if_any()
    found = set(
        await User.filter(
            id__in=requested, organization_id=viewer.organization_id, is_active=True
        ).values_list("id", flat=True)
    )
    for missing in sorted(set(requested) - found):
        validator.add(
            "user_ids",
            "not_found",
            f"User {encode_id('User', missing)!r} was not found among the active "
            "users of your organization: pick an existing, active user.",
        )
    validator.raise_if_any()

    async with in_transaction():
        await claim_version(project, "Project", expected_version, changed)
        # Read under the claim's row lock: the members this change replaces.
        before = await _member_snapshot(project)
        await (
            ProjectMember.filter(project_id=project.id)
            .exclude(user_id__in=requested)
            .delete()
        )
        member_ids: list[int] = await ProjectMember.filter(
            project_id=project.id
        ).values_list("user_id", flat=True)  # type: ignore[assignment]
        current = set(member_ids)
        await ProjectMember.bulk_create(
            [
                ProjectMember(project_id=project.id, user_id=user_id)
                for user_id in requested
                if user_id not in current
            ]
        )
        project.updated_by_id = viewer.user_id
        await project.save(update_fields=["updated_by_id", "updated_at"])
        after = await _member_snapshot(project)
        await record_change(viewer, "project.members", project, before, after)
    return project


async def _member_snapshot(project: Project) -> dict[str, list[str]]:
    user_ids: list[int] = await ProjectMember.filter(project_id=project.id).values_list(
        "user_id", flat=True
    )  # type: ignore[assignment]
    return {"members": [encode_id("User", pk) for pk in sorted(user_ids)]}
