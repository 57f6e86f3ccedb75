"""Namespace rules: the sandbox shares no namespace with the host."""

from __future__ import annotations

from collections.abc import Iterator

from sandproof.doctor.core import Hit, Level, Rule
from sandproof.profile import Profile

WHAT = {
    "network": "the host's interfaces and every service listening on them",
    "ipc": "the host's shared memory, semaphores and message queues",
    "pid": "every host process, to signal and to read in /proc",
    "uts": "the host's hostname, to read and to set",
    "cgroup": "the host's cgroup hierarchy in /proc/self/cgroup",
}


def host_namespaces(p: Profile) -> Iterator[Hit]:
    modes = {
        "network": ("network.mode", p.network.mode),
        "ipc": ("ipc.mode", p.ipc.mode),
        "pid": ("namespaces.pid", p.namespaces.pid),
        "uts": ("namespaces.uts", p.namespaces.uts),
        "cgroup": ("namespaces.cgroup", p.namespaces.cgroup),
    }
    for ns, (key, mode) in modes.items():
        if mode == "host":
            yield Hit(f"the {ns} namespace is the host's: {WHAT[ns]}", ns, key)


RULES = (
    Rule(
        "SPD040",
        "Host namespace shared",
        "A shared namespace is the host's own view: its network, processes, IPC objects or hostname.",
        'Set the mode to "none" (network, ipc) or "private" (pid, uts, cgroup).',
        Level.ERROR,
        profile=host_namespaces,
    ),
)
