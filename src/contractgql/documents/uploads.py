"""Multipart requests to /graphql: the CSRF header and the limits on parts.

A browser sends a multipart/form-data POST from any web page without asking the
server first, because it is a "simple" request in the CORS rules. Requiring a
header that no HTML form can set makes the browser send a CORS preflight, which
other origins fail. This is the rule that Apollo Server applies to uploads.
"""

from __future__ import annotations

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
