"""CSV export of the contracts a caller may see, streamed in keyset batches.

`GET /export/contracts.csv` authenticates like /graphql, turns its query parameters
into a ContractFilter and applies it with the permission checks of the contracts
query. It writes the contracts of `visible_contracts(viewer)` in id order and leaves
out every column whose GraphQL field the caller may not read, header included.

The file is UTF-8 without a byte-order mark, with comma delimiters and CRLF line
ends (RFC 4180). The headers are the importer's field names where it has one, so an
export can be imported again. Cells that a spreadsheet would run as a formula get a
leading single quote.
"""

from __future__ import annotations

import asyncio
import csv
import enum
import io
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from tortoise.models import Model
from tortoise.queryset import QuerySet

from contractgql.db import shared_connection
from contractgql.domain.dates import PeriodUnit
from contractgql.domain.status import ContractStatus
from contractgql.errors import (
    AuthenticationError,
    ContractGQLError,
    InvalidArgument,
    PermissionDenied,
)
from contractgql.graphql.context import Services
from contractgql.graphql.loaders import fetch_contract_links
from contractgql.graphql.queries.contracts import apply_filter
from contractgql.graphql.relay import search_text
from contractgql.graphql.types.common import PeriodType
from contractgql.graphql.types.contracts import (
    ContractNode,
    contract_columns,
    contract_node,
)
from contractgql.graphql.types.filters import ContractFilter, DateRange
from contractgql.ids import decode_id, encode_id
from contractgql.importexport.values import FORMULA_PREFIXES, format_period
from contractgql.models import Client, Contract, ContractType, User
from contractgql.security.fields import graphql_name
from contractgql.security.policy import FieldName
from contractgql.security.records import visible_contracts
from contractgql.security.viewer import Viewer, authenticate

logger = logging.getLogger(__name__)

# Contracts read per query. Each batch is written out before the next is read, so
# the memory an export uses does not grow with the number of contracts.
BATCH_SIZE = 500
# Maximum number of `client_id` values in one request, far below SQLite's limit of
# 32,766 bound variables per statement.
MAX_CLIENT_IDS = 1000
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@dataclass(frozen=True)
class RelatedValues:
    """Values of the records that one batch of contracts refers to, by primary key."""

    client_names: dict[int, str] = field(default_factory=dict)
    client_coc_numbers: dict[int, str | None] = field(default_factory=dict)
    client_vat_numbers: dict[int, str | None] = field(default_factory=dict)
    contract_type_names: dict[int, str] = field(default_factory=dict)
    owner_emails: dict[int, str] = field(default_factory=dict)
    # Names of the unarchived tags of each contract, in name order.
    tag_names: dict[int, list[str]] = field(default_factory=dict)


def _client_name(node: ContractNode, related: RelatedValues) -> Any:
    return related.client_names.get(node.client_pk)


def _client_id(node: ContractNode, related: RelatedValues) -> Any:
    return encode_id("Client", node.client_pk)


def _client_coc_number(node: ContractNode, related: RelatedValues) -> Any:
    return related.client_coc_numbers.get(node.client_pk)


def _client_vat_number(node: ContractNode, related: RelatedValues) -> Any:
    return related.client_vat_numbers.get(node.client_pk)


def _contract_type_name(node: ContractNode, related: RelatedValues) -> Any:
    pk = node.contract_type_pk
    return None if pk is None else related.contract_type_names.get(pk)


def _owner_email(node: ContractNode, related: RelatedValues) -> Any:
    pk = node.owner_pk
    return None if pk is None else related.owner_emails.get(pk)


def _tag_names(node: ContractNode, related: RelatedValues) -> Any:
    return related.tag_names.get(node.pk, [])


