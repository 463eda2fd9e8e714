"""Record-level visibility: which rows of the organization a caller may see at all."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from contractgql.db import Statement
from contractgql.models import Contract, ContractWatcher, Project, Sensitivity
from contractgql.security.viewer import Viewer

CONTRACT_READ = "contract:read"
CONFIDENTIAL_READ = "contract.confidential:read"


def visible_contracts(viewer: Viewer) -> QuerySet[Contract]:
    """Return the contracts of the viewer's organization that the viewer may see.

    A confidential contract is visible only to its owner, its watchers and the roles
    that may read confidential contracts, and to everyone else it does not exist.
    Roles without 'contract:read', such as project staff, see the normal contracts
    of the clients of the projects they are members of.
    """
    query = Contract.filter(organization_id=viewer.organization_id)
    if viewer.may(CONFIDENTIAL_READ):
        return query

    watched = ContractWatcher.filter(user_id=viewer.user_id).values("contract_id")
    personal = Q(owner_id=viewer.user_id) | Q(id__in=Subquery(watched))
    if viewer.may(CONTRACT_READ):
        return query.filter(Q(sensitivity=Sensitivity.NORMAL) | personal)

    clients = Project.filter(
        organization_id=viewer.organization_id, members__user_id=viewer.user_id
    ).values("client_id")
    project_clients = Q(sensitivity=Sensitivity.NORMAL) & Q(
        client_id__in=Subquery(clients)
    )
    return query.filter(project_clients | personal)


def visible_contracts_condition(
    viewer: Viewer, statement: Statement, alias: str
) -> str:
    """Return an SQL condition on `alias` that keeps the contracts the viewer may see.

    It is the same rule as visible_contracts(), for statements written by hand,
    and the reports' tests check that both keep the same rows. The condition does
    not limit the organization: the statement must do that itself.
    """
    if viewer.may(CONFIDENTIAL_READ):
        return "1 = 1"

    # SQLite's placeholders are positional: parameters in the order of the text.
    normal = statement.parameter(Sensitivity.NORMAL.value)
    if viewer.may(CONTRACT_READ):
        return (
            f"({alias}.sensitivity = {normal} OR {_personal(viewer, statement, alias)})"
        )

    organization = statement.parameter(viewer.organization_id)
    member = statement.parameter(viewer.user_id)
    project_clients = (
        f"{alias}.client_id IN (SELECT p.client_id FROM projects p "
        "JOIN project_members m ON m.project_id = p.id "
        f"WHERE p.organization_id = {organization} AND m.user_id = {member})"
    )
    personal = _personal(viewer, statement, alias)
    return f"(({alias}.sensitivity = {normal} AND {project_clients}) OR {personal})"


def _personal(viewer: Viewer, statement: Statement, alias: str) -> str:
    """Return the condition for contracts the viewer owns or watches."""
    user = statement.parameter(viewer.user_id)
    watcher = statement.parameter(viewer.user_id)
    return (
        f"({alias}.owner_id = {user} OR {alias}.id IN "
        f"(SELECT w.contract_id FROM contract_watchers w WHERE w.user_id = {watcher}))"
    )
