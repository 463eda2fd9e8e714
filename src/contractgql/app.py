"""The ASGI application: GraphQL endpoint with GraphiQL and subscriptions, the CSV
export, document downloads, calendar feeds, health checks and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import RedirectResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketClose
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from contractgql import db
from contractgql.audit import current_request_id, pending_organizations
from contractgql.audit.enqueue import start_recording
from contractgql.body_limit import BodySizeLimit
from contractgql.config import Settings
from contractgql.documents.http import download_document
from contractgql.documents.indexing import pending_versions, start_extraction
from contractgql.documents.links import DOWNLOAD_PATH
from contractgql.documents.uploads import CSRF_HEADERS, UploadRequestAdapter
from contractgql.errors import AuthenticationError
from contractgql.graphql.context import Context, Services
from contractgql.graphql.protection import install_policy, reload_policy
from contractgql.graphql.schema import schema
from contractgql.graphql.subscriptions import (
    CONNECTION_INIT_TIMEOUT,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    LimitedWebSocketAdapter,
    SubscriptionContext,
    accept_connection,
)
from contractgql.graphql.transport import ConformingGraphQL
from contractgql.importexport.export import export_contracts
from contractgql.importexport.jobs import background_imports
from contractgql.importexport.template import TEMPLATE_PATH, download_template
from contractgql.importexport.xlsx_export import export_contracts_xlsx
from contractgql.jobs.scheduler import background_scans
from contractgql.notifications.calendar import (
    FEED_PATH,
    RedactFeedSecrets,
    calendar_feed_endpoint,
)
from contractgql.notifications.pubsub import NotificationHub, configure_publishing
from contractgql.observability import health
from contractgql.observability.metrics import HttpMetrics, metrics_endpoint
from contractgql.observability.middleware import RequestObservability
from contractgql.observability.request_id import REQUEST_ID_HEADER
from contractgql.security.policy import Policy, PolicyError
from contractgql.security.throttle import LoginThrottle
from contractgql.security.tokens import TokenSigner
from contractgql.security.viewer import authenticate

logger = logging.getLogger(__name__)


class GraphQLApp(ConformingGraphQL):
    """/graphql over HTTP, and subscriptions over graphql-transport-ws websockets."""

    websocket_adapter_class = LimitedWebSocketAdapter  # type: ignore[assignment]
    # Checks the CSRF header and the number of files of multipart uploads.
    request_adapter_class = UploadRequestAdapter

    def __init__(self, services: Services, hub: NotificationHub) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=CONNECTION_INIT_TIMEOUT),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
            # Browsers on these origins may open websockets as well. The token goes
            # in connection_init, not in a cookie, so other pages cannot use the
            # browser's credentials anyway.
            allowed_origins=list(services.settings.cors_origins),
            # File uploads, as the GraphQL multipart request specification defines.
            multipart_uploads_enabled=True,
        )
        self.services = services
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Websockets without the graphql-transport-ws subprotocol, such as the
        # legacy graphql-ws, are closed before the handshake completes, and uvicorn
        # rejects the upgrade with HTTP 403.
        if scope["type"] == "websocket" and GRAPHQL_TRANSPORT_WS_PROTOCOL not in (
            scope.get("subprotocols") or ()
        ):
            await WebSocketClose()(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        written: set[int] = set()
        versions: set[int] = set()
        token = pending_organizations.set(written)
        versions_token = pending_versions.set(versions)
        try:
            await super().__call__(scope, receive, send)
        finally:
            pending_organizations.reset(token)
            pending_versions.reset(versions_token)
        if written:
            await start_recording(self.services.settings, written)
        if versions:
            await start_extraction(self.services.settings, versions)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object]:
        assert isinstance(context, SubscriptionContext)
        await accept_connection(context)
        unset: UnsetType = UNSET
        return unset

    def encode_json(self, data: object) -> str:
        """Encode a response with orjson, about ten times faster than json.dumps on
        a page of 100 contracts.

        It returns text as json.dumps does, because the websocket and multipart
        transports expect text. json.dumps encodes what orjson rejects, such as an
        integer beyond 64 bits in a custom field.
        """
        try:
            return orjson.dumps(data).decode()
        except orjson.JSONEncodeError:
            return super().encode_json(data)  # type: ignore[return-value]

    def decode_json(self, data: str | bytes) -> object:
        """Decode a request body, which must be a JSON object (or a batch list)."""
        try:
            value = super().decode_json(data)
        except UnicodeDecodeError:
            raise HTTPException(
                400,
                "The request body is not UTF-8 text: send JSON encoded as UTF-8, "
                "without compression.",
            ) from None
        if not isinstance(value, dict | list):
            raise HTTPException(
                400,
                "The request body must be a JSON object with a `query` string, such "
                'as {"query": "{ viewer { roles } }"}.',
            )
        return value

    async def get_context(self, request: Any, response: Any) -> Context:
        if isinstance(request, WebSocket):
            # Authenticated by on_ws_connect, from the connection_init payload.
            return SubscriptionContext(
                self.services, None, request, response, hub=self.hub
            )
        try:
            viewer = await authenticate(
                request.headers.get("authorization"),
                self.services.signer,
                self.services.policy,
            )
        except AuthenticationError as error:
            return Context(self.services, None, request, response, auth_error=error)
        context = Context(self.services, viewer, request, response)
        current_request_id.set(context.request_id)
        return context


def build_services(settings: Settings) -> Services:
    """Create the process-wide services; raise PolicyError for an invalid policy."""
    policy = Policy.load(settings.policy_dir)
    services = Services(
        settings=settings,
        policy=policy,
        signer=TokenSigner(settings.resolved_secret_key(), settings.token_ttl),
        throttle=LoginThrottle(settings),
    )
    install_policy(services, policy, schema._schema)
    return services


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[None]:
    """Open the ORM, migrating an embedded SQLite database first, and close it."""
    if settings.is_sqlite:
        await db.migrate(settings)
    await db.connect(settings)
    # Objects made at start-up, such as the modules, the schema and the ORM's
    # models, live as long as the process. Frozen, they are left out of the
    # cyclic garbage collector's full collections, which otherwise rescan them
    # and, on the benchmark machine, nearly doubled the 99th percentile latency of
    # the contracts page (see docs/benchmark.md).
    gc.freeze()
    logger.info("contractgql is serving with database %s", _safe_url(settings))
    try:
        yield
    finally:
        await db.disconnect()


def _reload_on_hangup(services: Services) -> bool:
    """Reload the policy files on SIGHUP; return whether the handler is installed."""

    def reload() -> None:
        # On an invalid policy reload_policy logs the error and the old policy stays.
        with contextlib.suppress(PolicyError):
            reload_policy(services, schema._schema)

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
    except (NotImplementedError, RuntimeError, ValueError):
        # Not the main thread (as under a test client), or no SIGHUP on this system.
        logger.debug("SIGHUP does not reload the policy in this process")
        return False
    return True


def create_app(settings: Settings, *, manage_database: bool = True) -> Starlette:
    """Build the app. With `manage_database`, the lifespan opens and closes the ORM,
    migrates an embedded SQLite database on first start, and then freezes the
    start-up objects for the garbage collector."""
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hangup_handled = _reload_on_hangup(services)
        access_log = logging.getLogger("uvicorn.access")
        redact = RedactFeedSecrets()
        access_log.addFilter(redact)
        try:
            if manage_database:
                # Without Redis, this process also runs the reminder scans.
                async with (
                    _database(settings),
                    background_scans(settings, lambda: services.policy),
                    background_imports(settings, lambda: services.policy),
                ):
                    yield
            else:
                yield
        finally:
            if hangup_handled:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            await services.throttle.close()
            await hub.close()
            access_log.removeFilter(redact)

    hub = NotificationHub(settings)
    configure_publishing(settings)
    graphql_app = GraphQLApp(services, hub)
    routes = [
        Route("/", lambda request: RedirectResponse("/graphql")),
        # Every method reaches the view, which responds to methods other than GET
        # and POST with a GraphQL error and HTTP 405.
        Route("/graphql", graphql_app),
        WebSocketRoute("/graphql", graphql_app),
        Route("/export/contracts.csv", export_contracts, methods=["GET"]),
        Route(TEMPLATE_PATH, download_template, methods=["GET"]),
        Route("/export/contracts.xlsx", export_contracts_xlsx, methods=["GET"]),
        Route(DOWNLOAD_PATH, download_document, methods=["GET"]),
        Route(FEED_PATH, calendar_feed_endpoint, methods=["GET"]),
        Route("/health/live", health.live),
        Route("/health/ready", health.ready),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    http_metrics = HttpMetrics()
    # Outermost, so that every response carries the request id and is counted,
    # also those that CORS or the body limit reject.
    middleware = [Middleware(RequestObservability, metrics=http_metrics)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    REQUEST_ID_HEADER,
                    *CSRF_HEADERS,
                ],
                # Browsers hide other response headers from scripts. Front ends
                # read the wait after a throttled login, the file name of exports
                # and document downloads, and the request id to quote in reports.
                expose_headers=["Retry-After", "Content-Disposition", "X-Request-ID"],
            )
        )
    # Inside CORSMiddleware, so that a browser may read the 413 response too.
    # Multipart uploads to /graphql may carry one document of the maximum size
    # besides the operation.
    middleware.append(
        Middleware(
            BodySizeLimit,
            max_bytes=settings.max_body_bytes,
            upload_path="/graphql",
            upload_max_bytes=settings.max_body_bytes + settings.max_document_bytes,
        )
    )
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.services = services
    app.state.notification_hub = hub
    app.state.http_metrics = http_metrics
    app.state.readiness = health.ReadinessChecks(settings)
    return app


def _safe_url(settings: Settings) -> str:
    url = settings.resolved_database_url
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}://{rest}"
