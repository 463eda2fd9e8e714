"""Run one full reminder scan in this process and print its figures as JSON.

    .venv/bin/python -m bench.scan_worker --now 2027-01-04T09:00:00+00:00
        [--full] [--profile FILE] [--phases]

`bench.scan` starts this module in a fresh process for every scan, so that the
peak RSS (VmHWM) covers the scan and the imports, and not the seeding. The
database comes from CONTRACTGQL_DATABASE_URL, as for `contractgql worker`. The
scan is `contractgql.jobs.scans.scan_all`, the job that the workers run: renewals
and expiries, the reminder scan of each organization, and the e-mail digests,
which do nothing while CONTRACTGQL_SMTP_HOST is unset.

The SQL statements are counted from Tortoise ORM's `tortoise.db_client` DEBUG log
records, one per statement. BEGIN and COMMIT go through asyncpg directly and are
not among them.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import functools
import inspect
import json
import logging
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

# Statement prefixes that Tortoise ORM logs. Its pool logs set-up messages to the
# same logger, which the counter skips.
_SQL_VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


class _StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.by_verb: dict[str, int] = defaultdict(int)

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        text = args[0] if args else record.msg
        if isinstance(text, str):
            verb = text.lstrip()[:6].upper()
            if verb.startswith(_SQL_VERBS):
                self.by_verb[verb.strip()] += 1


class _PhaseTimer:
    """Wall time and calls per scan phase, from wrappers around the scan's functions.

    Phases nest: the time of `insert` includes that of `insert reminders`.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap_async(self, name: str, function: Callable[..., Any]) -> Any:
        @functools.wraps(function)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timed

    def wrap(self, name: str, function: Callable[..., Any]) -> Any:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timed

    def install(self) -> None:
        """Replace the scan's functions with timed ones, in this process only."""
        from contractgql.jobs import renewals, scans

        batch = scans._OrganizationScan
        targets: tuple[tuple[str, Any, str], ...] = (
            ("renew and expire", renewals, "renew_and_expire"),
            ("send digests", scans, "_send_digests"),
            ("follow reminder status", scans, "_follow_reminder_status"),
            ("read contracts", scans, "_contract_batch"),
            ("cancel inactive", scans, "_cancel_inactive_contracts"),
            ("insert statements", scans, "insert_ignoring_conflicts"),
            ("compare", scans, "compare"),
            ("scan batch", batch, "scan_batch"),
            ("read stored reminders", batch, "_stored"),
            ("insert", batch, "_insert"),
            ("read watchers and members", batch, "_audience"),
            ("insert reminders", batch, "_insert_reminders"),
            ("insert tasks", batch, "_insert_tasks"),
            ("plan contracts", batch, "_plan"),
            ("settle contracts", batch, "_settle"),
            ("build notifications", batch, "_reminder_notifications"),
        )
        for name, owner, attribute in targets:
            # An older version given to `bench.scan --source` may lack a phase.
            function = getattr(owner, attribute, None)
            if function is None:
                continue
            if inspect.iscoroutinefunction(function):
                setattr(owner, attribute, self.wrap_async(name, function))
            else:
                setattr(owner, attribute, self.wrap(name, function))


class _RssSampler:
    """Sample this process's RSS from a thread while the scan runs on the event loop."""

    INTERVAL_S = 0.5
    # Bounds the list: 6 hours of samples.
    MAX_SAMPLES = 43_200

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def __enter__(self) -> _RssSampler:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while len(self.samples) < self.MAX_SAMPLES:
            elapsed = time.perf_counter() - self._started
            self.samples.append((elapsed, _rss_mib("VmRSS")))
            if self._stop.wait(self.INTERVAL_S):
                return

    def deciles(self, duration_s: float) -> list[float | None]:
        """Return the highest RSS in each tenth of the scan's duration, in MiB.

        A tenth without a sample, which happens in scans shorter than 5 s, is None.
        """
        if not self.samples or duration_s <= 0:
            return []
        highest: list[float | None] = [None] * 10
        for elapsed, rss in self.samples:
            index = min(9, int(10 * elapsed / duration_s))
            current = highest[index]
            highest[index] = rss if current is None else max(current, rss)
        return highest


def _rss_mib(field_name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _run(
    moment: datetime, profile: Path | None, phases: bool, full: bool
) -> dict[str, Any]:
    from contractgql import db
    from contractgql.config import load_settings
    from contractgql.jobs import scans
    from contractgql.security.policy import Policy

    settings = load_settings()
    policy = Policy.load(settings.policy_dir)
    timer = _PhaseTimer() if phases else None
    if timer is not None:
        timer.install()
    counter = _StatementCounter()
    db_logger = logging.getLogger("tortoise.db_client")
    await db.connect(settings)
    try:
        db_logger.addHandler(counter)
        db_logger.setLevel(logging.DEBUG)
        db_logger.propagate = False
        rss_before = _rss_mib("VmRSS")
        profiler = cProfile.Profile() if profile is not None else None
        started_cpu = time.process_time()
        started = time.perf_counter()
        with _RssSampler() as sampler:
            if profiler is not None:
                profiler.enable()
            options = {"full": True} if full else {}
            report = await scans.scan_all(moment, policy=policy, **options)
            if profiler is not None:
                profiler.disable()
        wall_s = time.perf_counter() - started
        cpu_s = time.process_time() - started_cpu
    finally:
        db_logger.removeHandler(counter)
        await db.disconnect()
    if profiler is not None and profile is not None:
        profiler.dump_stats(str(profile))
    result: dict[str, Any] = {
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "rss_before_scan_mib": rss_before,
        # VmHWM and not ru_maxrss: Linux carries ru_maxrss over exec, so a child
        # would report the peak of the benchmark process it was forked from.
        "peak_rss_mib": _rss_mib("VmHWM"),
        "rss_by_tenth_of_scan_mib": sampler.deciles(wall_s),
        "statements": dict(counter.by_verb),
        "statements_total": sum(counter.by_verb.values()),
        "report": dataclasses.asdict(report),
    }
    if timer is not None:
        result["phases"] = {
            name: {"seconds": timer.seconds[name], "calls": timer.calls[name]}
            for name in timer.seconds
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--now",
        required=True,
        type=datetime.fromisoformat,
        help="moment of the scan, an ISO 8601 time with its UTC offset",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="plan every contract, also those that an earlier scan settled",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write cProfile statistics of the scan to this file",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="also time the scan's phases; at 1,000,000 contracts the timing "
        "changed the wall time by less than the spread between runs",
    )
    args = parser.parse_args(argv)
    if args.now.tzinfo is None:
        parser.error(f"--now {args.now.isoformat()} has no UTC offset: add one")
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    result = asyncio.run(_run(args.now, args.profile, args.phases, args.full))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