@dataclass(frozen=True)
class ExportColumn:
    """One CSV column: its header and the Contract field that its values come from."""

    header: str
    # The snake_case ContractNode field. The column needs read access to its
    # GraphQL name on the Contract type.
    field: str
    # A field of a related record that the column shows, such as ("Client", "name"),
    # which needs read access too.
    related_field: FieldName | None = None
    # Reads the value of a relation column. Columns without it read the node's field.
    read_related: Callable[[ContractNode, RelatedValues], Any] | None = None

    @property
    def graphql_field(self) -> str:
        return graphql_name(self.field)

    def value(self, node: ContractNode, related: RelatedValues) -> Any:
        if self.read_related is not None:
            return self.read_related(node, related)
        return getattr(node, self.field)


# Every column the export may write, in file order. The importer reads `status` as
# the recorded stage, so the stage is written under that header and the status
# computed for today under `current_status`, which the importer ignores.
# NOTE: the importer reads `id` as the contract number when a file has no `number`
# column, which happens only when the policy hides Contract.number.
EXPORT_COLUMNS: tuple[ExportColumn, ...] = (
    ExportColumn("id", "id"),
    ExportColumn("number", "number"),
    ExportColumn("name", "name"),
    ExportColumn("description", "description"),
    ExportColumn("client", "client", ("Client", "name"), _client_name),
    ExportColumn("client_id", "client", ("Client", "id"), _client_id),
    ExportColumn(
        "client_coc_number", "client", ("Client", "cocNumber"), _client_coc_number
    ),
    ExportColumn(
        "client_vat_number", "client", ("Client", "vatNumber"), _client_vat_number
    ),
    ExportColumn(
        "contract_type",
        "contract_type",
        ("ContractType", "name"),
        _contract_type_name,
    ),
    ExportColumn("status", "stage"),
    ExportColumn("current_status", "status"),
    ExportColumn("sensitivity", "sensitivity"),
    ExportColumn("start_date", "start_date"),
    ExportColumn("end_date", "end_date"),
    ExportColumn("signed_date", "signed_date"),
    ExportColumn("notice_deadline", "notice_deadline"),
    ExportColumn("notice_period", "notice_period"),
    ExportColumn("auto_renewal", "auto_renewal"),
    ExportColumn("renewal_term", "renewal_term"),
    ExportColumn("payment_frequency", "payment_frequency"),
    ExportColumn("currency", "currency"),
    ExportColumn("amount", "amount"),
    ExportColumn("vat_rate", "vat_rate"),
    ExportColumn("indexation", "indexation"),
    ExportColumn("renewal_price_agreement", "renewal_price_agreement"),
    ExportColumn("mrr", "mrr"),
    ExportColumn("arr", "arr"),
    ExportColumn("total_contract_value", "total_contract_value"),
    ExportColumn("owner_email", "owner", ("User", "email"), _owner_email),
    # NOTE: the importer splits tags on commas, semicolons and pipes, so a tag whose
    # name contains one comes back as several tags.
    ExportColumn("tags", "tags", ("Tag", "name"), _tag_names),
    ExportColumn("archived_at", "archived_at"),
)


def readable_columns(viewer: Viewer) -> tuple[ExportColumn, ...]:
    """Return the export columns whose fields the viewer may read."""
    access = viewer.fields
    return tuple(
        column
        for column in EXPORT_COLUMNS
        if access.may_read("Contract", column.graphql_field)
        and (column.related_field is None or access.may_read(*column.related_field))
    )


# --- Query parameters ------------------------------------------------------------

