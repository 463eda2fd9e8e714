"""Load generator: POST the contracts page query at a fixed concurrency and time it.

It runs as its own OS process so that its CPU use does not land in the server's.
It first walks every page once, one request at a time, as a warm-up. Then each of
the N workers starts on its own page (spread over all pages), follows `endCursor`
page after page, and wraps to the first page after the last one. The run stops at
the duration or the request limit, whichever comes first.

Every response must be HTTP 200 with no `errors` and exactly `first` edges, and
anything else counts as an error. The result is one JSON object on stdout. With
--report-start, a START line comes first, when the warm-up ends.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import math
import os
import resource
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import aiohttp
import orjson

from bench.common import CONTRACT_COUNT, CONTRACTS_PAGE_QUERY, PAGE_SIZE

logger = logging.getLogger("bench.load")

# Environment variable with the bearer token, kept off the command line so that
# process listings do not show it.
TOKEN_VARIABLE = "BENCH_BEARER_TOKEN"
# A request slower than this counts as an error, and the worker goes on.
REQUEST_TIMEOUT_S = 30.0
# Distinct error messages kept in the result. The error count covers all messages.
MAX_ERROR_KINDS = 5


@dataclass
class LoadResult:
    concurrency: int
    requests: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    client_cpu_s: float = 0.0
    warmup_requests: int = 0
    stopped_by: str = "duration"


class PageError(Exception):
    """A response that is not a full, error-free page."""


def check_loopback(url: str) -> None:
    """Raise ValueError unless `url` is plain HTTP to a loopback address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http":
        raise ValueError(f"URL {url!r} is not http://: the benchmark runs on loopback.")
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"Host {host!r} in {url!r} is not a loopback address: use 127.0.0.1."
        )


def parse_page(status: int, raw: bytes, first: int) -> tuple[bool, str | None]:
    """Return (hasNextPage, endCursor) of a valid page, or raise PageError."""
    if status != 200:
        raise PageError(f"HTTP {status}: {raw[:120]!r}")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PageError(f"invalid JSON: {raw[:120]!r}") from None
    if body.get("errors"):
        raise PageError(f"GraphQL error: {body['errors'][0].get('message', '')[:160]}")
    try:
        contracts = body["data"]["contracts"]
        edge_count = len(contracts["edges"])
        has_next = bool(contracts["pageInfo"]["hasNextPage"])
        end_cursor = contracts["pageInfo"]["endCursor"]
    except (KeyError, TypeError):
        raise PageError(f"invalid response shape: {raw[:120]!r}") from None
    if edge_count != first:
        raise PageError(f"{edge_count} edges instead of {first}")
    return has_next, end_cursor


