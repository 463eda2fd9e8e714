"""The columns that a page reads for the fields that a query selects."""

from __future__ import annotations

from contractgql.graphql.schema import schema
from contractgql.graphql.types.clients import CLIENT_COLUMNS, ClientNode
from contractgql.graphql.types.common import PartialRow, node_columns
from contractgql.graphql.types.contracts import (
    ALL_CONTRACT_FIELDS,
    CONTRACT_COLUMNS,
    contract_columns,
)


def test_every_contract_field_has_columns() -> None:
    fields = schema._schema.type_map["Contract"].fields.values()
    names = {field.extensions["strawberry-definition"].python_name for field in fields}

    assert names | {"__typename"} == ALL_CONTRACT_FIELDS


def test_contract_columns_of_selection() -> None:
    columns = contract_columns({"name", "status", "client", "tags"})

    assert columns == ("id", "client_id", "name", "stage", "start_date", "end_date")


def test_contract_columns_of_unknown_field_are_all() -> None:
    assert contract_columns({"name", "unknown"}) == CONTRACT_COLUMNS


def test_node_columns_keep_keys() -> None:
    columns = node_columns(ClientNode, CLIENT_COLUMNS, {"name", "contracts"})

    assert columns == ("id", "updated_by_id", "created_by_id", "name")


def test_node_columns_of_unknown_field_are_all() -> None:
    assert node_columns(ClientNode, CLIENT_COLUMNS, {"unknown"}) == CLIENT_COLUMNS


def test_partial_row_reads_missing_column_as_none() -> None:
    row = PartialRow({"id": 1})

    assert row["id"] == 1
    assert row["name"] is None
