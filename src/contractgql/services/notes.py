"""Notes on contracts, clients and projects."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from contractgql.audit import record_change, snapshot
from contractgql.errors import NotFound, PermissionDenied
from contractgql.ids import encode_id
from contractgql.models import Client, Note, Project
from contractgql.security.viewer import Viewer
from contractgql.services.contracts import get_visible_contract
from contractgql.services.records import get_record
from contractgql.services.validation import Validator
from contractgql.services.versions import (
    archive_with_version,
    check_version,
    claim_version,
)

MAX_NOTE_LENGTH = 20_000
TARGETS = ("contract_id", "client_id", "project_id")


async def create_note(viewer: Viewer, values: dict[str, Any]) -> Note:
    """Attach a note to exactly one visible contract, client or project."""
    viewer.require("note:write", "add notes")
    validator = Validator()
    validator.text(values, "body", max_length=MAX_NOTE_LENGTH, required=True)
    targets = [name for name in TARGETS if values.get(name) is not None]
    if len(targets) != 1:
        validator.add(
            "contract_id",
            "invalid_target",
            "A note belongs to exactly one record: give one of contractId, clientId "
            f"or projectId, not {len(targets)}.",
        )
    validator.raise_if_any()

    target = targets[0]
    if target == "contract_id":
        await get_visible_contract(viewer, values[target])
    elif target == "client_id":
        await get_record(viewer, Client, values[target], "Client")
    else:
        await get_record(viewer, Project, values[target], "Project")
    async with in_transaction():
        note = await Note.create(
            organization_id=viewer.organization_id,
            author_id=viewer.user_id,
            updated_by_id=viewer.user_id,
            body=values["body"],
            **{target: values[target]},
        )
        await record_change(viewer, "note.create", note, None, snapshot(note))
    return note


async def update_note(
    viewer: Viewer, note_id: int, body: str, expected_version: int | None = None
) -> Note:
    """Replace the body of a note.

    Raises Conflict, and changes nothing, when `expected_version` is given and is
    not the stored version.
    """
    note = await _own_note(viewer, note_id)
    values = {"body": body}
    validator = Validator()
    validator.text(values, "body", max_length=MAX_NOTE_LENGTH, required=True)

    async def changed(stored: Note) -> list[str]:
        return [] if stored.body == values.get("body") else ["body"]

    await check_version(note, "Note", expected_version, changed)
    validator.raise_if_any()
    async with in_transaction():
        await claim_version(note, "Note", expected_version, changed)
        # Read under the claim's row lock: the body this update replaces.
        await note.refresh_from_db()
        before = snapshot(note)
        note.body = values["body"]
        note.updated_by_id = viewer.user_id
        await note.save(update_fields=["body", "updated_by_id", "updated_at"])
        await record_change(viewer, "note.update", note, before, snapshot(note))
    return note


async def archive_note(viewer: Viewer, note_id: int) -> Note:
    note = await _own_note(viewer, note_id)
    if note.archived_at is None:
        await archive_with_version(viewer, note, "note.archive")
    return note


async def _own_note(viewer: Viewer, note_id: int) -> Note:
    viewer.require("note:write", "change notes")
    note: Note = await get_record(viewer, Note, note_id, "Note")
    if note.contract_id is not None:
        try:
            await get_visible_contract(viewer, note.contract_id)
        except NotFound:
            # A note on a hidden contract is as hidden as the contract itself.
            raise NotFound(
                f"Note {encode_id('Note', note_id)!r} was not found in your "
                "organization: check the id."
            ) from None
    if note.author_id != viewer.user_id and not viewer.may("user:manage"):
        raise PermissionDenied(
            "Only the author of a note or an administrator may change it: add a new "
            "note instead."
        )
    return note
