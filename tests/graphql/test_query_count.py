"""A page of contracts with its relations costs the same SQL statements at any size."""

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
