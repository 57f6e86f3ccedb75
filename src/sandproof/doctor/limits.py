"""Resource rules: a fork bomb and a memory hog stop at the sandbox's own limit."""

from __future__ import annotations

from collections.abc import Iterator

from sandproof.doctor.core import Hit, Level, Rule
from sandproof.profile import Profile


def pids(p: Profile) -> Iterator[Hit]:
    if not p.resources.pids:
        yield Hit("no pids limit: a fork bomb exhausts the host's process table", "pids", "resources.pids")


def memory(p: Profile) -> Iterator[Hit]:
    if not p.resources.memory.bytes:
        yield Hit("no memory limit: the host's OOM killer picks among all its processes", "memory", "resources.memory")


RULES = (
    Rule(
        "SPD030",
        "No pids limit",
        "Without a pids cgroup limit the sandbox can fork until the host cannot start a process.",
        "[resources] pids = 64 (or what the workload needs).",
        Level.ERROR,
        profile=pids,
    ),
    Rule(
        "SPD031",
        "No memory limit",
        "Without a memory cgroup limit the sandbox can take the host's memory and its swap.",
        '[resources] memory = "256m" and memory_swap equal to it (no swap).',
        Level.ERROR,
        profile=memory,
    ),
)