class LoadGenerator:
    def __init__(self, url: str, token: str | None, first: int) -> None:
        self.url = url
        self.first = first
        self.headers = {"content-type": "application/json"}
        if token:
            self.headers["authorization"] = f"Bearer {token}"
        self.timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)

    def _body(self, after: str | None) -> bytes:
        variables = {"first": self.first, "after": after}
        return orjson.dumps({"query": CONTRACTS_PAGE_QUERY, "variables": variables})

    async def fetch_page(
        self, session: aiohttp.ClientSession, after: str | None
    ) -> tuple[bool, str | None]:
        async with session.post(
            self.url, data=self._body(after), headers=self.headers, timeout=self.timeout
        ) as response:
            raw = await response.read()
            return parse_page(response.status, raw, self.first)

    async def walk_all_pages(
        self, session: aiohttp.ClientSession, max_pages: int
    ) -> list[str | None]:
        """Fetch every page in order and return the `after` value of each page."""
        cursors: list[str | None] = [None]
        while len(cursors) <= max_pages:
            has_next, end_cursor = await self.fetch_page(session, cursors[-1])
            if not has_next:
                return cursors
            cursors.append(end_cursor)
        raise PageError(f"still hasNextPage after {max_pages} pages")

    async def run(
        self,
        concurrency: int,
        duration_s: float,
        max_requests: int,
        report_start: bool = False,
    ) -> LoadResult:
        result = LoadResult(concurrency=concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            expected_pages = math.ceil(CONTRACT_COUNT / self.first)
            cursors = await self.walk_all_pages(session, max_pages=expected_pages * 2)
            result.warmup_requests = len(cursors)

            budget = [max_requests]
            latencies: list[float] = []
            errors: Counter[str] = Counter()
            if report_start:
                sys.stdout.write("START\n")
                sys.stdout.flush()
            cpu_before = resource.getrusage(resource.RUSAGE_SELF)
            started = time.monotonic()
            deadline = started + duration_s

            async def worker(index: int) -> None:
                page = index * len(cursors) // concurrency
                after = cursors[page]
                while time.monotonic() < deadline and budget[0] > 0:
                    budget[0] -= 1
                    sent = time.perf_counter()
                    try:
                        has_next, end_cursor = await self.fetch_page(session, after)
                    except PageError as error:
                        latencies.append(time.perf_counter() - sent)
                        errors[str(error)] += 1
                        continue
                    except (aiohttp.ClientError, TimeoutError) as error:
                        latencies.append(time.perf_counter() - sent)
                        errors[f"{type(error).__name__}: {error}"] += 1
                        # Back off so that a dead server does not spin the loop.
                        await asyncio.sleep(0.05)
                        continue
                    latencies.append(time.perf_counter() - sent)
                    after = end_cursor if has_next else None

            await asyncio.gather(*(worker(i) for i in range(concurrency)))
            elapsed = time.monotonic() - started
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)

        result.stopped_by = "request limit" if budget[0] <= 0 else "duration"
        result.requests = len(latencies)
        result.errors = sum(errors.values())
        result.error_kinds = dict(errors.most_common(MAX_ERROR_KINDS))
        result.elapsed_s = elapsed
        result.requests_per_s = len(latencies) / elapsed if elapsed else 0.0
        result.client_cpu_s = (cpu_after.ru_utime + cpu_after.ru_stime) - (
            cpu_before.ru_utime + cpu_before.ru_stime
        )
        latencies.sort()
        result.p50_ms = percentile_ms(latencies, 0.50)
        result.p90_ms = percentile_ms(latencies, 0.90)
        result.p99_ms = percentile_ms(latencies, 0.99)
        result.max_ms = latencies[-1] * 1000 if latencies else 0.0
        return result


def percentile_ms(sorted_seconds: list[float], quantile: float) -> float:
    """Return the nearest-rank percentile of sorted latencies, in milliseconds."""
    if not sorted_seconds:
        return 0.0
    rank = max(1, math.ceil(quantile * len(sorted_seconds)))
    return sorted_seconds[rank - 1] * 1000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="POST the contracts page query to a loopback server and print "
        "throughput and latency as JSON. The bearer token, if any, is read from "
        f"{TOKEN_VARIABLE}.",
    )
    parser.add_argument(
        "--url", required=True, help="Endpoint, e.g. http://127.0.0.1:8000/graphql."
    )
    parser.add_argument(
        "--concurrency", type=int, default=1, help="Requests in flight."
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="Measured time in seconds."
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=100_000,
        help="Stop after this many measured requests even if time is left.",
    )
    parser.add_argument("--first", type=int, default=PAGE_SIZE, help="Page size.")
    parser.add_argument(
        "--report-start",
        action="store_true",
        help="Print a START line when the warm-up ends and measuring begins.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s %(message)s"
    )
    try:
        check_loopback(args.url)
    except ValueError as error:
        logger.error("%s", error)
        return 2
    if args.concurrency < 1 or args.duration <= 0 or args.max_requests < 1:
        logger.error(
            "--concurrency (%d) and --max-requests (%d) must be at least 1 and "
            "--duration (%s) above 0.",
            args.concurrency,
            args.max_requests,
            args.duration,
        )
        return 2

    generator = LoadGenerator(args.url, os.environ.get(TOKEN_VARIABLE), args.first)
    try:
        result = asyncio.run(
            generator.run(
                args.concurrency, args.duration, args.max_requests, args.report_start
            )
        )
    except (PageError, aiohttp.ClientError, TimeoutError) as error:
        logger.error("Warm-up walk over all pages failed at %s: %s", args.url, error)
        return 1
    sys.stdout.write(orjson.dumps(asdict(result)).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
