"""Print the schema as SDL with a policy's protected fields described.

`python -m contractgql.graphql.sdl [POLICY_DIR]` writes the SDL to standard output;
schema.graphql is this output for the default policy.
"""

from __future__ import annotations

import sys
from pathlib import Path

from strawberry.printer import print_schema

from contractgql.config import Settings
from contractgql.graphql.protection import check_policy, describe_protected_fields
from contractgql.graphql.schema import schema
from contractgql.security.policy import Policy


def schema_sdl(policy_dir: Path) -> str:
    """Return the SDL that introspection shows under the policy in `policy_dir`."""
    policy = Policy.load(policy_dir)
    check_policy(policy, schema._schema)
    describe_protected_fields(policy, schema._schema)
    return print_schema(schema) + "\n"


if __name__ == "__main__":
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else Settings().policy_dir
    sys.stdout.write(schema_sdl(directory))
