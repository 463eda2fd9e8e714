"""Fixtures of the audit tests: the job tests' scratch database and its processes."""

from tests.jobs.conftest import scratch, scratch_settings

__all__ = ["scratch", "scratch_settings"]
