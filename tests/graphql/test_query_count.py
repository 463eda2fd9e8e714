"""A page of contracts with its relations costs the same SQL statements at any size.

The one exception is an order on a nullable field, such as the end date: the rows
without a value come from a second statement, sent only when a page reaches them.
"""

from __future__ import annotations

from tests.conftest import Api, QueryCounter
from tests.graphql.helpers import (
    create_client,
    create_contract,
    create_tag,
    user_id,
)

CREATE_PROJECT = """
mutation CreateProject($input: ProjectInput!) {
  createProject(input: $input) { record { id } }
}
"""
CREATE_SERVICE = """
mutation CreateService($input: ServiceInput!) {
  createService(input: $input) { record { id } }
}
"""
PAGE_WITH_RELATIONS = """
query PageWithRelations($first: Int!) {
  contracts(first: $first) {
    totalCount
    edges {
      node {
        id name
        client { name }
        owner { name }
        tags { name }
        projects { name }
        services { name }
      }
    }
  }
}
"""
# One statement each: authenticating the token, the page, its total count, and the
# client, owner, tags, projects and services of all contracts on the page.
STATEMENTS_PER_PAGE = 8
CONTRACT_COUNT = 50
END_DATE_PAGE = """
query EndDatePage($first: Int!, $after: String) {
  contracts(first: $first, after: $after, orderBy: {field: END_DATE}) {
    pageInfo { endCursor }
    edges { node { name endDate client { name } tags { name } } }
  }
}
"""
# Authenticating the token, the contracts with an end date, and their clients and
# tags.
END_DATE_STATEMENTS = 4
DATED_COUNT = 30
OPEN_ENDED_COUNT = 20


async def _create_contracts(api: Api) -> None:
    owners = [user_id(api.tenant, role) for role in ("account_manager", "sales")]
    clients = [await create_client(api, f"Client {index}") for index in range(3)]
    tags = [await create_tag(api, f"tag {index}") for index in range(3)]
    projects = []
    services = []
    for index in range(3):
        project = await api.data(
            CREATE_PROJECT, {"input": {"clientId": clients[index], "name": f"P{index}"}}
        )
        service = await api.data(CREATE_SERVICE, {"input": {"name": f"S{index}"}})
        projects.append(project["createProject"]["record"]["id"])
        services.append(service["createService"]["record"]["id"])

    for index in range(CONTRACT_COUNT):
        await create_contract(
            api,
            clients[index % 3],
            {
                "name": f"Contract {index:02d}",
                "ownerId": owners[index % 2],
                "tagIds": tags[: index % 3 + 1],
                "projectIds": [projects[index % 3]],
                "serviceIds": services[: index % 2 + 1],
            },
        )


async def _statements_for_page(api: Api, count_queries: QueryCounter, size: int) -> int:
    count_queries.statements.clear()
    data = await api.data(PAGE_WITH_RELATIONS, {"first": size}, role="sales")

    edges = data["contracts"]["edges"]
    assert len(edges) == size
    assert all(edge["node"]["client"]["name"].startswith("Client ") for edge in edges)
    assert all(len(edge["node"]["tags"]) >= 1 for edge in edges)
    return len(count_queries.statements)


async def test_page_statements_independent_of_size(
    api: Api, count_queries: QueryCounter
) -> None:
    await _create_contracts(api)

    small = await _statements_for_page(api, count_queries, 5)
    large = await _statements_for_page(api, count_queries, CONTRACT_COUNT)

    assert small == STATEMENTS_PER_PAGE
    assert large == STATEMENTS_PER_PAGE
    assert small == large


async def _create_dated_contracts(api: Api) -> None:
    client = await create_client(api, "Client 0")
    tag = await create_tag(api, "tag 0")
    for index in range(DATED_COUNT + OPEN_ENDED_COUNT):
        end_date = f"2027-01-{index + 1:02d}" if index < DATED_COUNT else None
        await create_contract(
            api,
            client,
            {"name": f"Contract {index:02d}", "endDate": end_date, "tagIds": [tag]},
        )


async def _end_date_page(
    api: Api, count_queries: QueryCounter, size: int, after: str | None = None
) -> tuple[int, list[str], str]:
    count_queries.statements.clear()
    data = await api.data(END_DATE_PAGE, {"first": size, "after": after})

    connection = data["contracts"]
    names = [edge["node"]["name"] for edge in connection["edges"]]
    assert len(names) == size
    return len(count_queries.statements), names, connection["pageInfo"]["endCursor"]


async def test_nullable_order_adds_one_statement_at_most(
    api: Api, count_queries: QueryCounter
) -> None:
    await _create_dated_contracts(api)
    expected = [f"Contract {index:02d}" for index in range(DATED_COUNT + 10)]

    dated, dated_names, _ = await _end_date_page(api, count_queries, 5)
    across, across_names, cursor = await _end_date_page(api, count_queries, 40)
    # After a cursor the row it points at is looked up first.
    open_ended, open_names, _ = await _end_date_page(api, count_queries, 5, cursor)

    assert dated == END_DATE_STATEMENTS
    assert across == END_DATE_STATEMENTS + 1
    assert open_ended == END_DATE_STATEMENTS + 1
    assert dated_names == expected[:5]
    assert across_names == expected
    assert open_names == [f"Contract {index:02d}" for index in range(40, 45)]
