"""The `contractgql` command: serve, migrate, create-user and import."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from contractgql.config import ConfigError, Settings, load_settings

logger = logging.getLogger("contractgql")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("CONTRACTGQL_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"contractgql: {error}", file=sys.stderr)
        return 2
    result: int = args.handler(args, settings)
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
    serve.add_argument("--port", type=int, help="TCP port (default 8000).")
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
    create_user.set_defaults(handler=_create_user)

    from contractgql.importexport.command import add_import_parser

    add_import_parser(commands)
    return parser


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
        log_level=os.environ.get("CONTRACTGQL_LOG_LEVEL", "info").lower(),
    )
    return 0


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

    password = os.environ.get("CONTRACTGQL_PASSWORD") or getpass.getpass("Password: ")

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
        print(
            f"Created user {user.email} in {organization.name!r} with roles "
            f"{', '.join(user.roles)}."
        )
        return 0

    return asyncio.run(run())


def data_path(*parts: str) -> Path:
    return Path(__file__).resolve().parent.joinpath(*parts)
