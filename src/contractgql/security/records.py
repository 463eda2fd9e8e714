"""Record-level visibility: which rows of the organization a caller may see at all."""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from contractgql.models import Contract, ContractWatcher, Sensitivity
from contractgql.security.viewer import Viewer

CONFIDENTIAL_READ = "contract.confidential:read"


def visible_contracts(viewer: Viewer) -> QuerySet[Contract]:
    """Return the contracts of the viewer's organization that the viewer may see.

    A confidential contract is visible only to its owner, its watchers and the roles
    that may read confidential contracts; to everyone else it does not exist.
    """
    query = Contract.filter(organization_id=viewer.organization_id)
    if viewer.may(CONFIDENTIAL_READ):
        return query
    watched = ContractWatcher.filter(user_id=viewer.user_id).values("contract_id")
    return query.filter(
        Q(sensitivity=Sensitivity.NORMAL)
        | Q(owner_id=viewer.user_id)
        | Q(id__in=Subquery(watched))
    )
