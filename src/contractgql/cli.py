"""The `contractgql` command and its subcommands, such as serve, worker and migrate."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from contractgql.config import (
    ConfigError,
    Settings,
    load_settings,
    log_level_setting,
)
from contractgql.observability.logs import (
    LogFormatError,
    configure_logging,
    log_format_from_environment,
)
from contractgql.security.policy import PolicyError

logger = logging.getLogger("contractgql")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        log_format = log_format_from_environment()
        log_level = log_level_setting()
    except (LogFormatError, ConfigError) as error:
        print(f"contractgql: {error}", file=sys.stderr)
        return 2
    configure_logging(log_format, log_level)
    # Casbin logs the whole model and policy at INFO whenever one is loaded; the
    # policy module logs a one-line summary instead.
    logging.getLogger("casbin").setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"contractgql: {error}", file=sys.stderr)
        return 2
    try:
        result: int = args.handler(args, settings)
    except PolicyError as error:
        # A command that loads the policy fails on an invalid file before it does
        # anything; the message names the file, the line and the fix.
        print(f"contractgql: invalid policy: {error}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contractgql",
        description="GraphQL API for customer contracts. Settings come from "
        "CONTRACTGQL_* environment variables (see README).",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="Run the HTTP server.")
    serve.add_argument("--host", help="Interface to listen on (default 127.0.0.1).")
    serve.add_argument(
        "--port",
        type=_port,
        help="TCP port from 1 to 65535 (default CONTRACTGQL_PORT, else 8000).",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="Create a demo organization with one user per role and load the ACT "
        "contracts register, unless it exists already.",
    )
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="Apply pending database migrations.")
    migrate.set_defaults(handler=_migrate)

    create_user = commands.add_parser(
        "create-user",
        help="Create a user. The password is read from CONTRACTGQL_PASSWORD, or "
        "else from a prompt.",
    )
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--name", required=True)
    create_user.add_argument(
        "--role",
        action="append",
        required=True,
        dest="roles",
        help="A role; repeat for several (admin, management, finance, "
        "account_manager, sales, project_staff, integrator).",
    )
    create_user.add_argument(
        "--organization",
        required=True,
        help="Organization name; it is created when it does not exist.",
    )
    create_user.add_argument(
        "--service-account",
        action="store_true",
        help="Create a service account without a password, for API tokens "
        "(see create-token).",
    )
    create_user.set_defaults(handler=_create_user)

    create_token = commands.add_parser(
        "create-token",
        help="Create an API token for a service account and print it. The token "
        "is shown only once.",
    )
    create_token.add_argument(
        "--email", required=True, help="E-mail address of the service account."
    )
    create_token.add_argument(
        "--name", required=True, help="What the token is for, to recognise it."
    )
    create_token.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        choices=["read", "read:financial"],
        help="A scope; repeat for several (default read). read:financial also "
        "reads the financial fields, when the account's roles may.",
    )
    create_token.add_argument(
        "--expires-in-days",
        type=int,
        default=90,
        help="Days until the token stops working, from 1 to 365 (default 90).",
    )
    create_token.set_defaults(handler=_create_token)

    worker = commands.add_parser(
        "worker",
        help="Run an arq worker that scans for due reminders every "
        "CONTRACTGQL_SCAN_INTERVAL minutes. Needs CONTRACTGQL_REDIS_URL.",
    )
    worker.set_defaults(handler=_worker)

    from contractgql.audit.command import add_audit_parser
    from contractgql.importexport.command import add_import_parser
    from contractgql.jobs.command import add_scan_parser

    add_import_parser(commands)
    add_scan_parser(commands)
    add_audit_parser(commands)
    return parser


def _port(value: str) -> int:
    """Parse the --port option; argparse exits with status 2 on the error."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a whole number: use a TCP port from 1 to 65535, such "
            "as 8000."
        ) from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{port} is out of range: use a TCP port from 1 to 65535, such as 8000."
        )
    return port


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from contractgql.app import create_app

    if args.demo:
        from contractgql.demo import ensure_demo

        asyncio.run(ensure_demo(settings))
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=log_level_setting().lower(),
        # uvicorn's records go to the handler that configure_logging installed,
        # in the format of CONTRACTGQL_LOG_FORMAT and with the request id.
        log_config=None,
        # The app reads X-Forwarded-For itself, and only from the proxies listed in
        # CONTRACTGQL_TRUSTED_PROXIES. uvicorn would otherwise trust it from loopback.
        proxy_headers=False,
        # Websocket messages count against the same limit as request bodies.
        ws_max_size=settings.max_body_bytes,
    )
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    if settings.redis_url is None:
        print(
            "contractgql: CONTRACTGQL_REDIS_URL is not set, and the worker takes its "
            "jobs from Redis: set it, such as redis://127.0.0.1:6379/0. Without "
            "Redis, `contractgql serve` runs the scans itself.",
            file=sys.stderr,
        )
        return 2
    from contractgql.jobs.worker import run

    return run(settings)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from contractgql import db

    asyncio.run(db.migrate(settings))
    return 0


def _create_user(args: argparse.Namespace, settings: Settings) -> int:
    from contractgql import db
    from contractgql.accounts import (
        AccountError,
        create_user,
        get_or_create_organization,
    )

    password = None
    if not args.service_account:
        password = os.environ.get("CONTRACTGQL_PASSWORD") or getpass.getpass(
            "Password: "
        )

    async def run() -> int:
        await db.migrate(settings) if settings.is_sqlite else None
        await db.connect(settings)
        try:
            organization = await get_or_create_organization(args.organization)
            user = await create_user(
                organization, args.email, args.name, args.roles, password
            )
        except AccountError as error:
            print(f"contractgql: {error}", file=sys.stderr)
            return 1
        finally:
            await db.disconnect()
        kind = "service account" if user.is_service_account else "user"
        print(
            f"Created {kind} {user.email} in {organization.name!r} with roles "
            f"{', '.join(user.roles)}."
        )
        return 0

    return asyncio.run(run())


def _create_token(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime, timedelta

    from contractgql import db
    from contractgql.errors import ValidationError
    from contractgql.models import User
    from contractgql.security.api_tokens import MANAGE_PERMISSION, create_api_token
    from contractgql.security.viewer import system_viewer

    async def run() -> int:
        await db.migrate(settings) if settings.is_sqlite else None
        await db.connect(settings)
        try:
            email = args.email.strip().lower()
            user = await User.filter(email=email).select_related("organization").first()
            if user is None:
                print(
                    f"contractgql: no user has the e-mail address {email!r}: create "
                    "the service account first, with the createUser mutation.",
                    file=sys.stderr,
                )
                return 1
            viewer = system_viewer(user.organization, frozenset({MANAGE_PERMISSION}))
            values = {
                "user_id": user.id,
                "name": args.name,
                "scopes": args.scopes or ["read"],
                "expires_at": datetime.now(UTC) + timedelta(days=args.expires_in_days),
            }
            try:
                token, secret = await create_api_token(viewer, values)
            except ValidationError as error:
                for field_error in error.errors:
                    print(f"contractgql: {field_error.message}", file=sys.stderr)
                return 1
        finally:
            await db.disconnect()
        print(
            f"Created API token {token.name!r} for {user.email} with scopes "
            f"{', '.join(token.scopes)}, valid until "
            f"{token.expires_at.isoformat(timespec='seconds')}. Store the token now: "
            "it cannot be shown again.",
            file=sys.stderr,
        )
        print(secret)
        return 0

    return asyncio.run(run())


def data_path(*parts: str) -> Path:
    return Path(__file__).resolve().parent.joinpath(*parts)
