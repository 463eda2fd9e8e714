"""Sample a running server with py-spy and sum the samples by where the time goes.

py-spy (`pip install py-spy`) reads the stacks of another process without
changing it. It needs ptrace rights over that process: root, or the same user
with ptrace allowed by the kernel's Yama setting.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 200
# A sample goes to the first phase that any frame of its stack matches.
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GraphQL parse and validation", ("_prepare_operation",)),
    ("JSON encoding of the response", ("json/encoder.py",)),
    ("Authentication (token check, user query)", ("security/viewer.py",)),
    ("Reading the selection set (info.selected_fields)", ("node_selection (",)),
)
# Otherwise it goes to the innermost frame that matches a layer.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("asyncpg driver", ("asyncpg/",)),
    ("Tortoise ORM: query building, row conversion", ("tortoise/", "pypika")),
    (
        "contract_node(): node fields and financial figures",
        ("graphql/types/contracts.py", "contractgql/domain/"),
    ),
    # The app's own executor, a subclass of graphql-core's.
    ("GraphQL execution (graphql-core, strawberry)", ("graphql/execution.py",)),
    ("Other contractgql code (loaders, relay, types)", ("contractgql/",)),
    ("GraphQL execution (graphql-core, strawberry)", ("graphql/", "strawberry/")),
    ("HTTP and ASGI (uvicorn, starlette)", ("uvicorn/", "starlette/", "httptools")),
)
OTHER = "Event loop, C callbacks and other"


@dataclass
class ProfileSummary:
    samples: int = 0
    categories: dict[str, float] = field(default_factory=dict)
    top_self: list[tuple[str, float]] = field(default_factory=list)
    raw_path: str = ""


class ProfileError(Exception):
    """py-spy is missing or could not sample the process."""


def py_spy_path() -> str:
    beside_python = Path(sys.executable).with_name("py-spy")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("py-spy")
    if found is None:
        raise ProfileError(
            "py-spy is not installed: run `.venv/bin/pip install py-spy` or leave "
            "out --profile."
        )
    return found


def record(pid: int, seconds: int, raw_path: Path) -> None:
    """Sample `pid` for `seconds` and write py-spy's raw (collapsed) stacks."""
    command = [
        py_spy_path(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        str(SAMPLE_RATE_HZ),
        "--format",
        "raw",
        "--output",
        str(raw_path),
        "--nonblocking",
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if completed.returncode != 0 or not raw_path.exists():
        raise ProfileError(
            f"py-spy failed with exit code {completed.returncode}: "
            f"{completed.stderr.strip()[-500:]}"
        )


def _function(frame: str) -> str:
    """Return 'function (file)' for a py-spy frame 'function (file:line)'."""
    name, _, location = frame.partition(" (")
    return f"{name} ({location.rstrip(')').rsplit(':', 1)[0]})"


def _category(frames: list[str]) -> str:
    # Frames up to asyncio's Runner belong to the process's start-up, such as the CLI
    # and uvicorn's main. A stack that ends there is the event loop or a C callback.
    runner = [i for i, frame in enumerate(frames) if "asyncio/runners.py" in frame]
    if runner:
        frames = frames[runner[-1] + 1 :]
    for label, markers in PHASES:
        if any(marker in frame for frame in frames for marker in markers):
            return label
    for frame in reversed(frames):
        for label, markers in LAYERS:
            if any(marker in frame for marker in markers):
                return label
    return OTHER


def summarize(raw_path: Path, top: int = 15) -> ProfileSummary:
    """Sum py-spy's collapsed stacks by category and by innermost function."""
    by_category: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        by_category[_category(frames)] += count
        by_function[_function(frames[-1])] += count
    if not total:
        raise ProfileError(
            f"{raw_path} contains no samples: run with a longer --profile."
        )
    return ProfileSummary(
        samples=total,
        categories={
            label: 100 * count / total for label, count in by_category.most_common()
        },
        top_self=[
            (name, 100 * count / total) for name, count in by_function.most_common(top)
        ],
        raw_path=str(raw_path),
    )


def format_summary(summary: ProfileSummary) -> str:
    lines = [
        f"Profile of the GraphQL server at concurrency 1: {summary.samples} samples "
        f"of busy CPU ({summary.raw_path})",
        "| where | share of busy CPU |",
        "|---|---:|",
    ]
    lines += [
        f"| {label} | {share:.1f} % |" for label, share in summary.categories.items()
    ]
    lines += ["", "Top functions by own time:"]
    lines += [f"  {share:5.1f} %  {name}" for name, share in summary.top_self]
    return "\n".join(lines)
