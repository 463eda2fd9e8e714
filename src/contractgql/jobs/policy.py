"""The policy of a worker process, kept in step with the policy files.

A worker checks permissions, such as `contract.financial:write` in import jobs, with
the policy it keeps in memory. Before each job that uses the policy, it compares the
SHA-256 of the policy files with that of the files it loaded, and reloads them when
they differ. So every worker follows the files on its host without a signal, also
a worker that was stopped or cut off from Redis while the policy changed. SIGHUP
reloads at once. An invalid policy is logged once and the old one stays in force,
as in the server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from contractgql.graphql.protection import load_checked_policy, reload_policy_files
from contractgql.security.policy import Policy, PolicyError, policy_fingerprint
from graphql import GraphQLSchema

logger = logging.getLogger(__name__)


class WorkerPolicy:
    """The policy that a worker's jobs use, reloaded when its files change."""

    def __init__(self, directory: Path, schema: GraphQLSchema | None = None) -> None:
        """Load and check the policy; raise PolicyError when it is invalid."""
        if schema is None:
            # Imported here: the worker needs the schema only to check the policy.
            from contractgql.graphql.schema import schema as contract_schema

            schema = contract_schema._schema
        self.directory = directory
        self._schema = schema
        self.policy = load_checked_policy(directory, schema)
        # Fingerprint of files that failed to load, so that later jobs do not
        # reload them and log the same error again.
        self._rejected: str | None = None

    def current(self) -> Policy:
        """Return the policy for the next job, reloading it when the files changed."""
        fingerprint = policy_fingerprint(self.directory)
        if fingerprint in (self.policy.fingerprint, self._rejected):
            return self.policy
        logger.info(
            "The policy files in %s changed since they were loaded, reloading them",
            self.directory,
        )
        self._reload(fingerprint)
        return self.policy

    def reload(self) -> None:
        """Read the policy files again, as SIGHUP requests; keep the old on error."""
        self._reload(policy_fingerprint(self.directory))

    def _reload(self, fingerprint: str) -> None:
        try:
            self.policy = reload_policy_files(self.directory, self._schema)
        except PolicyError:
            # reload_policy_files logged the error.
            self._rejected = fingerprint
        else:
            self._rejected = None

    def reload_on_hangup(self) -> bool:
        """Reload the policy on SIGHUP; return whether the handler is installed."""
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread, or no SIGHUP on this system.
            logger.debug("SIGHUP does not reload the policy in this process")
            return False
        return True
