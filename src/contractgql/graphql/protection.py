"""The policy's protected fields applied to the GraphQL schema.

Loading a policy checks that every field it protects exists in the schema and is
nullable, because a hidden value resolves to null. Installing it writes the needed
permission into each protected field's description, so introspection documents it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from contractgql.graphql.context import Services
from contractgql.security.fields import (
    check_derived_fields,
    computed_from,
    protected_note,
)
from contractgql.security.policy import FieldName, Policy, PolicyError
from graphql import GraphQLNonNull, GraphQLObjectType, GraphQLSchema

logger = logging.getLogger(__name__)

# Descriptions as the code wrote them, before a policy added its sentence.
_base_descriptions: dict[tuple[int, FieldName], str | None] = {}


def check_policy(policy: Policy, schema: GraphQLSchema) -> None:
    """Raise PolicyError when the policy protects a field the schema cannot hide."""
    for (type_name, field_name), permission in sorted(policy.protected_fields.items()):
        graphql_type = schema.type_map.get(type_name)
        if not isinstance(graphql_type, GraphQLObjectType):
            raise PolicyError(
                f"The policy protects {type_name}.{field_name}, but the schema has no "
                f"object type {type_name!r}: fix the 'g' line in policy.csv."
            )
        field = graphql_type.fields.get(field_name)
        if field is None:
            raise PolicyError(
                f"The policy protects {type_name}.{field_name}, but {type_name} has no "
                f"field {field_name!r}: fix the 'g' line in policy.csv."
            )
        if isinstance(field.type, GraphQLNonNull):
            raise PolicyError(
                f"The policy protects {type_name}.{field_name} with {permission!r}, "
                "but the field is non-null and so cannot be hidden: make it "
                "nullable in the schema or remove the line."
            )
    for source in sorted(policy.protected_fields):
        for type_name, field_name in sorted(computed_from(source)):
            derived_type = schema.type_map[type_name]
            assert isinstance(derived_type, GraphQLObjectType)
            if isinstance(derived_type.fields[field_name].type, GraphQLNonNull):
                raise PolicyError(
                    f"The policy protects {'.'.join(source)}, but the non-null field "
                    f"{type_name}.{field_name} is computed from it and would show it: "
                    "remove the line, because this field cannot be protected."
                )
    check_derived_fields(policy)


def describe_protected_fields(policy: Policy, schema: GraphQLSchema) -> None:
    """Write each field's needed permission into its description, and only there."""
    protected = policy.protected_fields
    for type_name, graphql_type in schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or type_name.startswith(
            "__"
        ):
            continue
        for field_name, field in graphql_type.fields.items():
            key = (id(schema), (type_name, field_name))
            if key not in _base_descriptions:
                if (type_name, field_name) not in protected:
                    continue
                _base_descriptions[key] = field.description
            base = _base_descriptions[key]
            permission = protected.get((type_name, field_name))
            if permission is None:
                field.description = base
            else:
                note = protected_note(permission)
                field.description = f"{base} {note}" if base else note


def install_policy(services: Services, policy: Policy, schema: GraphQLSchema) -> None:
    """Check `policy` against the schema and make it the one requests use."""
    check_policy(policy, schema)
    describe_protected_fields(policy, schema)
    services.policy = policy


def load_checked_policy(directory: Path, schema: GraphQLSchema) -> Policy:
    """Load the policy files and check them against the schema.

    Raises PolicyError for a policy that the server would reject.
    """
    policy = Policy.load(directory)
    check_policy(policy, schema)
    return policy


def reload_policy_files(directory: Path, schema: GraphQLSchema) -> Policy:
    """Load and check the policy files again, logging the outcome.

    Raises PolicyError after logging it, so that the caller keeps its old policy.
    Servers and workers both reload through this function.
    """
    try:
        policy = load_checked_policy(directory, schema)
    except PolicyError as error:
        logger.error(
            "Policy reload from %s failed, keeping the old policy: %s", directory, error
        )
        raise
    logger.info(
        "Reloaded policy from %s: %d protected fields",
        directory,
        len(policy.protected_fields),
    )
    return policy


def reload_policy(services: Services, schema: GraphQLSchema) -> Policy:
    """Load the policy files again and install them; keep the old policy on error."""
    policy = reload_policy_files(services.settings.policy_dir, schema)
    describe_protected_fields(policy, schema)
    services.policy = policy
    return policy
