"""Multipart requests to /graphql: the CSRF header, the limits on parts and the map.

A browser sends a multipart/form-data POST from any web page without asking the
server first, because it is a "simple" request in the CORS rules. Requiring a
header that no HTML form can set makes the browser send a CORS preflight, which
other origins fail. This is the rule that Apollo Server applies to uploads.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from cross_web import FormData, HTTPException, StarletteRequestAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException

from contractgql.documents.service import MAX_FILES_PER_REQUEST

# Either header, with any non-empty value, marks a request that a form cannot send.
CSRF_HEADERS = ("apollo-require-preflight", "x-requested-with")
# Form fields of a multipart request besides the files: `operations` and `map`.
MAX_FORM_FIELDS = 10

CSRF_MESSAGE = (
    "This multipart request lacks a CSRF header: send "
    "'Apollo-Require-Preflight: true' (or 'X-Requested-With') with every upload, so "
    "that browsers check the request with the server first."
)


def require_csrf_header(headers: Mapping[str, str]) -> None:
    """Raise HTTP 400 unless one of CSRF_HEADERS has a value."""
    if not any(headers.get(name, "").strip() for name in CSRF_HEADERS):
        raise HTTPException(400, CSRF_MESSAGE)


class UploadRequestAdapter(StarletteRequestAdapter):
    """Starlette's request adapter with the CSRF check and a limit on files."""

    async def get_form_data(self) -> FormData:
        require_csrf_header(self.headers)
        try:
            form = await self._request.form(
                max_files=MAX_FILES_PER_REQUEST, max_fields=MAX_FORM_FIELDS
            )
        except StarletteHTTPException as error:
            # Starlette reports too many files or fields, and a part that is too
            # large, with its own message.
            raise HTTPException(
                400,
                f"The multipart request was rejected: {error.detail} Send at most "
                f"{MAX_FILES_PER_REQUEST} files in one request.",
            ) from None
        return FormData(files=form, form=form)


def insert_files(
    operations: object, files_map: object, files: Mapping[str, object]
) -> dict[str, object]:
    """Return `operations` with each file put at the paths that `map` names.

    `map` must be a JSON object from the name of a file part to a list of paths
    such as "variables.input.file", as the GraphQL multipart request
    specification defines. Every object or list on a path but the last key must
    exist in `operations`. Raises HTTP 400 naming
    the part or path otherwise.
    """
    if not isinstance(operations, dict):
        raise HTTPException(
            400,
            "The multipart field 'operations' must be a JSON object with a `query` "
            "string.",
        )
    if not isinstance(files_map, dict):
        raise HTTPException(
            400,
            "The multipart field 'map' must be a JSON object from file part names to "
            'lists of paths, such as {"0": ["variables.input.file"]}.',
        )
    result = copy.deepcopy(operations)
    for part, paths in files_map.items():
        if part not in files:
            raise HTTPException(
                400, f"The map names the file part {part!r}, which the request lacks."
            )
        if not isinstance(paths, list) or not all(
            isinstance(path, str) for path in paths
        ):
            raise HTTPException(
                400,
                f"The map entry of the file part {part!r} must be a list of paths "
                'such as ["variables.input.file"].',
            )
        for path in paths:
            _insert_at(result, path, files[part])
    return result


def _insert_at(operations: dict[str, object], path: str, file: object) -> None:
    """Put `file` at a dotted path of `operations`."""
    *parents, last = path.split(".")
    target: object = operations
    try:
        for key in parents:
            target = _child(target, key)
        if isinstance(target, list):
            target[int(last)] = file
        elif isinstance(target, dict):
            target[last] = file
        else:
            raise TypeError(last)
    except (KeyError, IndexError, ValueError, TypeError):
        raise HTTPException(
            400,
            f"The map path {path!r} does not name a place in the operations: name "
            "a variable that is null, such as 'variables.input.file'.",
        ) from None


def _child(value: object, key: str) -> object:
    if isinstance(value, list):
        return value[int(key)]
    if isinstance(value, dict):
        return value[key]
    raise TypeError(key)
