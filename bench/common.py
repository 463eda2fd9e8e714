"""Constants and helpers shared by the seeder, the servers and the load generator."""

from __future__ import annotations

import base64
import socket

# The contracts page that the web client shows, and that both servers must serve.
CONTRACTS_PAGE_QUERY = """
query ContractsPage($first: Int!, $after: String) {
  contracts(first: $first, after: $after, orderBy: {field: END_DATE, direction: ASC}) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id number name status startDate endDate noticeDeadline amount currency
      client { id name }
      owner { id name }
      tags { id name color }
    } }
  }
}
"""

PAGE_SIZE = 100
CONTRACT_COUNT = 10_000
CLIENT_COUNT = 1_000

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
DEFAULT_DATABASE = "contractgql_bench"
ORGANIZATION_NAME = "Bench Holding B.V."
BENCH_USER_EMAIL = "bench.finance@example.com"
BENCH_USER_NAME = "Bench Finance"
# A fixed password, so that --skip-seed can log in to a database seeded by an
# earlier run. The database is local and exists only for the benchmark.
BENCH_USER_PASSWORD = "bench-password-not-secret"
BENCH_USER_ROLES = ["finance"]


def database_url(server_url: str, database: str) -> str:
    """Return the URL of `database` on the PostgreSQL server at `server_url`."""
    return f"{server_url.rstrip('/')}/{database}"


def encode_global_id(type_name: str, pk: int) -> str:
    """Encode an id the way contractgql.ids.encode_id does."""
    raw = f"{type_name}:{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_end_date_cursor(pk: int) -> str:
    """Encode a cursor the way contractgql.graphql.relay does for END_DATE, ASC."""
    raw = f"v1:end_date:a:{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_end_date_cursor(cursor: str) -> int | None:
    """Return the primary key in an END_DATE, ASC cursor, or None if it is invalid."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        version, name, direction, pk = (
            base64.urlsafe_b64decode(padded).decode().split(":")
        )
        if (version, name, direction) != ("v1", "end_date", "a"):
            return None
        return int(pk)
    except ValueError:
        # binascii.Error and UnicodeDecodeError are subclasses of ValueError.
        return None


def free_loopback_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