SINGLE_PARAMETERS = ("search", "include_archived", "end_date_from", "end_date_to")
REPEATABLE_PARAMETERS = ("client_id", "status")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def filter_from_parameters(items: Iterable[tuple[str, str]]) -> ContractFilter:
    """Build a ContractFilter from query parameters, or raise InvalidArgument."""
    values: dict[str, list[str]] = {}
    for name, value in items:
        if name not in SINGLE_PARAMETERS and name not in REPEATABLE_PARAMETERS:
            known = ", ".join((*REPEATABLE_PARAMETERS, *SINGLE_PARAMETERS))
            raise InvalidArgument(
                f"Unknown query parameter {name!r}: use only {known}."
            )
        values.setdefault(name, []).append(value)
    for name in SINGLE_PARAMETERS:
        if len(values.get(name, ())) > 1:
            raise InvalidArgument(
                f"Query parameter {name} is given {len(values[name])} times: "
                "give it at most once."
            )

    def single(name: str) -> str | None:
        return values[name][0] if name in values else None

    end_from = _parse_date("end_date_from", single("end_date_from"))
    end_to = _parse_date("end_date_to", single("end_date_to"))
    if end_from is not None and end_to is not None and end_from > end_to:
        raise InvalidArgument(
            f"Query parameter end_date_from={end_from} is after "
            f"end_date_to={end_to}: swap the two dates or leave one out."
        )
    return ContractFilter(
        client_ids=_parse_client_ids(values.get("client_id")),
        statuses=_parse_statuses(values.get("status")),
        end_date=(
            None
            if end_from is None and end_to is None
            else DateRange(from_=end_from, to=end_to)
        ),
        search=_parse_search(single("search")),
        include_archived=_parse_bool("include_archived", single("include_archived")),
    )


def _parse_client_ids(texts: list[str] | None) -> list[Any] | None:
    if texts is None:
        return None
    if len(texts) > MAX_CLIENT_IDS:
        raise InvalidArgument(
            f"Query parameter client_id is given {len(texts)} times: give at most "
            f"{MAX_CLIENT_IDS} client ids, or export without this filter."
        )
    for text in texts:
        try:
            type_name, _pk = decode_id(text)
        except InvalidArgument:
            type_name = None
        if type_name != "Client":
            raise InvalidArgument(
                f"Query parameter client_id={text!r} is not the id of a client: "
                "pass the `id` that the API returns for the client."
            )
    return list(texts)


def _parse_statuses(texts: list[str] | None) -> list[ContractStatus] | None:
    if texts is None:
        return None
    statuses = []
    for text in texts:
        try:
            statuses.append(ContractStatus[text.strip().upper()])
        except KeyError:
            known = ", ".join(status.name for status in ContractStatus)
            raise InvalidArgument(
                f"Query parameter status={text!r} is not a contract status: use "
                f"one of {known}."
            ) from None
    return statuses


def _parse_search(text: str | None) -> str | None:
    try:
        return search_text(text)
    except InvalidArgument as error:
        raise InvalidArgument(
            f"Query parameter search is invalid. {error.message}"
        ) from None


def _parse_bool(name: str, text: str | None) -> bool:
    if text is None:
        return False
    words = {"true": True, "false": False}
    value = words.get(text.strip().lower())
    if value is None:
        raise InvalidArgument(
            f"Query parameter {name}={text!r} is not a boolean: use true or false."
        )
    return value


