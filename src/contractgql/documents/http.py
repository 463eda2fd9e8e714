"""`GET /documents/<version id>`: download one version of a document.

The caller authenticates like /graphql, with `Authorization: Bearer <token>`, or
with a signed link from the createDownloadLink mutation, which needs no header.
The route returns 404 for a version that the caller cannot see, exactly as for
one that does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from contractgql.audit.enqueue import start_recording
from contractgql.documents.links import LinkExpired, LinkInvalid, LinkSigner
from contractgql.documents.service import (
    document_storage,
    get_visible_version,
    record_download,
)
from contractgql.documents.storage import StoredFileMissing
from contractgql.errors import AuthenticationError, ContractGQLError, NotFound
from contractgql.graphql.context import Services
from contractgql.ids import decode_id, encode_id
from contractgql.models import DocumentVersion, User
from contractgql.security.viewer import Viewer, authenticate, viewer_for

logger = logging.getLogger(__name__)

LINK_PARAMETERS = ("user", "generation", "expires", "signature")
# The permissions that decide which documents a user may read.
LINK_PERMISSIONS = frozenset({"contract:read", "contract.confidential:read"})


async def download_document(request: Request) -> Response:
    """Serve one document version as an attachment, streamed from storage."""
    services: Services = request.app.state.services
    global_id = request.path_params["version_id"]
    try:
        version_pk = _version_pk(global_id)
        if any(name in request.query_params for name in LINK_PARAMETERS):
            viewer = await _link_viewer(request, services, version_pk)
        else:
            viewer = await _header_viewer(request, services)
        version, document = await get_visible_version(viewer, version_pk)
    except AuthenticationError as error:
        return _error(error, 401, {"WWW-Authenticate": "Bearer"})
    except (LinkInvalid, LinkExpired) as error:
        return _error(error, 403)
    except NotFound as error:
        return _error(error, 404)

    headers = {
        "Content-Disposition": f'attachment; filename="{version.generated_name}"',
        "Content-Length": str(version.size),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    storage = document_storage(services.settings)
    if request.method == "HEAD":
        return Response(headers=headers, media_type=version.content_type)
    if not await storage.exists(version.sha256):
        logger.error(
            "The file %s of document version %s is missing from the document storage",
            version.sha256,
            version.id,
        )
        return JSONResponse(
            {
                "errors": [
                    {
                        "message": "The file of this document version is missing "
                        "from the document storage: ask an administrator to restore "
                        f"{version.sha256} from a backup.",
                        "extensions": {"code": "INTERNAL"},
                    }
                ]
            },
            500,
        )

    background = None
    if await record_download(viewer, version, document):
        background = BackgroundTask(
            start_recording, services.settings, {viewer.organization_id}
        )
    logger.info(
        "Document download: organization %d, user %s, document %d, version %d",
        viewer.organization_id,
        viewer.user_id,
        document.id,
        version.id,
    )
    return StreamingResponse(
        _stream(storage.read(version.sha256), version),
        media_type=version.content_type,
        headers=headers,
        background=background,
    )


async def _stream(
    chunks: AsyncIterator[bytes], version: DocumentVersion
) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    except StoredFileMissing:
        # Deleted between the check and the read. The status is sent already, so
        # the connection ends without the rest of the body.
        logger.error("The file of document version %s disappeared", version.id)
        raise


def _version_pk(global_id: str) -> int:
    try:
        type_name, pk = decode_id(global_id)
    except ContractGQLError:
        type_name, pk = "", 0
    if type_name != "DocumentVersion":
        raise NotFound(
            f"Document version {global_id!r} was not found: use the id of a "
            "DocumentVersion, such as `latestVersion { id }` of a document."
        )
    return pk


async def _header_viewer(request: Request, services: Services) -> Viewer:
    viewer = await authenticate(
        request.headers.get("authorization"), services.signer, services.policy
    )
    if viewer is None:
        raise AuthenticationError(
            "You are not logged in: send 'Authorization: Bearer <token>' with the "
            "token from the login mutation, or use a link from createDownloadLink."
        )
    return viewer


async def _link_viewer(request: Request, services: Services, version_pk: int) -> Viewer:
    """Return the viewer of the user who created a signed link.

    The link is checked first, and then the user must still be active, so a link
    stops working when its user is deactivated or loses access to the document.
    """
    parameters = request.query_params
    missing = [name for name in LINK_PARAMETERS if not parameters.get(name)]
    if missing:
        raise LinkInvalid(
            f"The download link lacks {', '.join(missing)}: use the link exactly as "
            "createDownloadLink returned it."
        )
    signer = LinkSigner(services.settings.resolved_secret_key())
    claims = signer.verify(
        version_pk,
        parameters["user"],
        parameters["generation"],
        parameters["expires"],
        parameters["signature"],
    )
    user = (
        await User.filter(id=claims.user_id, is_active=True)
        .select_related("organization")
        .first()
    )
    if user is None or user.token_generation != claims.generation:
        raise LinkInvalid(
            f"The user {encode_id('User', claims.user_id)!r} who created this "
            "download link is deactivated, or was since the link was created: ask "
            "for a new link."
        )
    # A link lets its holder read, never change, whatever the user may read.
    return viewer_for(user, services.policy, LINK_PERMISSIONS)


def _error(
    error: ContractGQLError, status: int, headers: dict[str, str] | None = None
) -> Response:
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return JSONResponse(body, status, headers=headers)
