"""Measure what strawberry alone costs for one contracts page, without the database.

    .venv/bin/python -m bench.execution_floor [--repeat 200]

It loads one page through the real app once, captures the connection object that
the `contracts` resolver returned, and then runs `schema.execute` on the same query
many times with the resolver replaced by one that returns the captured object. What
remains is parsing and validation, which the server's document cache serves after
the first run, and the execution of every field of 100 contracts. It also times the
encoding of the result with json.dumps and with the server's encode_json. The
replacement lives only in this process.

NOTE: it replaces `contracts_connection` in `contractgql.graphql.queries.root`,
where the root `contracts` field looks it up, so it fails if that name moves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    CONTRACTS_PAGE_QUERY,
    DEFAULT_DATABASE,
    DEFAULT_SERVER_URL,
    PAGE_SIZE,
    database_url,
)
from bench.querycount import login


async def measure(url: str, repeat: int) -> dict[str, float]:
    """Return CPU ms per call of schema.execute, json.dumps and encode_json."""
    import contractgql.graphql.queries.root as root
    from contractgql import db
    from contractgql.app import GraphQLApp, build_services, create_app
    from contractgql.config import Settings
    from contractgql.graphql.schema import schema

    captured: dict[str, Any] = {}
    original = root.contracts_connection  # type: ignore[attr-defined]

    async def capture(info: Any, *args: Any, **kwargs: Any) -> Any:
        captured["connection"] = await original(info, *args, **kwargs)
        captured["context"] = info.context
        return captured["connection"]

    async def replay(info: Any, *args: Any, **kwargs: Any) -> Any:
        return captured["connection"]

    variables = {"first": PAGE_SIZE}
    with tempfile.TemporaryDirectory(prefix="contractgql-bench-") as data_dir:
        settings = Settings(
            database_url=url, secret_key="f" * 48, data_dir=Path(data_dir)
        )
        app = create_app(settings, manage_database=False)
        encoder = GraphQLApp(build_services(settings))
        await db.connect(settings)
        try:
            root.contracts_connection = capture  # type: ignore[attr-defined]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1"
            ) as client:
                token = await login(client)
                await client.post(
                    "/graphql",
                    json={"query": CONTRACTS_PAGE_QUERY, "variables": variables},
                    headers={"authorization": f"Bearer {token}"},
                )
            root.contracts_connection = replay  # type: ignore[attr-defined]
            for _ in range(max(1, repeat // 10)):
                result = await schema.execute(
                    CONTRACTS_PAGE_QUERY,
                    variable_values=variables,
                    context_value=captured["context"],
                )
            started = time.process_time()
            for _ in range(repeat):
                result = await schema.execute(
                    CONTRACTS_PAGE_QUERY,
                    variable_values=variables,
                    context_value=captured["context"],
                )
                if result.errors:
                    raise RuntimeError(f"schema.execute failed: {result.errors}")
            execute_ms = 1000 * (time.process_time() - started) / repeat
        finally:
            root.contracts_connection = original  # type: ignore[attr-defined]
            await db.disconnect()

    started = time.process_time()
    for _ in range(repeat):
        json.dumps({"data": result.data})
    json_ms = 1000 * (time.process_time() - started) / repeat
    started = time.process_time()
    for _ in range(repeat):
        encoder.encode_json({"data": result.data})
    encode_ms = 1000 * (time.process_time() - started) / repeat
    return {
        "schema_execute_cpu_ms": execute_ms,
        "json_dumps_cpu_ms": json_ms,
        "encode_json_cpu_ms": encode_ms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.execution_floor",
        description="Time strawberry's schema.execute of the contracts page over a "
        "result kept in memory, on a database seeded by `python -m bench`.",
    )
    parser.add_argument(
        "--repeat", type=int, default=200, help="Timed executions (default 200)."
    )
    parser.add_argument(
        "--database-url",
        default=database_url(DEFAULT_SERVER_URL, DEFAULT_DATABASE),
        help="Seeded benchmark database.",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1.")
    figures = asyncio.run(measure(args.database_url, args.repeat))
    print(
        f"schema.execute of one page of {PAGE_SIZE} contracts, result in memory: "
        f"{figures['schema_execute_cpu_ms']:.1f} ms CPU. Encoding its data: "
        f"{figures['json_dumps_cpu_ms']:.1f} ms CPU with json.dumps, "
        f"{figures['encode_json_cpu_ms']:.2f} ms with the server's encode_json "
        f"(means of {args.repeat})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