def _parse_date(name: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        if not _ISO_DATE.fullmatch(text.strip()):
            raise ValueError(text)
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgument(
            f"Query parameter {name}={text!r} is not a date: write it as "
            "YYYY-MM-DD, such as 2027-12-31."
        ) from None


# --- Rows and cells ----------------------------------------------------------------


async def _fetch_related(
    viewer: Viewer, columns: tuple[ExportColumn, ...], rows: list[dict[str, Any]]
) -> RelatedValues:
    """Load the names and e-mail addresses that the relation columns show."""
    fields = {column.field for column in columns if column.read_related is not None}
    related = RelatedValues()
    await _fetch_client_values(viewer, columns, rows, related)
    if "contract_type" in fields:
        related.contract_type_names.update(
            await _values_by_id(ContractType, "name", viewer, rows, "contract_type_id")
        )
    if "owner" in fields:
        related.owner_emails.update(
            await _values_by_id(User, "email", viewer, rows, "owner_id")
        )
    if "tags" in fields and rows:
        tags = await fetch_contract_links(
            viewer, "tags", [row["id"] for row in rows], {"name"}
        )
        for contract_id, nodes in tags.items():
            related.tag_names[contract_id] = [node.name for node in nodes]
    return related


# The Client columns that each client export column shows, and where they go.
_CLIENT_VALUES: dict[str, tuple[str, Callable[[RelatedValues], dict[int, Any]]]] = {
    "client": ("name", lambda related: related.client_names),
    "client_coc_number": ("coc_number", lambda related: related.client_coc_numbers),
    "client_vat_number": ("vat_number", lambda related: related.client_vat_numbers),
}


async def _fetch_client_values(
    viewer: Viewer,
    columns: tuple[ExportColumn, ...],
    rows: list[dict[str, Any]],
    related: RelatedValues,
) -> None:
    """Load the client values of the readable client columns in one query."""
    readable = [
        _CLIENT_VALUES[column.header]
        for column in columns
        if column.header in _CLIENT_VALUES
    ]
    ids = {row["client_id"] for row in rows}
    if not readable or not ids:
        return
    client_columns = [client_column for client_column, _target in readable]
    records = await Client.filter(
        organization_id=viewer.organization_id, id__in=ids
    ).values_list("id", *client_columns)
    for client_id, *values in records:
        for (_column, target), value in zip(readable, values, strict=True):
            target(related)[client_id] = value


async def _values_by_id(
    model: type[Model],
    column: str,
    viewer: Viewer,
    rows: list[dict[str, Any]],
    key: str,
) -> dict[int, Any]:
    """Return `column` of the viewer's organization's records that `key` refers to."""
    ids = {row[key] for row in rows} - {None}
    if not ids:
        return {}
    pairs = await model.filter(
        organization_id=viewer.organization_id, id__in=ids
    ).values_list("id", column)
    return dict(pairs)


def format_cell(value: Any) -> str:
    """Return the CSV text of a value, quoted against formula injection."""
    if value is None:
        return ""
    return neutralize_formula(_cell_text(value))


def neutralize_formula(text: str) -> str:
    """Prefix a single quote to text that a spreadsheet would run as a formula."""
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _cell_text(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, enum.Enum):
        # GraphQL enum values are the member names, such as ACTIVE.
        text = value.name
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        # Fixed-point notation, never an exponent such as 1E+3.
        text = format(value, "f")
    elif isinstance(value, PeriodType):
        text = _period_text(value)
    elif isinstance(value, list):
        text = "; ".join(str(item) for item in value)
    else:
        text = str(value)
    return text


def _period_text(period: PeriodType) -> str:
    """Return a period as the importer reads it, such as "3 months" or "1 week"."""
    return format_period(period.count, PeriodUnit(period.unit).value)


def _csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


class ContractExport:
    """The rows of one export, read batch by batch with `id > last id`."""

    def __init__(self, viewer: Viewer, query: QuerySet[Contract]) -> None:
        self.viewer = viewer
        self.query = query
        self.columns = readable_columns(viewer)
        self.node_fields = frozenset(column.field for column in self.columns)
        self.row_count = 0

    def header(self) -> str:
        return _csv_text([[column.header for column in self.columns]])

    async def batches(self) -> AsyncIterator[str]:
        """Yield the CSV text of each batch of contracts, in id order."""
        async for rows in self.value_batches():
            yield _csv_text([format_cell(value) for value in values] for values in rows)

    async def value_batches(self) -> AsyncIterator[list[list[Any]]]:
        """Yield the column values of each batch of contracts, in id order.

        The values are those of the GraphQL fields, such as Decimal amounts and
        dates, so that each file format can write them in its own way.
        """
        db_columns = contract_columns(self.node_fields)
        last_id = 0
        while True:
            # The pooled connection is released before the batch is sent, so a
            # slow client holds no database connection.
            async with shared_connection():
                rows = (
                    await self.query.filter(id__gt=last_id)
                    .order_by("id")
                    .limit(BATCH_SIZE)
                    .values(*db_columns)
                )
                related = await _fetch_related(self.viewer, self.columns, rows)
            if not rows:
                return
            self.row_count += len(rows)
            last_id = rows[-1]["id"]
            yield [self._values(row, related) for row in rows]
            if len(rows) < BATCH_SIZE:
                return

    def _values(self, row: dict[str, Any], related: RelatedValues) -> list[Any]:
        node = contract_node(row, self.viewer, self.node_fields)
        return [column.value(node, related) for column in self.columns]


# --- HTTP endpoint -----------------------------------------------------------------


async def export_contracts(request: Request) -> Response:
    """Serve `GET /export/contracts.csv`: the caller's contracts as a CSV file."""
    started = time.perf_counter()
    prepared = await prepare_export(request)
    if isinstance(prepared, Response):
        return prepared
    viewer, query = prepared
    headers = download_headers(f"contracts-{viewer.today.isoformat()}.csv")
    if request.method == "HEAD":
        return head_response(CSV_MEDIA_TYPE, headers)
    export = ContractExport(viewer, query)
    return StreamingResponse(
        _stream(export, started), media_type=CSV_MEDIA_TYPE, headers=headers
    )


async def prepare_export(
    request: Request,
) -> tuple[Viewer, QuerySet[Contract]] | Response:
    """Authenticate an export request and apply its filter parameters.

    Returns the viewer and the query of the contracts to export, or the error
    response: 401 without a valid token, 403 for a filter on a field the caller
    may not read and 400 for an unknown parameter or an invalid value.
    """
    services: Services = request.app.state.services
    try:
        viewer = await authenticate(
            request.headers.get("authorization"), services.signer, services.policy
        )
        if viewer is None:
            raise AuthenticationError(
                "You are not logged in: call the login mutation and send its token "
                "as 'Authorization: Bearer <token>'."
            )
        spec = filter_from_parameters(request.query_params.multi_items())
        query = apply_filter(visible_contracts(viewer), spec, viewer)
    except AuthenticationError as error:
        return error_response(error, 401, {"WWW-Authenticate": "Bearer"})
    except PermissionDenied as error:
        return error_response(error, 403)
    except InvalidArgument as error:
        return error_response(error, 400)
    return viewer, query


def download_headers(filename: str) -> dict[str, str]:
    """Return the headers of an export file download named `filename`."""
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def head_response(media_type: str, headers: dict[str, str]) -> Response:
    """Return the response to a HEAD request of an export, which reads no contracts.

    Starlette routes HEAD requests to GET endpoints. The response has no
    Content-Length, because the streamed GET response has none either.
    """
    response = Response(media_type=media_type, headers=headers)
    del response.headers["content-length"]
    return response


async def _stream(export: ContractExport, started: float) -> AsyncIterator[bytes]:
    """Yield the file, and log one line with the ids, row count and duration.

    An error after the first bytes cannot change the status any more, so it
    propagates. Uvicorn then closes the connection without the final chunk, which
    a client such as curl reports as an incomplete transfer.
    """
    outcome = "failed"
    try:
        yield export.header().encode()
        async for text in export.batches():
            yield text.encode()
        outcome = "finished"
    except (asyncio.CancelledError, GeneratorExit):
        # The client disconnected, and the server stopped the response.
        outcome = "cancelled"
        raise
    finally:
        logger.info(
            "Contract export %s: organization %d, user %s, %d rows in %.3f s",
            outcome,
            export.viewer.organization_id,
            export.viewer.user_id,
            export.row_count,
            time.perf_counter() - started,
        )


def error_response(
    error: ContractGQLError, status: int, headers: dict[str, str] | None = None
) -> Response:
    # The body has the shape of a GraphQL error response, as /graphql sends it.
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
