"""Role permissions and protected fields from the Casbin files in the policy folder.

A permission is a name and an action, written `contract.financial:read`. The policy
grants permissions to roles, and a user's permissions are the union over their
roles. Grouping lines (`g, Contract.amount, contract.financial`) put a GraphQL field
under a permission: reading the field needs `contract.financial:read` and setting it
needs `contract.financial:write`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
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
        "contract:read",
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
        "time_entry:write",
        "time_entry.own_project:write",
        "time_entry.overrun:approve",
        "contract_cap:write",
        "user:manage",
        "policy:manage",
    }
)

# Permission names that may protect a field: each has a read and a write action.
FIELD_PERMISSIONS = frozenset({"contract.financial"})

FieldName = tuple[str, str]


class PolicyError(Exception):
    """A policy that names an unknown role, permission or field, or cannot be read."""


@dataclass(frozen=True)
class FieldAccess:
    """The protected fields that a set of permissions may not read or may not set."""

    # (GraphQL type, field) -> the permission name that protects it.
    protected: dict[FieldName, str]
    hidden: frozenset[FieldName]
    read_only: frozenset[FieldName]

    def may_read(self, type_name: str, field_name: str) -> bool:
        return (type_name, field_name) not in self.hidden

    def may_write(self, type_name: str, field_name: str) -> bool:
        return (type_name, field_name) not in self.read_only


class Policy:
    """The permissions of each role and the protected fields, checked when loaded."""

    def __init__(
        self,
        role_permissions: dict[str, frozenset[str]],
        protected_fields: dict[FieldName, str],
        source: Path | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self._role_permissions = role_permissions
        self.protected_fields = protected_fields
        self.source = source
        # policy_fingerprint() of the files as they were before they were read.
        self.fingerprint = fingerprint
        self._access: dict[frozenset[str], FieldAccess] = {}

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
        # Taken before the files are read: when they change in between, the
        # fingerprint differs from the files' next one and they are read again.
        fingerprint = policy_fingerprint(policy_dir)
        lines = _policy_lines(policy_path)
        try:
            enforcer = casbin.Enforcer(str(model_path), str(policy_path))
        except Exception as error:  # noqa: BLE001 - casbin raises many kinds
            raise PolicyError(
                f"The policy in {policy_dir} cannot be read: {error}. Fix the file "
                "and start or reload again."
            ) from error

        role_permissions = _role_permissions(lines, policy_path)
        protected = _protected_fields(lines, policy_path)
        policy = cls(role_permissions, protected, policy_dir, fingerprint)
        try:
            policy._check_against(enforcer)
        except PolicyError:
            raise
        except Exception as error:  # noqa: BLE001 - casbin evaluates the matcher
            raise PolicyError(
                f"The matcher in {model_path} cannot be evaluated: {error}. Use the "
                "matcher of the default model.conf."
            ) from error
        logger.info(
            "Loaded policy from %s: %d roles, %d protected fields, sha256 %s",
            policy_dir,
            len(ROLES),
            len(protected),
            fingerprint[:12],
        )
        return policy

    def permissions_for(self, roles: frozenset[str]) -> frozenset[str]:
        granted: set[str] = set()
        for role in roles:
            granted |= self._role_permissions.get(role, frozenset())
        return frozenset(granted)

    def role_permissions(self, role: str) -> frozenset[str]:
        return self._role_permissions.get(role, frozenset())

    def field_access(self, permissions: frozenset[str]) -> FieldAccess:
        """Return which protected fields `permissions` may not read or set."""
        access = self._access.get(permissions)
        if access is None:
            hidden = frozenset(
                field
                for field, name in self.protected_fields.items()
                if f"{name}:read" not in permissions
            )
            read_only = frozenset(
                field
                for field, name in self.protected_fields.items()
                if f"{name}:write" not in permissions
            )
            access = FieldAccess(self.protected_fields, hidden, read_only)
            self._access[permissions] = access
        return access

    def _check_against(self, enforcer: casbin.Enforcer) -> None:
        """Compare the computed field access with Casbin's own decisions.

        The request path uses the precomputed sets, so a model.conf whose matcher
        means something else must fail here, at load, and not grant silently.
        """
        for role in ROLES:
            for permission in sorted(PERMISSIONS):
                name, _, action = permission.partition(":")
                granted = permission in self.role_permissions(role)
                if enforcer.enforce(role, name, action) != granted:
                    raise PolicyError(
                        f"The Casbin model in {self.source} decides {permission!r} "
                        f"for {role!r} differently from the 'p' lines: use the "
                        "matcher of the default model.conf."
                    )
            access = self.field_access(self.role_permissions(role))
            for (type_name, field_name), _ in sorted(self.protected_fields.items()):
                for action, denied in (
                    ("read", access.hidden),
                    ("write", access.read_only),
                ):
                    allowed = enforcer.enforce(
                        role, f"{type_name}.{field_name}", action
                    )
                    if allowed == ((type_name, field_name) in denied):
                        raise PolicyError(
                            f"The Casbin model in {self.source} decides {action} of "
                            f"{type_name}.{field_name} for {role!r} differently from "
                            "the grouping lines: use the matcher of the default "
                            "model.conf, `g(r.obj, p.obj)`."
                        )


def policy_fingerprint(policy_dir: Path) -> str:
    """Return the SHA-256 of model.conf and policy.csv in `policy_dir`, in hex.

    A file that cannot be read contributes its error instead of its content, so
    that the fingerprint still changes when the file appears or disappears.
    """
    digest = hashlib.sha256()
    for name in ("model.conf", "policy.csv"):
        try:
            content = (policy_dir / name).read_bytes()
        except OSError as error:
            content = f"unreadable: {type(error).__name__}".encode()
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


PolicyLine = tuple[int, list[str]]


def _policy_lines(policy_path: Path) -> list[PolicyLine]:
    """Return the rules of policy.csv with their line numbers.

    Casbin skips lines whose type its model does not define, such as `G` or `g2`,
    so a typo would drop a rule in silence. Every line must be a `p` or `g` rule.
    """
    rules: list[PolicyLine] = []
    try:
        text = policy_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(
            f"{policy_path} cannot be read as UTF-8 text: {error}. Fix the file and "
            "start or reload again."
        ) from error
    for number, row in enumerate(csv.reader(io.StringIO(text), skipinitialspace=True)):
        cells = [cell.strip() for cell in row]
        if not cells or not cells[0] or cells[0].startswith("#"):
            continue
        expected = {"p": 4, "g": 3}.get(cells[0])
        if expected != len(cells):
            raise PolicyError(
                f"{policy_path}, line {number + 1}: {', '.join(cells)!r} is not a "
                "rule: write 'p, role, permission, action' or "
                "'g, Type.field, permission'."
            )
        rules.append((number + 1, cells[1:]))
    return rules


def _role_permissions(
    lines: list[PolicyLine], policy_path: Path
) -> dict[str, frozenset[str]]:
    granted: dict[str, set[str]] = {role: set() for role in ROLES}
    for number, rule in lines:
        if len(rule) != 3:
            continue
        role, name, action = rule
        permission = f"{name}:{action}"
        if role not in granted:
            raise PolicyError(
                f"{policy_path}, line {number}: grants {permission!r} to unknown "
                f"role {role!r}: use one of {', '.join(ROLES)}."
            )
        if permission not in PERMISSIONS:
            raise PolicyError(
                f"{policy_path}, line {number}: grants unknown permission "
                f"{permission!r} to {role!r}: use one of "
                f"{', '.join(sorted(PERMISSIONS))}."
            )
        granted[role].add(permission)
    if not any(granted.values()):
        raise PolicyError(
            f"{policy_path} grants no permission to any role, so nobody could use "
            "the API: add 'p, role, permission, action' lines."
        )
    return {role: frozenset(permissions) for role, permissions in granted.items()}


def _protected_fields(
    lines: list[PolicyLine], policy_path: Path
) -> dict[FieldName, str]:
    protected: dict[FieldName, str] = {}
    for number, rule in lines:
        if len(rule) != 2:
            continue
        field, name = rule
        type_name, dot, field_name = field.partition(".")
        if not dot or not type_name or not field_name or "." in field_name:
            raise PolicyError(
                f"{policy_path}, line {number}: protects {field!r}, which is not a "
                "field name: write the GraphQL type and field, such as "
                "'Contract.amount'."
            )
        if name not in FIELD_PERMISSIONS:
            raise PolicyError(
                f"{policy_path}, line {number}: protects {field} with unknown "
                f"permission {name!r}: use one of "
                f"{', '.join(sorted(FIELD_PERMISSIONS))}."
            )
        key = (type_name, field_name)
        if key in protected and protected[key] != name:
            raise PolicyError(
                f"{policy_path}, line {number}: protects {field} with {name!r}, but an "
                f"earlier line protects it with {protected[key]!r}: keep one line for "
                "each field."
            )
        protected[key] = name
    if not protected:
        logger.warning(
            "The policy in %s protects no field: every role reads every field",
            policy_path,
        )
    return protected
