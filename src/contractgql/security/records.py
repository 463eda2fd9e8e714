"""Record-level visibility: which rows of the organization a caller may see at all."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

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
