"""Role permissions loaded from the Casbin model and policy files in the policy folder.

A permission is a name and an action, written `contract.financial:read`. The policy
grants permissions to roles; a user's permissions are the union over their roles.
"""

from __future__ import annotations

import logging
from pathlib import Path

import casbin

logger = logging.getLogger(__name__)

ROLES = (
    "admin",
    "management",
    "finance",
    "account_manager",
    "sales",
    "project_staff",
    "integrator",
)

# Every permission the code checks. A policy line naming anything else is rejected.
PERMISSIONS = frozenset(
    {
        "contract:write",
        "contract.own:write",
        "contract.draft:write",
        "contract.financial:read",
        "contract.financial:write",
        "contract.confidential:read",
        "client:write",
        "contact:write",
        "project:write",
        "service:write",
        "tag:write",
        "contract_type:write",
        "custom_field:write",
        "note:write",
        "user:manage",
    }
)


class PolicyError(Exception):
    """A policy file that names an unknown role or permission, or cannot be read."""


class Policy:
    """The permissions of each role, computed once when the policy is loaded."""

    def __init__(self, role_permissions: dict[str, frozenset[str]]) -> None:
        self._role_permissions = role_permissions

    @classmethod
    def load(cls, policy_dir: Path) -> Policy:
        model_path = policy_dir / "model.conf"
        policy_path = policy_dir / "policy.csv"
        for path in (model_path, policy_path):
            if not path.is_file():
                raise PolicyError(
                    f"Policy file {path} is missing: set CONTRACTGQL_POLICY_DIR to a "
                    "folder that contains model.conf and policy.csv."
                )

        enforcer = casbin.Enforcer(str(model_path), str(policy_path))
        role_permissions: dict[str, set[str]] = {role: set() for role in ROLES}
        for role, name, action in enforcer.get_policy():
            permission = f"{name}:{action}"
            if role not in role_permissions:
                raise PolicyError(
                    f"{policy_path} grants {permission!r} to unknown role {role!r}: "
                    f"use one of {', '.join(ROLES)}."
                )
            if permission not in PERMISSIONS:
                raise PolicyError(
                    f"{policy_path} grants unknown permission {permission!r} to "
                    f"{role!r}: use one of {', '.join(sorted(PERMISSIONS))}."
                )
            role_permissions[role].add(permission)

        logger.info("Loaded policy from %s with %d roles", policy_dir, len(ROLES))
        return cls({role: frozenset(perms) for role, perms in role_permissions.items()})

    def permissions_for(self, roles: frozenset[str]) -> frozenset[str]:
        granted: set[str] = set()
        for role in roles:
            granted |= self._role_permissions.get(role, frozenset())
        return frozenset(granted)
