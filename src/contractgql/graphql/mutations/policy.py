"""Reloading the role and field policy without a restart."""

from __future__ import annotations

import strawberry

from contractgql.errors import InvalidArgument
from contractgql.graphql.context import Info
from contractgql.graphql.protection import reload_policy
from contractgql.security.policy import PolicyError


@strawberry.type(description="The policy now in force in the process that reloaded.")
class PolicyReloadPayload:
    source: str = strawberry.field(description="Folder the policy was read from.")
    protected_field_count: int


@strawberry.type
class PolicyMutations:
    @strawberry.mutation(
        description="Read the policy files again and apply them to this server "
        "process; an invalid policy is rejected and the old one stays. Other "
        "server processes reload on SIGHUP. Workers reload before their next job "
        "when the files changed. Needs 'policy:manage'."
    )
    async def reload_policy(self, info: Info) -> PolicyReloadPayload:
        viewer = info.context.viewer
        viewer.require("policy:manage", "reload the policy")
        services = info.context.services
        try:
            policy = reload_policy(services, info.schema._schema)
        except PolicyError as error:
            raise InvalidArgument(
                f"The policy was not reloaded: {error} The old policy stays in force."
            ) from None
        return PolicyReloadPayload(
            source=str(policy.source),
            protected_field_count=len(policy.protected_fields),
        )
